import Foundation

/// The small measurements behind `auto`'s cost model, run at most once per device and process (and
/// not at all when the cache file has them). Each is a quick version of a `Ceilings` figure:
///
/// - bandwidth group, for every call: host memcpy of 2 × 32 MiB on the engine's threads (best of
///   3), the device's copy, blocking write and blocking read of 32 MiB (best of 3 after a warm-up:
///   `Ceilings.transferCeilings`), and the fixed cost of one call — allocate a buffer, write and read
///   4 KiB, blocking (best of 5 after a warm-up);
/// - GEMM group, only when a GEMM-bound call needs it: OpenBLAS on the three GEMMs of a
///   B = 256, D = 512, C = 2048 head step (median of 3 after a warm-up), and CLBlast SGEMM
///   `n×n×n` on the device, n = 512 on CPU devices and 1024 on the others (median of 3 after a
///   warm-up call, which also compiles CLBlast's kernels).
///
/// On PoCL on 2 cores the bandwidth group takes about 0.1 s and the GEMM group about 0.3 s
/// (NOTES.md, "Cost-based auto").
enum CeilingProbe {
    /// Bytes of the copy and transfer probes.
    static let bytes = 32 << 20
    /// Timed runs of each bandwidth probe.
    static let repeats = 3

    /// The bandwidth group (GEMM rates left nil).
    /// - Parameters:
    ///   - device: the device to measure (its exclusive access is taken inside).
    ///   - threads: the engine's CPU threads.
    /// - Returns: the ceilings without GEMM rates.
    /// - Throws: the `LossKernelsError` of a failed allocation or transfer.
    static func bandwidth(_ device: OpenCLDevice, threads: Int) throws -> CostCeilings {
        let memcpy = Ceilings.memcpy(bytes: bytes, threads: threads, repeats: repeats)
        let transfers = try Ceilings.transferCeilings(device, bytes: bytes, repeats: repeats)
        func rate(_ kind: Ceiling.Kind) -> Double { transfers.first { $0.kind == kind }?.value ?? 0 }
        return CostCeilings(
            cpuBandwidth: memcpy.value, cpuGEMM: nil, deviceCallSeconds: try callSeconds(device), hostToDevice: rate(.hostToDevice),
            deviceToHost: rate(.deviceToHost), deviceBandwidth: rate(.deviceCopy), deviceGEMM: nil)
    }

    /// The device's fixed cost of one call: a 4 KiB buffer allocated, written and read back
    /// (blocking), best of 5 after a warm-up.
    /// - Parameter device: the device to measure.
    /// - Returns: seconds.
    /// - Throws: the `LossKernelsError` of a failed allocation or transfer.
    static func callSeconds(_ device: OpenCLDevice) throws -> Double {
        let count = 1024
        let host = UnsafeMutableRawBufferPointer.allocate(byteCount: count * MemoryLayout<Float>.size, alignment: 64)
        defer { host.deallocate() }
        host.initializeMemory(as: UInt8.self, repeating: 0)
        return try device.withExclusiveAccess {
            var best = Double.infinity
            for run in 0...5 {
                let start = MonotonicClock.seconds()
                let buffer = try device.makeBuffer(count: count)
                try device.write(UnsafeRawBufferPointer(host), to: buffer)
                try device.read(buffer, into: host)
                if run > 0 { best = min(best, MonotonicClock.seconds() - start) }
            }
            return best
        }
    }

    /// The OpenBLAS rate on the three GEMMs of a B = 256, D = 512, C = 2048 step.
    /// - Returns: GFLOP/s.
    static func cpuGEMM() -> Double {
        Ceilings.sgemm(batch: 256, dim: 512, classes: 2048, repeats: repeats).value
    }

    /// The CLBlast rate on `n×n×n`, n = 512 on CPU devices and 1024 on the others.
    /// - Parameter device: the device to measure.
    /// - Returns: GFLOP/s.
    /// - Throws: the `LossKernelsError` of a failed upload or CLBlast call (CLBlast missing).
    static func deviceGEMM(_ device: OpenCLDevice) throws -> Double {
        try Ceilings.deviceSGEMM(device, n: device.info.kind == .cpu ? 512 : 1024, repeats: repeats).value
    }
}

/// The ceilings of every device this process has measured or read, per cache file (one store per
/// file, so engines with different files do not share entries). Measurements are serialised: one
/// probe at a time per store, and a device is probed once.
final class CeilingsStore: @unchecked Sendable {
    /// The cache file, or nil to keep entries in memory only.
    let file: URL?
    private let lock = NSLock()
    private var entries: [String: CeilingsCache.Entry] = [:]
    /// Keys whose entry this process measured itself (for `CeilingsOrigin`).
    private var probed: Set<String> = []
    private var loaded = false

    private init(file: URL?) { self.file = file }

    private static let storesLock = NSLock()
    nonisolated(unsafe) private static var stores: [String: CeilingsStore] = [:]

    /// The store of `file` (one per file per process).
    /// - Parameter file: the cache file, or nil for memory only.
    /// - Returns: the shared store.
    static func shared(file: URL?) -> CeilingsStore {
        storesLock.lock()
        defer { storesLock.unlock() }
        let key = file?.standardizedFileURL.path ?? ""
        if let store = stores[key] { return store }
        let store = CeilingsStore(file: file)
        stores[key] = store
        return store
    }

    private func loadIfNeeded() {
        guard !loaded else { return }
        loaded = true
        if let file { entries = CeilingsCache.load(file) }
    }

    /// The entry of `key` if this process has it or the file had it when first read; never probes.
    /// - Parameter key: `CeilingsCache.key`.
    /// - Returns: the entry and where it came from, or nil.
    func cached(_ key: String) -> (CeilingsCache.Entry, CeilingsOrigin)? {
        lock.lock()
        defer { lock.unlock() }
        loadIfNeeded()
        return entries[key].map { ($0, probed.contains(key) ? .probe : .cache) }
    }

    /// What a decision needs measured.
    enum Need: Int, Comparable {
        /// The bandwidth group: every call.
        case bandwidth
        /// And the CPU's GEMM rate: enough to bound a GEMM-bound call's device time from below.
        case cpuGEMM
        /// And the device's GEMM rate.
        case all

        static func < (a: Need, b: Need) -> Bool { a.rawValue < b.rawValue }
    }

    /// The ceilings of the device `info` describes, measuring what `need` asks for and the store
    /// lacks. A new measurement is written to the file, except a device GEMM rate that could not
    /// be measured (0 here, left out of the file: CLBlast may be found next time).
    /// - Parameters:
    ///   - info: the device.
    ///   - open: opens it, called only when something must be measured.
    ///   - threads: the engine's CPU threads.
    ///   - need: what must be known.
    /// - Returns: the entry and its origin.
    /// - Throws: the error of opening the device or of a failed bandwidth probe.
    func ceilings(_ info: OpenCLDeviceInfo, open: () throws -> OpenCLDevice, threads: Int, need: Need) throws -> (CeilingsCache.Entry, CeilingsOrigin) {
        let key = CeilingsCache.key(device: info.name, driverVersion: info.driverVersion, threads: threads)
        lock.lock()
        defer { lock.unlock() }
        loadIfNeeded()
        func has(_ entry: CeilingsCache.Entry) -> Bool {
            switch need {
            case .bandwidth: return true
            case .cpuGEMM: return entry.ceilings.cpuGEMM != nil
            case .all: return entry.ceilings.hasGEMM
            }
        }
        if let entry = entries[key], has(entry) { return (entry, probed.contains(key) ? .probe : .cache) }
        let device = try open()
        let start = MonotonicClock.seconds()
        var entry =
            try entries[key]
            ?? CeilingsCache.Entry(
                device: info.name, driverVersion: info.driverVersion, cpuThreads: threads, ceilings: CeilingProbe.bandwidth(device, threads: threads),
                probeSeconds: 0)
        if need >= .cpuGEMM, entry.ceilings.cpuGEMM == nil { entry.ceilings.cpuGEMM = CeilingProbe.cpuGEMM() }
        var deviceGEMMFailed = false
        if need == .all, entry.ceilings.deviceGEMM == nil {
            do {
                entry.ceilings.deviceGEMM = try CeilingProbe.deviceGEMM(device)
            } catch {
                entry.ceilings.deviceGEMM = 0
                deviceGEMMFailed = true
            }
        }
        entry.probeSeconds += MonotonicClock.seconds() - start
        entry.measuredAt = ISO8601DateFormatter().string(from: Date())
        entries[key] = entry
        probed.insert(key)
        if let file {
            var stored = entry
            if deviceGEMMFailed { stored.ceilings.deviceGEMM = nil }
            CeilingsCache.store(stored, in: file)
        }
        return (entry, .probe)
    }
}
