import Foundation
import Testing

@testable import LossKernels

/// `losskernels bench` smoke tests on tiny shapes: the JSON contract of docs/CLI.md.
@Suite struct CLIBenchTests {
    /// The JSON fields of docs/CLI.md (`device_resident`, saying what was timed, joined them with
    /// the one operation table).
    static let contractFields: Set<String> = [
        "op", "backend", "device", "pass", "batch", "classes", "dim", "elements", "iterations",
        "median_seconds", "min_seconds", "max_seconds", "bytes", "flops", "gb_per_second",
        "gflop_per_second", "peak_rss_bytes", "device_resident",
    ]

    /// The fields of a result that ran on `backend`: the contract's, plus `opencl_per_call` on OpenCL.
    static func contractFields(backend: String?) -> Set<String> {
        backend == "opencl" ? contractFields.union(["opencl_per_call"]) : contractFields
    }

    @Test(arguments: ["softmax", "log-softmax", "logsumexp"], ["cpu", "opencl"])
    func jsonHasTheContractFields(operation: String, backend: String) throws {
        if backend == "opencl" { try Backends.requireOpenCL() }
        let result = try CLIRunner.run([
            "bench", operation, "--batch", "3", "--classes", "50", "--warmup", "1", "--iterations", "2", "--backend", backend, "--json", "--pass", "both",
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 1, "exactly one JSON object: \(result.stdout)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(Set(object.keys) == Self.contractFields(backend: object["backend"] as? String))
        #expect(object["backend"] as? String == backend)
        #expect(object["op"] as? String == operation)
        #expect(object["elements"] as? Int == 150)
        #expect(object["iterations"] as? Int == 2)
        let bytes = try #require(object["bytes"] as? Int)
        let expectedBytes = operation == "logsumexp" ? (2 * 150 + 3 * 3) * 4 : 5 * 150 * 4
        #expect(bytes == expectedBytes)
        let median = try #require(object["median_seconds"] as? Double)
        #expect(median > 0)
        #expect((object["peak_rss_bytes"] as? Int ?? 0) > 0)
    }

    /// Every operation of docs/CLI.md (margin-softmax with each head) on both backends:
    /// exactly one JSON object with exactly the contract's fields, on the backend asked for.
    static let allOperations: [[String]] =
        [
            ["softmax"], ["log-softmax"], ["logsumexp"], ["cross-entropy"], ["focal"], ["sigmoid-focal"], ["bce-with-logits"],
            ["mse"], ["l1"], ["smooth-l1"], ["huber"], ["msle"], ["mape"], ["contrastive"], ["triplet"], ["triplet-mined"], ["center"],
        ] + ["normalized", "cosface", "arcface", "combined", "sphereface", "large-margin"].map { ["margin-softmax", "--head", $0] }

    @Test(arguments: allOperations, ["cpu", "opencl"])
    func everyOperationHasTheContractFields(operation: [String], backend: String) throws {
        if backend == "opencl" { try Backends.requireOpenCL() }
        let result = try CLIRunner.run(
            ["bench"] + operation + [
                "--batch", "4", "--classes", "8", "--dim", "4", "--elements", "64",
                "--warmup", "0", "--iterations", "1", "--backend", backend, "--json",
            ])
        #expect(result.status == 0, "\(operation) \(backend) stderr: \(result.stderr)")
        #expect(result.stdout.split(separator: "\n").count == 1, "exactly one JSON object: \(result.stdout)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(Set(object.keys) == Self.contractFields(backend: object["backend"] as? String))
        #expect(object["op"] as? String == operation[0])
        #expect(object["backend"] as? String == backend)
        #expect((object["bytes"] as? Int ?? 0) > 0)
        #expect((object["median_seconds"] as? Double ?? 0) > 0)
        if operation[0] == "margin-softmax" || operation[0] == "triplet-mined" { #expect((object["flops"] as? Int ?? 0) > 0) }
    }

    @Test func deviceResidentRunsOnOpenCL() throws {
        try Backends.requireOpenCL()
        let result = try CLIRunner.run([
            "bench", "softmax", "--batch", "2", "--classes", "100", "--iterations", "2", "--warmup", "0", "--backend", "opencl", "--device-resident", "--json",
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(object?["backend"] as? String == "opencl")
    }

    @Test func readableTableAndArgumentErrors() throws {
        let table = try CLIRunner.run(["bench", "softmax", "--batch", "2", "--classes", "10", "--iterations", "1", "--warmup", "0", "--backend", "cpu"])
        #expect(table.status == 0)
        #expect(table.stdout.contains("median"))
        for arguments in [
            ["bench", "softmax", "--batch", "0"], ["bench", "softmax", "--iterations", "0"], ["bench", "nope"],
            ["bench", "softmax", "--device-resident", "--backend", "cpu"],
            ["bench", "softmax", "--warmup", "-1"], ["bench", "softmax", "--warmup-seconds", "-1"], ["bench", "softmax", "--warmup-seconds", "inf"],
            ["bench", "train-step", "--pass", "forward"],
        ] {
            let result = try CLIRunner.run(arguments)
            #expect(result.status == 2, "\(arguments): \(result.status) \(result.stderr)")
            #expect(!result.stderr.isEmpty)
        }
    }

    @Test(arguments: [
        ["--help"], ["compute", "--help"], ["bench", "--help"], ["devices", "--help"], ["help", "compute"],
        ["bench", "ceilings", "--help"], ["bench", "sweep", "--help"], ["verify", "--help"],
    ])
    func helpExitsZeroOnStdout(arguments: [String]) throws {
        let result = try CLIRunner.run(arguments)
        #expect(result.status == 0, "\(arguments): \(result.status) \(result.stderr)")
        #expect(result.stdout.contains("USAGE"), "\(arguments): \(result.stdout)")
    }
}
