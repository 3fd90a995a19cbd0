/// Negative log-likelihood of `rows × columns` log-probabilities with one label per row: the reduced
/// loss and ∂loss/∂logProbabilities in one call. The maths is `NLLLoss`'s; the implementations are
/// `CPUNLLLoss` and `OpenCLNLLLoss`. The log-probabilities are not uploaded: the losses read one
/// value per row on the host, and the gradient does not depend on them.
struct NLLLossOperation: Operation {
    let loss: NLLLoss
    let logProbabilities: UnsafeBufferPointer<Float>
    let gradient: UnsafeMutableBufferPointer<Float>
    let rows: Int
    let columns: Int

    var inputs: [OperationInput] {
        var inputs = [OperationInput.host("logProbabilities", logProbabilities, finite: .finiteOrNegativeInfinity, transfer: false)]
        if let gradOutput = loss.gradOutput { inputs.append(OperationInput("gradOutput", .array(gradOutput), transfer: false)) }
        return inputs
    }
    var outputs: [OperationOutput] { [.host("gradient", gradient)] }
    /// The labels and class weights read and the loss written (one value, or one per row).
    var otherBytes: Int { OperationWork.labels(rows) + OperationWork.floats((loss.classWeights?.count ?? 0) + (loss.reduction == .none ? rows : 1)) }

    func validate() throws {
        try Validation.requireCount("logProbabilities", logProbabilities.count, rows: rows, columns: columns)
        try Validation.requireCount("gradient", gradient.count, rows: rows, columns: columns)
        try Validation.requireNonEmpty("logProbabilities", rows: rows, columns: columns)
        try loss.validate(rows: rows, columns: columns)
    }

    func runCPU(_ cpu: CPUContext) -> [Float] {
        loss.reduce(CPUNLLLoss.run(loss, logProbabilities.baseAddress!, rows: rows, columns: columns, gradient.baseAddress!, threads: cpu.threads))
    }

    func runOpenCL(_ device: OpenCLDevice, _ tensors: DeviceTensors) throws -> [Float] {
        loss.reduce(try OpenCLNLLLoss.run(device, loss, logProbabilities, rows: rows, columns: columns, into: tensors["gradient"]))
    }
}
