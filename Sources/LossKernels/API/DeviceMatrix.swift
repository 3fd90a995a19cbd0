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
}

/// Operations on device-resident matrices. They always run on the matrices' OpenCL device (the
/// data is there) and throw on failure; each returns once its results are complete on the device.
extension Engine {
    /// Copies `matrix` to the OpenCL device this engine uses: the explicit choice under `.opencl`,
    /// the automatic one under `.auto`.
    /// - Throws: `.invalidOption` under `.cpu`, `.openCLUnavailable` when there is no device.
    public func upload(_ matrix: Matrix) throws -> DeviceMatrix {
        let device = try residentDevice()
        return try device.withExclusiveAccess {
            let buffer = try matrix.values.withUnsafeBufferPointer { try device.upload($0) }
            return DeviceMatrix(rows: matrix.rows, columns: matrix.columns, buffer: buffer)
        }
    }

    /// Copies a device-resident matrix back to the host.
    public func download(_ matrix: DeviceMatrix) throws -> Matrix {
        var host = Matrix(rows: matrix.rows, columns: matrix.columns, repeating: 0)
        let device = matrix.buffer.device
        try device.withExclusiveAccess {
            try host.values.withUnsafeMutableBytes { try device.read(matrix.buffer, into: $0) }
        }
        return host
    }

    /// Softmax of device-resident logits (`B×C`), result on the same device.
    public func softmax(_ logits: DeviceMatrix) throws -> DeviceMatrix {
        try resident(logits, rows: logits.rows, columns: logits.columns) { device, out in
            try OpenCLSoftmax.forward(device, logits.buffer, rows: logits.rows, columns: logits.columns, logarithm: false, into: out)
        }
    }

    /// Log-softmax of device-resident logits (`B×C`), result on the same device.
    public func logSoftmax(_ logits: DeviceMatrix) throws -> DeviceMatrix {
        try resident(logits, rows: logits.rows, columns: logits.columns) { device, out in
            try OpenCLSoftmax.forward(device, logits.buffer, rows: logits.rows, columns: logits.columns, logarithm: true, into: out)
        }
    }

    /// logSumExp of each row of device-resident logits, as a `B×1` device matrix.
    public func logSumExp(_ logits: DeviceMatrix) throws -> DeviceMatrix {
        try resident(logits, rows: logits.rows, columns: 1) { device, out in
            try OpenCLSoftmax.logSumExp(device, logits.buffer, rows: logits.rows, columns: logits.columns, into: out)
        }
    }

    /// Softmax backward on the device: `p ⊙ (g − Σ g p)`.
    public func softmaxBackward(probabilities: DeviceMatrix, gradOutput: DeviceMatrix) throws -> DeviceMatrix {
        try Validation.requireSameShape("gradOutput", rows: gradOutput.rows, columns: gradOutput.columns, as: "probabilities", probabilities.rows, probabilities.columns)
        try requireSameDevice(gradOutput, probabilities)
        return try resident(probabilities, rows: probabilities.rows, columns: probabilities.columns) { device, out in
            try OpenCLSoftmax.backward(device, output: probabilities.buffer, gradOutput: gradOutput.buffer, rows: probabilities.rows, columns: probabilities.columns, logarithm: false, into: out)
        }
    }

    /// Log-softmax backward on the device: `g − exp(y)·Σ g`.
    public func logSoftmaxBackward(logProbabilities: DeviceMatrix, gradOutput: DeviceMatrix) throws -> DeviceMatrix {
        try Validation.requireSameShape("gradOutput", rows: gradOutput.rows, columns: gradOutput.columns, as: "logProbabilities", logProbabilities.rows, logProbabilities.columns)
        try requireSameDevice(gradOutput, logProbabilities)
        return try resident(logProbabilities, rows: logProbabilities.rows, columns: logProbabilities.columns) { device, out in
            try OpenCLSoftmax.backward(device, output: logProbabilities.buffer, gradOutput: gradOutput.buffer, rows: logProbabilities.rows, columns: logProbabilities.columns, logarithm: true, into: out)
        }
    }

    private func residentDevice() throws -> OpenCLDevice {
        switch policy {
        case .cpu:
            throw LossKernelsError.invalidOption(name: "policy", value: "cpu", allowed: "auto or opencl (device-resident data needs an OpenCL device)")
        case .opencl:
            return try scheduler.devices.device(explicit: true, filter: .any)
        case .auto:
            return try scheduler.devices.device(explicit: false, filter: scheduler.deviceFilter)
        }
    }

    private func requireSameDevice(_ a: DeviceMatrix, _ b: DeviceMatrix) throws {
        guard a.buffer.device === b.buffer.device else {
            throw LossKernelsError.invalidOption(name: "device", value: a.device.name, allowed: "the device of the other operand (\(b.device.name))")
        }
    }

    private func resident(_ input: DeviceMatrix, rows: Int, columns: Int, _ body: (OpenCLDevice, OpenCLBuffer) throws -> Void) throws -> DeviceMatrix {
        let device = input.buffer.device
        return try device.withExclusiveAccess {
            let out = try device.makeBuffer(count: rows * columns)
            if input.count > 0 { try body(device, out) }
            try device.finish()
            return DeviceMatrix(rows: rows, columns: columns, buffer: out)
        }
    }
}
