import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// `losskernels compute` end to end: results against the float64 reference on both backends,
/// refused inputs (exit 1 or 2, one message, no files), and the no-OpenCL paths.
@Suite struct CLIComputeTests {
    /// Writes `values` as a float32 .npy of `shape` into `folder`.
    private func writeNPY(_ folder: URL, _ name: String, shape: [Int], _ values: [Float]) throws -> String {
        let url = folder.appendingPathComponent(name)
        try Data(NPYFile.encode(NPYArray(shape: shape, float32: values))).write(to: url)
        return url.path
    }

    private func readFloats(_ path: String) throws -> (shape: [Int], values: [Float]) {
        let array = try NPYFile.read(path: path)
        guard case .float32(let values) = array.elements else { throw CommandFailure("not float32") }
        return (array.shape, values)
    }

    struct CommandFailure: Error { let message: String; init(_ m: String) { message = m } }

    private func newFiles(_ folder: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
    }

    @Test(arguments: [("cpu", "softmax"), ("cpu", "log-softmax"), ("opencl", "softmax"), ("opencl", "log-softmax")])
    func computeMatchesReference(backend: String, operation: String) throws {
        if backend == "opencl" { try Backends.requireOpenCL() }
        let folder = try CLIRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var rng = TestRNG(seed: 7)
        let (rows, columns) = (5, 37)
        var logits = TestData.logits(rows: rows, columns: columns, scale: 50, maskProbability: 0.1, rng: &rng)
        logits[3 * columns..<4 * columns] = ArraySlice(repeating: -.infinity, count: columns)
        let grad = TestData.normal(rows * columns, rng: &rng)
        let z = try writeNPY(folder, "z.npy", shape: [rows, columns], logits)
        let g = try writeNPY(folder, "g.npy", shape: [rows, columns], grad)
        let out = folder.appendingPathComponent("out/nested")
        let result = try CLIRunner.run(["compute", operation, "--logits", z, "--grad-output", g, "--output-dir", out.path, "--backend", backend])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let logarithm = operation == "log-softmax"
        let y = try readFloats(out.appendingPathComponent(logarithm ? "log_probs.npy" : "probs.npy").path)
        #expect(y.shape == [rows, columns])
        let reference = logarithm ? Reference.logSoftmax(logits, rows: rows, columns: columns) : Reference.softmax(logits, rows: rows, columns: columns)
        expectClose(y.values, reference, "\(operation) on \(backend) through compute")
        let dz = try readFloats(out.appendingPathComponent("grad_logits.npy").path)
        let referenceGrad =
            logarithm
            ? Reference.logSoftmaxBackward(logProbabilities: y.values, gradOutput: grad, rows: rows, columns: columns)
            : Reference.softmaxBackward(probabilities: y.values, gradOutput: grad, rows: rows, columns: columns)
        expectClose(dz.values, referenceGrad, "\(operation) backward on \(backend) through compute")
    }

    @Test func oneDimensionalLogitsAreOneRow() throws {
        let folder = try CLIRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let logits: [Float] = [0.5, -1, 3, 2]
        let z = try writeNPY(folder, "z.npy", shape: [4], logits)
        let result = try CLIRunner.run(["compute", "softmax", "--logits", z, "--output-dir", folder.path, "--backend", "cpu"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let y = try readFloats(folder.appendingPathComponent("probs.npy").path)
        #expect(y.shape == [4])
        expectClose(y.values, Reference.softmax(logits, rows: 1, columns: 4), "1-d softmax")
    }

    /// Each refused input: the exit status, a word the message must contain, and no result files.
    @Test func refusedInputsLeaveNothingBehind() throws {
        let folder = try CLIRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = try writeNPY(folder, "good.npy", shape: [2, 3], [1, 2, 3, 4, 5, 6])
        let other = try writeNPY(folder, "other.npy", shape: [3, 2], [1, 2, 3, 4, 5, 6])
        let labels = folder.appendingPathComponent("labels.npy")
        try Data(NPYFile.encode(NPYArray(shape: [2, 3], int64: [1, 2, 3, 4, 5, 6]))).write(to: labels)
        let text = folder.appendingPathComponent("text.npy")
        try Data("hello, not numpy".utf8).write(to: text)
        let plainFile = folder.appendingPathComponent("plain-file")
        try Data("x".utf8).write(to: plainFile)
        let out = folder.appendingPathComponent("out").path
        let cases: [(arguments: [String], status: Int32, word: String)] = [
            (["compute", "softmax", "--logits", folder.appendingPathComponent("missing.npy").path, "--output-dir", out], 1, "missing.npy"),
            (["compute", "softmax", "--logits", labels.path, "--output-dir", out], 1, "floats"),
            (["compute", "softmax", "--logits", text.path, "--output-dir", out], 1, "magic"),
            (["compute", "softmax", "--logits", good, "--grad-output", other, "--output-dir", out], 1, "grad-output"),
            (["compute", "softmax", "--logits", good, "--output-dir", plainFile.appendingPathComponent("sub").path], 1, "plain-file"),
            (["compute", "softmax", "--logits", good, "--output-dir", out, "--backend", "gpu"], 2, "backend"),
            (["compute", "no-such-op", "--logits", good, "--output-dir", out], 2, "no-such-op"),
            (["compute", "softmax", "--output-dir", out], 2, "logits"),
            (["compute", "softmax", "--logits", good], 2, "output-dir"),
        ]
        for c in cases {
            let result = try CLIRunner.run(c.arguments)
            #expect(result.status == c.status, "\(c.arguments): status \(result.status), stderr: \(result.stderr)")
            #expect(result.stderr.contains(c.word), "\(c.arguments): message lacks '\(c.word)': \(result.stderr)")
            #expect(!result.stderr.contains("Fatal error"), "\(c.arguments) crashed: \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "\(c.arguments) left an output folder")
        }
        #expect(newFiles(folder) == ["good.npy", "labels.npy", "other.npy", "plain-file", "text.npy"])
    }

    /// No loader library: auto computes on the CPU, explicit opencl exits 1 saying why, devices exits 0.
    @Test(arguments: [
        ["LOSSKERNELS_OPENCL_LIBRARY": "/nonexistent/libOpenCL.so.1"],
        ["OCL_ICD_VENDORS": "/nonexistent-icd-folder", "OCL_ICD_FILENAMES": ""],
    ])
    func withoutOpenCL(environment: [String: String]) throws {
        let folder = try CLIRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let logits: [Float] = [1, 2, 3, 4, 5, 6]
        let z = try writeNPY(folder, "z.npy", shape: [2, 3], logits)
        let auto = try CLIRunner.run(
            ["compute", "softmax", "--logits", z, "--output-dir", folder.appendingPathComponent("a").path, "--backend", "auto"],
            environment: environment.merging(["LOSSKERNELS_OPENCL_DEVICE_TYPE": "any", "LOSSKERNELS_OFFLOAD_MIN_ELEMENTS": "0"]) { $1 })
        #expect(auto.status == 0, "stderr: \(auto.stderr)")
        let y = try readFloats(folder.appendingPathComponent("a/probs.npy").path)
        expectClose(y.values, Reference.softmax(logits, rows: 2, columns: 3), "auto without OpenCL")
        let explicit = try CLIRunner.run(
            ["compute", "softmax", "--logits", z, "--output-dir", folder.appendingPathComponent("b").path, "--backend", "opencl"], environment: environment)
        #expect(explicit.status == 1)
        #expect(explicit.stderr.contains("OpenCL is unavailable"), "\(explicit.stderr)")
        #expect(explicit.stderr.split(separator: "\n").count == 1, "one line: \(explicit.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("b").path))
        let devices = try CLIRunner.run(["devices", "--json"], environment: environment)
        #expect(devices.status == 0)
        let report = try JSONSerialization.jsonObject(with: Data(devices.stdout.utf8)) as? [String: Any]
        #expect(report?["opencl_available"] as? Bool == false)
        #expect((report?["opencl_unavailable_reason"] as? String)?.isEmpty == false)
    }

    @Test func devicesListsPoCLAndTheAutoChoice() throws {
        try Backends.requireOpenCL()
        let result = try CLIRunner.run(["devices", "--json"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(report["opencl_available"] as? Bool == true)
        let devices = try #require(report["opencl_devices"] as? [[String: Any]])
        #expect(!devices.isEmpty)
        #expect(devices.filter { $0["used_by_opencl"] as? Bool == true }.count == 1)
        if !Backends.hasGPUOrAccelerator {
            #expect(devices.allSatisfy { $0["used_by_auto"] as? Bool == false }, "auto must not pick a CPU OpenCL device by default")
        }
        let text = try CLIRunner.run(["devices"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("--backend auto"))
    }
}
