import Foundation

/// Which backend a call may run on.
///
/// - `auto`: the SIMD CPU path, unless the OpenCL device `auto` may use (a GPU or accelerator by
///   default, or the pinned one) is estimated faster for the call: calls moving fewer than
///   `Engine.offloadMinimumElements` values never go; past that, a cost model compares the call's
///   CPU time (bytes over memcpy bandwidth, FLOPs over the OpenBLAS rate) with its device time (a
///   fixed cost per call, the transfers over the bus, bytes over the device's bandwidth, FLOPs over
///   CLBlast's rate). The rates are measured by small probes the first time a large call needs
///   them, once per process, and cached per device in `auto-ceilings.json` under
///   `LOSSKERNELS_CACHE_DIR`, else `$XDG_CACHE_HOME/losskernels`, else `~/.cache/losskernels`;
///   `LOSSKERNELS_AUTO_PROBE=0` measures nothing and lets GPUs and accelerators take every call
///   past the threshold and CPU-type devices none. If OpenCL fails at any step the call is redone
///   on the CPU and a warning is logged once per cause.
/// - `cpu`: the SIMD CPU path; never touches OpenCL.
/// - `opencl`: the pinned OpenCL device, else the first ranked (GPU, accelerator, CPU device);
///   failures are thrown.
public enum BackendPolicy: String, Sendable, CaseIterable, Equatable {
    case auto, cpu, opencl

    /// The policy named by `LOSSKERNELS_BACKEND` (`auto`, `cpu`, `opencl`), else `.auto`.
    /// - Throws: `.invalidOption` when the variable holds another value.
    public static func fromEnvironment() throws -> BackendPolicy {
        try EnvironmentVariables(ProcessInfo.processInfo.environment).choice("LOSSKERNELS_BACKEND", default: .auto)
    }
}

/// The backend that actually ran a call.
public enum Backend: String, Sendable, Equatable {
    case cpu, opencl
}

/// Which OpenCL device types `auto` may use (`LOSSKERNELS_OPENCL_DEVICE_TYPE`): by default only GPUs
/// (and accelerators); `cpu` or `any` let `auto` use a CPU OpenCL device such as PoCL.
public enum OpenCLDeviceTypeFilter: String, Sendable, CaseIterable, Equatable {
    case gpu, cpu, any

    /// The filter named by `LOSSKERNELS_OPENCL_DEVICE_TYPE`, else `.gpu`.
    /// - Throws: `.invalidOption` for another value.
    public static func fromEnvironment() throws -> OpenCLDeviceTypeFilter {
        try EnvironmentVariables(ProcessInfo.processInfo.environment).choice("LOSSKERNELS_OPENCL_DEVICE_TYPE", default: .gpu)
    }
}
