import Foundation
import LossKernelsCatalog
import Testing

@testable import LossKernels
@testable import losskernels

/// The one operation table (`Catalog`): every flag it names is one the CLI parses; `bench` refuses
/// what an operation does not use and uses what it does; `--device-resident` is real or refused
/// for every operation; the peers' workloads and `losskernels operations` agree with it.
@Suite struct CLIOperationTableTests {
    static let tiny = ["--batch", "3", "--classes", "40", "--dim", "4", "--elements", "64", "--warmup", "0", "--iterations", "1"]

    /// A value each option flag accepts, with the head that uses it.
    static func sample(_ option: OptionSpec) -> [String] {
        if let words = option.words { return ["--" + option.flag, words[0]] }
        switch option.flag {
        case "swap", "log-target": return ["--" + option.flag]
        case "easy-margin": return ["--head", "arcface", "--easy-margin"]
        case "m1", "m2", "m3": return ["--head", "combined", "--" + option.flag, "0.5"]
        case "lambda": return ["--head", "sphereface", "--lambda", "1"]
        case "ignore-index", "p", "memory-budget-mb": return ["--" + option.flag, "1"]
        default: return ["--" + option.flag, "0.5"]
        }
    }

    /// Every tensor flag of a computable operation is a flag of `compute`, and every option of every
    /// operation parses on `bench` (and on `compute` where it computes).
    @Test(arguments: Catalog.names)
    func everyFlagOfTheTableParses(name: String) throws {
        let operation = try #require(Catalog.operation(named: name))
        for option in operation.options {
            let arguments = [name] + Self.sample(option)
            #expect(throws: Never.self, "bench \(arguments)") { try BenchRunCommand.parse(arguments) }
            if operation.computable {
                var inputs: [String] = []
                for flag in ComputeOperation(entry: operation).requiredInputs { inputs += [flag.flag, "in.npy"] }
                #expect(throws: Never.self, "compute \(arguments)") { try ComputeCommand.parse(arguments + inputs + ["--output-dir", "/nonexistent"]) }
            }
        }
        if operation.computable {
            for spec in operation.tensors { #expect(TensorFlags.flags.contains(spec.flag), "compute has no --\(spec.flag)") }
        }
    }

    /// Flags an operation does not use are refused with exit 2 and a message naming them; size
    /// flags it does not use are named on stderr (they change nothing).
    @Test func unusedFlagsAreRefused() throws {
        let refused: [[String]] = [
            ["softmax", "--head", "arcface"], ["softmax", "--gamma", "1"], ["softmax", "--sample-rate", "0.5"], ["softmax", "--reduction", "sum"],
            ["mse", "--label-smoothing", "0.1"], ["cross-entropy", "--pass", "forward"], ["margin-softmax", "--m1", "2"],
            ["margin-softmax", "--head", "sphereface", "--easy-margin"], ["cross-entropy", "--reduction", "average"], ["triplet-mined", "--mining", "medium"],
            ["focal", "--learning-rate", "0.1"], ["center", "--margin", "1"],
        ]
        for arguments in refused {
            let result = try CLIRunner.run(["bench"] + arguments + Self.tiny + ["--backend", "cpu", "--json"])
            #expect(result.status == 2, "\(arguments): \(result.status) \(result.stderr)")
            #expect(
                result.stderr.contains("--" + (arguments.last(where: { $0.hasPrefix("--") }) ?? "").dropFirst(2)) || result.stderr.contains(arguments[0]),
                "\(arguments): \(result.stderr)")
        }
        let unusedSize = try CLIRunner.run([
            "bench", "mse", "--batch", "3", "--elements", "64", "--warmup", "0", "--iterations", "1", "--backend", "cpu", "--json",
        ])
        #expect(unusedSize.status == 0, "\(unusedSize.stderr)")
        #expect(unusedSize.stderr.contains("does not use --batch"), "\(unusedSize.stderr)")
    }

    /// `bench` takes the operation's options and uses them: with reduction none the loss is one
    /// value per row (4·(B − 1) more bytes written), and the head chosen runs.
    @Test func benchUsesTheOptions() throws {
        func bytes(_ extra: [String]) throws -> Int {
            let result = try CLIRunner.run(["bench", "cross-entropy"] + Self.tiny + extra + ["--backend", "cpu", "--json"])
            #expect(result.status == 0, "\(extra): \(result.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            return try #require(object["bytes"] as? Int)
        }
        #expect(try bytes(["--reduction", "none", "--label-smoothing", "0.1"]) - bytes(["--label-smoothing", "0.1"]) == 4 * (3 - 1))
        let bad = try CLIRunner.run(["bench", "margin-softmax", "--head", "arcface", "--margin", "4"] + Self.tiny + ["--backend", "cpu"])
        #expect(bad.status == 1 && bad.stderr.contains("margin"), "the arcface margin is checked by the library: \(bad.stderr)")
    }

    /// `--device-resident`, for every operation and pass: where the table says the operation runs
    /// device-resident, it runs on OpenCL and says so in the JSON; everywhere else it is refused
    /// with exit 2.
    @Test(arguments: Catalog.names)
    func deviceResidentIsRealOrRefused(name: String) throws {
        try Backends.requireOpenCL()
        let operation = try #require(Catalog.operation(named: name))
        for pass in operation.bench.passes {
            let result = try CLIRunner.run(["bench", name, "--pass", pass.rawValue, "--device-resident"] + Self.tiny + ["--backend", "opencl", "--json"])
            if operation.deviceResidentPasses.contains(pass) {
                #expect(result.status == 0, "\(name) \(pass): \(result.stderr)")
                let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
                #expect(object["device_resident"] as? Bool == true && object["backend"] as? String == "opencl")
            } else {
                #expect(result.status == 2, "\(name) \(pass): \(result.status) \(result.stderr)")
                #expect(result.stderr.contains("--device-resident"), "\(result.stderr)")
            }
        }
        let hostResident = try CLIRunner.run(["bench", name] + Self.tiny + ["--backend", "cpu", "--json"])
        #expect(hostResident.status == 0, "\(name): \(hostResident.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(hostResident.stdout.utf8)) as? [String: Any])
        #expect(object["device_resident"] as? Bool == false)
    }

    /// A device-resident call of the table moves none of its device-resident tensors from the
    /// host while it runs (they are uploaded once, when the call is prepared): the softmax family
    /// uploads nothing; the losses only their labels and per-row values; the margin head its
    /// features and labels, far less than its class weights.
    @Test(arguments: Catalog.operations.filter { !$0.deviceResidentPasses.isEmpty }.map(\.name))
    func deviceResidentCallsUploadNothing(name: String) throws {
        try Backends.requireOpenCL()
        // An engine of its own: the shared one's device counts the uploads of concurrent tests too.
        let engine = try Engine(policy: .opencl, offloadMinimumElements: 0, openCLDeviceTypes: .any)
        let operation = try #require(Catalog.operation(named: name))
        let device = try engine.scheduler.residentDevice()
        for pass in operation.deviceResidentPasses {
            let inputs = operation.makeInputs(shape: BenchShape(batch: 4, classes: 300), pass: pass, seed: 5)
            let call = try operation.prepare(engine: engine, inputs: inputs, options: OperationOptions(), deviceResident: true)
            let before = device.withExclusiveAccess { device.hostToDeviceBytes }
            #expect(try call.run() == .opencl)
            let uploaded = device.withExclusiveAccess { device.hostToDeviceBytes } - before
            let residentCount = inputs[operation.name == "margin-softmax" ? "weights" : operation.tensors[0].flag]?.count ?? 0
            // Nothing for the softmax family; at most a quarter of the resident tensor's bytes otherwise.
            let allowed = ["softmax", "log-softmax", "logsumexp"].contains(name) ? 0 : residentCount
            #expect(uploaded <= allowed, "\(name) \(pass) uploaded \(uploaded) bytes while running (device-resident tensor: \(4 * residentCount) bytes)")
            let host = try operation.prepare(engine: engine, inputs: inputs, options: OperationOptions())
            _ = try host.run()
            let resident = try call.results(), hosted = try host.results()
            #expect(resident.map(\.name) == hosted.map(\.name))
            for (a, b) in zip(resident, hosted) { #expect(a.values == b.values, "\(name) \(pass) \(a.name): device-resident and host-resident OpenCL differ") }
        }
    }

    /// `losskernels operations --json` is the table.
    @Test func operationsCommandPrintsTheTable() throws {
        let result = try CLIRunner.run(["operations", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let operations = try #require(object["operations"] as? [[String: Any]])
        #expect(operations.compactMap { $0["name"] as? String } == Catalog.names)
        let table = try CLIRunner.run(["operations"])
        #expect(table.status == 0 && Catalog.names.allSatisfy { table.stdout.contains($0) })
    }

    /// The peers' workloads (Benchmarks/peers/peer_workloads.py) are operations of the table: the
    /// same operation, options, input tensors and value ranges, and bench arguments that parse.
    @Test func peerWorkloadsMatchTheTable() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Benchmarks/peers/peer_workloads.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, "describe"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let workloads = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
        #expect(workloads.count == 6)
        for (workload, entry) in workloads {
            let name = try #require(entry["operation"] as? String)
            let operation = try #require(Catalog.operation(named: name), "\(workload): no operation \(name)")
            let arguments = try #require(entry["bench"] as? [String])
            #expect(throws: Never.self, "\(workload): bench \(arguments)") { try BenchRunCommand.parse(arguments) }
            let inputs = try #require(entry["inputs"] as? [String: [Any]])
            for (key, description) in inputs {
                let flag = try #require(description.first as? String)
                let spec = try #require(operation.tensor(flag), "\(workload).\(key): \(name) has no --\(flag)")
                if let scale = description.last as? Double {
                    #expect(spec.values == .uniform(scale: Float(scale)), "\(workload).\(key): \(spec.values) in the table, uniform ±\(scale) in the peers")
                } else {
                    #expect(spec.values == .classIndices, "\(workload).\(key)")
                }
            }
        }
    }
}
