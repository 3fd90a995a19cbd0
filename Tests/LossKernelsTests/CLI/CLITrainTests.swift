import Foundation
import Testing

@testable import LossKernels

/// `losskernels train` and `bench train-step` at tiny shapes: the JSON fields, checkpoint and
/// resume through the command line, and bad input.
@Suite struct CLITrainTests {
    static let tiny = ["train", "--classes", "40", "--dim", "8", "--batch", "16", "--sample-rate", "0.5", "--eval-samples", "64", "--seed", "3"]

    static func json(_ result: CLIRunner.Result, _ context: String) throws -> [String: Any] {
        #expect(result.status == 0, "\(context): \(result.stderr)")
        #expect(result.stdout.split(separator: "\n").count == 1, "\(context): one JSON object: \(result.stdout)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(context)")
    }

    @Test(arguments: ["cpu", "opencl"])
    func trainReportsTheContractFields(backend: String) throws {
        if backend == "opencl" { try Backends.requireOpenCL() }
        let object = try Self.json(try CLIRunner.run(Self.tiny + ["--steps", "12", "--backend", backend, "--json"]), backend)
        for key in ["first_loss", "last_loss", "train_accuracy", "held_out_accuracy", "steps", "samples_per_second", "peak_rss_bytes"] {
            #expect(object[key] != nil, "\(backend): \(key) missing")
        }
        #expect(object["steps"] as? Int == 12)
        #expect(object["backend"] as? String == backend)
        #expect(object["sampled_classes"] as? Int == 20)
        let first = try #require(object["first_loss"] as? Double), last = try #require(object["last_loss"] as? Double)
        #expect(last < first, "\(backend): loss \(first) → \(last)")
        #expect((object["epochs"] as? [Any])?.count == 4)
        let accuracy = try #require(object["held_out_accuracy"] as? Double)
        #expect((0...1).contains(accuracy))
    }

    /// A run stopped at step 6 with --checkpoint and resumed to step 12 ends exactly like the
    /// uninterrupted 12-step run.
    @Test func checkpointAndResumeThroughTheCLI() throws {
        let folder = try CLIRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = folder.appendingPathComponent("ckpt").path
        let whole = try Self.json(try CLIRunner.run(Self.tiny + ["--steps", "12", "--epochs", "2", "--backend", "cpu", "--json"]), "whole")
        let firstHalf = try CLIRunner.run(Self.tiny + ["--steps", "12", "--epochs", "2", "--backend", "cpu", "--checkpoint", checkpoint, "--json"])
        #expect(firstHalf.status == 0, "\(firstHalf.stderr)")
        // Resume from the checkpoint of epoch 1 (iteration 6): save it apart before the run above overwrote it.
        let early = folder.appendingPathComponent("early").path
        let six = try CLIRunner.run(Self.tiny + ["--steps", "6", "--epochs", "1", "--backend", "cpu", "--checkpoint", early])
        #expect(six.status == 0, "\(six.stderr)")
        let resumed = try Self.json(
            try CLIRunner.run(Self.tiny + ["--steps", "12", "--epochs", "2", "--backend", "cpu", "--resume", early, "--json"]), "resumed")
        #expect(resumed["start_iteration"] as? Int == 6)
        #expect(resumed["steps"] as? Int == 6)
        #expect(resumed["last_loss"] as? Double == whole["last_loss"] as? Double)
        #expect(resumed["held_out_accuracy"] as? Double == whole["held_out_accuracy"] as? Double)
        let saved = try MarginSoftmaxHead(engine: Backends.cpuEngine, checkpoint: checkpoint)
        #expect(saved.iteration == 12)
    }

    @Test func badInput() throws {
        for (arguments, status) in [
            (["--sample-rate", "0"], Int32(1)), (["--learning-rate", "-1"], 1), (["--momentum", "1"], 1),
            (["--steps", "0"], 2), (["--classes", "0"], 2), (["--resume", "/nonexistent/ckpt"], 1),
            // Inputs that would allocate gigabytes (or overflow) before the first step.
            (["--steps", "1000000", "--batch", "1024", "--epochs", "1"], 2), (["--eval-samples", "2000000"], 2),
            (["--eval-samples", "1048576", "--dim", "512"], 2), (["--batch", "1048576", "--dim", "1024"], 2),
            (["--dim", "4611686018427387904"], 2), (["--classes", "3", "--dim", "\(Int.max / 2)"], 2),
        ] {
            let result = try CLIRunner.run(Self.tiny + ["--steps", "2", "--backend", "cpu"] + arguments)
            #expect(result.status == status, "\(arguments): \(result.status) \(result.stderr)")
            #expect(!result.stderr.isEmpty && (status == 2 || result.stderr.split(separator: "\n").count == 1), "\(arguments): \(result.stderr)")
        }
    }

    @Test(arguments: ["cpu", "opencl"])
    func benchTrainStep(backend: String) throws {
        if backend == "opencl" { try Backends.requireOpenCL() }
        let result = try CLIRunner.run([
            "bench", "train-step", "--batch", "8", "--classes", "100", "--dim", "16", "--sample-rate", "0.25",
            "--warmup", "1", "--iterations", "2", "--backend", backend, "--json",
        ])
        let object = try Self.json(result, backend)
        #expect(Set(object.keys) == CLIBenchTests.contractFields(backend: backend).union(["samples_per_second"]))
        #expect(object["op"] as? String == "train-step")
        #expect(object["flops"] as? Int == 3 * 2 * 8 * 25 * 16)
        let median = try #require(object["median_seconds"] as? Double)
        let rate = try #require(object["samples_per_second"] as? Double)
        #expect(abs(rate - 8 / median) <= 1e-6 * rate)
    }

    /// `--vs-ceiling` compares train-step with OpenBLAS's GEMMs over the classes the step really
    /// samples (those its FLOP count spans: at a tiny rate, at least the batch's distinct labels),
    /// not ⌈r·C⌉.
    @Test func benchTrainStepCeilingSpansTheSampledClasses() throws {
        let (b, d) = (8, 16)
        let result = try CLIRunner.run([
            "bench", "train-step", "--batch", "\(b)", "--classes", "100", "--dim", "\(d)", "--sample-rate", "0.01",
            "--warmup", "1", "--iterations", "1", "--backend", "cpu", "--vs-ceiling", "--json",
        ])
        let object = try Self.json(result, "vs-ceiling")
        let flops = try #require(object["flops"] as? Int)
        let sampled = flops / (3 * 2 * b * d)
        #expect(sampled > 1, "the batch's labels are sampled: \(sampled)")
        let ceiling = try #require(object["ceiling"] as? [String: Any])
        let method = try #require(ceiling["method"] as? String)
        #expect(method.contains("B=\(b) D=\(d) C=\(sampled),"), "\(method)")
    }
}
