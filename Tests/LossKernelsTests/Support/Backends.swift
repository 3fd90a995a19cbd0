import Foundation
import Testing

@testable import LossKernels

/// A backend a parameterised test runs on. Every parity test takes one of these as an argument, so
/// the OpenCL case always exists in the test plan; whether it can run is decided inside the case by
/// `Backends.engine(for:)`.
enum TestBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case cpu, opencl

    /// The `Backend` a call must report when it ran here.
    var expected: Backend {
        switch self {
        case .cpu: return .cpu
        case .opencl: return .opencl
        }
    }

    var testDescription: String { rawValue }
}

/// The error that fails an OpenCL test case when `LOSSKERNELS_REQUIRE_OPENCL=1` is set and no
/// device is usable. Its description is the issue's text.
struct OpenCLRequiredButUnavailable: Error, CustomStringConvertible {
    let reason: String
    var description: String { "LOSSKERNELS_REQUIRE_OPENCL=1 but OpenCL is unavailable: \(reason)" }
}

/// OpenCL availability and the shared engines of the tests.
///
/// - Without a device, OpenCL test cases are cancelled with the reason, and the test
///   `OpenCLAvailabilityTests.openCLDeviceFound` is shown as skipped with that reason.
/// - With `LOSSKERNELS_REQUIRE_OPENCL=1` a missing device fails instead: the OpenCL case of every
///   parameterised test throws `OpenCLRequiredButUnavailable`, and
///   `OpenCLAvailabilityTests.openCLIsAvailableWhenRequired` records an issue.
///
/// Engines are shared because an engine caches its opened device and built program: building the
/// OpenCL program costs seconds on PoCL, so it is done once per process.
enum Backends {
    /// The backends every parity test runs on.
    static let all: [TestBackend] = TestBackend.allCases

    /// Whether `LOSSKERNELS_REQUIRE_OPENCL=1` is set.
    static let openCLRequired: Bool = ProcessInfo.processInfo.environment["LOSSKERNELS_REQUIRE_OPENCL"] == "1"

    /// The OpenCL devices this process sees, or why there are none.
    static let openCLDevices: Result<[OpenCLDeviceInfo], LossKernelsError> = Engine.openCLDevices()

    /// Why OpenCL cannot be used, or nil when a device exists.
    static let openCLUnavailableReason: String? = {
        switch openCLDevices {
        case .failure(let error): return error.description
        case .success(let devices): return devices.isEmpty ? "no OpenCL device" : nil
        }
    }()

    static var openCLAvailable: Bool { openCLUnavailableReason == nil }

    /// Whether a GPU or accelerator is among the OpenCL devices (what `auto` may use by default).
    static var hasGPUOrAccelerator: Bool {
        guard case .success(let devices) = openCLDevices else { return false }
        return devices.contains { $0.kind == .gpu || $0.kind == .accelerator }
    }

    /// Engine with policy `.cpu` and the default thread count.
    static let cpuEngine: Engine = try! Engine(policy: .cpu, offloadMinimumElements: 0, openCLDeviceTypes: .any)
    /// Engine with policy `.opencl` (explicit: the first device), shared by every OpenCL test.
    static let openCLEngine: Engine = try! Engine(policy: .opencl, offloadMinimumElements: 0, openCLDeviceTypes: .any)

    /// The engine for `backend`. For OpenCL without a device: throws `OpenCLRequiredButUnavailable`
    /// (the case fails) when OpenCL is required, else cancels the test case with the reason.
    static func engine(for backend: TestBackend, sourceLocation: SourceLocation = #_sourceLocation) throws -> Engine {
        switch backend {
        case .cpu:
            return cpuEngine
        case .opencl:
            try requireOpenCL(sourceLocation: sourceLocation)
            return openCLEngine
        }
    }

    /// Returns when OpenCL can be used; otherwise fails (required) or cancels the current test case.
    static func requireOpenCL(sourceLocation: SourceLocation = #_sourceLocation) throws {
        guard let reason = openCLUnavailableReason else { return }
        if openCLRequired { throw OpenCLRequiredButUnavailable(reason: reason) }
        try Test.cancel("OpenCL case skipped: \(reason)", sourceLocation: sourceLocation)
    }
}

/// Makes OpenCL availability visible in the test report and enforces `LOSSKERNELS_REQUIRE_OPENCL`.
@Suite struct OpenCLAvailabilityTests {
    /// Shown as skipped, with the reason, when there is no OpenCL device (then every OpenCL test
    /// case is cancelled). When a device exists it checks the explicit engine's choice.
    @Test(
        .enabled(
            if: Backends.openCLAvailable || Backends.openCLRequired,
            "no OpenCL device: \(Backends.openCLUnavailableReason ?? "") — OpenCL test cases are skipped (set LOSSKERNELS_REQUIRE_OPENCL=1 to make this fail)"))
    func openCLDeviceFound() throws {
        try Backends.requireOpenCL()
        guard case .success(let devices) = Backends.openCLDevices else { return }
        let choice = try #require(Backends.openCLEngine.openCLChoices().explicit)
        #expect(devices.indices.contains(choice))
        #expect(Backends.openCLEngine.plannedDevice(elements: 1) == devices[choice])
    }

    /// Fails when `LOSSKERNELS_REQUIRE_OPENCL=1` is set and no OpenCL device is usable.
    @Test func openCLIsAvailableWhenRequired() {
        if Backends.openCLRequired, let reason = Backends.openCLUnavailableReason {
            Issue.record("LOSSKERNELS_REQUIRE_OPENCL=1 but OpenCL is unavailable: \(reason)")
        }
    }
}

/// Ceilings for `auto`'s cost model in tests, so that a test decides whether `auto` sends its calls
/// to the device instead of the measured machine deciding.
enum AutoCeilings {
    /// Every device wins every call past the threshold: for the tests of `auto`'s fallback, which
    /// need `auto` to try the device (PoCL would lose under its measured ceilings).
    static let deviceAlwaysWins = CostCeilings(
        cpuBandwidth: 1e-3, cpuGEMM: 1e-3, deviceCallSeconds: 0, hostToDevice: 1e6, deviceToHost: 1e6, deviceBandwidth: 1e6, deviceGEMM: 1e6)
    /// No device ever wins.
    static let deviceNeverWins = CostCeilings(
        cpuBandwidth: 1e6, cpuGEMM: 1e6, deviceCallSeconds: 1, hostToDevice: 1e-3, deviceToHost: 1e-3, deviceBandwidth: 1e-3, deviceGEMM: 1e-3)

    /// An `auto` engine that may use any device, with no threshold, and offloads every call (the
    /// engine the fallback tests use).
    static func offloadingEngine(fault: OpenCLFault? = nil, openCLDevice: Int? = nil) throws -> Engine {
        try Engine(
            policy: .auto, offloadMinimumElements: 0, openCLDeviceTypes: .any, openCLFault: fault, openCLDevice: openCLDevice,
            autoCeilings: .fixed(deviceAlwaysWins))
    }

    /// A cache directory (new, temporary) whose `auto-ceilings.json` holds `ceilings` for every
    /// OpenCL device measured with `threads` CPU threads: a CLI run with `LOSSKERNELS_CACHE_DIR` set
    /// to it and `LOSSKERNELS_THREADS` set to `threads` decides with them and probes nothing.
    static func cacheDirectory(_ ceilings: CostCeilings, threads: Int) throws -> URL {
        let folder = try CLIRunner.temporaryFolder()
        let devices = (try? Engine.openCLDevices().get()) ?? []
        for device in devices {
            let entry = CeilingsCache.Entry(device: device.name, driverVersion: device.driverVersion, cpuThreads: threads, ceilings: ceilings, probeSeconds: 0)
            guard CeilingsCache.store(entry, in: CeilingsCache.file(in: folder)) else { throw CocoaError(.fileWriteUnknown) }
        }
        return folder
    }
}
