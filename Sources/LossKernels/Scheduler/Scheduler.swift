import Foundation
import Logging

/// Picks the backend of each call and redoes a failed OpenCL call on the CPU under `auto`.
///
/// Policy: `cpu` always runs on the CPU. `opencl` runs on the pinned or first ranked OpenCL device
/// (`OpenCLDevices`) and throws on failure. `auto` asks a cost model (`CostModel`):
///
/// 1. A call on host data that moves fewer than `offloadMinimumElements` float32 values
///    (`OperationWork.values`) stays on the CPU, without measuring anything.
/// 2. Otherwise, when there is a device `auto` may use (the pinned one, else the first ranked GPU or
///    accelerator, or any type `LOSSKERNELS_OPENCL_DEVICE_TYPE` allows), the call's CPU time
///    (bytes / memcpy bandwidth + FLOPs / OpenBLAS rate) is compared with its device time (a fixed
///    cost per call + uploads / host→device rate + read-backs / device→host rate + bytes / device
///    copy bandwidth + FLOPs / CLBlast rate), and the faster side runs it. Data that stays on the
///    device (a training head's class weights, `CallCost.resident`) skips step 1 and counts only
///    its per-call traffic. The ceilings are measured by small probes (`CeilingProbe`) the first
///    time a decision needs them — the GEMM rates only for GEMM-bound calls — once per process, and
///    cached per device in a file (`CeilingsCache`) so later processes skip the probes. A probe that
///    fails leaves the calls on the CPU (with a warning). With `LOSSKERNELS_AUTO_PROBE=0` nothing is
///    measured and `CostModel.staticRule` decides: GPUs and accelerators take the calls past
///    step 1, CPU-type devices none.
/// 3. When OpenCL fails at any step of a call it chose the device for, `auto` logs a warning once
///    per cause and redoes the call on the CPU.
///
/// `device(for:)` is the one place that decides where a call runs: operations, the training
/// head's parameters and `Engine.plannedDevice` all ask it.
final class Scheduler: @unchecked Sendable {
    let policy: BackendPolicy
    /// The CPU backend's threads and scratch memory.
    let cpu: CPUContext
    let deviceFilter: OpenCLDeviceTypeFilter
    let offloadMinimumElements: Int
    let devices: OpenCLDevices
    /// Where `auto` gets its ceilings.
    let autoCeilings: AutoCeilingsSource
    /// The shared store of `.measured(cacheFile:)`; nil for the other sources.
    let store: CeilingsStore?
    private let logger = Logger(label: "LossKernels")
    private let warnedLock = NSLock()
    private var warnedCauses: Set<String> = []
    /// Per device position: the ceilings this engine already has (so a call reads them without the
    /// store), or why the probe failed.
    private let knownLock = NSLock()
    private var known: [Int: Known] = [:]

    private enum Known {
        case ceilings(CostCeilings, CeilingsOrigin)
        case failed(String)
    }

    var threads: CPUThreads { cpu.threads }

    init(
        policy: BackendPolicy, threads: CPUThreads, deviceFilter: OpenCLDeviceTypeFilter, offloadMinimumElements: Int,
        deviceSettings: OpenCLDeviceSettings = OpenCLDeviceSettings(),
        openCLDevice: Int? = nil, autoCeilings: AutoCeilingsSource = .staticRule
    ) {
        let store: CeilingsStore?
        if case .measured(let file) = autoCeilings { store = CeilingsStore.shared(file: file) } else { store = nil }
        let threadCount = threads.count
        self.devices = OpenCLDevices(settings: deviceSettings, pinned: openCLDevice) { info in
            guard let store else { return nil }
            let key = CeilingsCache.key(device: info.name, driverVersion: info.driverVersion, threads: threadCount)
            return store.cached(key)?.0.ceilings.deviceGEMM
        }
        self.policy = policy
        self.cpu = CPUContext(threads: threads, scratch: ScratchPool())
        self.deviceFilter = deviceFilter
        self.offloadMinimumElements = offloadMinimumElements
        self.autoCeilings = autoCeilings
        self.store = store
    }

    /// The OpenCL device a call of cost `cost` runs on, or nil for the CPU.
    ///
    /// - `cpu`: nil.
    /// - `opencl`: the pinned device, else the first ranked; throws `.openCLUnavailable` when there
    ///   is none.
    /// - `auto`: the device `auto` may use when the call passes the threshold and the cost model
    ///   (or the static rule) says the device is faster, else nil (also when there is none).
    func device(for cost: CallCost) throws -> OpenCLDevice? {
        switch policy {
        case .cpu:
            return nil
        case .opencl:
            return try devices.device(explicit: true, filter: .any)
        case .auto:
            if !cost.resident, cost.work.values < offloadMinimumElements { return nil }
            // Decided from the device's description and the known ceilings: a device that loses is
            // not even opened (no context, no program).
            guard let (index, info) = automaticChoice(), decide(cost, index: index, info: info).deviceWins else { return nil }
            return try? devices.open(index)
        }
    }

    /// The position and description of the device `auto` may use, if any (whether a call goes
    /// there is `device(for:)`'s choice).
    func automaticChoice() -> (index: Int, info: OpenCLDeviceInfo)? {
        try? devices.choice(explicit: false, filter: deviceFilter)
    }

    /// `auto`'s decision for `cost` on a device, past the threshold.
    struct Decision {
        /// Whether the device takes the call.
        var deviceWins: Bool
        /// The estimated times, when ceilings were available.
        var estimate: CostEstimate?
        /// The ceilings used.
        var ceilings: CostCeilings?
        /// Where they came from.
        var origin: CeilingsOrigin
        /// Why there are none (a failed probe, or measuring not allowed).
        var problem: String?
    }

    /// Decides with the cost model for the device at `index` of `OpenCLDevices.discover()`,
    /// described by `info`; the device is opened only to measure it. `probe: false` decides from
    /// what is already known (this engine, this process or the cache file) and measures nothing.
    func decide(_ cost: CallCost, index: Int, info: OpenCLDeviceInfo, probe: Bool = true) -> Decision {
        switch autoCeilings {
        case .staticRule:
            return Decision(deviceWins: CostModel.staticRule(info.kind), origin: .staticRule)
        case .fixed(let ceilings):
            let estimate = CostModel.estimate(cost, ceilings)
            return Decision(deviceWins: estimate.deviceWins, estimate: estimate, ceilings: ceilings, origin: .fixed)
        case .measured:
            break
        }
        let gemm = cost.work.flops > 0
        knownLock.lock()
        let memo = known[index]
        knownLock.unlock()
        switch memo {
        case .failed(let why):
            return Decision(deviceWins: false, origin: .none, problem: why)
        case .ceilings(let ceilings, let origin) where !gemm || ceilings.hasGEMM:
            let estimate = CostModel.estimate(cost, ceilings)
            return Decision(deviceWins: estimate.deviceWins, estimate: estimate, ceilings: ceilings, origin: origin)
        default:
            break
        }
        return measureAndDecide(cost, index: index, info: info, probe: probe)
    }

    /// The slow path of `decide`: asks the store, measuring what the call needs (the device's
    /// GEMM rate only when the device could win with an infinitely fast GEMM).
    private func measureAndDecide(_ cost: CallCost, index: Int, info: OpenCLDeviceInfo, probe: Bool) -> Decision {
        guard let store else { return Decision(deviceWins: false, origin: .none, problem: "no ceilings") }
        let threads = self.threads.count
        let open = { [devices] in try devices.open(index) }
        if !probe {
            let key = CeilingsCache.key(device: info.name, driverVersion: info.driverVersion, threads: threads)
            guard let (entry, origin) = store.cached(key), cost.work.flops == 0 || entry.ceilings.hasGEMM else {
                return Decision(deviceWins: false, origin: .none, problem: "not measured yet")
            }
            let estimate = CostModel.estimate(cost, entry.ceilings)
            return Decision(deviceWins: estimate.deviceWins, estimate: estimate, ceilings: entry.ceilings, origin: origin)
        }
        do {
            var (entry, origin) = try store.ceilings(info, open: open, threads: threads, need: cost.work.flops > 0 ? .cpuGEMM : .bandwidth)
            if cost.work.flops > 0, entry.ceilings.deviceGEMM == nil {
                // Even an infinitely fast device GEMM may not win: then its rate is not needed.
                let bound = CostModel.estimate(cost, entry.ceilings)
                if !bound.deviceWins {
                    return Decision(deviceWins: false, estimate: bound, ceilings: entry.ceilings, origin: origin)
                }
                (entry, origin) = try store.ceilings(info, open: open, threads: threads, need: .all)
            }
            knownLock.lock()
            known[index] = .ceilings(entry.ceilings, origin)
            knownLock.unlock()
            let estimate = CostModel.estimate(cost, entry.ceilings)
            return Decision(deviceWins: estimate.deviceWins, estimate: estimate, ceilings: entry.ceilings, origin: origin)
        } catch {
            let why = "measuring \(info.name) failed: \(error)"
            knownLock.lock()
            known[index] = .failed(why)
            knownLock.unlock()
            warnOnce(cause: "probe:\(info.name)", "\(why); auto keeps calls on the CPU")
            return Decision(deviceWins: false, origin: .none, problem: why)
        }
    }

    /// The device that holds device-resident matrices: the pinned or ranked device of the policy,
    /// throwing why there is none (under `cpu`, or under `auto` without a usable device). Uploads
    /// are the caller's choice, so the cost model is not asked.
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

    /// Runs one call on the device `device(for:)` picks (with its exclusive access) or on the
    /// CPU; returns the result and the backend. Under `auto`, an OpenCL failure or a device that
    /// turns out unusable redoes the call on the CPU after a warning (once per cause).
    func run<T>(cost: CallCost, cpu: () throws -> T, opencl: (OpenCLDevice) throws -> T) throws -> (T, Backend) {
        guard let device = try device(for: cost) else { return (try cpu(), .cpu) }
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
        warnOnce(cause: cause, "OpenCL failed, redoing the call on the CPU: \(error.description)")
    }

    private func warnOnce(cause: String, _ message: String) {
        warnedLock.lock()
        let first = warnedCauses.insert(cause).inserted
        warnedLock.unlock()
        if first { logger.warning("\(message)") }
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
