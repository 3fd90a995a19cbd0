/// What an OpenCL device has done: buffer allocations, kernel launches, host↔device transfers and
/// the host's waits for the queue. Counted always (it costs an addition per event).
public struct OpenCLCounters: Sendable, Equatable, Codable {
    /// `clCreateBuffer` calls made by LossKernels (CLBlast's temporary is one of them: it is
    /// passed in, never allocated by CLBlast).
    public var allocations = 0
    /// The bytes of those allocations.
    public var allocatedBytes = 0
    /// Kernels enqueued (LossKernels' own and CLBlast's GEMM calls).
    public var launches = 0
    /// Host → device copies.
    public var writes = 0
    /// The host → device copies the host waited for (the others are staged, non-blocking).
    public var blockingWrites = 0
    /// Bytes copied host → device.
    public var writtenBytes = 0
    /// Device → host copies (always blocking).
    public var blockingReads = 0
    /// Bytes copied device → host.
    public var readBytes = 0
    /// `clFinish` calls.
    public var finishes = 0

    /// Every time the host waited for the device: blocking reads and writes, and finishes.
    public var synchronisations: Int { blockingReads + blockingWrites + finishes }

    /// All zero.
    public init() {}
}

/// The counters of one OpenCL device and, when profiling (`LOSSKERNELS_PROFILE=1`, or an engine
/// created with `profile: true`), the time the device spent in each kernel, from OpenCL's event
/// timestamps (`CL_PROFILING_COMMAND_START` to `END`).
public struct OpenCLProfile: Sendable, Equatable, Codable {
    /// One kernel's launches and their summed device time in seconds.
    public struct Kernel: Sendable, Equatable, Codable {
        /// The kernel's name (`lk_softmax_write`), or CLBlast's routine (`CLBlastSgemm`, timed by
        /// the event CLBlast returns, which covers its last kernel only).
        public var name: String
        /// Launches timed.
        public var count: Int
        /// Their summed device time, `CL_PROFILING_COMMAND_START` to `END`.
        public var seconds: Double
    }
    /// The device's name.
    public var device: String
    /// Whether kernel times were taken.
    public var profiling: Bool
    /// What the device did.
    public var counters: OpenCLCounters
    /// Per kernel, the longest total first; empty unless `profiling`.
    public var kernels: [Kernel]
}
