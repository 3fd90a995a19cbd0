import Foundation
import Logging

/// Picks the backend of each call and redoes a failed OpenCL call on the CPU under `auto`.
///
/// Policy: `cpu` always runs on the CPU. `opencl` runs on the pinned or preferred OpenCL device and
/// throws on failure. `auto` runs on the OpenCL device it may use (a GPU unless
/// `LOSSKERNELS_OPENCL_DEVICE_TYPE` allows CPU devices) when the call moves at least
/// `offloadMinimumElements` float32 values (`OperationWork.values`), else on the CPU; when OpenCL
/// fails at any step it logs a warning once per cause and redoes the call on the CPU.
/// Host-resident data must cross the bus both ways, so the threshold is where a device's fixed cost
/// per call (launches, synchronisation) stops dominating (NOTES.md has the measurement).
///
/// `device(values:)` is the one place that decides where a call runs: operations, device-resident
/// matrices, the training head's parameters and `Engine.plannedDevice` all ask it.
final class Scheduler: @unchecked Sendable {
    let policy: BackendPolicy
    /// The CPU backend's threads and scratch memory.
    let cpu: CPUContext
    let deviceFilter: OpenCLDeviceTypeFilter
    let offloadMinimumElements: Int
    let devices: OpenCLDevices
    private let logger = Logger(label: "LossKernels")
    private let warnedLock = NSLock()
    private var warnedCauses: Set<String> = []

    var threads: CPUThreads { cpu.threads }

    init(
        policy: BackendPolicy, threads: CPUThreads, deviceFilter: OpenCLDeviceTypeFilter, offloadMinimumElements: Int,
        deviceSettings: OpenCLDeviceSettings = OpenCLDeviceSettings(),
        openCLDevice: Int? = nil
    ) {
        self.devices = OpenCLDevices(settings: deviceSettings, pinned: openCLDevice)
        self.policy = policy
        self.cpu = CPUContext(threads: threads, scratch: ScratchPool())
        self.deviceFilter = deviceFilter
        self.offloadMinimumElements = offloadMinimumElements
    }

    /// The OpenCL device a call runs on, or nil for the CPU. `values` is the call's size in float32
    /// values for `auto`'s threshold; nil for data that belongs on a device whatever its size (a
    /// training head's parameters).
    ///
    /// - `cpu`: nil.
    /// - `opencl`: the pinned device, else the first GPU, accelerator, CPU device; throws
    ///   `.openCLUnavailable` when there is none.
    /// - `auto`: the device `auto` may use when the call is large enough, else nil (also when
    ///   there is none).
    func device(values: Int?) throws -> OpenCLDevice? {
        switch policy {
        case .cpu:
            return nil
        case .opencl:
            return try devices.device(explicit: true, filter: .any)
        case .auto:
            if let values, values < offloadMinimumElements { return nil }
            return try? devices.device(explicit: false, filter: deviceFilter)
        }
    }

    /// The device that holds device-resident matrices: `device(values: nil)`, but throwing why there
    /// is none (under `cpu`, or under `auto` without a usable device).
    func residentDevice() throws -> OpenCLDevice {
        switch policy {
        case .cpu:
            throw LossKernelsError.invalidOption(name: "policy", value: "cpu", allowed: "auto or opencl (device-resident data needs an OpenCL device)")
        case .opencl:
            return try devices.device(explicit: true, filter: .any)
        case .auto:
            return try devices.device(explicit: false, filter: deviceFilter)
        }
    }

    /// Runs one call on the device `device(values:)` picks (with its exclusive access) or on the
    /// CPU; returns the result and the backend. Under `auto`, an OpenCL failure or a device that
    /// turns out unusable redoes the call on the CPU after a warning (once per cause).
    func run<T>(values: Int?, cpu: () throws -> T, opencl: (OpenCLDevice) throws -> T) throws -> (T, Backend) {
        guard let device = try device(values: values) else { return (try cpu(), .cpu) }
        do {
            return (try device.withExclusiveAccess { try opencl(device) }, .opencl)
        } catch let error as LossKernelsError where policy == .auto && error.isOpenCLError {
            warnOnce(error)
            return (try cpu(), .cpu)
        }
    }

    private func warnOnce(_ error: LossKernelsError) {
        let cause: String
        if case let .openCLFailure(call, _, name, _) = error { cause = "\(call):\(name)" } else { cause = error.description }
        warnedLock.lock()
        let first = warnedCauses.insert(cause).inserted
        warnedLock.unlock()
        if first { logger.warning("OpenCL failed, redoing the call on the CPU: \(error.description)") }
    }
}

extension LossKernelsError {
    /// Whether OpenCL itself failed or is missing (the errors `auto` recovers from on the CPU).
    var isOpenCLError: Bool {
        switch self {
        case .openCLFailure, .openCLUnavailable: return true
        default: return false
        }
    }
}
