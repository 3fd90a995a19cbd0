/// Cross-entropy of `rows × columns` logits against probability targets of the same shape: the
/// reduced loss and ∂loss/∂logits in one call. The maths is `ProbabilityCrossEntropyLoss`'s; the
/// implementations are `CPUProbabilityCrossEntropy` and `OpenCLProbabilityCrossEntropy`.
struct ProbabilityCrossEntropyOperation: Operation {
    let loss: ProbabilityCrossEntropyLoss
    let logits: UnsafeBufferPointer<Float>
    let targets: UnsafeBufferPointer<Float>
    /// The targets' shape when given as a matrix (compared with the logits' shape), nil in the
    /// buffer form (only their count is compared).
    let targetShape: (rows: Int, columns: Int)?
    let gradient: UnsafeMutableBufferPointer<Float>
    let rows: Int
    let columns: Int

    var inputs: [OperationInput] {
        var inputs: [OperationInput] = [.host("logits", logits, finite: .finiteOrNegativeInfinity), .host("targetProbabilities", targets)]
        if let gradOutput = loss.gradOutput { inputs.append(OperationInput("gradOutput", .array(gradOutput), transfer: false)) }
        return inputs
    }
    var outputs: [OperationOutput] { [.host("gradient", gradient)] }
    /// The class weights read and the loss written (one value, or one per row).
    var otherBytes: Int { OperationWork.floats((loss.classWeights?.count ?? 0) + (loss.reduction == .none ? rows : 1)) }

    func validate() throws {
        try Validation.requireCount("logits", logits.count, rows: rows, columns: columns)
        try Validation.requireCount("gradient", gradient.count, rows: rows, columns: columns)
        try Validation.requireNonEmpty("logits", rows: rows, columns: columns)
        if let targetShape {
            try Validation.requireSameShape("targetProbabilities", rows: targetShape.rows, columns: targetShape.columns, as: "logits", rows, columns)
        } else {
            try Validation.requireCount("targetProbabilities", targets.count, rows: rows, columns: columns)
        }
        try loss.validate(rows: rows, columns: columns, targets: targets)
    }

    func runCPU(_ cpu: CPUContext) -> [Float] {
        loss.reduce(
            CPUProbabilityCrossEntropy.run(
                loss, logits.baseAddress!, targets.baseAddress!, rows: rows, columns: columns, gradient.baseAddress!, threads: cpu.threads))
    }

    func runOpenCL(_ device: OpenCLDevice, _ tensors: DeviceTensors) throws -> [Float] {
        loss.reduce(
            try OpenCLProbabilityCrossEntropy.run(
                device, loss, tensors["logits"], tensors["targetProbabilities"], rows: rows, columns: columns,
                into: tensors["gradient"]))
    }
}
