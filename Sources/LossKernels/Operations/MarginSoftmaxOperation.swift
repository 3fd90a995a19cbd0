/// A normalised-cosine margin head (docs/OPERATIONS.md, "Margin heads"): softmax cross-entropy
/// over the margin logits of features `X` (`B×D`) against class weights `W` (`C×D`), giving the
/// loss, ∂L/∂X and ∂L/∂W, the classes processed in tiles (`MarginSoftmaxProblem`) so the `B×C`
/// logits are never held at once. CPU: `CPUMarginSoftmax` (OpenBLAS); OpenCL:
/// `OpenCLMarginSoftmax` (CLBlast). The class weights and their gradient may be device-resident
/// (`DeviceMatrix`): the call then runs on their device and moves only the features, the labels,
/// ∂L/∂X and per-row values.
struct MarginSoftmaxOperation: Operation {
    let features: OperationInput.Storage
    let classWeights: OperationInput.Storage
    let rows: Int
    let classes: Int
    let dimension: Int
    let labels: [Int]
    let head: MarginHead
    let reduction: LossReduction
    let gradOutput: [Float]?
    let memoryBudget: Int
    let gradFeatures: OperationOutput.Storage
    let gradClassWeights: OperationOutput.Storage

    var inputs: [OperationInput] {
        var inputs: [OperationInput] = [OperationInput("features", features), OperationInput("classWeights", classWeights)]
        if let gradOutput { inputs.append(OperationInput("gradOutput", .array(gradOutput), transfer: false)) }
        return inputs
    }
    var outputs: [OperationOutput] { [OperationOutput("gradFeatures", gradFeatures), OperationOutput("gradClassWeights", gradClassWeights)] }
    /// The labels read and the loss written.
    var otherBytes: Int { OperationWork.labels(rows) + OperationWork.floats(reduction == .none ? rows : 1) }
    /// The three GEMMs of a step (logits, ∂L/∂X̂, ∂L/∂W), `3·2·B·C·D`.
    var flops: Int { 3 * 2 * rows * classes * dimension }

    func validate() throws {
        try Validation.requireNonEmpty("features", rows: rows, columns: dimension)
        guard classes > 0 else {
            throw LossKernelsError.shapeMismatch(tensor: "classWeights", expected: "at least one class (row)", actual: Validation.shape(classes, dimension))
        }
        try Validation.requireCount("features", inputs[0].count, rows: rows, columns: dimension)
        try Validation.requireCount("classWeights", inputs[1].count, rows: classes, columns: dimension)
        try Validation.requireCount("gradFeatures", outputs[0].count, rows: rows, columns: dimension)
        try Validation.requireCount("gradClassWeights", outputs[1].count, rows: classes, columns: dimension)
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
                p, features: features.host!.baseAddress!, classWeights: classWeights.host!.baseAddress!,
                gradFeatures: gradFeatures.host!.baseAddress!, gradWeights: gradClassWeights.host!.baseAddress!, tile: tile, threads: cpu.threads)
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
