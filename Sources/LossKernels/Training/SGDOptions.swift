/// Stochastic gradient descent with momentum and weight decay, as `torch.optim.SGD` (no
/// dampening, no Nesterov). For a row `w` with gradient `g` and momentum buffer `v`:
///
///     g' = g + weightDecay·w
///     v  = momentum·v + g'
///     w  = w − learningRate·v
///
/// The momentum buffer starts at zero, so the first update of a row has `v = g'` — PyTorch's
/// first step, which sets the buffer to the gradient. With class sampling (Partial FC) only the
/// sampled rows of `W` and of `v` are read and updated in a step: unsampled rows are neither
/// decayed nor moved by their momentum (InsightFace's Partial FC semantics).
public struct SGDOptions: Sendable, Equatable, Codable {
    /// The step size `lr ≥ 0` (settable per step for schedules).
    public var learningRate: Float
    /// The momentum `μ ∈ [0, 1)`.
    public var momentum: Float
    /// The L2 weight decay `wd ≥ 0`, added to the gradient.
    public var weightDecay: Float

    /// Defaults of InsightFace's Partial FC: lr 0.1, momentum 0.9, weight decay 5e-4.
    public init(learningRate: Float = 0.1, momentum: Float = 0.9, weightDecay: Float = 5e-4) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
    }

    /// Throws `.invalidOption` naming the option when it is out of range: a negative or
    /// non-finite learning rate or weight decay, a momentum outside [0, 1).
    public func validate() throws {
        try Self.requireLearningRate(learningRate)
        guard momentum.isFinite, momentum >= 0, momentum < 1 else {
            throw LossKernelsError.invalidOption(name: "momentum", value: "\(momentum)", allowed: "[0, 1)")
        }
        guard weightDecay.isFinite, weightDecay >= 0 else {
            throw LossKernelsError.invalidOption(name: "weightDecay", value: "\(weightDecay)", allowed: ">= 0 and finite")
        }
    }

    static func requireLearningRate(_ value: Float) throws {
        guard value.isFinite, value >= 0 else {
            throw LossKernelsError.invalidOption(name: "learningRate", value: "\(value)", allowed: ">= 0 and finite")
        }
    }
}
