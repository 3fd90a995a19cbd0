/// The softmax family (docs/OPERATIONS.md, "Softmax family"): softmax and logSoftmax forward and
/// backward, logSumExp forward and backward, on host buffers or device-resident matrices. Rows are
/// independent; `−∞` entries are masks.

/// Which row-wise map: `softmax` (probabilities) or `logSoftmax` (log-probabilities).
enum SoftmaxKind: Sendable {
    case softmax, logSoftmax

    /// The name of its output (and of the backward's first input).
    var outputName: String { self == .softmax ? "probabilities" : "logProbabilities" }
    var cpu: CPUSoftmax.Kind { self == .softmax ? .softmax : .logSoftmax }
}

/// `y = softmax(z)` or `logSoftmax(z)` per row of `rows × columns` logits.
struct SoftmaxForwardOperation: Operation {
    let kind: SoftmaxKind
    let logits: OperationInput.Storage
    let output: OperationOutput.Storage
    let rows: Int
    let columns: Int

    var inputs: [OperationInput] { [OperationInput("logits", logits, finite: .finiteOrNegativeInfinity)] }
    var outputs: [OperationOutput] { [OperationOutput(kind.outputName, output)] }

    func validate() throws {
        try Validation.requireCount("logits", inputs[0].count, rows: rows, columns: columns)
        try Validation.requireCount(kind.outputName, outputs[0].count, rows: rows, columns: columns)
    }

    func resultWithoutWork() -> Void? { rows * columns == 0 ? () : nil }

    func runCPU(_ cpu: CPUContext) {
        CPUSoftmax.forward(kind.cpu, logits.host!.baseAddress!, rows: rows, columns: columns, output.host!.baseAddress!, threads: cpu.threads)
    }

    func runOpenCL(_ device: OpenCLDevice, _ tensors: DeviceTensors) throws {
        try OpenCLSoftmax.forward(device, tensors["logits"], rows: rows, columns: columns, logarithm: kind == .logSoftmax, into: tensors[kind.outputName])
    }
}

/// The backward of softmax (`dz = p ⊙ (g − Σ_j g_j p_j)`) or logSoftmax (`dz = g − exp(y)·Σ_j g_j`)
/// from the forward output and the upstream gradient, all `rows × columns`.
struct SoftmaxBackwardOperation: Operation {
    let kind: SoftmaxKind
    /// The forward's output: probabilities or log-probabilities.
    let forwardOutput: OperationInput.Storage
    let gradOutput: OperationInput.Storage
    let gradLogits: OperationOutput.Storage
    let rows: Int
    let columns: Int

    var inputs: [OperationInput] {
        [
            OperationInput(kind.outputName, forwardOutput, finite: kind == .logSoftmax ? .finiteOrNegativeInfinity : .finite),
            OperationInput("gradOutput", gradOutput),
        ]
    }
    var outputs: [OperationOutput] { [OperationOutput("gradLogits", gradLogits)] }

    func validate() throws {
        try Validation.requireCount(kind.outputName, inputs[0].count, rows: rows, columns: columns)
        try Validation.requireCount("gradOutput", inputs[1].count, rows: rows, columns: columns)
        try Validation.requireCount("gradLogits", outputs[0].count, rows: rows, columns: columns)
    }

    func resultWithoutWork() -> Void? { rows * columns == 0 ? () : nil }

    func runCPU(_ cpu: CPUContext) {
        CPUSoftmax.backward(
            kind.cpu, output: forwardOutput.host!.baseAddress!, gradOutput: gradOutput.host!.baseAddress!, rows: rows, columns: columns,
            gradLogits.host!.baseAddress!, threads: cpu.threads)
    }

    func runOpenCL(_ device: OpenCLDevice, _ tensors: DeviceTensors) throws {
        try OpenCLSoftmax.backward(
            device, output: tensors[kind.outputName], gradOutput: tensors["gradOutput"], rows: rows, columns: columns,
            logarithm: kind == .logSoftmax, into: tensors["gradLogits"])
    }
}

/// `log Σ_j exp(z_rj)` per row: −∞ for an all-(−∞) row (also for a row of no columns), +∞ when
/// a row holds +∞, NaN when it holds NaN.
struct LogSumExpOperation: Operation {
    let logits: OperationInput.Storage
    let output: OperationOutput.Storage
    let rows: Int
    let columns: Int

    var inputs: [OperationInput] { [OperationInput("logits", logits, finite: .finiteOrNegativeInfinity)] }
    var outputs: [OperationOutput] { [OperationOutput("logSumExp", output)] }

    func validate() throws {
        try Validation.requireCount("logits", inputs[0].count, rows: rows, columns: columns)
        try Validation.requireRowVector("logSumExp output", outputs[0].count, rows: rows)
    }

    func resultWithoutWork() -> Void? {
        if rows == 0 { return () }
        if columns == 0, let host = output.host {
            host.update(repeating: -.infinity)
            return ()
        }
        return nil
    }

    func runCPU(_ cpu: CPUContext) {
        CPUSoftmax.logSumExp(logits.host!.baseAddress!, rows: rows, columns: columns, output.host!.baseAddress!, threads: cpu.threads)
    }

    func runOpenCL(_ device: OpenCLDevice, _ tensors: DeviceTensors) throws {
        try OpenCLSoftmax.logSumExp(device, tensors["logits"], rows: rows, columns: columns, into: tensors["logSumExp"])
    }
}

/// The backward of logSumExp: `dz[r, j] = g[r]·exp(z[r, j] − lse[r])`, from the logits
/// (`rows × columns`), the forward's `lse` and one upstream value per row.
struct LogSumExpBackwardOperation: Operation {
    let logits: UnsafeBufferPointer<Float>
    let logSumExp: UnsafeBufferPointer<Float>
    let gradOutput: UnsafeBufferPointer<Float>
    let gradLogits: UnsafeMutableBufferPointer<Float>
    let rows: Int
    let columns: Int

    var inputs: [OperationInput] {
        [.host("logits", logits, finite: .finiteOrNegativeInfinity), .host("logSumExp", logSumExp, finite: .unchecked), .host("gradOutput", gradOutput)]
    }
    var outputs: [OperationOutput] { [.host("gradLogits", gradLogits)] }

    func validate() throws {
        try Validation.requireCount("logits", logits.count, rows: rows, columns: columns)
        try Validation.requireCount("gradLogits", gradLogits.count, rows: rows, columns: columns)
        try Validation.requireRowVector("logSumExp", logSumExp.count, rows: rows)
        try Validation.requireRowVector("gradOutput", gradOutput.count, rows: rows)
    }

    func resultWithoutWork() -> Void? { logits.isEmpty ? () : nil }

    func runCPU(_ cpu: CPUContext) {
        CPUSoftmax.logSumExpBackward(
            logits.baseAddress!, logSumExp: logSumExp.baseAddress!, gradOutput: gradOutput.baseAddress!, rows: rows, columns: columns,
            gradLogits.baseAddress!, threads: cpu.threads)
    }

    func runOpenCL(_ device: OpenCLDevice, _ tensors: DeviceTensors) throws {
        try OpenCLSoftmax.logSumExpBackward(
            device, tensors["logits"], logSumExp: tensors["logSumExp"], gradOutput: tensors["gradOutput"], rows: rows,
            columns: columns, into: tensors["gradLogits"])
    }
}
