/// A `rows × columns` float32 matrix resident on an OpenCL device, so several operations can run
/// without host transfers: upload once, run, read back once (`Engine.upload`, `Engine.download`).
/// Device memory is released when the last reference goes away.
public final class DeviceMatrix: Sendable {
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let columns: Int
    /// The device that holds the values.
    public var device: OpenCLDeviceInfo { buffer.device.info }
    let buffer: OpenCLBuffer

    init(rows: Int, columns: Int, buffer: OpenCLBuffer) {
        self.rows = rows
        self.columns = columns
        self.buffer = buffer
    }

    /// Total number of values.
    public var count: Int { rows * columns }

    /// This matrix as an operation's input.
    var storage: OperationInput.Storage { .device(buffer) }
}

/// Operations on device-resident matrices. They always run on the matrices' OpenCL device (the
/// data is there) and throw on failure; each returns once its results are complete on the device.
extension Engine {
    /// Copies `matrix` to the OpenCL device this engine uses: the explicit choice under `.opencl`,
    /// the automatic one under `.auto`.
    /// - Throws: `.invalidOption` under `.cpu`, `.openCLUnavailable` when there is no device.
    public func upload(_ matrix: Matrix) throws -> DeviceMatrix {
        let device = try scheduler.residentDevice()
        return try device.withExclusiveAccess {
            let buffer = try matrix.values.withUnsafeBufferPointer { try device.upload($0) }
            return DeviceMatrix(rows: matrix.rows, columns: matrix.columns, buffer: buffer)
        }
    }

    /// Copies a device-resident matrix back to the host.
    public func download(_ matrix: DeviceMatrix) throws -> Matrix {
        let host = OutputArray(count: matrix.count)
        let device = matrix.buffer.device
        try device.withExclusiveAccess {
            try host.values.withUnsafeMutableBytes { try device.read(matrix.buffer, into: $0) }
        }
        return host.matrix(rows: matrix.rows, columns: matrix.columns)
    }

    /// Softmax of device-resident logits (`B×C`), result on the same device.
    public func softmax(_ logits: DeviceMatrix) throws -> DeviceMatrix {
        try resident(
            SoftmaxForwardOperation(kind: .softmax, logits: logits.storage, output: .device(count: logits.count), rows: logits.rows, columns: logits.columns),
            rows: logits.rows, columns: logits.columns)
    }

    /// Log-softmax of device-resident logits (`B×C`), result on the same device.
    public func logSoftmax(_ logits: DeviceMatrix) throws -> DeviceMatrix {
        try resident(
            SoftmaxForwardOperation(
                kind: .logSoftmax, logits: logits.storage, output: .device(count: logits.count), rows: logits.rows, columns: logits.columns),
            rows: logits.rows, columns: logits.columns)
    }

    /// logSumExp of each row of device-resident logits, as a `B×1` device matrix.
    public func logSumExp(_ logits: DeviceMatrix) throws -> DeviceMatrix {
        try resident(
            LogSumExpOperation(logits: logits.storage, output: .device(count: logits.rows), rows: logits.rows, columns: logits.columns),
            rows: logits.rows, columns: 1)
    }

    /// Softmax backward on the device: `p ⊙ (g − Σ g p)`.
    public func softmaxBackward(probabilities: DeviceMatrix, gradOutput: DeviceMatrix) throws -> DeviceMatrix {
        try residentBackward(.softmax, probabilities, gradOutput)
    }

    /// Log-softmax backward on the device: `g − exp(y)·Σ g`.
    public func logSoftmaxBackward(logProbabilities: DeviceMatrix, gradOutput: DeviceMatrix) throws -> DeviceMatrix {
        try residentBackward(.logSoftmax, logProbabilities, gradOutput)
    }

    private func residentBackward(_ kind: SoftmaxKind, _ output: DeviceMatrix, _ gradOutput: DeviceMatrix) throws -> DeviceMatrix {
        try Validation.requireSameShape("gradOutput", rows: gradOutput.rows, columns: gradOutput.columns, as: kind.outputName, output.rows, output.columns)
        return try resident(
            SoftmaxBackwardOperation(
                kind: kind, forwardOutput: output.storage, gradOutput: gradOutput.storage,
                gradLogits: .device(count: output.count), rows: output.rows, columns: output.columns),
            rows: output.rows, columns: output.columns)
    }

    /// Runs a device-resident operation and wraps its one output.
    private func resident<O: Operation>(_ operation: O, rows: Int, columns: Int) throws -> DeviceMatrix {
        let outcome = try run(operation)
        guard let name = operation.outputs.first?.name, let buffer = outcome.deviceOutputs[name] else {
            preconditionFailure("a device-resident operation returns its output on the device")
        }
        return DeviceMatrix(rows: rows, columns: columns, buffer: buffer)
    }
}
