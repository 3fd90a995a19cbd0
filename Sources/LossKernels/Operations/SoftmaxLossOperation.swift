/// A softmax loss of `rows × columns` logits with per-row targets (cross-entropy, focal): the
/// loss's reduced value and ∂loss/∂logits in one call. The maths is the `RowSoftmaxLoss`'s; this
/// description adds the tensors, the work, and the two implementations (CPUSoftmaxLoss,
/// OpenCLSoftmaxLoss), which compute each row's statistics and write its gradient. The logits and
/// the gradient may be device-resident (`DeviceMatrix`): the call then runs on their device and
/// moves only per-row values (labels, statistics) between host and device.
struct SoftmaxLossOperation<Loss: RowSoftmaxLoss>: Operation {
    let loss: Loss
    let logits: OperationInput.Storage
    let gradient: OperationOutput.Storage
    let rows: Int
    let columns: Int

    var inputs: [OperationInput] {
        var inputs = [OperationInput("logits", logits, finite: .finiteOrNegativeInfinity)]
        if let gradOutput = loss.gradOutput { inputs.append(OperationInput("gradOutput", .array(gradOutput), transfer: false)) }
        return inputs
    }
    var outputs: [OperationOutput] { [OperationOutput("gradient", gradient)] }
    /// The labels and per-class values (class weights, α) read and the loss written (one value, or
    /// one per row).
    var otherBytes: Int { OperationWork.labels(rows) + OperationWork.floats(loss.perClassValues + (loss.reduction == .none ? rows : 1)) }

    func validate() throws {
        try Validation.requireCount("logits", inputs[0].count, rows: rows, columns: columns)
        try Validation.requireCount("gradient", outputs[0].count, rows: rows, columns: columns)
        try Validation.requireNonEmpty("logits", rows: rows, columns: columns)
        try loss.validate(rows: rows, columns: columns)
    }

    func runCPU(_ cpu: CPUContext) -> [Float] {
        loss.reduce(CPUSoftmaxLoss.run(loss, logits.host!.baseAddress!, rows: rows, columns: columns, gradient.host!.baseAddress!, threads: cpu.threads))
    }

    func runOpenCL(_ device: OpenCLDevice, _ tensors: DeviceTensors) throws -> [Float] {
        loss.reduce(try OpenCLSoftmaxLoss.run(device, loss, tensors["logits"], rows: rows, columns: columns, into: tensors["gradient"]))
    }
}
