/// Losses of logits against binary (or soft, in [0, 1]) targets of the same shape, elementwise:
/// BCE with logits and torchvision's sigmoid focal loss (shared/spec/LOSSES.md "Focal loss").
extension Engine {
    /// Binary cross-entropy with logits, per element `max(z,0) − z·t + log(1 + exp(−|z|))`, mean
    /// over elements by default; gradient `σ(z) − t` (scaled by the reduction).
    /// - Parameters:
    ///   - logits, targets: the same shape; targets in [0, 1].
    ///   - gradOutput: with `.none`, one upstream value per element.
    /// - Throws: `.shapeMismatch` for shapes that disagree or an empty input, `.invalidValue` for a
    ///   target outside [0, 1].
    public func binaryCrossEntropyWithLogits(logits: Matrix, targets: Matrix, reduction: LossReduction = .mean, gradOutput: Matrix? = nil) throws -> LossOutput {
        try runElementwise(ElementwiseLoss(kind: .binaryCrossEntropyWithLogits, reduction: reduction), input: logits, inputName: "logits", targets: targets, gradOutput: gradOutput)
    }

    /// Sigmoid focal loss (torchvision `sigmoid_focal_loss`): with `p = σ(z)`,
    /// `p_t = p·t + (1−p)(1−t)`, `loss = BCEWithLogits(z, t)·(1−p_t)^γ·α_t`,
    /// `α_t = α·t + (1−α)(1−t)` when `α ≥ 0` (no weighting when α < 0). Mean over elements.
    /// - Throws: as `binaryCrossEntropyWithLogits`, and `.invalidOption` for a negative γ.
    public func sigmoidFocalLoss(logits: Matrix, targets: Matrix, gamma: Float = 2, alpha: Float = 0.25, reduction: LossReduction = .mean, gradOutput: Matrix? = nil) throws -> LossOutput {
        guard gamma.isFinite, gamma >= 0 else { throw LossKernelsError.invalidOption(name: "gamma", value: "\(gamma)", allowed: ">= 0 and finite") }
        guard alpha.isFinite, alpha <= 1 else { throw LossKernelsError.invalidOption(name: "alpha", value: "\(alpha)", allowed: "<= 1 (negative: no weighting)") }
        return try runElementwise(ElementwiseLoss(kind: .sigmoidFocal, gamma: gamma, alpha: alpha, reduction: reduction), input: logits, inputName: "logits", targets: targets, gradOutput: gradOutput)
    }

    /// Validates and runs an elementwise loss on the scheduled backend.
    func runElementwise(_ loss: ElementwiseLoss, input: Matrix, inputName: String, targets: Matrix, gradOutput: Matrix?, targetRange: ClosedRange<Float>? = 0...1) throws -> LossOutput {
        try Validation.requireSameShape("targets", rows: targets.rows, columns: targets.columns, as: inputName, input.rows, input.columns)
        guard input.count > 0 else { throw LossKernelsError.shapeMismatch(tensor: inputName, expected: "at least one element", actual: Validation.shape(input.rows, input.columns)) }
        if let targetRange {
            for (i, t) in targets.values.enumerated() where !targetRange.contains(t) {
                throw LossKernelsError.invalidValue(tensor: "targets", index: i, value: "\(t)", allowed: "[\(targetRange.lowerBound), \(targetRange.upperBound)]")
            }
        }
        if let gradOutput {
            try Validation.requireGradOutput(gradOutput.values, count: input.count, reduction: loss.reduction, per: "element")
            try Validation.requireSameShape("gradOutput", rows: gradOutput.rows, columns: gradOutput.columns, as: inputName, input.rows, input.columns)
        }
        if checkFinite {
            try Validation.requireFinite(inputName, input.values)
            try Validation.requireFinite("targets", targets.values)
            try Validation.requireFinite("gradOutput", gradOutput?.values)
        }
        let count = input.count
        var gradient = Matrix(rows: input.rows, columns: input.columns, repeating: 0)
        var perElement = loss.reduction == .none ? [Float](repeating: 0, count: count) : []
        let (sum, backend) = try input.values.withUnsafeBufferPointer { x in
            try targets.values.withUnsafeBufferPointer { t in
                try gradient.values.withUnsafeMutableBufferPointer { dz in
                    try perElement.withUnsafeMutableBufferPointer { each in
                        try gradOutput.map(\.values).withUnsafeOptionalBufferPointer { g in
                            try elementwiseBackends(loss, x, t, g, dz, loss.reduction == .none ? each : nil)
                        }
                    }
                }
            }
        }
        let reduced = loss.reduction == .none ? perElement : loss.reduce(sum: sum, count: count)
        return LossOutput(loss: reduced, gradient: gradient, backend: backend)
    }

    /// Runs an elementwise loss on the scheduled backend: writes ∂loss/∂input into `dz` and, when
    /// `each` is given, the per-element losses; returns Σ loss (0 when `each` is given) and the backend.
    func elementwiseBackends(_ loss: ElementwiseLoss, _ x: UnsafeBufferPointer<Float>, _ t: UnsafeBufferPointer<Float>, _ g: UnsafeBufferPointer<Float>?,
                             _ dz: UnsafeMutableBufferPointer<Float>, _ each: UnsafeMutableBufferPointer<Float>?) throws -> (Double, Backend) {
        let count = x.count
        return try scheduler.run(elements: 3 * count, cpu: {
                        CPUElementwiseLoss.run(loss, input: x.baseAddress!, target: t.baseAddress!, count: count, gradOutput: g?.baseAddress,
                                               gradient: dz.baseAddress!, perElement: each?.baseAddress, threads: scheduler.threads)
                    }, opencl: { device in
                        let xb = try device.upload(x), tb = try device.upload(t)
                        let gb = try g.map { try device.upload($0) }
                        let losses = try device.makeBuffer(count: count), out = try device.makeBuffer(count: count)
                        try device.launch("lk_elementwise_loss", try device.kernel("lk_elementwise_loss"), global: [min(count, 1 << 20)], local: nil,
                                          [.buffer(xb), .buffer(tb), .uint64(count), .int32(loss.kind.rawValue), .float(loss.kind == .sigmoidFocal ? loss.gamma : loss.parameter), .float(loss.alpha),
                                           .float(Float(loss.scale(count: count))), .buffer(gb ?? xb), .int32(gb == nil ? 0 : 1), .buffer(losses), .buffer(out)])
                        try device.read(out, into: UnsafeMutableRawBufferPointer(dz))
                        if let each {
                            try device.read(losses, into: UnsafeMutableRawBufferPointer(each))
                            return 0
                        }
                        return Double(try OpenCLReductions.reduce(device, .sum, .all, losses, rows: 1, columns: count).values[0])
                    })
    }
}
