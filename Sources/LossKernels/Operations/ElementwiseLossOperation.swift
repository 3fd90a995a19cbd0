/// An elementwise loss of an input (logits, predictions) against targets of the same shape: the
/// loss (reduced, or one per element) and ∂loss/∂input in one call. The maths is the
/// `ElementwiseLoss`'s; the CPU loop is `CPUElementwiseLoss`, the kernel `OpenCLElementwiseLoss`.
struct ElementwiseLossOperation: Operation {
    /// The shapes the call is checked against: a matrix form (shapes compared as shapes; targets
    /// may be range-checked; an upstream gradient allowed with none) or a flat buffer form (counts
    /// compared; mean or sum only).
    enum Form {
        case matrix(rows: Int, columns: Int, targets: (rows: Int, columns: Int), gradOutput: (rows: Int, columns: Int)?, targetRange: ClosedRange<Float>?)
        case buffer
    }

    let loss: ElementwiseLoss
    let form: Form
    /// The input's name in errors: "logits" or "predictions".
    let inputName: String
    let input: UnsafeBufferPointer<Float>
    let targets: UnsafeBufferPointer<Float>
    let gradOutput: UnsafeBufferPointer<Float>?
    let gradient: UnsafeMutableBufferPointer<Float>
    /// Each element's loss, for reduction none.
    let perElement: UnsafeMutableBufferPointer<Float>?

    var count: Int { input.count }

    var inputs: [OperationInput] {
        var inputs: [OperationInput] = [.host(inputName, input), .host("targets", targets)]
        if let gradOutput { inputs.append(.host("gradOutput", gradOutput)) }
        return inputs
    }
    var outputs: [OperationOutput] {
        var outputs: [OperationOutput] = [.host("gradient", gradient)]
        if let perElement { outputs.append(.host("losses", perElement)) }
        return outputs
    }
    /// The reduced loss written (the losses of none are an output tensor).
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
        case let .matrix(rows, columns, targetShape, gradOutputShape, targetRange):
            try Validation.requireSameShape("targets", rows: targetShape.rows, columns: targetShape.columns, as: inputName, rows, columns)
            guard count > 0 else { throw LossKernelsError.shapeMismatch(tensor: inputName, expected: "at least one element", actual: Validation.shape(rows, columns)) }
            if let targetRange {
                for (i, t) in targets.enumerated() where !targetRange.contains(t) {
                    throw LossKernelsError.invalidValue(tensor: "targets", index: i, value: "\(t)", allowed: "[\(targetRange.lowerBound), \(targetRange.upperBound)]")
                }
            }
            if let gradOutputShape {
                try Validation.requireGradOutput(count: gradOutput?.count, expected: count, reduction: loss.reduction.rawValue, allowsUpstream: loss.reduction == .none, per: "element")
                try Validation.requireSameShape("gradOutput", rows: gradOutputShape.rows, columns: gradOutputShape.columns, as: inputName, rows, columns)
            }
        }
    }

    /// The reduced loss for mean and sum; empty for none (the losses are in `perElement`).
    func runCPU(_ cpu: CPUContext) -> [Float] {
        let sum = CPUElementwiseLoss.run(loss, input: input.baseAddress!, target: targets.baseAddress!, count: count, gradOutput: gradOutput?.baseAddress,
                                         gradient: gradient.baseAddress!, perElement: perElement?.baseAddress, threads: cpu.threads)
        return reduced(sum)
    }

    func runOpenCL(_ device: OpenCLDevice, _ tensors: DeviceTensors) throws -> [Float] {
        let sum = try OpenCLElementwiseLoss.run(device, loss, input: tensors[inputName], targets: tensors["targets"], gradOutput: tensors.optional("gradOutput"),
                                                count: count, gradient: tensors["gradient"], losses: tensors.optional("losses"))
        return reduced(sum)
    }

    private func reduced(_ sum: Double) -> [Float] {
        perElement == nil ? loss.reduction.reduce(sum: sum, meanDenominator: Double(count)) : []
    }
}
