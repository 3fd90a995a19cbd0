import Foundation

/// Which backend a call may run on.
///
/// - `auto`: an OpenCL GPU when one is present and the call's work is large enough to pay for the
///   transfers (see `Engine.offloadMinimumElements`), otherwise the SIMD CPU path; if OpenCL fails
///   at any step the call is redone on the CPU and a warning is logged once per cause.
/// - `cpu`: the SIMD CPU path; never touches OpenCL.
/// - `opencl`: the first OpenCL device (GPU preferred, CPU devices allowed); failures are thrown.
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
