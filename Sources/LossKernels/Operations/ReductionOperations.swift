/// Reductions over all elements, each row or each column, and their backward (docs/OPERATIONS.md,
/// "Reductions"). Deterministic: the same input on the same backend gives the same bits, whatever
/// the thread count. CPU: `CPUReductions`; OpenCL: `OpenCLReductions`.

/// `operation` of a `rows × columns` input over `axis`: one value per group and, for max, min and
/// argmax, the winning index.
struct ReduceOperation: Operation {
    let operation: ReductionOperation
    let axis: ReductionAxis
    let input: UnsafeBufferPointer<Float>
    let rows: Int
    let columns: Int

    var groups: Int { axis.groups(rows: rows, columns: columns) }
    var groupSize: Int { axis.groupSize(rows: rows, columns: columns) }

    var inputs: [OperationInput] { [.host("input", input)] }
    var outputs: [OperationOutput] { [] }
    /// One value (and, when selecting, one 8-byte index) per group written.
    var otherBytes: Int { OperationWork.floats(groups) + (operation.selects ? OperationWork.labels(groups) : 0) }

    func validate() throws {
        try Validation.requireCount("input", input.count, rows: rows, columns: columns)
    }

    /// Empty groups: sum and l2Norm 0, mean NaN, logSumExp −∞; max, min and argmax have no value
    /// to give and throw. No groups: empty results.
    func resultWithoutWork() throws -> ReductionResult? {
        if groupSize == 0 {
            if operation.selects {
                if groups > 0 {
                    throw LossKernelsError.shapeMismatch(
                        tensor: "input", expected: "at least one element in each group reduced by \(operation.rawValue) over \(axis.rawValue)",
                        actual: Validation.shape(rows, columns))
                }
                return ReductionResult(values: [], indices: [])
            }
            let value: Float = operation == .mean ? .nan : (operation == .logSumExp ? -.infinity : 0)
            return ReductionResult(values: [Float](repeating: value, count: groups))
        }
        return groups > 0 ? nil : ReductionResult(values: [], indices: [])
    }

    func runCPU(_ cpu: CPUContext) -> ReductionResult {
        CPUReductions.reduce(operation, axis, input.baseAddress!, rows: rows, columns: columns, threads: cpu.threads)
    }

    func runOpenCL(_ device: OpenCLDevice, _ tensors: DeviceTensors) throws -> ReductionResult {
        try OpenCLReductions.reduce(device, operation, axis, tensors["input"], rows: rows, columns: columns)
    }
}

/// The gradient of a reduction with respect to its input, from the forward result and one
/// upstream value per group: sum `g`; mean `g/n`; l2Norm `g·x/‖x‖` (0 where the norm is 0);
/// max/min `g` at the winning index; logSumExp `g·exp(x − lse)`.
struct ReduceBackwardOperation: Operation {
    let operation: ReductionOperation
    let axis: ReductionAxis
    let input: UnsafeBufferPointer<Float>
    let rows: Int
    let columns: Int
    let result: ReductionResult
    let gradOutput: UnsafeBufferPointer<Float>
    let gradInput: UnsafeMutableBufferPointer<Float>

    var inputs: [OperationInput] { [.host("input", input), .host("gradOutput", gradOutput)] }
    var outputs: [OperationOutput] { [.host("gradInput", gradInput)] }
    /// The forward result read.
    var otherBytes: Int { OperationWork.floats(result.values.count) }

    func validate() throws {
        guard operation != .argmax else {
            throw LossKernelsError.invalidOption(name: "operation", value: "argmax", allowed: "sum, mean, max, min, logSumExp, l2Norm (argmax has no gradient)")
        }
        let groups = axis.groups(rows: rows, columns: columns)
        try Validation.requireRowVector("gradOutput", gradOutput.count, rows: groups)
        try Validation.requireRowVector("result.values", result.values.count, rows: groups)
        if operation.selects { try Validation.requireRowVector("result.indices", result.indices.count, rows: groups) }
    }

    func resultWithoutWork() -> Void? { input.isEmpty ? () : nil }

    func runCPU(_ cpu: CPUContext) {
        CPUReductions.backward(
            operation, axis, input.baseAddress!, rows: rows, columns: columns, result: result, gradOutput: gradOutput.baseAddress!,
            gradInput.baseAddress!, threads: cpu.threads)
    }

    func runOpenCL(_ device: OpenCLDevice, _ tensors: DeviceTensors) throws {
        try OpenCLReductions.backward(
            device, operation, axis, tensors["input"], rows: rows, columns: columns, result: result,
            gradOutput: tensors["gradOutput"], into: tensors["gradInput"])
    }
}
