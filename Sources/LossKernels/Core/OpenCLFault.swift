import Foundation

/// A step of the OpenCL path made to fail on purpose, to test that failures are survived: under
/// `auto` the call is redone on the CPU (with a warning), under `opencl` a clear error is thrown,
/// and in both cases device memory is released and later calls work. A test hook (package access):
/// set per engine (`Engine(openCLFault:)`, package) or for the process with `LOSSKERNELS_FAULT=build|alloc|enqueue|read`.
package enum OpenCLFault: String, Sendable, CaseIterable, Equatable {
    /// Building the program from the kernel sources (`clBuildProgram`).
    case build
    /// Allocating a device buffer (`clCreateBuffer`).
    case alloc
    /// Enqueueing a kernel or a CLBlast call (`clEnqueueNDRangeKernel`).
    case enqueue
    /// Reading results back to the host (`clEnqueueReadBuffer`).
    case read

    /// The fault named by `LOSSKERNELS_FAULT`, if any (see `Configuration`).
    /// - Throws: `.invalidOption` for another value.
    package static func fromEnvironment() throws -> OpenCLFault? {
        try EnvironmentVariables(ProcessInfo.processInfo.environment).optionalChoice("LOSSKERNELS_FAULT", as: OpenCLFault.self)
    }

    /// The error the injected fault raises at `call`.
    func error(at call: String) -> LossKernelsError {
        switch self {
        case .build:
            return .openCLFailure(
                call: "\(call) (injected fault)", code: -11, name: "CL_BUILD_PROGRAM_FAILURE", buildLog: "LOSSKERNELS_FAULT=build: no program was built")
        case .alloc:
            return .openCLFailure(call: "\(call) (injected fault)", code: -4, name: "CL_MEM_OBJECT_ALLOCATION_FAILURE", buildLog: nil)
        case .enqueue, .read:
            return .openCLFailure(call: "\(call) (injected fault)", code: -5, name: "CL_OUT_OF_RESOURCES", buildLog: nil)
        }
    }
}
