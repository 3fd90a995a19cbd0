import Foundation
import _COpenCLShim

/// One opened OpenCL device: its context, an in-order command queue, and the program built from
/// the embedded kernels (built once per context, on first use). Calls on one device are
/// serialised by `lock`: kernel arguments are per kernel object, and the queue is shared.
final class OpenCLDevice: @unchecked Sendable {
    let runtime: OpenCLRuntime
    let descriptor: OpenCLDeviceDescriptor
    var info: OpenCLDeviceInfo { descriptor.info }
    private let context: cl_context
    private let queue: cl_command_queue
    private let lock = NSLock()
    private var program: cl_program?
    private var kernels: [String: cl_kernel] = [:]
    /// The step made to fail on purpose (tests of fault handling), if any.
    let fault: OpenCLFault?
    /// Bytes copied host → device by `write` since the device was opened (read under
    /// `withExclusiveAccess`; tests use it to check that device-resident data stays put).
    private(set) var hostToDeviceBytes = 0

    init(runtime: OpenCLRuntime, descriptor: OpenCLDeviceDescriptor, fault: OpenCLFault? = nil) throws {
        self.runtime = runtime
        self.descriptor = descriptor
        self.fault = fault
        var status: cl_int = 0
        var device: cl_device_id? = descriptor.device
        var properties: [cl_context_properties] = [
            cl_context_properties(CL_CONTEXT_PLATFORM), cl_context_properties(Int(bitPattern: UnsafeRawPointer(descriptor.platform))), 0,
        ]
        guard let context = runtime.api.CreateContext(&properties, 1, &device, nil, nil, &status), status == CL_SUCCESS else {
            try OpenCLRuntime.check(status == CL_SUCCESS ? CL_OUT_OF_HOST_MEMORY : status, "clCreateContext")
            throw LossKernelsError.openCLUnavailable(reason: "clCreateContext returned no context")
        }
        guard let queue = runtime.api.CreateCommandQueue(context, descriptor.device, 0, &status), status == CL_SUCCESS else {
            _ = runtime.api.ReleaseContext(context)
            try OpenCLRuntime.check(status == CL_SUCCESS ? CL_OUT_OF_HOST_MEMORY : status, "clCreateCommandQueue")
            throw LossKernelsError.openCLUnavailable(reason: "clCreateCommandQueue returned no queue")
        }
        self.context = context
        self.queue = queue
    }

    deinit {
        for kernel in kernels.values { _ = runtime.api.ReleaseKernel(kernel) }
        if let program { _ = runtime.api.ReleaseProgram(program) }
        _ = runtime.api.ReleaseCommandQueue(queue)
        _ = runtime.api.ReleaseContext(context)
    }

    /// Runs `body` with exclusive use of the queue and kernels.
    func withExclusiveAccess<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    // MARK: Buffers

    /// A new device buffer of `count` floats (or `count` elements of `elementSize` bytes).
    func makeBuffer(count: Int, elementSize: Int = MemoryLayout<Float>.size) throws -> OpenCLBuffer {
        let bytes = Swift.max(1, count) * elementSize
        if fault == .alloc { throw OpenCLFault.alloc.error(at: "clCreateBuffer(\(bytes) bytes)") }
        if info.maxAllocationBytes > 0 && bytes > info.maxAllocationBytes {
            throw LossKernelsError.openCLFailure(
                call: "clCreateBuffer(\(bytes) bytes; device limit \(info.maxAllocationBytes))", code: CL_INVALID_BUFFER_SIZE, name: "CL_INVALID_BUFFER_SIZE",
                buildLog: nil)
        }
        var status: cl_int = 0
        guard let mem = runtime.api.CreateBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), bytes, nil, &status), status == CL_SUCCESS else {
            try OpenCLRuntime.check(status == CL_SUCCESS ? CL_MEM_OBJECT_ALLOCATION_FAILURE : status, "clCreateBuffer(\(bytes) bytes)")
            throw LossKernelsError.openCLFailure(
                call: "clCreateBuffer", code: CL_MEM_OBJECT_ALLOCATION_FAILURE, name: "CL_MEM_OBJECT_ALLOCATION_FAILURE", buildLog: nil)
        }
        return OpenCLBuffer(device: self, mem: mem, count: count, elementSize: elementSize)
    }

    /// Copies `source` (host) into `buffer` from byte `offset` on, blocking.
    func write(_ source: UnsafeRawBufferPointer, to buffer: OpenCLBuffer, offset: Int = 0) throws {
        guard source.count > 0 else { return }
        hostToDeviceBytes += source.count
        try OpenCLRuntime.check(
            runtime.api.EnqueueWriteBuffer(queue, buffer.mem, cl_bool(CL_TRUE), offset, source.count, source.baseAddress, 0, nil, nil), "clEnqueueWriteBuffer")
    }

    /// A new buffer holding a copy of `values`.
    func upload<T>(_ values: UnsafeBufferPointer<T>) throws -> OpenCLBuffer {
        let buffer = try makeBuffer(count: values.count, elementSize: MemoryLayout<T>.stride)
        try write(UnsafeRawBufferPointer(values), to: buffer)
        return buffer
    }

    /// Copies `buffer`, from byte `offset` on, into `destination` (host), blocking.
    func read(_ buffer: OpenCLBuffer, offset: Int = 0, into destination: UnsafeMutableRawBufferPointer) throws {
        guard destination.count > 0 else { return }
        if fault == .read { throw OpenCLFault.read.error(at: "clEnqueueReadBuffer") }
        try OpenCLRuntime.check(
            runtime.api.EnqueueReadBuffer(queue, buffer.mem, cl_bool(CL_TRUE), offset, destination.count, destination.baseAddress, 0, nil, nil),
            "clEnqueueReadBuffer")
    }

    /// Enqueues a device-to-device copy of the first `bytes` bytes of `source` into `destination`
    /// (`clEnqueueCopyBuffer`), without waiting: call `finish()` to wait for it.
    func enqueueCopy(from source: OpenCLBuffer, to destination: OpenCLBuffer, bytes: Int) throws {
        guard bytes > 0 else { return }
        try OpenCLRuntime.check(runtime.api.EnqueueCopyBuffer(queue, source.mem, destination.mem, 0, 0, bytes, 0, nil, nil), "clEnqueueCopyBuffer")
    }

    /// The device's command queue, for libraries that enqueue their own work (CLBlast).
    var commandQueue: cl_command_queue { queue }

    /// Waits for every queued command.
    func finish() throws {
        try OpenCLRuntime.check(runtime.api.Finish(queue), "clFinish")
    }

    // MARK: Kernels

    /// The kernel `name` from the embedded program, building the program on first use.
    func kernel(_ name: String) throws -> cl_kernel {
        if let cached = kernels[name] { return cached }
        let program = try builtProgram()
        var status: cl_int = 0
        guard let kernel = runtime.api.CreateKernel(program, name, &status), status == CL_SUCCESS else {
            try OpenCLRuntime.check(status == CL_SUCCESS ? CL_INVALID_KERNEL_NAME : status, "clCreateKernel(\(name))")
            throw LossKernelsError.openCLFailure(call: "clCreateKernel(\(name))", code: CL_INVALID_KERNEL_NAME, name: "CL_INVALID_KERNEL_NAME", buildLog: nil)
        }
        kernels[name] = kernel
        return kernel
    }

    private func builtProgram() throws -> cl_program {
        if let program { return program }
        if fault == .build { throw OpenCLFault.build.error(at: "clBuildProgram on \(info.name)") }
        var sources: [UnsafePointer<CChar>?] = []
        for index in 0..<lk_kernel_file_count() { sources.append(lk_kernel_file_source(index)) }
        var status: cl_int = 0
        guard let built = runtime.api.CreateProgramWithSource(context, cl_uint(sources.count), &sources, nil, &status), status == CL_SUCCESS else {
            try OpenCLRuntime.check(status == CL_SUCCESS ? CL_OUT_OF_HOST_MEMORY : status, "clCreateProgramWithSource")
            throw LossKernelsError.openCLUnavailable(reason: "clCreateProgramWithSource returned no program")
        }
        var device: cl_device_id? = descriptor.device
        let code = runtime.api.BuildProgram(built, 1, &device, "-cl-std=CL1.2", nil, nil)
        if code != CL_SUCCESS {
            let log = buildLog(built)
            _ = runtime.api.ReleaseProgram(built)
            throw LossKernelsError.openCLFailure(
                call: "clBuildProgram on \(info.name)", code: code, name: String(cString: lk_cl_error_name(code)), buildLog: log)
        }
        program = built
        return built
    }

    private func buildLog(_ program: cl_program) -> String {
        var size = 0
        guard runtime.api.GetProgramBuildInfo(program, descriptor.device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size) == CL_SUCCESS, size > 0
        else { return "" }
        var bytes = [CChar](repeating: 0, count: size + 1)
        guard runtime.api.GetProgramBuildInfo(program, descriptor.device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &bytes, nil) == CL_SUCCESS else {
            return ""
        }
        return String(nulTerminated: bytes)
    }

    /// The largest power-of-two work-group size ≤ `limit` that `kernel` allows on this device and
    /// whose local memory (`localBytesPerItem` per work-item) fits.
    func workGroupSize(_ kernel: cl_kernel, limit: Int = 256, localBytesPerItem: Int = 0) -> Int {
        var kernelMax = 0
        if runtime.api.GetKernelWorkGroupInfo(
            kernel, descriptor.device, cl_kernel_work_group_info(CL_KERNEL_WORK_GROUP_SIZE), MemoryLayout<Int>.size, &kernelMax, nil) != CL_SUCCESS
        {
            kernelMax = 64
        }
        var cap = Swift.min(limit, Swift.max(1, Swift.min(kernelMax, info.maxWorkGroupSize)))
        if localBytesPerItem > 0, info.localMemoryBytes > 0 {
            cap = Swift.min(cap, Swift.max(1, info.localMemoryBytes / 2 / localBytesPerItem))
        }
        var size = 1
        while size * 2 <= cap { size *= 2 }
        return size
    }

    /// Sets the arguments of `kernel` and enqueues it over `global` with work-groups of `local`.
    func launch(_ name: String, _ kernel: cl_kernel, global: [Int], local: [Int]?, _ arguments: [OpenCLKernelArgument]) throws {
        if fault == .enqueue { throw OpenCLFault.enqueue.error(at: "clEnqueueNDRangeKernel(\(name))") }
        for (index, argument) in arguments.enumerated() {
            let code: cl_int
            switch argument {
            case .buffer(let buffer):
                var mem: cl_mem? = buffer.mem
                code = runtime.api.SetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_mem>.size, &mem)
            case .uint64(let value):
                var v = cl_ulong(value)
                code = runtime.api.SetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_ulong>.size, &v)
            case .int32(let value):
                var v = cl_int(value)
                code = runtime.api.SetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_int>.size, &v)
            case .float(let value):
                var v = cl_float(value)
                code = runtime.api.SetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_float>.size, &v)
            case .float8(let value):
                var v = value
                code = runtime.api.SetKernelArg(kernel, cl_uint(index), MemoryLayout<SIMD8<Float>>.size, &v)
            case .local(let bytes):
                code = runtime.api.SetKernelArg(kernel, cl_uint(index), bytes, nil)
            }
            try OpenCLRuntime.check(code, "clSetKernelArg(\(name), \(index))")
        }
        let code: cl_int = global.withUnsafeBufferPointer { globalSizes in
            if let local {
                return local.withUnsafeBufferPointer { localSizes in
                    runtime.api.EnqueueNDRangeKernel(queue, kernel, cl_uint(global.count), nil, globalSizes.baseAddress, localSizes.baseAddress, 0, nil, nil)
                }
            }
            return runtime.api.EnqueueNDRangeKernel(queue, kernel, cl_uint(global.count), nil, globalSizes.baseAddress, nil, 0, nil, nil)
        }
        try OpenCLRuntime.check(code, "clEnqueueNDRangeKernel(\(name))")
    }
}

/// An argument of a kernel launch.
enum OpenCLKernelArgument {
    case buffer(OpenCLBuffer)
    case uint64(Int)
    case int32(Int32)
    case float(Float)
    /// An OpenCL `float8`.
    case float8(SIMD8<Float>)
    /// `__local` memory of this many bytes.
    case local(Int)
}

extension OpenCLDevice {
    /// Sets the first `count` floats of `buffer` to 0 on the device (`lk_fill_zero`).
    func fillZero(_ buffer: OpenCLBuffer, count: Int) throws {
        guard count > 0 else { return }
        try launch("lk_fill_zero", try kernel("lk_fill_zero"), global: [count], local: nil, [.buffer(buffer), .uint64(count)])
    }
}
