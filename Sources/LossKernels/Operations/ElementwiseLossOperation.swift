/// An elementwise loss of an input (logits, predictions, log-probabilities) against targets of the
/// same shape: the loss (reduced, or one per element) and ∂loss/∂input in one call. The maths is the
/// `ElementwiseLoss`'s; the CPU loop is `CPUElementwiseLoss`, the kernel `OpenCLElementwiseLoss`.
/// BCE with logits may carry element and positive weights (`ElementWeights`).
struct ElementwiseLossOperation: Operation {
    /// What the targets' values must be (checked whatever `checkFinite` says).
    enum TargetRule {
        /// Within a closed range: `[0, 1]` for binary targets (so NaN is refused).
        case range(ClosedRange<Float>)
        /// Finite and ≥ 0: probabilities of KL divergence.
        case finiteNonNegative
        /// Not NaN and not +∞ (−∞ is log 0): log-probabilities of KL divergence with `logTarget`.
        case logProbability
    }

    /// The shapes the call is checked against: a matrix form (shapes compared as shapes; targets
    /// may be value-checked; an upstream gradient allowed with none) or a flat buffer form (counts
    /// compared; mean or sum only).
    enum Form {
        case matrix(rows: Int, columns: Int, targets: (rows: Int, columns: Int), gradOutput: (rows: Int, columns: Int)?, targetRule: TargetRule?)
        case buffer
    }

    let loss: ElementwiseLoss
    let form: Form
    /// The input's name in errors: "logits", "predictions" or "logProbabilities".
    let inputName: String
    let input: UnsafeBufferPointer<Float>
    let targets: UnsafeBufferPointer<Float>
    let gradOutput: UnsafeBufferPointer<Float>?
    let gradient: UnsafeMutableBufferPointer<Float>
    /// Each element's loss, for reduction none.
    let perElement: UnsafeMutableBufferPointer<Float>?
    /// The element and positive weights of the weighted BCE (nil for every other loss).
    var weights: ElementWeights? = nil
    /// How `checkFinite` checks the input: finite, or finite or −∞ for log-probabilities.
    var inputFinite: FinitePolicy = .finite
    /// How `checkFinite` checks the targets: finite, or finite or −∞ for log-targets.
    var targetsFinite: FinitePolicy = .finite

    var count: Int { input.count }

    var inputs: [OperationInput] {
        var inputs: [OperationInput] = [.host(inputName, input, finite: inputFinite), .host("targets", targets, finite: targetsFinite)]
        if let gradOutput { inputs.append(.host("gradOutput", gradOutput)) }
        if let weight = weights?.weight { inputs.append(.host("weight", weight.values)) }
        if let posWeight = weights?.posWeight { inputs.append(.host("posWeight", posWeight)) }
        return inputs
    }
    var outputs: [OperationOutput] {
        var outputs: [OperationOutput] = [.host("gradient", gradient)]
        if let perElement { outputs.append(.host("losses", perElement)) }
        return outputs
    }
    /// The reduced loss written (the losses of none are an output tensor; the weights are inputs).
    var otherBytes: Int { perElement == nil ? OperationWork.floats(1) : 0 }

    func validate() throws {
        try loss.validate()
        switch form {
        case .buffer:
            guard loss.reduction != .none else {
                throw LossKernelsError.invalidOption(name: "reduction", value: "none", allowed: "mean or sum in the buffer form")
            }
            guard targets.count == count else {
                throw LossKernelsError.shapeMismatch(tensor: "targets", expected: "\(count) values (as \(inputName))", actual: "\(targets.count) values")
            }
            guard gradient.count == count else {
                throw LossKernelsError.shapeMismatch(tensor: "gradient", expected: "\(count) values (as \(inputName))", actual: "\(gradient.count) values")
            }
            guard count > 0 else { throw LossKernelsError.shapeMismatch(tensor: inputName, expected: "at least one element", actual: "0 values") }
        case let .matrix(rows, columns, targetShape, gradOutputShape, targetRule):
            try Validation.requireSameShape("targets", rows: targetShape.rows, columns: targetShape.columns, as: inputName, rows, columns)
            guard count > 0 else {
                throw LossKernelsError.shapeMismatch(tensor: inputName, expected: "at least one element", actual: Validation.shape(rows, columns))
            }
            if let targetRule { try Self.requireTargets(targets, targetRule, columns: columns) }
            if let gradOutputShape {
                try Validation.requireGradOutput(
                    count: gradOutput?.count, expected: count, reduction: loss.reductionName, allowsUpstream: loss.reduction == .none, per: "element")
                try Validation.requireSameShape("gradOutput", rows: gradOutputShape.rows, columns: gradOutputShape.columns, as: inputName, rows, columns)
            }
            try weights?.validate()
        }
    }

    /// Throws `.invalidValue` naming the first target that breaks `rule`.
    private static func requireTargets(_ targets: UnsafeBufferPointer<Float>, _ rule: TargetRule, columns: Int) throws {
        switch rule {
        case .range(let range):
            for (i, t) in targets.enumerated() where !range.contains(t) {
                throw LossKernelsError.invalidValue(tensor: "targets", index: i, value: "\(t)", allowed: "[\(range.lowerBound), \(range.upperBound)]")
            }
        case .finiteNonNegative:
            for (i, t) in targets.enumerated() where !(t.isFinite && t >= 0) {
                let (r, c) = i.quotientAndRemainder(dividingBy: columns)
                throw LossKernelsError.invalidValue(tensor: "targets", index: i, value: "\(t)", allowed: "finite and >= 0 (row \(r), column \(c))")
            }
        case .logProbability:
            for (i, t) in targets.enumerated() where t.isNaN || t == .infinity {
                let (r, c) = i.quotientAndRemainder(dividingBy: columns)
                throw LossKernelsError.invalidValue(
                    tensor: "targets", index: i, value: "\(t)", allowed: "a log-probability: finite or −∞, not NaN or +∞ (row \(r), column \(c))")
            }
        }
    }

    /// The reduced loss for mean and sum; empty for none (the losses are in `perElement`).
    func runCPU(_ cpu: CPUContext) -> [Float] {
        let sum = CPUElementwiseLoss.run(
            loss, input: input.baseAddress!, target: targets.baseAddress!, count: count, gradOutput: gradOutput?.baseAddress,
            gradient: gradient.baseAddress!, perElement: perElement?.baseAddress, weights: weights, threads: cpu.threads)
        return reduced(sum)
    }

    func runOpenCL(_ device: OpenCLDevice, _ tensors: DeviceTensors) throws -> [Float] {
        let sum = try OpenCLElementwiseLoss.run(
            device, loss, input: tensors[inputName], targets: tensors["targets"], gradOutput: tensors.optional("gradOutput"),
            count: count, gradient: tensors["gradient"], losses: tensors.optional("losses"),
            weights: weights.map { OpenCLElementwiseLoss.Weights($0, weight: tensors.optional("weight"), posWeight: tensors.optional("posWeight")) })
        return reduced(sum)
    }

    private func reduced(_ sum: Double) -> [Float] {
        perElement == nil ? loss.reduction.reduce(sum: sum, meanDenominator: loss.meanDenominator(count: count)) : []
    }
}
