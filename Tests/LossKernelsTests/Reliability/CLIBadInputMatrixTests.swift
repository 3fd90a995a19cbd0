import Foundation
import Testing

@testable import LossKernels

/// Every `compute` operation against the broad set of bad files and values: each is refused with
/// exit 1 and a message naming the file (or tensor), and no output is written.
@Suite struct CLIBadInputMatrixTests {
    /// A .npy file with any header (version 1.0), for files NPYFile itself would never write.
    static func npy(descr: String, fortran: Bool = false, shape: String, payload: [UInt8]) -> [UInt8] {
        var dict = Array("{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }".utf8)
        let padding = 64 - ((10 + dict.count + 1) % 64)
        dict += Array(repeating: UInt8(ascii: " "), count: padding) + [UInt8(ascii: "\n")]
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(dict.count & 0xff), UInt8(dict.count >> 8)] + dict + payload
    }

    static func floats(_ values: [Float]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }

    /// Bad versions of a float [2, 3] input: (file name, bytes, a word the message must contain).
    static let badFloatFiles: [(String, [UInt8], String)] = [
        ("half.npy", npy(descr: "<f2", shape: "(2, 3)", payload: [UInt8](repeating: 0, count: 12)), "half.npy"),
        ("bigendian.npy", npy(descr: ">f4", shape: "(2, 3)", payload: [UInt8](repeating: 0, count: 24)), "big-endian"),
        ("fortran.npy", npy(descr: "<f4", fortran: true, shape: "(2, 3)", payload: floats([1, 2, 3, 4, 5, 6])), "Fortran"),
        ("truncated.npy", Array(npy(descr: "<f4", shape: "(2, 3)", payload: floats([1, 2, 3, 4, 5, 6])).dropLast(5)), "truncated.npy"),
        ("headeronly.npy", npy(descr: "<f4", shape: "(2, 3)", payload: []), "headeronly.npy"),
        ("larger.npy", npy(descr: "<f4", shape: "(20, 3)", payload: floats([1, 2, 3, 4, 5, 6])), "larger.npy"),
        ("text.npy", Array("not a numpy file at all".utf8), "magic"),
        ("empty.npy", [], "empty.npy"),
        ("scalar.npy", npy(descr: "<f4", shape: "()", payload: floats([1])), "scalar.npy"),
        ("labels-as-input.npy", npy(descr: "<i8", shape: "(2, 3)", payload: [UInt8](repeating: 0, count: 48)), "labels-as-input.npy"),
    ]

    /// Each operation's valid inputs: (flag, shape kind). Kinds: m = float [2, 3], w = float [4, 3],
    /// l = labels [2], s = 0/1 flags [2], t = targets in [0, 1] [2, 3].
    static let operations: [(String, [(String, Character)])] = [
        ("softmax", [("logits", "m")]),
        ("log-softmax", [("logits", "m")]),
        ("cross-entropy", [("logits", "m"), ("labels", "l")]),
        ("focal", [("logits", "m"), ("labels", "l")]),
        ("sigmoid-focal", [("logits", "m"), ("targets", "t")]),
        ("bce-with-logits", [("logits", "m"), ("targets", "t")]),
        ("margin-softmax", [("features", "m"), ("weights", "w"), ("labels", "l")]),
        ("mse", [("predictions", "m"), ("targets", "m")]),
        ("l1", [("predictions", "m"), ("targets", "m")]),
        ("smooth-l1", [("predictions", "m"), ("targets", "m")]),
        ("huber", [("predictions", "m"), ("targets", "m")]),
        ("msle", [("predictions", "m"), ("targets", "m")]),
        ("mape", [("predictions", "m"), ("targets", "m")]),
        ("contrastive", [("left", "m"), ("right", "m"), ("similar", "s")]),
        ("triplet", [("anchors", "m"), ("positives", "m"), ("negatives", "m")]),
        ("triplet-mined", [("embeddings", "m"), ("labels", "l")]),
        ("center", [("features", "m"), ("labels", "l"), ("centers", "w")]),
    ]

    static func write(_ folder: URL, _ name: String, _ bytes: [UInt8]) throws -> String {
        let url = folder.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    static func validFile(_ folder: URL, _ kind: Character) throws -> String {
        switch kind {
        case "m": return try write(folder, "m.npy", NPYFile.encode(NPYArray(shape: [2, 3], float32: [0.1, -0.2, 0.3, 0.4, 0.5, -0.6])))
        case "w": return try write(folder, "w.npy", NPYFile.encode(NPYArray(shape: [4, 3], float32: (0..<12).map { Float($0) * 0.1 - 0.5 })))
        case "l": return try write(folder, "l.npy", NPYFile.encode(NPYArray(shape: [2], int64: [0, 1])))
        case "s": return try write(folder, "s.npy", NPYFile.encode(NPYArray(shape: [2], int64: [1, 0])))
        default: return try write(folder, "t.npy", NPYFile.encode(NPYArray(shape: [2, 3], float32: [0, 1, 0.5, 1, 0, 0.25])))
        }
    }

    @Test(arguments: operations.map(\.0), ["cpu", "opencl"])
    func everyBadFileIsRefused(operation: String, backend: String) throws {
        if backend == "opencl" { try Backends.requireOpenCL() }
        let folder = try CLIRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputs = Self.operations.first { $0.0 == operation }!.1
        let valid = try inputs.map { ($0.0, try Self.validFile(folder, $0.1)) }
        let out = folder.appendingPathComponent("out").path
        // Sanity: the valid inputs compute.
        let good = try CLIRunner.run(
            ["compute", operation] + valid.flatMap { ["--\($0.0)", $0.1] } + ["--output-dir", folder.appendingPathComponent("good").path, "--backend", backend])
        #expect(good.status == 0, "\(operation) with valid inputs: \(good.stderr)")
        // Each bad file in place of each float input; the missing file in place of every input.
        var substitutions: [(Int, String, String)] = []
        for (index, input) in inputs.enumerated() {
            let kind = Self.operations.first { $0.0 == operation }!.1[index].1
            if kind == "m" || kind == "w" || kind == "t" {
                // A 0-d array is a valid input of the elementwise losses (any rank).
                let elementwise = ["sigmoid-focal", "bce-with-logits", "mse", "l1", "smooth-l1", "huber", "msle", "mape"].contains(operation)
                for (name, bytes, word) in Self.badFloatFiles where !(elementwise && name == "scalar.npy") {
                    substitutions.append((index, try Self.write(folder, "\(input.0)-\(name)", bytes), word))
                }
            }
            substitutions.append((index, folder.appendingPathComponent("missing-\(input.0).npy").path, "missing-\(input.0).npy"))
        }
        for (index, path, word) in substitutions {
            var arguments = ["compute", operation]
            for (i, input) in valid.enumerated() { arguments += ["--\(input.0)", i == index ? path : input.1] }
            let result = try CLIRunner.run(arguments + ["--output-dir", out, "--backend", backend])
            #expect(result.status == 1, "\(operation) --\(valid[index].0) \((path as NSString).lastPathComponent): status \(result.status) \(result.stderr)")
            #expect(
                result.stderr.contains(word) || result.stderr.contains((path as NSString).lastPathComponent),
                "\(operation): message lacks \(word): \(result.stderr)")
            #expect(!result.stderr.contains("Fatal error"))
            #expect(!FileManager.default.fileExists(atPath: out), "\(operation) left an output folder")
        }
    }

    /// Label files: floats, negative labels, out-of-range labels, a count that does not match, 2-d.
    @Test(arguments: operations.filter { $0.1.contains { $0.1 == "l" } }.map(\.0))
    func badLabelsAreRefused(operation: String) throws {
        let folder = try CLIRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputs = Self.operations.first { $0.0 == operation }!.1
        let out = folder.appendingPathComponent("out").path
        let badLabels: [(String, [UInt8], String)] = [
            ("float-labels.npy", NPYFile.encode(NPYArray(shape: [2], float32: [0, 1])), "integers"),
            ("negative.npy", NPYFile.encode(NPYArray(shape: [2], int64: [0, -3])), "-3"),
            ("toolarge.npy", NPYFile.encode(NPYArray(shape: [2], int64: [0, 99])), "99"),
            ("count.npy", NPYFile.encode(NPYArray(shape: [3], int64: [0, 1, 0])), "count.npy"),
            ("twod.npy", NPYFile.encode(NPYArray(shape: [2, 1], int64: [0, 1])), "twod.npy"),
        ]
        // Mined triplets take any non-negative integer labels (there is no class count).
        for (name, bytes, word) in badLabels where !(operation == "triplet-mined" && name == "toolarge.npy") {
            let bad = try Self.write(folder, name, bytes)
            var arguments = ["compute", operation]
            for input in inputs { arguments += ["--\(input.0)", input.1 == "l" ? bad : try Self.validFile(folder, input.1)] }
            let result = try CLIRunner.run(arguments + ["--output-dir", out, "--backend", "cpu"])
            #expect(result.status == 1, "\(operation) with \(name): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains(word), "\(operation) with \(name): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }

    /// An output folder that is a regular file, for every operation.
    @Test(arguments: operations.map(\.0))
    func outputFolderThatIsAFile(operation: String) throws {
        let folder = try CLIRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = try Self.write(folder, "plain-file", [1, 2, 3])
        var arguments = ["compute", operation]
        for input in Self.operations.first(where: { $0.0 == operation })!.1 { arguments += ["--\(input.0)", try Self.validFile(folder, input.1)] }
        let result = try CLIRunner.run(arguments + ["--output-dir", file, "--backend", "cpu"])
        #expect(result.status == 1, "\(operation): \(result.status) \(result.stderr)")
        #expect(result.stderr.contains("plain-file"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == Data([1, 2, 3]))
    }
}
