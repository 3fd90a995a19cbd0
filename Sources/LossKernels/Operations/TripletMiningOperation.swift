/// Triplet loss with in-batch mining over embeddings `E` (`B×D`) and labels
/// (`TripletMiningProblem` has the maths): the loss, ∂L/∂E and the count of mined triplets or
/// anchors. CPU: `CPUTripletMining`; OpenCL: `OpenCLTripletMining` (CLBlast).
struct TripletMiningOperation: Operation {
    let embeddings: UnsafeBufferPointer<Float>
    let rows: Int
    let dimension: Int
    let labels: [Int]
    let mining: TripletMining
    let margin: Float
    let gradient: UnsafeMutableBufferPointer<Float>

    /// The embeddings are always checked (`validate`); the device reads the centered copy the
    /// problem makes, not the embeddings themselves.
    var inputs: [OperationInput] { [.host("embeddings", embeddings, transfer: false)] }
    var outputs: [OperationOutput] { [.host("gradEmbeddings", gradient)] }
    /// The labels read and the loss written.
    var otherBytes: Int { OperationWork.labels(rows) + OperationWork.floats(1) }
    /// The GEMMs `G = E'·E'ᵀ` and `S·E'`, `2·2·B²·D`.
    var flops: Int { 4 * rows * rows * dimension }

    func validate() throws {
        guard rows > 0 else {
            throw LossKernelsError.shapeMismatch(tensor: "embeddings", expected: "at least one row", actual: Validation.shape(rows, dimension))
        }
        guard dimension > 0 else {
            throw LossKernelsError.shapeMismatch(tensor: "embeddings", expected: "at least one column (D > 0)", actual: Validation.shape(rows, dimension))
        }
        try Validation.requireRowVector("labels", labels.count, rows: rows)
        for (n, label) in labels.enumerated() where label < 0 {
            throw LossKernelsError.invalidValue(tensor: "labels", index: n, value: "\(label)", allowed: ">= 0")
        }
        guard margin.isFinite else { throw LossKernelsError.invalidOption(name: "margin", value: "\(margin)", allowed: "finite") }
        if let bad = embeddings.firstIndex(where: { !$0.isFinite }) {
            throw LossKernelsError.invalidValue(tensor: "embeddings", index: bad, value: "\(embeddings[bad])", allowed: "finite")
        }
    }

    /// The validated problem (centered embeddings, representatives).
    var problem: TripletMiningProblem {
        TripletMiningProblem(embeddings: embeddings, rows: rows, dimension: dimension, labels: labels, mining: mining, margin: margin)
    }

    func runCPU(_ cpu: CPUContext) -> TripletMiningResult {
        let p = problem
        return cpu.scratch.withBuffer(count: CPUTripletMining.scratchCount(p)) { scratch in
            CPUTripletMining.run(p, gradient: gradient.baseAddress!, scratch: scratch, threads: cpu.threads)
        }
    }

    func runOpenCL(_ device: OpenCLDevice, _ tensors: DeviceTensors) throws -> TripletMiningResult {
        try OpenCLTripletMining.run(device, problem, gradient: tensors["gradEmbeddings"])
    }
}
