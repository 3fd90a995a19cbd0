import Foundation
import Testing

@testable import LossKernels

/// `auto`'s cost model on synthetic ceilings: what it decides for the typical calls, and that the
/// typical calls' costs are the operations' own.
@Suite struct AutoCostModelTests {
    /// A fast GPU behind a slow bus: 2 GB/s each way, 800 GB/s inside, 20 TFLOP/s, 20 µs per call;
    /// the CPU at 30 GB/s and 150 GFLOP/s.
    static let gpuOnSlowBus = CostCeilings(
        cpuBandwidth: 30, cpuGEMM: 150, deviceCallSeconds: 20e-6, hostToDevice: 2, deviceToHost: 2, deviceBandwidth: 800, deviceGEMM: 20_000)
    /// PoCL on 2 cores as measured here: the device shares the CPU's memory and cores, and CLBlast
    /// on it is far slower than OpenBLAS.
    static let poclLike = CostCeilings(
        cpuBandwidth: 25, cpuGEMM: 90, deviceCallSeconds: 90e-6, hostToDevice: 10, deviceToHost: 10, deviceBandwidth: 20, deviceGEMM: 5)

    static let softmax = CallCost.softmax(rows: 256, columns: 100_000)
    static let crossEntropy = CallCost.crossEntropy(rows: 256, columns: 100_000)
    static let marginSoftmax = CallCost.marginSoftmax(rows: 256, dimension: 512, classes: 100_000)
    static let trainingStep = CallCost.trainingStep(rows: 256, dimension: 512, classes: 100_000)
    static let residentSoftmax = CallCost.residentSoftmax(rows: 256, columns: 100_000)

    @Test func fastGPUOnASlowBusKeepsBandwidthBoundHostCallsAndTakesTheRest() {
        let c = Self.gpuOnSlowBus
        for (name, call) in [("softmax", Self.softmax), ("cross-entropy", Self.crossEntropy)] {
            let e = CostModel.estimate(call, c)
            #expect(!e.deviceWins, "\(name): \(e)")
        }
        for (name, call) in [("margin-softmax", Self.marginSoftmax), ("training step", Self.trainingStep), ("resident softmax", Self.residentSoftmax)] {
            let e = CostModel.estimate(call, c)
            #expect(e.deviceWins, "\(name): \(e)")
        }
        // The softmax's device time is its transfers: 102.4 MB each way at 2 GB/s.
        let e = CostModel.estimate(Self.softmax, c)
        #expect(abs(e.deviceSeconds - (20e-6 + 2 * 0.1024 / 2 + 0.2048 / 800)) < 1e-9, "\(e)")
        #expect(abs(e.cpuSeconds - 0.2048 / 30) < 1e-12, "\(e)")
    }

    @Test func aPoCLLikeDeviceLosesEveryCall() {
        for (name, call) in [
            ("softmax", Self.softmax), ("cross-entropy", Self.crossEntropy), ("margin-softmax", Self.marginSoftmax), ("training step", Self.trainingStep),
            ("resident softmax", Self.residentSoftmax),
        ] {
            let e = CostModel.estimate(call, Self.poclLike)
            #expect(!e.deviceWins, "\(name): \(e)")
        }
    }

    /// An unknown GEMM rate counts as free (a lower bound); a device GEMM rate of 0 (CLBlast
    /// missing) makes GEMM-bound calls impossible there but leaves bandwidth-bound ones alone.
    @Test func unknownAndMissingGEMMRates() {
        var c = Self.gpuOnSlowBus
        c.deviceGEMM = nil
        let bound = CostModel.estimate(Self.trainingStep, c)
        let full = CostModel.estimate(Self.trainingStep, Self.gpuOnSlowBus)
        #expect(bound.deviceSeconds < full.deviceSeconds, "\(bound) \(full)")
        c.deviceGEMM = 0
        #expect(CostModel.estimate(Self.trainingStep, c).deviceSeconds == .infinity)
        #expect(CostModel.estimate(Self.residentSoftmax, c).deviceWins)
        #expect(c.isValid)
        c.cpuBandwidth = -1
        #expect(!c.isValid)
    }

    @Test func staticRuleTakesGPUsAndAcceleratorsOnly() {
        #expect(CostModel.staticRule(.gpu) && CostModel.staticRule(.accelerator))
        #expect(!CostModel.staticRule(.cpu) && !CostModel.staticRule(.other))
    }

    /// The typical calls `losskernels devices` decides for cost what the operations say they cost.
    @Test func typicalCallsCostWhatTheOperationsState() throws {
        let (b, c, d) = (4, 10, 3)
        let logits = [Float](repeating: 0.5, count: b * c)
        var out = [Float](repeating: 0, count: b * c)
        try logits.withUnsafeBufferPointer { x in
            try out.withUnsafeMutableBufferPointer { y in
                let softmax = SoftmaxForwardOperation(kind: .softmax, logits: .host(x), output: .host(y), rows: b, columns: c)
                #expect(softmax.callCost == CallCost.softmax(rows: b, columns: c), "\(softmax.callCost)")
                let loss = CrossEntropyLoss(
                    labels: [0, 1, 2, 3], classes: c, classWeights: nil, ignoreIndex: -100, labelSmoothing: 0, reduction: .mean, gradOutput: nil)
                let crossEntropy = SoftmaxLossOperation(loss: loss, logits: .host(x), gradient: .host(y), rows: b, columns: c)
                try crossEntropy.validate()
                #expect(crossEntropy.callCost == CallCost.crossEntropy(rows: b, columns: c), "\(crossEntropy.callCost)")
            }
        }
        let features = [Float](repeating: 0.1, count: b * d), weights = [Float](repeating: 0.2, count: c * d)
        var dx = [Float](repeating: 0, count: b * d), dw = [Float](repeating: 0, count: c * d)
        features.withUnsafeBufferPointer { x in
            weights.withUnsafeBufferPointer { w in
                dx.withUnsafeMutableBufferPointer { gx in
                    dw.withUnsafeMutableBufferPointer { gw in
                        let head = MarginSoftmaxOperation(
                            features: .host(x), classWeights: .host(w), rows: b, classes: c, dimension: d, labels: [0, 1, 2, 3], head: .cosFace(),
                            reduction: .mean,
                            gradOutput: nil, memoryBudget: 1 << 20, gradFeatures: .host(gx), gradClassWeights: .host(gw))
                        #expect(head.callCost == CallCost.marginSoftmax(rows: b, dimension: d, classes: c), "\(head.callCost)")
                    }
                }
            }
        }
        let step = CallCost.trainingStep(rows: b, dimension: d, classes: c, sampleRate: 0.5)
        #expect(step.work == MarginSoftmaxHead.stepWork(rows: b, sampledClasses: 5, dimension: d))
        #expect(step.resident && step.bytesToDevice == 4 * b * d + 8 * b + 8 * 5)
        #expect(CallCost.trainingStep(rows: b, dimension: d, classes: c).bytesToDevice == 4 * b * d + 8 * b)
        #expect(CallCost.hostCall(values: Int.max).work.bytes > 0)
    }

    /// The ranking: GPUs, accelerators, CPU devices, others; within a type by measured rate when
    /// every device of the type has one, else by compute units; ties in the loader's order.
    @Test func devicesAreRanked() {
        func device(_ kind: OpenCLDeviceInfo.Kind, _ units: Int, _ name: String) -> OpenCLDeviceInfo {
            OpenCLDeviceInfo(
                platformIndex: 0, deviceIndex: 0, platformName: "p", name: name, vendor: "v", kind: kind, computeUnits: units, globalMemoryBytes: 1,
                localMemoryBytes: 1, maxAllocationBytes: 1, maxWorkGroupSize: 1, openCLCVersion: "1.2", driverVersion: "1")
        }
        let devices = [
            device(.cpu, 64, "cpu"), device(.gpu, 10, "small gpu"), device(.other, 99, "other"), device(.accelerator, 4, "accelerator"),
            device(.gpu, 40, "big gpu"), device(.gpu, 10, "second small gpu"),
        ]
        #expect(OpenCLDevices.ranked(devices) == [4, 1, 5, 3, 0, 2])
        // Rates for every GPU: the rates decide.
        let rates = ["small gpu": 9000.0, "big gpu": 3000, "second small gpu": 5000]
        #expect(OpenCLDevices.ranked(devices) { rates[$0.name] } == [1, 5, 4, 3, 0, 2])
        // A rate for one GPU only: compute units decide.
        #expect(OpenCLDevices.ranked(devices) { $0.name == "small gpu" ? 9000 : nil } == [4, 1, 5, 3, 0, 2])
    }
}

/// The cache file of measured ceilings: where it lives, its round trip, and how it survives
/// corruption and an unwritable place.
@Suite struct CeilingsCacheTests {
    static let entry = CeilingsCache.Entry(
        device: "Some GPU", driverVersion: "1.2.3", cpuThreads: 8, ceilings: AutoCostModelTests.gpuOnSlowBus, probeSeconds: 0.25,
        measuredAt: "2026-01-01T00:00:00Z")

    static func folder() throws -> URL { try CLIRunner.temporaryFolder() }

    @Test func directoryFollowsTheEnvironment() {
        let home = ["HOME": "/home/u"]
        #expect(CeilingsCache.directory(home)?.path == "/home/u/.cache/losskernels")
        #expect(CeilingsCache.directory(home.merging(["XDG_CACHE_HOME": "/xdg"]) { $1 })?.path == "/xdg/losskernels")
        #expect(CeilingsCache.directory(home.merging(["XDG_CACHE_HOME": "/xdg", "LOSSKERNELS_CACHE_DIR": "/mine"]) { $1 })?.path == "/mine")
        #expect(CeilingsCache.directory(home.merging(["XDG_CACHE_HOME": "", "LOSSKERNELS_CACHE_DIR": ""]) { $1 })?.path == "/home/u/.cache/losskernels")
        #expect(CeilingsCache.directory([:]) == nil)
        let c = try? Configuration.fromEnvironment(["LOSSKERNELS_CACHE_DIR": "/mine", "LOSSKERNELS_AUTO_PROBE": "1"])
        #expect(c?.autoCeilings == .measured(cacheFile: URL(fileURLWithPath: "/mine/auto-ceilings.json")), "\(String(describing: c))")
        #expect((try? Configuration.fromEnvironment(["LOSSKERNELS_AUTO_PROBE": "off"]))?.autoCeilings == .staticRule)
        #expect((try? Configuration.fromEnvironment(["LOSSKERNELS_OPENCL_DEVICE": " 2"]))?.openCLDevice == 2)
    }

    @Test func roundTripAndMerge() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = CeilingsCache.file(in: folder.appendingPathComponent("nested/dir"))
        #expect(CeilingsCache.load(file).isEmpty)
        #expect(CeilingsCache.store(Self.entry, in: file))
        #expect(CeilingsCache.load(file) == [Self.entry.key: Self.entry])
        var other = Self.entry
        other.cpuThreads = 2
        other.ceilings.deviceGEMM = nil
        #expect(CeilingsCache.store(other, in: file))
        let both = CeilingsCache.load(file)
        #expect(both.count == 2 && both[other.key] == other && both[Self.entry.key] == Self.entry, "\(both)")
        #expect(Self.entry.key == "Some GPU|1.2.3|8")
        let text = try String(contentsOf: file, encoding: .utf8)
        #expect(text.contains("\"host_to_device_gbps\"") && text.contains("\"driver_version\""), "\(text)")
    }

    @Test func corruptFilesAndEntriesAreIgnoredAndRewritten() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = CeilingsCache.file(in: folder)
        for garbage in ["not json", "{\"version\": 1}", "{\"version\": 99, \"devices\": {}}", ""] {
            try Data(garbage.utf8).write(to: file)
            #expect(CeilingsCache.load(file).isEmpty, "\(garbage)")
            #expect(CeilingsCache.store(Self.entry, in: file), "\(garbage)")
            #expect(CeilingsCache.load(file) == [Self.entry.key: Self.entry], "rewritten after \(garbage)")
        }
        // An entry with unusable values, or stored under another key, is dropped; the others stay.
        var bad = Self.entry
        bad.cpuThreads = 3
        bad.ceilings.hostToDevice = -1
        let encoder = JSONEncoder()
        let json = try JSONSerialization.jsonObject(with: encoder.encode(CeilingsCache.File(version: 1, devices: [bad.key: bad, "wrong key": Self.entry])))
        try JSONSerialization.data(withJSONObject: json).write(to: file)
        #expect(CeilingsCache.load(file).isEmpty)
    }

    /// A cache that cannot be written (here its directory is a regular file) is no error.
    @Test func writeFailuresAreIgnored() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let blocker = folder.appendingPathComponent("file")
        try Data("x".utf8).write(to: blocker)
        let file = CeilingsCache.file(in: blocker.appendingPathComponent("losskernels"))
        #expect(!CeilingsCache.store(Self.entry, in: file))
        #expect(CeilingsCache.load(file).isEmpty)
    }
}

/// `auto` on this machine's OpenCL devices: the probes, the cache file, the pin.
@Suite struct AutoDeviceTests {
    /// On a CPU OpenCL device (PoCL), the probes run once, their ceilings land in the cache file,
    /// and every typical host call and the training head stay on the CPU.
    @Test func probingAPoCLDeviceKeepsCallsOnTheCPU() throws {
        try Backends.requireOpenCL()
        let devices = try Backends.openCLDevices.get()
        guard let position = devices.firstIndex(where: { $0.kind == .cpu }) else { try Test.cancel("no CPU OpenCL device") }
        let folder = try CLIRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = CeilingsCache.file(in: folder)
        let engine = try Engine(policy: .auto, openCLDeviceTypes: .any, openCLFault: nil, openCLDevice: position, autoCeilings: .measured(cacheFile: file))
        let start = Date()
        for (name, call) in [
            ("softmax", AutoCostModelTests.softmax), ("cross-entropy", AutoCostModelTests.crossEntropy),
            ("margin-softmax", AutoCostModelTests.marginSoftmax), ("training step", AutoCostModelTests.trainingStep),
        ] {
            let plan = engine.autoPlan(for: call, probe: true)
            #expect(plan.backend == .cpu, "\(name): \(plan.reason)")
            #expect(plan.estimate.map { !$0.deviceWins } == true, "\(name): \(plan.reason)")
            #expect(plan.origin == .probe, "\(name): \(plan.origin)")
        }
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed < 30, "probing took \(elapsed) s")
        let stored = CeilingsCache.load(file)
        let key = CeilingsCache.key(device: devices[position].name, driverVersion: devices[position].driverVersion, threads: engine.cpuThreads)
        let entry = try #require(stored[key], "\(stored.keys)")
        #expect(entry.ceilings.hasGEMM && entry.ceilings.isValid, "\(entry)")
        // A head placed under auto stays on the CPU (CLBlast on PoCL is slower than OpenBLAS).
        let head = try MarginSoftmaxHead(engine: engine, classes: 8192, dimension: 256, head: .cosFace())
        #expect(head.backend == .cpu)
        // Without probing, an engine reading the same file decides the same way.
        let reader = try Engine(policy: .auto, openCLDeviceTypes: .any, openCLFault: nil, openCLDevice: position, autoCeilings: .measured(cacheFile: file))
        let plan = reader.autoPlan(for: AutoCostModelTests.softmax, probe: false)
        #expect(plan.backend == .cpu && plan.ceilings == entry.ceilings, "\(plan.reason)")
        #expect(reader.plannedDevice(elements: 1 << 26) == nil)
    }

    /// Later processes read the file instead of probing: the CLI's first `devices` run probes,
    /// the second reads the cache; a corrupt file is probed again and rewritten.
    @Test func laterProcessesReadTheCache() throws {
        try Backends.requireOpenCL()
        let folder = try CLIRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let environment = ["LOSSKERNELS_CACHE_DIR": folder.path, "LOSSKERNELS_OPENCL_DEVICE_TYPE": "any"]
        func origins(_ arguments: [String] = []) throws -> [String] {
            let result = try CLIRunner.run(["devices", "--json"] + arguments, environment: environment)
            #expect(result.status == 0, "\(result.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let decisions = try #require(report["auto_decisions"] as? [[String: Any]])
            #expect(decisions.count == 5)
            #expect(report["auto_cache_file"] as? String == CeilingsCache.file(in: folder).path, "\(report)")
            for decision in decisions.prefix(4) where !Backends.hasGPUOrAccelerator {
                #expect(decision["backend"] as? String == "cpu", "\(decision)")
            }
            return decisions.compactMap { $0["ceilings_origin"] as? String }
        }
        #expect(try origins(["--no-probe"]) == Array(repeating: "none", count: 5))
        #expect(try origins() == Array(repeating: "probe", count: 5))
        #expect(try origins(["--no-probe"]) == Array(repeating: "cache", count: 5))
        try Data("{corrupt".utf8).write(to: CeilingsCache.file(in: folder))
        #expect(try origins() == Array(repeating: "probe", count: 5))
        #expect(!CeilingsCache.load(CeilingsCache.file(in: folder)).isEmpty)
    }

    /// Under auto a pin is the device auto may use, whatever its type; the cost model still decides.
    @Test func pinIsHonouredUnderAuto() throws {
        try Backends.requireOpenCL()
        let devices = try Backends.openCLDevices.get()
        for position in devices.indices {
            let winning = try Engine(
                policy: .auto, offloadMinimumElements: 0, openCLDeviceTypes: .gpu, openCLFault: nil, openCLDevice: position,
                autoCeilings: .fixed(AutoCeilings.deviceAlwaysWins))
            #expect(winning.openCLChoices().automatic == position && winning.openCLChoices().explicit == position)
            #expect(winning.plannedDevice(elements: 1 << 20) == devices[position])
            #expect(winning.selectedOpenCLDevice == devices[position])
            #expect(try SchedulerTests.softmaxBackend(winning) == .opencl)
            let losing = try Engine(
                policy: .auto, offloadMinimumElements: 0, openCLDeviceTypes: .gpu, openCLFault: nil, openCLDevice: position,
                autoCeilings: .fixed(AutoCeilings.deviceNeverWins))
            #expect(losing.selectedOpenCLDevice == devices[position])
            #expect(losing.plannedDevice(elements: 1 << 20) == nil)
            #expect(try SchedulerTests.softmaxBackend(losing) == .cpu)
            #expect(!losing.scheduler.devices.isOpen(position), "a device that loses every call is not even opened")
        }
        // A pin with no device: auto runs on the CPU.
        let missing = try AutoCeilings.offloadingEngine(openCLDevice: devices.count)
        #expect(missing.openCLChoices().automatic == nil && missing.selectedOpenCLDevice == nil)
        #expect(try SchedulerTests.softmaxBackend(missing) == .cpu)
    }

    /// `LOSSKERNELS_OPENCL_DEVICE` pins the device of the CLI's engines; a bad value is refused.
    @Test func pinFromTheEnvironment() throws {
        try Backends.requireOpenCL()
        let result = try CLIRunner.run(["devices", "--json", "--no-probe"], environment: ["LOSSKERNELS_OPENCL_DEVICE": "0", "LOSSKERNELS_AUTO_PROBE": "0"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(report["pinned_device"] as? Int == 0)
        #expect(report["auto_probe"] as? Bool == false)
        let devices = try #require(report["opencl_devices"] as? [[String: Any]])
        #expect(devices.first?["used_by_auto"] as? Bool == true && devices.first?["used_by_opencl"] as? Bool == true, "\(devices)")
        let decisions = try #require(report["auto_decisions"] as? [[String: Any]])
        let expected = Backends.openCLDevices.map { CostModel.staticRule($0[0].kind) ? "opencl" : "cpu" }
        for decision in decisions {
            #expect(decision["ceilings_origin"] as? String == "static", "\(decision)")
            #expect(decision["backend"] as? String == (try? expected.get()), "\(decision)")
        }
        let bad = try CLIRunner.run(["devices"], environment: ["LOSSKERNELS_OPENCL_DEVICE": "first"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("LOSSKERNELS_OPENCL_DEVICE") && bad.stderr.contains("first"), "\(bad.stderr)")
    }
}
