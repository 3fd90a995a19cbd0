import Foundation
import Logging

/// Picks the backend of each call and redoes a failed OpenCL call on the CPU under `auto`.
///
/// Policy: `cpu` always runs on the CPU. `opencl` runs on the first OpenCL device and throws on
/// failure. `auto` runs on the OpenCL device it may use (a GPU unless
/// `LOSSKERNELS_OPENCL_DEVICE_TYPE` allows CPU devices) when the call moves at least
/// `offloadMinimumElements` values, else on the CPU; when OpenCL fails at any step it logs a warning
/// once per cause and redoes the call on the CPU. Host-resident data must cross the bus both ways,
/// so the threshold is where a device's fixed cost per call (launches, synchronisation) stops
/// dominating (NOTES.md has the measurement).
final class Scheduler: @unchecked Sendable {
    let policy: BackendPolicy
    let threads: CPUThreads
    let deviceFilter: OpenCLDeviceTypeFilter
    let offloadMinimumElements: Int
    let devices: OpenCLDevices
    /// Scratch memory of the CPU path, reused across calls.
    let scratch = ScratchPool()
    private let logger = Logger(label: "LossKernels")
    private let warnedLock = NSLock()
    private var warnedCauses: Set<String> = []

    /// Default of `offloadMinimumElements` (`LOSSKERNELS_OFFLOAD_MIN_ELEMENTS` overrides it).
    static let defaultOffloadMinimumElements = 1 << 20

    init(policy: BackendPolicy, threads: CPUThreads, deviceFilter: OpenCLDeviceTypeFilter, offloadMinimumElements: Int, fault: OpenCLFault? = nil,
         openCLDevice: Int? = nil) {
        self.devices = OpenCLDevices(fault: fault, pinned: openCLDevice)
        self.policy = policy
        self.threads = threads
        self.deviceFilter = deviceFilter
        self.offloadMinimumElements = offloadMinimumElements
    }

    /// Runs one call of `elements` values on the chosen backend; returns the result and the backend.
    func run<T>(elements: Int, cpu: () throws -> T, opencl: (OpenCLDevice) throws -> T) throws -> (T, Backend) {
        switch policy {
        case .cpu:
            return (try cpu(), .cpu)
        case .opencl:
            let device = try devices.device(explicit: true, filter: .any)
            return (try device.withExclusiveAccess { try opencl(device) }, .opencl)
        case .auto:
            guard elements >= offloadMinimumElements else { return (try cpu(), .cpu) }
            let device: OpenCLDevice
            do {
                device = try devices.device(explicit: false, filter: deviceFilter)
            } catch {
                return (try cpu(), .cpu)
            }
            do {
                return (try device.withExclusiveAccess { try opencl(device) }, .opencl)
            } catch let error as LossKernelsError {
                switch error {
                case .openCLFailure, .openCLUnavailable:
                    warnOnce(error)
                    return (try cpu(), .cpu)
                default:
                    throw error
                }
            }
        }
    }

    /// The device a call of `elements` values would use, if any (for reports).
    func plannedDevice(elements: Int) -> OpenCLDevice? {
        switch policy {
        case .cpu: return nil
        case .opencl: return try? devices.device(explicit: true, filter: .any)
        case .auto: return elements >= offloadMinimumElements ? try? devices.device(explicit: false, filter: deviceFilter) : nil
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
