/// The executor: every operation of the catalogue runs through `run(_:)`, so validation, the
/// finiteness check, the choice of backend and the fallback, the transfers and the errors are
/// written once (docs/ARCHITECTURE.md, "The life of a call").
extension Engine {
    /// Runs `operation`:
    ///
    /// 1. `validate()` — shapes, values, options; the first error is thrown as is.
    /// 2. With `checkFinite`, every host input is checked (its `FinitePolicy`).
    /// 3. Inputs or outputs on a device (`DeviceMatrix`): the call runs on that device under its
    ///    exclusive access, inputs on the host are uploaded, device outputs are allocated there and
    ///    returned once their work is queued (reading them back waits for it). No fallback: the
    ///    data is there.
    /// 4. Otherwise `resultWithoutWork()` answers calls with nothing to compute; the rest go to the
    ///    backend the scheduler picks for the call's cost (`callCost`: its work and the bytes it
    ///    would move across the bus; `auto`'s cost model). On OpenCL, transferred inputs are staged
    ///    (non-blocking) into pooled buffers, host outputs get pooled buffers, the implementation
    ///    runs, and host outputs are read back; under `auto` an OpenCL failure redoes the call on
    ///    the CPU.
    func run<O: Operation>(_ operation: O) throws -> OperationRun<O.Result> {
        try operation.validate()
        WorkRecorder.current?.add(operation)
        let inputs = operation.inputs, outputs = operation.outputs
        if checkFinite {
            for input in inputs { try input.requireFinite() }
        }
        if let device = try Self.residentDevice(inputs, outputs) {
            return try Self.runResident(operation, on: device)
        }
        if let result = try operation.resultWithoutWork() {
            return OperationRun(result: result, backend: .cpu, deviceOutputs: [:])
        }
        let cpu = scheduler.cpu
        let (result, backend) = try scheduler.run(
            cost: operation.callCost,
            cpu: {
                try operation.runCPU(cpu)
            },
            opencl: { device in
                try Self.runTransferring(operation, on: device).0
            })
        return OperationRun(result: result, backend: backend, deviceOutputs: [:])
    }

    /// The device of the call's device-resident inputs, if any; every such input must be on it.
    private static func residentDevice(_ inputs: [OperationInput], _ outputs: [OperationOutput]) throws -> OpenCLDevice? {
        var device: OpenCLDevice?
        for input in inputs {
            guard case .device(let buffer) = input.storage else { continue }
            if let device, device !== buffer.device {
                throw LossKernelsError.invalidOption(
                    name: "device", value: buffer.device.info.name, allowed: "the device of the other operand (\(device.info.name))")
            }
            device = buffer.device
        }
        if device == nil, outputs.contains(where: { if case .device = $0.storage { return true } else { return false } }) {
            preconditionFailure("device outputs need a device-resident input")
        }
        return device
    }

    /// Runs on the device that holds the inputs, leaving device outputs there.
    private static func runResident<O: Operation>(_ operation: O, on device: OpenCLDevice) throws -> OperationRun<O.Result> {
        try device.withExclusiveAccess {
            // No wait: the outputs stay on the device, and whoever reads them back waits for them.
            let (result, buffers) = try runTransferring(operation, on: device, skippingEmptyWork: true)
            var resident: [String: OpenCLBuffer] = [:]
            for output in operation.outputs {
                if case .device = output.storage { resident[output.name] = buffers[output.name] }
            }
            return OperationRun(result: result, backend: .opencl, deviceOutputs: resident)
        }
    }

    /// Uploads the transferred inputs, allocates the outputs, runs (unless there is nothing to
    /// compute and `skippingEmptyWork`), and reads the host outputs back. Returns the result and
    /// every tensor's device buffer.
    private static func runTransferring<O: Operation>(_ operation: O, on device: OpenCLDevice, skippingEmptyWork: Bool = false) throws
        -> (O.Result, [String: OpenCLBuffer])
    {
        let (buffers, readBack) = try prepareBuffers(operation, on: device)
        if skippingEmptyWork, let result = try operation.resultWithoutWork() { return (result, buffers) }
        let result = try operation.runOpenCL(device, DeviceTensors(buffers))
        for (buffer, host) in readBack { try device.read(buffer, into: UnsafeMutableRawBufferPointer(host)) }
        return (result, buffers)
    }

    /// The device buffer of every transferred input (staged into a pooled buffer unless already
    /// there) and of every output (pooled for host outputs, new for device outputs, which the
    /// caller keeps), and the host outputs to read back.
    private static func prepareBuffers<O: Operation>(_ operation: O, on device: OpenCLDevice) throws
        -> ([String: OpenCLBuffer], [(OpenCLBuffer, UnsafeMutableBufferPointer<Float>)])
    {
        var buffers: [String: OpenCLBuffer] = [:]
        for input in operation.inputs where input.transfer {
            switch input.storage {
            case .host(let values): buffers[input.name] = try device.staged(values, role: "run.input.\(input.name)")
            case .array(let values): buffers[input.name] = try device.staged(values, role: "run.input.\(input.name)")
            case .device(let buffer): buffers[input.name] = buffer
            }
        }
        var readBack: [(OpenCLBuffer, UnsafeMutableBufferPointer<Float>)] = []
        for output in operation.outputs {
            switch output.storage {
            case .host(let values):
                let buffer = try device.scratch("run.output.\(output.name)", count: output.count)
                buffers[output.name] = buffer
                readBack.append((buffer, values))
            case .device(let count):
                buffers[output.name] = try device.makeResultBuffer(count: count)
            }
        }
        return (buffers, readBack)
    }
}

extension OperationInput {
    /// `Engine(checkFinite: true)`'s check of a host input: `.invalidValue` naming the first bad
    /// index. Device-resident inputs are not read back for it.
    func requireFinite() throws {
        guard finite != .unchecked else { return }
        let negativeInfinity = finite == .finiteOrNegativeInfinity
        switch storage {
        case .host(let values): try Validation.requireFinite(name, values, allowNegativeInfinity: negativeInfinity)
        case .array(let values): try Validation.requireFinite(name, values, allowNegativeInfinity: negativeInfinity)
        case .device: break
        }
    }
}
