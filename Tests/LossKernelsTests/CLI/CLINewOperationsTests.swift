import Foundation
import Testing

@testable import LossKernels

/// The four operations added with the operation table — cross-entropy with probability targets,
/// BCE with element weights and pos_weight, kl-div and nll — through `compute` (against the library
/// called in-process, itself checked against the references by the Losses suites) and `bench`, and
/// their bad input refused.
@Suite struct CLINewOperationsTests {
    typealias Workspace = CLILossComputeTests.Workspace

    static func compute(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try CLIRunner.run(["compute"] + arguments)
        #expect(result.status == 0, "\(arguments): stderr: \(result.stderr)", sourceLocation: sourceLocation)
    }

    @Test(arguments: ["cpu", "opencl"])
    func computeMatchesTheLibrary(backend: String) throws {
        if backend == "opencl" { try Backends.requireOpenCL() }
        let ws = try Workspace()
        defer { ws.remove() }
        var rng = TestRNG(seed: 91)
        let (b, c) = (5, 7)
        let z = TestData.normal(b * c, rng: &rng).map { $0 * 3 }
        let probabilities = (0..<(b * c)).map { _ in Float(abs(rng.normal())) }
        let logProbabilities = try Engine(policy: .cpu).logSoftmax(Matrix(rows: b, columns: c, values: z)).values
        let targets = probabilities.map { min($0 / 3, 1) }
        let labels = [0, 6, 2, 2, 4], weights = (0..<c).map { Float($0 + 1) / 4 }
        let fz = try ws.floats("z.npy", [b, c], z), fp = try ws.floats("p.npy", [b, c], probabilities), fx = try ws.floats("x.npy", [b, c], logProbabilities)
        let ft = try ws.floats("t.npy", [b, c], targets), fl = try ws.labels("y.npy", [b], labels), fw = try ws.floats("w.npy", [c], weights)
        let library = try Engine(policy: .cpu)
        let zm = try Matrix(rows: b, columns: c, values: z), xm = try Matrix(rows: b, columns: c, values: logProbabilities)

        try Self.compute([
            "cross-entropy", "--logits", fz, "--target-probs", fp, "--class-weights", fw, "--label-smoothing", "0.1",
            "--output-dir", ws.path("ce"), "--backend", backend,
        ])
        let ce = try library.crossEntropy(
            logits: zm, targetProbabilities: Matrix(rows: b, columns: c, values: probabilities), classWeights: weights, labelSmoothing: 0.1)
        expectClose(try ws.read(ws.path("ce"), "loss.npy").values, ce.loss.map(Double.init), "probability cross-entropy loss")
        expectClose(try ws.read(ws.path("ce"), "grad_logits.npy").values, ce.gradient.values.map(Double.init), "probability cross-entropy gradient")

        try Self.compute([
            "bce-with-logits", "--logits", fz, "--targets", ft, "--element-weights", fw, "--pos-weight", fw, "--reduction", "none",
            "--output-dir", ws.path("bce"), "--backend", backend,
        ])
        let bce = try library.binaryCrossEntropyWithLogits(
            logits: zm, targets: Matrix(rows: b, columns: c, values: targets),
            weight: Matrix(rows: 1, columns: c, values: weights), posWeight: weights, reduction: .none)
        #expect(try ws.read(ws.path("bce"), "loss.npy").shape == [b, c])
        expectClose(try ws.read(ws.path("bce"), "loss.npy").values, bce.loss.map(Double.init), "weighted BCE losses")
        expectClose(try ws.read(ws.path("bce"), "grad_logits.npy").values, bce.gradient.values.map(Double.init), "weighted BCE gradient")

        try Self.compute(["nll", "--log-probs", fx, "--labels", fl, "--class-weights", fw, "--output-dir", ws.path("nll"), "--backend", backend])
        let nll = try library.nllLoss(logProbabilities: xm, labels: labels, classWeights: weights)
        expectClose(try ws.read(ws.path("nll"), "loss.npy").values, nll.loss.map(Double.init), "nll loss")
        expectClose(try ws.read(ws.path("nll"), "grad_log_probs.npy").values, nll.gradient.values.map(Double.init), "nll gradient")

        for (arguments, reduction, logTarget) in [([String](), KLDivReduction.mean, false), (["--reduction", "batchmean", "--log-target"], .batchMean, true)] {
            let out = ws.path("kl-\(reduction.rawValue)")
            try Self.compute(["kl-div", "--log-probs", fx, "--targets", logTarget ? fx : ft] + arguments + ["--output-dir", out, "--backend", backend])
            let kl = try library.klDivLoss(
                logProbabilities: xm, targets: logTarget ? xm : Matrix(rows: b, columns: c, values: targets), logTarget: logTarget,
                reduction: reduction)
            expectClose(try ws.read(out, "loss.npy").values, kl.loss.map(Double.init), "kl-div \(reduction) loss")
            expectClose(try ws.read(out, "grad_log_probs.npy").values, kl.gradient.values.map(Double.init), "kl-div \(reduction) gradient")
        }
    }

    /// batchmean divides by the first dimension of a rank-3 file, as PyTorch.
    @Test func klDivBatchMeanDividesByTheFirstDimension() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let x = [Float](repeating: -1, count: 12), t = [Float](repeating: 0.5, count: 12)
        let fx = try ws.floats("x.npy", [2, 3, 2], x), ft = try ws.floats("t.npy", [2, 3, 2], t)
        try Self.compute(["kl-div", "--log-probs", fx, "--targets", ft, "--reduction", "batchmean", "--output-dir", ws.path("o"), "--backend", "cpu"])
        let each = 0.5 * (log(0.5) + 1)
        expectClose(try ws.read(ws.path("o"), "loss.npy").values, [12 * each / 2], "Σ/B with B = 2")
        #expect(try ws.read(ws.path("o"), "grad_log_probs.npy").shape == [2, 3, 2])
    }

    @Test func badInputIsRefused() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let z = try ws.floats("z.npy", [2, 3], [1, 2, 3, 4, 5, 6])
        let negative = try ws.floats("neg.npy", [2, 3], [0.5, 0.5, 0, 0, -0.25, 1])
        let t = try ws.floats("t.npy", [2, 3], [0, 1, 0.5, 1, 0, 1]), tRange = try ws.floats("tr.npy", [2, 3], [0, 1, 0.5, 1, 2, 1])
        let pw2 = try ws.floats("pw2.npy", [2], [1, 1]), ew = try ws.floats("ew.npy", [3, 2], [1, 1, 1, 1, 1, 1])
        let logT = try ws.floats("lt.npy", [2, 3], [0, -1, .nan, -2, -3, -1]), y = try ws.labels("y.npy", [2], [2, 0]),
            yOut = try ws.labels("yo.npy", [2], [3, 0])
        let out = ws.path("out")
        let cases: [([String], Int32, [String])] = [
            (["cross-entropy", "--logits", z, "--target-probs", negative], 1, ["targetProbabilities", "-0.25"]),
            (["cross-entropy", "--logits", z, "--target-probs", t, "--ignore-index", "1"], 2, ["--ignore-index", "--target-probs"]),
            (["cross-entropy", "--logits", z, "--target-probs", t, "--labels", y], 2, ["--labels", "--target-probs"]),
            (["cross-entropy", "--logits", z, "--reduction", "batchmean", "--labels", y], 2, ["--reduction", "batchmean"]),
            (["bce-with-logits", "--logits", z, "--targets", tRange], 1, ["targets", "2"]),
            (["bce-with-logits", "--logits", z, "--targets", t, "--pos-weight", pw2], 1, ["pw2.npy", "pos-weight"]),
            (["bce-with-logits", "--logits", z, "--targets", t, "--element-weights", ew], 1, ["ew.npy", "element-weights"]),
            (["kl-div", "--log-probs", z, "--targets", logT, "--log-target"], 1, ["targets", "nan"]),
            (["kl-div", "--log-probs", z, "--targets", negative], 1, ["targets", "-0.25"]),
            (["kl-div", "--log-probs", z, "--targets", t, "--reduction", "average"], 2, ["--reduction"]),
            (["nll", "--log-probs", z, "--labels", yOut], 1, ["labels", "3"]),
            (["nll", "--log-probs", z, "--labels", y, "--label-smoothing", "0.1"], 2, ["--label-smoothing", "nll"]),
            (["nll", "--log-probs", z], 2, ["--labels"]),
        ]
        for (arguments, status, words) in cases {
            let result = try CLIRunner.run(["compute"] + arguments + ["--output-dir", out, "--backend", "cpu"])
            #expect(result.status == status, "\(arguments): \(result.status) \(result.stderr)")
            for word in words { #expect(result.stderr.lowercased().contains(word.lowercased()), "\(arguments): message lacks '\(word)': \(result.stderr)") }
            #expect(!FileManager.default.fileExists(atPath: out), "\(arguments) left files")
        }
    }

    @Test(arguments: ["nll", "kl-div"], ["cpu", "opencl"])
    func benchRunsTheNewOperations(operation: String, backend: String) throws {
        if backend == "opencl" { try Backends.requireOpenCL() }
        let result = try CLIRunner.run([
            "bench", operation, "--batch", "4", "--classes", "30", "--warmup", "0", "--iterations", "1", "--backend", backend, "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["op"] as? String == operation && object["backend"] as? String == backend)
        #expect((object["bytes"] as? Int ?? 0) >= 2 * 4 * 30 * 4)
    }
}
