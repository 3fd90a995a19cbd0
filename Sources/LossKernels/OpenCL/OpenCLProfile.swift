/// What an OpenCL device has done: buffer allocations, kernel launches, host↔device transfers and
/// the host's waits for the queue. Counted always (it costs an addition per event).
public struct OpenCLCounters: Sendable, Equatable, Codable {
    /// `clCreateBuffer` calls made by LossKernels and their bytes (CLBlast's temporary is one of
    /// them: it is passed in, never allocated by CLBlast).
    public var allocations = 0
    public var allocatedBytes = 0
    /// Kernels enqueued (LossKernels' own and CLBlast's GEMM calls).
    public var launches = 0
    /// Host → device copies, the blocking ones among them, and their bytes.
    public var writes = 0
    public var blockingWrites = 0
    public var writtenBytes = 0
    /// Blocking device → host copies and their bytes.
    public var blockingReads = 0
    public var readBytes = 0
    /// `clFinish` calls.
    public var finishes = 0

    /// Every time the host waited for the device: blocking reads and writes, and finishes.
    public var synchronisations: Int { blockingReads + blockingWrites + finishes }

    public init() {}
}

/// The counters of one OpenCL device and, when profiling (`LOSSKERNELS_PROFILE=1`, or an engine
/// created with `profile: true`), the time the device spent in each kernel, from OpenCL's event
/// timestamps (`CL_PROFILING_COMMAND_START` to `END`).
public struct OpenCLProfile: Sendable, Equatable, Codable {
    /// One kernel's launches and their summed device time in seconds.
    public struct Kernel: Sendable, Equatable, Codable {
        public var name: String
        public var count: Int
        public var seconds: Double
    }
    /// The device's name.
    public var device: String
    /// Whether kernel times were taken.
    public var profiling: Bool
    public var counters: OpenCLCounters
    /// Per kernel, the longest total first; empty unless `profiling`.
    public var kernels: [Kernel]
}
