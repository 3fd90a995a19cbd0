import Foundation
import Testing

@testable import LossKernels

/// Smoke tests of `bench --csv`, `bench --vs-ceiling`, `bench sweep` and `bench ceilings` on tiny
/// shapes, with and without OpenCL.
@Suite struct CLIBenchToolsTests {
    static let tiny = ["--batch", "2", "--classes", "16", "--warmup", "0", "--iterations", "1"]
    /// The environments that hide every OpenCL platform (as CLIComputeTests.withoutOpenCL).
    static let noOpenCL = ["OCL_ICD_VENDORS": "/nonexistent-icd-folder", "OCL_ICD_FILENAMES": ""]

    static func jsonObjects(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    /// The fields of one RFC 4180 CSV line.
    static func csvFields(_ line: String) -> [String] {
        var fields: [String] = [], field = "", quoted = false, previous: Character = " "
        for c in line {
            if c == "\"" {
                if quoted && previous == "\"" { field.append(c) }
                quoted.toggle()
            } else if c == "," && !quoted {
                fields.append(field)
                field = ""
            } else {
                field.append(c)
            }
            previous = c
        }
        return fields + [field]
    }

    /// `--csv`: a header naming the contract's fields and one row with as many fields.
    @Test func csvHasAHeaderAndOneRow() throws {
        let result = try CLIRunner.run(["bench", "softmax"] + Self.tiny + ["--backend", "cpu", "--csv"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "\(result.stdout)")
        let header = lines[0].split(separator: ",").map(String.init)
        #expect(Set(header) == CLIBenchTests.contractFields)
        let row = Self.csvFields(lines[1])
        #expect(row.count == header.count, "\(lines[1])")
        #expect(row.prefix(2) == ["softmax", "cpu"])
        #expect(row[2].hasPrefix("CPU ("), "the device name, quoted because it holds a comma: \(lines[1])")
    }

    /// `--vs-ceiling` adds `ceiling` and `fraction_of_ceiling` and keeps every contract field; the
    /// ceiling is memcpy (GB/s) for a bandwidth-bound operation and SGEMM for a margin head.
    @Test(arguments: [(["softmax"], "memcpy", "GB/s"), (["margin-softmax", "--dim", "4"], "sgemm", "GFLOP/s")])
    func vsCeilingAddsTheCeiling(operation: [String], kind: String, unit: String) throws {
        let result = try CLIRunner.run(["bench"] + operation + Self.tiny + ["--backend", "cpu", "--json", "--vs-ceiling"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let object = try #require(try Self.jsonObjects(result.stdout).first)
        #expect(Set(object.keys) == CLIBenchTests.contractFields.union(["ceiling", "fraction_of_ceiling"]))
        let ceiling = try #require(object["ceiling"] as? [String: Any])
        #expect(ceiling["kind"] as? String == kind)
        #expect(ceiling["unit"] as? String == unit)
        let value = try #require(ceiling["value"] as? Double)
        let achieved = try #require(object[unit == "GB/s" ? "gb_per_second" : "gflop_per_second"] as? Double)
        let fraction = try #require(object["fraction_of_ceiling"] as? Double)
        #expect(value > 0 && abs(fraction - achieved / value) <= 1e-9 * max(1, fraction))
    }

    /// On OpenCL the ceiling is the device's: host↔device for host-resident data, device copy with
    /// `--device-resident`.
    @Test(arguments: [([String](), ["host-to-device", "device-to-host"]), (["--device-resident"], ["device-copy"])])
    func vsCeilingOnOpenCLUsesTheDevice(flags: [String], kinds: [String]) throws {
        try Backends.requireOpenCL()
        let result = try CLIRunner.run(["bench", "softmax"] + Self.tiny + flags + ["--backend", "opencl", "--json", "--vs-ceiling"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let object = try #require(try Self.jsonObjects(result.stdout).first)
        let ceiling = try #require(object["ceiling"] as? [String: Any])
        #expect(kinds.contains(ceiling["kind"] as? String ?? ""), "\(ceiling)")
        #expect((ceiling["value"] as? Double ?? 0) > 0)
    }

    /// `sweep --json`: one contract object per size, in order, with `swept` and `seconds_per_unit`.
    @Test(arguments: [
        (["--classes", "10,20,40"], "classes", [10, 20, 40]), (["--batch", "1...16*4"], "batch", [1, 4, 16]),
        (["--classes", "1e1...1e3"], "classes", [10, 100, 1000]),
    ])
    func sweepPrintsOneObjectPerSize(flags: [String], swept: String, sizes: [Int]) throws {
        let result = try CLIRunner.run(
            ["bench", "sweep", "softmax", "--batch", "2", "--warmup", "0", "--iterations", "1", "--backend", "cpu", "--json"] + flags)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let objects = try Self.jsonObjects(result.stdout)
        #expect(objects.map { $0[swept] as? Int ?? -1 } == sizes)
        for object in objects {
            #expect(Set(object.keys) == CLIBenchTests.contractFields.union(["swept", "seconds_per_unit"]))
            #expect(object["swept"] as? String == swept)
            let median = try #require(object["median_seconds"] as? Double), perUnit = try #require(object["seconds_per_unit"] as? Double)
            #expect(abs(perUnit * Double(object[swept] as? Int ?? 0) - median) <= 1e-12 * max(1, median))
        }
    }

    /// The sweep's table and CSV, and its command-line errors (exit 2).
    @Test func sweepTableCSVAndErrors() throws {
        let base = ["bench", "sweep", "mse", "--elements", "64,128", "--warmup", "0", "--iterations", "1", "--backend", "cpu"]
        let table = try CLIRunner.run(base)
        #expect(table.status == 0, "stderr: \(table.stderr)")
        #expect(table.stdout.contains("s per element") && table.stdout.contains("128"), "\(table.stdout)")
        let csv = try CLIRunner.run(base + ["--csv"])
        #expect(csv.status == 0)
        let lines = csv.stdout.split(separator: "\n")
        #expect(lines.count == 3 && lines[0].hasSuffix("swept,seconds_per_unit"), "\(csv.stdout)")
        for arguments in [
            ["--classes", "10,20", "--batch", "1,2"], ["--classes", "10..20"], ["--classes", "0"], ["--classes", "1...100*1"], ["--json", "--csv"],
        ] {
            let bad = try CLIRunner.run(["bench", "sweep", "softmax", "--iterations", "1"] + arguments)
            #expect(bad.status == 2, "\(arguments): \(bad.status) \(bad.stderr)")
            #expect(!bad.stderr.isEmpty)
        }
    }

    static let smallCeilings = ["bench", "ceilings", "--copy-mib", "4", "--gemm", "8,8,8", "--device-gemm", "32", "--repeats", "1", "--json"]

    /// `ceilings --json`: memcpy and sgemm always; every OpenCL device's four ceilings when OpenCL
    /// is there.
    @Test func ceilingsMeasuresCPUAndEveryDevice() throws {
        let result = try CLIRunner.run(Self.smallCeilings)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let object = try #require(try Self.jsonObjects(result.stdout).first)
        let cpu = try #require(object["cpu"] as? [[String: Any]])
        #expect(cpu.map { $0["kind"] as? String ?? "" } == ["memcpy", "sgemm"])
        #expect(cpu.allSatisfy { ($0["value"] as? Double ?? 0) > 0 })
        let opencl = try #require(object["opencl"] as? [[String: Any]])
        if Backends.openCLAvailable {
            #expect(!opencl.isEmpty)
            for device in opencl {
                let kinds = Set((device["ceilings"] as? [[String: Any]] ?? []).map { $0["kind"] as? String ?? "" })
                #expect(kinds == ["device-copy", "device-sgemm", "host-to-device", "device-to-host"], "\(device["problems"] ?? "")")
            }
        } else {
            #expect(opencl.isEmpty && object["opencl_unavailable"] is String)
        }
    }

    /// Sizes that would overflow or allocate tens of gigabytes are refused with exit 2 before
    /// anything is measured.
    @Test func ceilingsRefusesHugeSizes() throws {
        for arguments in [
            ["--device-gemm", "100000"], ["--device-gemm", "0"], ["--gemm", "100000,100000,8"], ["--gemm", "8,16,\(Int.max)"],
            ["--gemm", "65536,8,65536"], ["--copy-mib", "65536"], ["--copy-mib", "0"],
        ] {
            let bad = try CLIRunner.run(Self.smallCeilings + arguments)
            #expect(bad.status == 2, "\(arguments): \(bad.status) \(bad.stderr)")
            #expect(!bad.stderr.isEmpty, "\(arguments)")
        }
    }

    /// Without OpenCL, ceilings, sweep and bench still work (CPU only) and say why.
    @Test func ceilingsSweepAndBenchWithoutOpenCL() throws {
        let ceilings = try CLIRunner.run(Self.smallCeilings, environment: Self.noOpenCL)
        #expect(ceilings.status == 0, "stderr: \(ceilings.stderr)")
        let object = try #require(try Self.jsonObjects(ceilings.stdout).first)
        #expect((object["opencl"] as? [Any])?.isEmpty == true)
        #expect((object["opencl_unavailable"] as? String ?? "").contains("OpenCL"))
        let table = try CLIRunner.run(["bench", "ceilings", "--copy-mib", "4", "--gemm", "8,8,8", "--repeats", "1"], environment: Self.noOpenCL)
        #expect(table.status == 0 && table.stdout.contains("memcpy") && table.stdout.contains("opencl:"), "\(table.stdout) \(table.stderr)")
        let sweep = try CLIRunner.run(
            ["bench", "sweep", "softmax", "--classes", "8,16", "--batch", "2", "--warmup", "0", "--iterations", "1", "--csv", "--vs-ceiling"],
            environment: Self.noOpenCL)
        #expect(sweep.status == 0, "stderr: \(sweep.stderr)")
        #expect(sweep.stdout.split(separator: "\n").count == 3)
        let bench = try CLIRunner.run(["bench", "softmax"] + Self.tiny + ["--json"], environment: Self.noOpenCL)
        #expect(bench.status == 0 && bench.stdout.contains("\"backend\":\"cpu\""), "\(bench.stdout) \(bench.stderr)")
    }
}
