/// A normalised-cosine margin head (docs/OPERATIONS.md, "Margin heads"): softmax cross-entropy
/// over the margin logits of features `X` (`B×D`) against class weights `W` (`C×D`), giving the
/// loss, ∂L/∂X and ∂L/∂W, the classes processed in tiles (`MarginSoftmaxProblem`) so the `B×C`
/// logits are never held at once. CPU: `CPUMarginSoftmax` (OpenBLAS); OpenCL:
/// `OpenCLMarginSoftmax` (CLBlast).
struct MarginSoftmaxOperation: Operation {
    let features: UnsafeBufferPointer<Float>
    let classWeights: UnsafeBufferPointer<Float>
    let rows: Int
    let classes: Int
    let dimension: Int
    let labels: [Int]
    let head: MarginHead
    let reduction: LossReduction
    let gradOutput: [Float]?
    let memoryBudget: Int
    let gradFeatures: UnsafeMutableBufferPointer<Float>
    let gradClassWeights: UnsafeMutableBufferPointer<Float>

    var inputs: [OperationInput] {
        var inputs: [OperationInput] = [.host("features", features), .host("classWeights", classWeights)]
        if let gradOutput { inputs.append(OperationInput("gradOutput", .array(gradOutput), transfer: false)) }
        return inputs
    }
    var outputs: [OperationOutput] { [.host("gradFeatures", gradFeatures), .host("gradClassWeights", gradClassWeights)] }
    /// The labels read and the loss written.
    var otherBytes: Int { OperationWork.labels(rows) + OperationWork.floats(reduction == .none ? rows : 1) }
    /// The three GEMMs of a step (logits, ∂L/∂X̂, ∂L/∂W), `3·2·B·C·D`.
    var flops: Int { 3 * 2 * rows * classes * dimension }

    func validate() throws {
        try Validation.requireNonEmpty("features", rows: rows, columns: dimension)
        guard classes > 0 else {
            throw LossKernelsError.shapeMismatch(tensor: "classWeights", expected: "at least one class (row)", actual: Validation.shape(classes, dimension))
        }
        try Validation.requireCount("features", features.count, rows: rows, columns: dimension)
        try Validation.requireCount("classWeights", classWeights.count, rows: classes, columns: dimension)
        try Validation.requireCount("gradFeatures", gradFeatures.count, rows: rows, columns: dimension)
        try Validation.requireCount("gradClassWeights", gradClassWeights.count, rows: classes, columns: dimension)
        try Validation.requireLabels(labels, rows: rows, classes: classes)
        try head.validate()
        try Validation.requireGradOutput(gradOutput, count: rows, reduction: reduction, per: "row")
        guard memoryBudget > 0 else { throw LossKernelsError.invalidOption(name: "memoryBudget", value: "\(memoryBudget)", allowed: "> 0 bytes") }
    }

    /// The validated problem.
    var problem: MarginSoftmaxProblem {
        MarginSoftmaxProblem(
            rows: rows, dimension: dimension, classes: classes, labels: labels, head: head, reduction: reduction, gradOutput: gradOutput,
            memoryBudget: memoryBudget)
    }

    func runCPU(_ cpu: CPUContext) -> [Float] {
        let p = problem
        let losses = cpu.scratch.withBuffer(count: rows * p.tileColumns) { tile in
            CPUMarginSoftmax.run(
                p, features: features.baseAddress!, classWeights: classWeights.baseAddress!,
                gradFeatures: gradFeatures.baseAddress!, gradWeights: gradClassWeights.baseAddress!, tile: tile, threads: cpu.threads)
        }
        return p.reduce(losses)
    }

    func runOpenCL(_ device: OpenCLDevice, _ tensors: DeviceTensors) throws -> [Float] {
        let p = problem
        return p.reduce(
            try OpenCLMarginSoftmax.run(
                device, p, features: tensors["features"], classWeights: tensors["classWeights"],
                gradFeatures: tensors["gradFeatures"], gradWeights: tensors["gradClassWeights"]))
    }
}
