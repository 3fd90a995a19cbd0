import Foundation
import _COpenCLShim

/// One opened OpenCL device: its context, an in-order command queue, the program built from the
/// embedded kernels (built once per context, on first use), a pool of scratch buffers, and the
/// counters and kernel times of `OpenCLProfile`. Calls on one device are serialised by `lock`:
/// kernel arguments are per kernel object, and the queue, the pool and the counters are shared.
///
/// Work is enqueued without waiting; the host waits only where it reads (`read`) or asks to
/// (`finish`). Uploads may be non-blocking (`write(…, blocking: false)`) when the caller keeps the
/// host memory alive until its next blocking call.
final class OpenCLDevice: @unchecked Sendable {
    let runtime: OpenCLRuntime
    let descriptor: OpenCLDeviceDescriptor
    var info: OpenCLDeviceInfo { descriptor.info }
    let settings: OpenCLDeviceSettings
    private let context: cl_context
    private let queue: cl_command_queue
    private let lock = NSLock()
    private var program: cl_program?
    private var kernels: [String: cl_kernel] = [:]
    private var preferredLocalSizes: [String: Int] = [:]
    private var scratchBuffers: [String: OpenCLBuffer] = [:]
    /// Device-resident results their owners dropped, by size in bytes, for the next result of
    /// that size; guarded by `recycleLock` (a result may be dropped on any thread).
    private let recycleLock = NSLock()
    private var recycled: [Int: [cl_mem]] = [:]
    private var recycledBytes = 0
    /// Host copies of non-blocking uploads, per role; `pending` until the host next waits.
    private var stagingAreas: [String: (memory: UnsafeMutableRawBufferPointer, pending: Bool)] = [:]
    /// Kernel events not yet timed (profiling only), and the times of the timed ones.
    private var pendingEvents: [(name: String, event: cl_event)] = []
    private var kernelTimes: [String: (count: Int, seconds: Double)] = [:]
    /// What this device has done since it was opened (read under `withExclusiveAccess`).
    private(set) var counters = OpenCLCounters()
    /// The step made to fail on purpose (tests of fault handling), if any.
    var fault: OpenCLFault? { settings.fault }
    var limits: OpenCLLaunchLimits { settings.limits }
    /// Bytes of a row slab whose second read should come from the cache (`LOSSKERNELS_OPENCL_SLAB_BYTES`;
    /// 0, the default: no slabs). Not derived from `CL_DEVICE_GLOBAL_MEM_CACHE_SIZE`: on the H200
    /// that gave ~2 MB slabs, 52 slabs of 3 launches per 256 × 100,000 softmax, 17× slower
    /// (NOTES.md).
    var slabBytes: Int { settings.slabBytes ?? 0 }
    /// Whether CLBlast's tuned parameters (`LOSSKERNELS_CLBLAST_PARAMETERS`) were installed for
    /// this device (guarded by the exclusive access).
    var clblastTuned = false
    /// Bytes copied host → device by `write` since the device was opened (read under
    /// `withExclusiveAccess`; tests use it to check that device-resident data stays put).
    var hostToDeviceBytes: Int { counters.writtenBytes }

    init(runtime: OpenCLRuntime, descriptor: OpenCLDeviceDescriptor, settings: OpenCLDeviceSettings = OpenCLDeviceSettings()) throws {
        self.runtime = runtime
        self.descriptor = descriptor
        self.settings = settings
        var status: cl_int = 0
        var device: cl_device_id? = descriptor.device
        var properties: [cl_context_properties] = [
            cl_context_properties(CL_CONTEXT_PLATFORM), cl_context_properties(Int(bitPattern: UnsafeRawPointer(descriptor.platform))), 0,
        ]
        guard let context = runtime.api.CreateContext(&properties, 1, &device, nil, nil, &status), status == CL_SUCCESS else {
            try OpenCLRuntime.check(status == CL_SUCCESS ? CL_OUT_OF_HOST_MEMORY : status, "clCreateContext")
            throw LossKernelsError.openCLUnavailable(reason: "clCreateContext returned no context")
        }
        let queueProperties = settings.profile ? cl_command_queue_properties(CL_QUEUE_PROFILING_ENABLE) : 0
        guard let queue = runtime.api.CreateCommandQueue(context, descriptor.device, queueProperties, &status), status == CL_SUCCESS else {
            _ = runtime.api.ReleaseContext(context)
            try OpenCLRuntime.check(status == CL_SUCCESS ? CL_OUT_OF_HOST_MEMORY : status, "clCreateCommandQueue")
            throw LossKernelsError.openCLUnavailable(reason: "clCreateCommandQueue returned no queue")
        }
        self.context = context
        self.queue = queue
    }

    deinit {
        _ = runtime.api.Finish(queue)
        for pending in pendingEvents { _ = runtime.api.ReleaseEvent(pending.event) }
        scratchBuffers.removeAll()
        for area in stagingAreas.values { area.memory.deallocate() }
        for mem in recycled.values.joined() { _ = runtime.api.ReleaseMemObject(mem) }
        for kernel in kernels.values { _ = runtime.api.ReleaseKernel(kernel) }
        if let program { _ = runtime.api.ReleaseProgram(program) }
        _ = runtime.api.ReleaseCommandQueue(queue)
        _ = runtime.api.ReleaseContext(context)
    }

    /// Runs `body` with exclusive use of the queue and kernels. When `body` throws, the work it
    /// queued is waited for (errors ignored) before the error goes on, so a failed call leaves
    /// nothing running: not a kernel reading a buffer about to be released, not a driver thread
    /// compiling while the process exits.
    func withExclusiveAccess<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        do {
            return try body()
        } catch {
            if runtime.api.Finish(queue) == CL_SUCCESS { synchronised() }
            throw error
        }
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
        counters.allocations += 1
        counters.allocatedBytes += bytes
        return OpenCLBuffer(device: self, mem: mem, count: count, elementSize: elementSize)
    }

    /// A pooled scratch buffer for `role` holding at least `count` elements of `elementSize` bytes:
    /// the one from the last call with this role when it is large enough, else a new one that
    /// replaces it. Roles name one use site each, so a call never gets a buffer it already holds;
    /// the in-order queue makes reuse by a later call safe. The contents are undefined.
    func scratch(_ role: String, count: Int, elementSize: Int = MemoryLayout<Float>.size) throws -> OpenCLBuffer {
        if let pooled = scratchBuffers[role], pooled.elementSize == elementSize, pooled.count >= count { return pooled }
        scratchBuffers[role] = nil
        let buffer = try makeBuffer(count: count, elementSize: elementSize)
        scratchBuffers[role] = buffer
        return buffer
    }

    /// Drops the pooled scratch buffers and the recycled results (device memory is freed once
    /// queued work no longer uses them); later calls allocate again. Returns the bytes released.
    func releaseScratch() -> Int {
        let bytes = scratchBuffers.values.reduce(0) { $0 + $1.count * $1.elementSize }
        scratchBuffers.removeAll()
        recycleLock.lock()
        let dropped = recycled.values.joined()
        let recycledTotal = recycledBytes
        recycled.removeAll()
        recycledBytes = 0
        recycleLock.unlock()
        for mem in dropped { _ = runtime.api.ReleaseMemObject(mem) }
        return bytes + recycledTotal
    }

    /// A buffer of `count` floats for a device-resident result the caller keeps: a dropped result
    /// of the same size when there is one (no allocation: a chain of device-resident calls that
    /// drops its intermediate results allocates nothing once warm), else a new buffer.
    func makeResultBuffer(count: Int) throws -> OpenCLBuffer {
        let bytes = Swift.max(1, count) * MemoryLayout<Float>.size
        recycleLock.lock()
        if let mem = recycled[bytes]?.popLast() {
            recycledBytes -= bytes
            recycleLock.unlock()
            return OpenCLBuffer(device: self, mem: mem, count: count, elementSize: MemoryLayout<Float>.size, recyclable: true)
        }
        recycleLock.unlock()
        let buffer = try makeBuffer(count: count)
        return OpenCLBuffer(device: self, mem: buffer.takeMemory(), count: count, elementSize: MemoryLayout<Float>.size, recyclable: true)
    }

    /// Keeps a dropped result's memory for `makeResultBuffer`, up to an eighth of the device's
    /// memory (at most 4 GiB) in all; false when it should be released instead.
    func recycle(_ mem: cl_mem, bytes: Int) -> Bool {
        let limit = Swift.min(4 << 30, Swift.max(64 << 20, info.globalMemoryBytes / 8))
        recycleLock.lock()
        defer { recycleLock.unlock() }
        guard recycledBytes + bytes <= limit else { return false }
        recycled[bytes, default: []].append(mem)
        recycledBytes += bytes
        return true
    }

    /// Copies `source` (host) into `buffer` from byte `offset` on. Non-blocking when `blocking` is
    /// false: the caller then keeps `source` alive and unchanged until its next blocking read or
    /// `finish()`.
    func write(_ source: UnsafeRawBufferPointer, to buffer: OpenCLBuffer, offset: Int = 0, blocking: Bool = true) throws {
        guard source.count > 0 else { return }
        counters.writes += 1
        counters.writtenBytes += source.count
        if blocking { counters.blockingWrites += 1 }
        try OpenCLRuntime.check(
            runtime.api.EnqueueWriteBuffer(queue, buffer.mem, cl_bool(blocking ? CL_TRUE : CL_FALSE), offset, source.count, source.baseAddress, 0, nil, nil),
            "clEnqueueWriteBuffer")
        if blocking { synchronised() }
    }

    /// Copies `values` into `buffer` (from its start) without making the host wait: the values are
    /// copied into a host staging area owned by the device (one per `role`) and the upload is
    /// enqueued non-blocking. A role whose previous upload may still be in flight (no wait since)
    /// is uploaded blocking instead, so a staging area is never overwritten while the device may
    /// still read it.
    func stage<T>(_ values: UnsafeBufferPointer<T>, into buffer: OpenCLBuffer, role: String) throws {
        let bytes = values.count * MemoryLayout<T>.stride
        guard bytes > 0 else { return }
        precondition(bytes <= buffer.count * buffer.elementSize, "stage \(role): \(bytes) bytes into a smaller buffer")
        if let area = stagingAreas[role], area.pending {
            try write(UnsafeRawBufferPointer(values), to: buffer)
            return
        }
        var area = stagingAreas[role]?.memory
        if area == nil || area!.count < bytes {
            area?.deallocate()
            area = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 64)
        }
        let memory = area!
        memory.copyMemory(from: UnsafeRawBufferPointer(values))
        stagingAreas[role] = (memory, true)
        try write(UnsafeRawBufferPointer(rebasing: memory[0..<bytes]), to: buffer, blocking: false)
    }

    /// The pooled buffer of `role` holding a staged (non-blocking) copy of `values`.
    func staged<T>(_ values: UnsafeBufferPointer<T>, role: String) throws -> OpenCLBuffer {
        let buffer = try scratch(role, count: values.count, elementSize: MemoryLayout<T>.stride)
        try stage(values, into: buffer, role: role)
        return buffer
    }

    /// `staged` of an array.
    func staged<T>(_ values: [T], role: String) throws -> OpenCLBuffer {
        try values.withUnsafeBufferPointer { try staged($0, role: role) }
    }

    /// Reads several device buffers back in one blocking read: the first `bytes` of each piece are
    /// copied side by side, in order, into the pooled buffer of `role` on the device, then read
    /// into an array of `T` (the pieces' bytes must add up to whole `T`s).
    func readTogether<T>(_ pieces: [(buffer: OpenCLBuffer, bytes: Int)], role: String, as type: T.Type) throws -> [T] {
        let total = pieces.reduce(0) { $0 + $1.bytes }
        precondition(total % MemoryLayout<T>.stride == 0, "readTogether \(role): \(total) bytes are not whole values")
        let together = try scratch(role, count: total, elementSize: 1)
        var offset = 0
        for piece in pieces {
            try enqueueCopy(from: piece.buffer, to: together, destinationOffset: offset, bytes: piece.bytes)
            offset += piece.bytes
        }
        var host = [T](unsafeUninitializedCapacity: total / MemoryLayout<T>.stride) { _, count in count = total / MemoryLayout<T>.stride }
        try host.withUnsafeMutableBytes { try read(together, into: $0) }
        return host
    }

    /// After the host waited for the queue, every staged upload has completed.
    private func stagingCompleted() {
        for role in stagingAreas.keys where stagingAreas[role]!.pending { stagingAreas[role]!.pending = false }
    }

    /// A new buffer holding a copy of `values` (a blocking upload).
    func upload<T>(_ values: UnsafeBufferPointer<T>) throws -> OpenCLBuffer {
        let buffer = try makeBuffer(count: values.count, elementSize: MemoryLayout<T>.stride)
        try write(UnsafeRawBufferPointer(values), to: buffer)
        return buffer
    }

    /// Copies `buffer`, from byte `offset` on, into `destination` (host), blocking: the one place
    /// the host waits for the queue besides `finish()`.
    func read(_ buffer: OpenCLBuffer, offset: Int = 0, into destination: UnsafeMutableRawBufferPointer) throws {
        guard destination.count > 0 else { return }
        if fault == .read { throw OpenCLFault.read.error(at: "clEnqueueReadBuffer") }
        counters.blockingReads += 1
        counters.readBytes += destination.count
        try OpenCLRuntime.check(
            runtime.api.EnqueueReadBuffer(queue, buffer.mem, cl_bool(CL_TRUE), offset, destination.count, destination.baseAddress, 0, nil, nil),
            "clEnqueueReadBuffer")
        synchronised()
    }

    /// Enqueues a device-to-device copy of `bytes` bytes of `source` (from `sourceOffset`) into
    /// `destination` (at `destinationOffset`), without waiting.
    func enqueueCopy(from source: OpenCLBuffer, sourceOffset: Int = 0, to destination: OpenCLBuffer, destinationOffset: Int = 0, bytes: Int) throws {
        guard bytes > 0 else { return }
        try OpenCLRuntime.check(
            runtime.api.EnqueueCopyBuffer(queue, source.mem, destination.mem, sourceOffset, destinationOffset, bytes, 0, nil, nil), "clEnqueueCopyBuffer")
    }

    /// Enqueues `buffer[0..<count] = value` (`clEnqueueFillBuffer`: no kernel), in pieces of at
    /// most 2^28 values (1 GiB), so no driver sees a size beyond 32-bit element counts.
    func fill(_ buffer: OpenCLBuffer, count: Int, value: Float = 0) throws {
        var pattern = value
        let piece = 1 << 28
        for start in stride(from: 0, to: count, by: piece) {
            let bytes = Swift.min(piece, count - start) * MemoryLayout<Float>.size
            try OpenCLRuntime.check(
                runtime.api.EnqueueFillBuffer(queue, buffer.mem, &pattern, MemoryLayout<Float>.size, start * MemoryLayout<Float>.size, bytes, 0, nil, nil),
                "clEnqueueFillBuffer")
        }
    }

    /// The device's command queue, for libraries that enqueue their own work (CLBlast).
    var commandQueue: cl_command_queue { queue }

    /// Waits for every queued command.
    func finish() throws {
        counters.finishes += 1
        try OpenCLRuntime.check(runtime.api.Finish(queue), "clFinish")
        synchronised()
    }

    /// The queue has drained up to here: staged uploads are done and recorded kernels can be timed.
    private func synchronised() {
        stagingCompleted()
        collectKernelTimes()
    }

    // MARK: Profile

    /// Counts an enqueued kernel (ours, or a library's such as CLBlast's GEMM) and records its
    /// `event` under `name` when profiling (else releases it). Takes ownership of the event.
    func enqueued(_ name: String, event: cl_event?) {
        counters.launches += 1
        guard let event else { return }
        guard settings.profile else {
            _ = runtime.api.ReleaseEvent(event)
            return
        }
        pendingEvents.append((name, event))
        // Bounded memory between synchronisations: time what has run so far.
        if pendingEvents.count >= 4096, runtime.api.Finish(queue) == CL_SUCCESS { synchronised() }
    }

    /// Times the recorded events, which have completed once the host has waited for the queue.
    private func collectKernelTimes() {
        guard !pendingEvents.isEmpty else { return }
        for (name, event) in pendingEvents {
            var start: cl_ulong = 0, end: cl_ulong = 0
            if runtime.api.GetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_START), MemoryLayout<cl_ulong>.size, &start, nil) == CL_SUCCESS,
                runtime.api.GetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_END), MemoryLayout<cl_ulong>.size, &end, nil) == CL_SUCCESS
            {
                let entry = kernelTimes[name] ?? (0, 0)
                kernelTimes[name] = (entry.count + 1, entry.seconds + Double(end &- start) * 1e-9)
            }
            _ = runtime.api.ReleaseEvent(event)
        }
        pendingEvents.removeAll(keepingCapacity: true)
    }

    /// The counters and kernel times so far (waits for the queue first when profiling, so that
    /// every enqueued kernel is timed). Call under `withExclusiveAccess`.
    func profile() -> OpenCLProfile {
        if settings.profile, !pendingEvents.isEmpty { try? finish() }
        let kernels = kernelTimes.map { OpenCLProfile.Kernel(name: $0.key, count: $0.value.count, seconds: $0.value.seconds) }
            .sorted { $0.seconds != $1.seconds ? $0.seconds > $1.seconds : $0.name < $1.name }
        return OpenCLProfile(device: info.name, profiling: settings.profile, counters: counters, kernels: kernels)
    }

    /// Zeroes the counters and kernel times (call under `withExclusiveAccess`).
    func resetProfile() {
        if settings.profile, !pendingEvents.isEmpty { try? finish() }
        counters = OpenCLCounters()
        kernelTimes.removeAll()
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
        let code = runtime.api.BuildProgram(built, 1, &device, buildOptions, nil, nil)
        if code != CL_SUCCESS {
            let log = buildLog(built)
            _ = runtime.api.ReleaseProgram(built)
            throw LossKernelsError.openCLFailure(
                call: "clBuildProgram on \(info.name) (\(buildOptions))", code: code, name: String(cString: lk_cl_error_name(code)), buildLog: log)
        }
        program = built
        return built
    }

    /// The program's build options: OpenCL C 1.2; correctly rounded single-precision division and
    /// square root where the device offers them (the defaults allow 2.5 ulp and 3 ulp); never a
    /// fast-math option. `LOSSKERNELS_OPENCL_BUILD_OPTIONS` appends options (a test hook, e.g.
    /// `-cl-mad-enable` to check the numerics under contracted multiply-adds).
    var buildOptions: String {
        var options = ["-cl-std=CL1.2"]
        var fp: cl_device_fp_config = 0
        if runtime.api.GetDeviceInfo(descriptor.device, cl_device_info(CL_DEVICE_SINGLE_FP_CONFIG), MemoryLayout<cl_device_fp_config>.size, &fp, nil)
            == CL_SUCCESS, fp & cl_device_fp_config(CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0
        {
            options.append("-cl-fp32-correctly-rounded-divide-sqrt")
        }
        if !settings.extraBuildOptions.isEmpty { options.append(settings.extraBuildOptions) }
        return options.joined(separator: " ")
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
    /// whose local memory (`localBytesPerItem` per work-item) fits, and at least the kernel's
    /// preferred multiple (the warp or wavefront) when the device allows that many.
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

    /// Sets the arguments of `kernel` and enqueues it over at least `global` work-items (one count
    /// per dimension) in work-groups of `local` (nil: the kernel's preferred size in dimension 0, 1
    /// in the others).
    ///
    /// Each global size is rounded up to a multiple of its local size, so every work-group is full
    /// (OpenCL 1.2), and capped by `limits`: at most `maxWorkItems` work-items in dimension 0 and
    /// `maxGroups` work-groups in dimensions 1 and 2. Every kernel therefore checks its bounds and
    /// loops over its range in strides of the launched size (`LK_FOR_EACH` and `LK_FOR_EACH_GROUP`
    /// of common.cl). Nothing is enqueued when a size is 0.
    func launch(_ name: String, _ kernel: cl_kernel, global: [Int], local: [Int]?, _ arguments: [OpenCLKernelArgument]) throws {
        if fault == .enqueue { throw OpenCLFault.enqueue.error(at: "clEnqueueNDRangeKernel(\(name))") }
        precondition((1...3).contains(global.count) && (local == nil || local!.count == global.count), "launch \(name): bad dimensions")
        guard !global.contains(where: { $0 <= 0 }) else { return }
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
        let localSizes =
            local ?? [Swift.min(preferredLocalSize(name, kernel), Self.powerOfTwo(atLeast: global[0]))] + Array(repeating: 1, count: global.count - 1)
        let globalSizes = limits.globalSizes(global, local: localSizes)
        var event: cl_event? = nil
        let profile = settings.profile
        let code: cl_int = globalSizes.withUnsafeBufferPointer { globalPointer in
            localSizes.withUnsafeBufferPointer { localPointer in
                withUnsafeMutablePointer(to: &event) { eventPointer in
                    runtime.api.EnqueueNDRangeKernel(
                        queue, kernel, cl_uint(global.count), nil, globalPointer.baseAddress, localPointer.baseAddress, 0, nil, profile ? eventPointer : nil)
                }
            }
        }
        try OpenCLRuntime.check(code, "clEnqueueNDRangeKernel(\(name), global \(globalSizes), local \(localSizes))")
        enqueued(name, event: event)
    }

    /// The launch of `name` with the arguments, looking the kernel up.
    func launch(_ name: String, global: [Int], local: [Int]? = nil, _ arguments: [OpenCLKernelArgument]) throws {
        try launch(name, try kernel(name), global: global, local: local, arguments)
    }

    private func preferredLocalSize(_ name: String, _ kernel: cl_kernel) -> Int {
        if let cached = preferredLocalSizes[name] { return cached }
        let size = workGroupSize(kernel)
        preferredLocalSizes[name] = size
        return size
    }

    static func powerOfTwo(atLeast n: Int) -> Int {
        var size = 1
        while size < n { size *= 2 }
        return size
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
