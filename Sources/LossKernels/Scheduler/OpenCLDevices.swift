import Foundation

/// The OpenCL devices of this process and the choice among them. Devices are ranked (`ranked`):
/// GPUs, then accelerators, then CPU devices, then others; within a type by measured SGEMM rate
/// when every device of that type has one in the ceilings cache, else by compute units; ties keep
/// the loader's order. An explicit `opencl` call uses the pinned device, else the first ranked;
/// `auto` may use the pinned device (whatever its type), else the first ranked of the types
/// `LOSSKERNELS_OPENCL_DEVICE_TYPE` allows (GPUs and accelerators by default) — whether a call
/// goes there is the cost model's choice (`Scheduler`). Discovery runs once per process; opened
/// devices are cached per engine, so the program is built once per context.
final class OpenCLDevices: @unchecked Sendable {
    private let lock = NSLock()
    private var opened: [Int: OpenCLDevice] = [:]
    /// The ranked choices made so far, by kind of call ("explicit" or the filter's name).
    private var chosen: [String: Int?] = [:]
    /// What the opened devices are set up with (the fault to inject, launch limits, profiling).
    let settings: OpenCLDeviceSettings
    /// The position (in `discover()`'s list) of the device the caller pinned (`openCLDevice:` or
    /// `LOSSKERNELS_OPENCL_DEVICE`), used by explicit calls and by `auto`; otherwise the ranking
    /// decides.
    let pinned: Int?
    /// A device's measured SGEMM rate in GFLOP/s when known without measuring (for the ranking).
    let measuredRate: @Sendable (OpenCLDeviceInfo) -> Double?

    init(
        settings: OpenCLDeviceSettings = OpenCLDeviceSettings(), pinned: Int? = nil,
        measuredRate: @escaping @Sendable (OpenCLDeviceInfo) -> Double? = { _ in nil }
    ) {
        self.settings = settings
        self.pinned = pinned
        self.measuredRate = measuredRate
    }

    /// Every device, or why OpenCL is unavailable (no loader, no platform, no device). Discovered
    /// once per process: the loader is loaded once, and drivers do not come and go.
    static func discover() -> Result<[OpenCLDeviceDescriptor], LossKernelsError> { discovered }

    private static let discovered: Result<[OpenCLDeviceDescriptor], LossKernelsError> = {
        switch OpenCLRuntime.shared {
        case .failure(let error): return .failure(error)
        case .success(let runtime):
            do {
                let devices = try runtime.devices()
                if devices.isEmpty {
                    return .failure(
                        .openCLUnavailable(
                            reason: "the OpenCL loader found no platform with a device (is an ICD such as pocl-opencl-icd or the GPU driver installed?)"))
                }
                return .success(devices)
            } catch let error as LossKernelsError {
                return .failure(error)
            } catch {
                return .failure(.openCLUnavailable(reason: "\(error)"))
            }
        }
    }()

    /// The rank of a device type: GPUs first, then accelerators, CPU devices, others.
    static func typeRank(_ kind: OpenCLDeviceInfo.Kind) -> Int {
        switch kind {
        case .gpu: return 0
        case .accelerator: return 1
        case .cpu: return 2
        case .other: return 3
        }
    }

    /// The positions of `devices`, best first: by type (`typeRank`), then within a type by measured
    /// SGEMM rate when every device of the type has one, else by compute units; ties keep the
    /// loader's order.
    /// - Parameters:
    ///   - devices: the devices, in the loader's order.
    ///   - measuredRate: a device's known SGEMM rate (GFLOP/s), if any.
    /// - Returns: every position of `devices`, ranked.
    static func ranked(_ devices: [OpenCLDeviceInfo], measuredRate: (OpenCLDeviceInfo) -> Double? = { _ in nil }) -> [Int] {
        let rates = devices.map { measuredRate($0).flatMap { $0 > 0 ? $0 : nil } }
        var byRate: Set<Int> = []   // type ranks whose devices all have a rate
        for rank in Set(devices.map { typeRank($0.kind) }) {
            let members = devices.indices.filter { typeRank(devices[$0].kind) == rank }
            if members.allSatisfy({ rates[$0] != nil }) { byRate.insert(rank) }
        }
        return devices.indices.sorted { a, b in
            let (ra, rb) = (typeRank(devices[a].kind), typeRank(devices[b].kind))
            if ra != rb { return ra < rb }
            let (sa, sb) = byRate.contains(ra) ? (rates[a]!, rates[b]!) : (Double(devices[a].computeUnits), Double(devices[b].computeUnits))
            return sa != sb ? sa > sb : a < b
        }
    }

    /// The position in `devices` of the device an explicit `opencl` call uses when none is pinned.
    static func explicitChoice(_ devices: [OpenCLDeviceDescriptor], measuredRate: (OpenCLDeviceInfo) -> Double? = { _ in nil }) -> Int? {
        ranked(devices.map(\.info), measuredRate: measuredRate).first
    }

    /// The position of the device `auto` may use under `filter` when none is pinned, if any.
    static func automaticChoice(
        _ devices: [OpenCLDeviceDescriptor], filter: OpenCLDeviceTypeFilter, measuredRate: (OpenCLDeviceInfo) -> Double? = { _ in nil }
    ) -> Int? {
        let order = ranked(devices.map(\.info), measuredRate: measuredRate)
        switch filter {
        case .gpu: return order.first { devices[$0].info.kind == .gpu || devices[$0].info.kind == .accelerator }
        case .cpu: return order.first { devices[$0].info.kind == .cpu }
        case .any: return order.first
        }
    }

    /// The devices opened so far, in discovery order.
    var openedDevices: [OpenCLDevice] {
        lock.lock()
        defer { lock.unlock() }
        return opened.keys.sorted().map { opened[$0]! }
    }

    /// The choices of this engine: the explicit device and the one `auto` may use under `filter`,
    /// as positions (the pin when there is one and it exists).
    func choices(filter: OpenCLDeviceTypeFilter) -> (explicit: Int?, automatic: Int?) {
        guard case .success(let devices) = Self.discover() else { return (nil, nil) }
        if let pinned { return devices.indices.contains(pinned) ? (pinned, pinned) : (nil, nil) }
        return (choice(explicit: true, filter: .any, devices), choice(explicit: false, filter: filter, devices))
    }

    /// The ranked choice without a pin, made once per engine and kind of call (the measured rates
    /// known at the first call rank the devices; a device does not change under a running engine).
    private func choice(explicit: Bool, filter: OpenCLDeviceTypeFilter, _ devices: [OpenCLDeviceDescriptor]) -> Int? {
        let key = explicit ? "explicit" : filter.rawValue
        lock.lock()
        if let made = chosen[key] {
            lock.unlock()
            return made
        }
        lock.unlock()
        let made =
            explicit
            ? Self.explicitChoice(devices, measuredRate: measuredRate) : Self.automaticChoice(devices, filter: filter, measuredRate: measuredRate)
        lock.lock()
        defer { lock.unlock() }
        if let earlier = chosen[key] { return earlier }
        chosen[key] = made
        return made
    }

    /// The position and description of the device of an explicit call (`explicit`) or of `auto`
    /// under `filter`: the pinned one if any, else the ranked choice; nothing is opened. Throws
    /// `.openCLUnavailable` when there is none.
    func choice(explicit: Bool, filter: OpenCLDeviceTypeFilter) throws -> (index: Int, info: OpenCLDeviceInfo) {
        let devices = try Self.discover().get()
        if let pinned, !devices.indices.contains(pinned) {
            throw LossKernelsError.openCLUnavailable(reason: "no OpenCL device at position \(pinned) (found \(devices.count))")
        }
        guard let index = pinned ?? choice(explicit: explicit, filter: explicit ? .any : filter, devices) else {
            throw LossKernelsError.openCLUnavailable(
                reason: "no OpenCL device of type \(filter.rawValue) (set LOSSKERNELS_OPENCL_DEVICE_TYPE=cpu or any to let auto use a CPU device)")
        }
        return (index, devices[index].info)
    }

    /// The device at `index` of `discover()`'s list, opened once per engine (its context and
    /// queue; the program is built at its first kernel).
    func open(_ index: Int) throws -> OpenCLDevice {
        let devices = try Self.discover().get()
        lock.lock()
        defer { lock.unlock() }
        if let device = opened[index] { return device }
        guard case .success(let runtime) = OpenCLRuntime.shared else { throw LossKernelsError.openCLUnavailable(reason: "no OpenCL runtime") }
        let device = try OpenCLDevice(runtime: runtime, descriptor: devices[index], settings: settings)
        opened[index] = device
        return device
    }

    /// Whether the device at `index` has been opened by this engine.
    func isOpen(_ index: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return opened[index] != nil
    }

    /// The opened device of an explicit call (`explicit`) or of `auto` under `filter`: `choice`,
    /// opened. Throws `.openCLUnavailable` when there is none.
    func device(explicit: Bool, filter: OpenCLDeviceTypeFilter) throws -> OpenCLDevice {
        try open(choice(explicit: explicit, filter: filter).index)
    }
}
