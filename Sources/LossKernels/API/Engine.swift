import Foundation

/// The entry point of LossKernels: runs each operation on the backend its policy picks (see
/// `BackendPolicy`) and falls back to the CPU when OpenCL fails under `auto`.
///
/// An engine is safe to use from many threads at once. Create one per process and keep it: it
/// caches the opened OpenCL devices and their built programs.
///
/// ```swift
/// let engine = try Engine()                       // policy from LOSSKERNELS_BACKEND, else auto
/// let probs = try engine.softmax(logits)          // logits: Matrix, B×C
/// ```
public final class Engine: Sendable {
    let scheduler: Scheduler

    /// Whether inputs are checked for non-finite values (NaN, ±∞; −∞ stays allowed in logits, where
    /// it is a mask) before computing: a bad value is an `.invalidValue` error naming the tensor and
    /// the first bad index. Off by default: non-finite inputs then propagate as in PyTorch.
    public let checkFinite: Bool

    /// The backend policy of this engine.
    public var policy: BackendPolicy { scheduler.policy }
    /// Threads the CPU backend uses.
    public var cpuThreads: Int { scheduler.threads.count }
    /// Under `auto`, calls moving fewer float32 values than this (inputs read plus outputs
    /// written) stay on the CPU.
    public var offloadMinimumElements: Int { scheduler.offloadMinimumElements }

    /// An engine. Every argument left `nil` comes from the environment (`Configuration`: one rule
    /// for every variable, and a bad value is an error here rather than silently ignored).
    ///
    /// - Parameters:
    ///   - policy: the backend policy; `nil` reads `LOSSKERNELS_BACKEND` (default `auto`).
    ///   - cpuThreads: threads of the CPU backend; `nil` reads `LOSSKERNELS_THREADS`, else all cores.
    ///     Results do not depend on it.
    ///   - offloadMinimumElements: under `auto`, calls moving fewer float32 values stay on the CPU;
    ///     `nil` reads `LOSSKERNELS_OFFLOAD_MIN_ELEMENTS` (default 2^20).
    ///   - openCLDeviceTypes: which OpenCL devices `auto` may use; `nil` reads
    ///     `LOSSKERNELS_OPENCL_DEVICE_TYPE` (default `.gpu`: GPUs and accelerators only).
    ///   - checkFinite: refuse non-finite inputs (see `checkFinite`); `nil` reads
    ///     `LOSSKERNELS_CHECK_FINITE` (default off).
    ///   - openCLDevice: the position in `Engine.openCLDevices()` of the device the `opencl`
    ///     policy uses and the one `auto` may use (whatever its type; the cost model still decides
    ///     whether a call goes there); `nil` reads `LOSSKERNELS_OPENCL_DEVICE`, and when that is
    ///     unset the devices are ranked (GPU, accelerator, CPU device; then measured rate or compute
    ///     units). A position with no device makes OpenCL calls throw `.openCLUnavailable` (under
    ///     `auto`: run on the CPU).
    /// - Throws: `.invalidOption` for a bad environment value (naming the variable and the allowed
    ///   values), a non-positive thread count or a negative device position.
    public convenience init(
        policy: BackendPolicy? = nil, cpuThreads: Int? = nil, offloadMinimumElements: Int? = nil,
        openCLDeviceTypes: OpenCLDeviceTypeFilter? = nil, checkFinite: Bool? = nil, openCLDevice: Int? = nil
    ) throws {
        try self.init(
            policy: policy, cpuThreads: cpuThreads, offloadMinimumElements: offloadMinimumElements, openCLDeviceTypes: openCLDeviceTypes,
            openCLFault: nil, checkFinite: checkFinite, openCLDevice: openCLDevice)
    }

    /// The designated initialiser, with the test hooks `openCLFault` (`nil` reads
    /// `LOSSKERNELS_FAULT`), `configure` (changes the configuration read from the environment,
    /// e.g. the launch limits) and `autoCeilings` (`nil`: measured and cached as the environment
    /// says, or the static rule under `LOSSKERNELS_AUTO_PROBE=0`), and `profile` (`nil` reads
    /// `LOSSKERNELS_PROFILE`).
    package init(
        policy: BackendPolicy? = nil, cpuThreads: Int? = nil, offloadMinimumElements: Int? = nil, openCLDeviceTypes: OpenCLDeviceTypeFilter? = nil,
        openCLFault: OpenCLFault?, checkFinite: Bool? = nil, openCLDevice: Int? = nil, autoCeilings: AutoCeilingsSource? = nil, profile: Bool? = nil,
        configure: ((inout Configuration) -> Void)? = nil
    ) throws {
        if let openCLDevice, openCLDevice < 0 {
            throw LossKernelsError.invalidOption(name: "openCLDevice", value: "\(openCLDevice)", allowed: ">= 0")
        }
        if let cpuThreads, cpuThreads <= 0 {
            throw LossKernelsError.invalidOption(name: "cpuThreads", value: "\(cpuThreads)", allowed: ">= 1")
        }
        var environment = try Configuration.fromEnvironment()
        if let openCLFault { environment.fault = openCLFault }
        if let profile { environment.profile = profile }
        configure?(&environment)
        self.checkFinite = checkFinite ?? environment.checkFinite
        scheduler = Scheduler(
            policy: policy ?? environment.backend, threads: CPUThreads(count: cpuThreads ?? environment.threads),
            deviceFilter: openCLDeviceTypes ?? environment.openCLDeviceTypes,
            offloadMinimumElements: offloadMinimumElements ?? environment.offloadMinimumElements,
            deviceSettings: environment.openCLDeviceSettings, openCLDevice: openCLDevice ?? environment.openCLDevice,
            autoCeilings: autoCeilings ?? environment.autoCeilings)
    }

    /// Every OpenCL device this process can see, or why OpenCL is unavailable.
    public static func openCLDevices() -> Result<[OpenCLDeviceInfo], LossKernelsError> {
        OpenCLDevices.discover().map { $0.map(\.info) }
    }

    /// The device an explicit `opencl` call would use and the one `auto` may use (`nil` when none),
    /// as positions in `openCLDevices()`: the pinned device for both when the engine has one (and it
    /// exists), else the first ranked device (GPU, accelerator, CPU device) and the first ranked one
    /// of the types `auto` may use.
    public func openCLChoices() -> (explicit: Int?, automatic: Int?) {
        scheduler.devices.choices(filter: scheduler.deviceFilter)
    }

    /// The OpenCL device this engine's calls would go to when they go to OpenCL: under `opencl` the
    /// explicit choice, under `auto` the device `auto` may use (whether a call goes there is the
    /// cost model's choice), `nil` under `cpu` or when there is none.
    public var selectedOpenCLDevice: OpenCLDeviceInfo? {
        switch policy {
        case .cpu: return nil
        case .opencl: return (try? scheduler.devices.choice(explicit: true, filter: .any))?.info
        case .auto: return scheduler.automaticChoice()?.info
        }
    }

    /// The position in `openCLDevices()` this engine is pinned to (`openCLDevice:` or
    /// `LOSSKERNELS_OPENCL_DEVICE`), if any.
    package var pinnedOpenCLDevice: Int? { scheduler.devices.pinned }

    /// Where `auto` gets its cost model's ceilings (`LOSSKERNELS_AUTO_PROBE`, the cache file).
    package var autoCeilings: AutoCeilingsSource { scheduler.autoCeilings }

    /// The OpenCL device a call on host data moving `elements` float32 values (half read, half
    /// written, bound by memory bandwidth) would run on under this engine's policy, or `nil` for
    /// the CPU. Under `auto` this asks the cost model, which may measure the device first (see
    /// `BackendPolicy.auto`).
    public func plannedDevice(elements: Int) -> OpenCLDeviceInfo? {
        (try? scheduler.device(for: .hostCall(values: elements)))?.info
    }

    /// Instruction set and width of the CPU backend's loops, e.g. "AVX2+FMA (C microkernels)".
    public static var cpuInstructionSet: String { RowKernels.instructionSet }
    /// Vector width in floats of the CPU backend's loops.
    public static var cpuVectorWidth: Int { RowKernels.vectorWidth }
}
