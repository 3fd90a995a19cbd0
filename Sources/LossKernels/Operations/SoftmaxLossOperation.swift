/// A softmax loss of `rows × columns` logits with per-row targets (cross-entropy, focal): the
/// loss's reduced value and ∂loss/∂logits in one call. The maths is the `RowSoftmaxLoss`'s; this
/// description adds the tensors, the work, and the two implementations (CPUSoftmaxLoss,
/// OpenCLSoftmaxLoss), which compute each row's statistics and write its gradient.
struct SoftmaxLossOperation<Loss: RowSoftmaxLoss>: Operation {
    let loss: Loss
    let logits: UnsafeBufferPointer<Float>
    let gradient: UnsafeMutableBufferPointer<Float>
    let rows: Int
    let columns: Int

    var inputs: [OperationInput] {
        var inputs = [OperationInput.host("logits", logits, finite: .finiteOrNegativeInfinity)]
        if let gradOutput = loss.gradOutput { inputs.append(OperationInput("gradOutput", .array(gradOutput), transfer: false)) }
        return inputs
    }
    var outputs: [OperationOutput] { [.host("gradient", gradient)] }
    /// The labels and per-class values (class weights, α) read and the loss written (one value, or
    /// one per row).
    var otherBytes: Int { OperationWork.labels(rows) + OperationWork.floats(loss.perClassValues + (loss.reduction == .none ? rows : 1)) }

    func validate() throws {
        try Validation.requireCount("logits", logits.count, rows: rows, columns: columns)
        try Validation.requireCount("gradient", gradient.count, rows: rows, columns: columns)
        try Validation.requireNonEmpty("logits", rows: rows, columns: columns)
        try loss.validate(rows: rows, columns: columns)
    }

    func runCPU(_ cpu: CPUContext) -> [Float] {
        loss.reduce(CPUSoftmaxLoss.run(loss, logits.baseAddress!, rows: rows, columns: columns, gradient.baseAddress!, threads: cpu.threads))
    }

    func runOpenCL(_ device: OpenCLDevice, _ tensors: DeviceTensors) throws -> [Float] {
        loss.reduce(try OpenCLSoftmaxLoss.run(device, loss, tensors["logits"], rows: rows, columns: columns, into: tensors["gradient"]))
    }
}
