import Foundation

/// The OpenCL devices of this process and the choice among them: which device an explicit
/// `opencl` call uses (GPU, then accelerator, then CPU, then others, in loader order) and which
/// one `auto` may use (GPUs and accelerators only, unless `LOSSKERNELS_OPENCL_DEVICE_TYPE` says
/// `cpu` or `any`). Discovery runs once per process; opened devices are cached per engine, so the
/// program is built once per context.
final class OpenCLDevices: @unchecked Sendable {
    private let lock = NSLock()
    private var opened: [Int: OpenCLDevice] = [:]
    /// What the opened devices are set up with (the fault to inject, launch limits, profiling).
    let settings: OpenCLDeviceSettings
    /// The position (in `discover()`'s list) of the device explicit calls use, if the caller
    /// pinned one; otherwise `explicitChoice` decides.
    let pinned: Int?

    init(settings: OpenCLDeviceSettings = OpenCLDeviceSettings(), pinned: Int? = nil) {
        self.settings = settings
        self.pinned = pinned
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

    /// The position in `devices` of the device an explicit `opencl` call uses.
    static func explicitChoice(_ devices: [OpenCLDeviceDescriptor]) -> Int? {
        let order: [OpenCLDeviceInfo.Kind] = [.gpu, .accelerator, .cpu, .other]
        for kind in order {
            if let index = devices.firstIndex(where: { $0.info.kind == kind }) { return index }
        }
        return nil
    }

    /// The position of the device `auto` may use under `filter`, if any.
    static func automaticChoice(_ devices: [OpenCLDeviceDescriptor], filter: OpenCLDeviceTypeFilter) -> Int? {
        switch filter {
        case .gpu: return devices.firstIndex { $0.info.kind == .gpu } ?? devices.firstIndex { $0.info.kind == .accelerator }
        case .cpu: return devices.firstIndex { $0.info.kind == .cpu }
        case .any: return explicitChoice(devices)
        }
    }

    /// The devices opened so far, in discovery order.
    var openedDevices: [OpenCLDevice] {
        lock.lock()
        defer { lock.unlock() }
        return opened.keys.sorted().map { opened[$0]! }
    }

    /// The opened device for `policy`: throws `.openCLUnavailable` when there is none.
    func device(explicit: Bool, filter: OpenCLDeviceTypeFilter) throws -> OpenCLDevice {
        let devices = try Self.discover().get()
        if explicit, let pinned, !devices.indices.contains(pinned) {
            throw LossKernelsError.openCLUnavailable(reason: "no OpenCL device at position \(pinned) (found \(devices.count))")
        }
        let choice = explicit ? pinned ?? Self.explicitChoice(devices) : Self.automaticChoice(devices, filter: filter)
        guard let index = choice else {
            throw LossKernelsError.openCLUnavailable(
                reason: "no OpenCL device of type \(filter.rawValue) (set LOSSKERNELS_OPENCL_DEVICE_TYPE=cpu or any to let auto use a CPU device)")
        }
        lock.lock()
        defer { lock.unlock() }
        if let device = opened[index] { return device }
        guard case .success(let runtime) = OpenCLRuntime.shared else { throw LossKernelsError.openCLUnavailable(reason: "no OpenCL runtime") }
        let device = try OpenCLDevice(runtime: runtime, descriptor: devices[index], settings: settings)
        opened[index] = device
        return device
    }
}
