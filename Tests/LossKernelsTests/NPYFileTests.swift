import Foundation
import Testing

@testable import LossKernels

@Suite struct NPYFileTests {
    // MARK: - Fixture helpers

    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]

    /// Builds .npy bytes by hand: magic, version, header length (UInt16 LE for 1.0, UInt32 LE
    /// otherwise), the header text as given (no padding needed for reading), then `data`.
    static func fixture(version: (UInt8, UInt8) = (1, 0), header: String, data: [UInt8] = []) -> [UInt8] {
        let text = Array(header.utf8)
        var bytes = magic + [version.0, version.1]
        if version.0 == 1 {
            bytes += [UInt8(text.count & 0xFF), UInt8(text.count >> 8)]
        } else {
            bytes += (0..<4).map { UInt8((text.count >> (8 * $0)) & 0xFF) }
        }
        return bytes + text + data
    }

    static func header(_ descr: String, _ shape: String, fortran: String = "False") -> String {
        "{'descr': '\(descr)', 'fortran_order': \(fortran), 'shape': \(shape), }\n"
    }

    static func littleEndian<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        values.flatMap { value in (0..<MemoryLayout<T>.size).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
    }

    static func bytes(f32 values: [Float]) -> [UInt8] { littleEndian(values.map(\.bitPattern)) }
    static func bytes(f64 values: [Double]) -> [UInt8] { littleEndian(values.map(\.bitPattern)) }

    /// Decodes `bytes`, expects `.unreadableFile` naming the fixture, and returns its reason.
    static func refusal(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> String {
        let error = #expect(throws: LossKernelsError.self, sourceLocation: sourceLocation) {
            try NPYFile.decode(bytes, name: "fixture.npy")
        }
        guard case let .unreadableFile(file, reason)? = error else {
            Issue.record("expected .unreadableFile, got \(String(describing: error))", sourceLocation: sourceLocation)
            return ""
        }
        #expect(file == "fixture.npy", sourceLocation: sourceLocation)
        return reason
    }

    /// A fresh, empty temporary folder; removed by `remove()`.
    struct Scratch {
        let path: String
        init() throws {
            path =
                FileManager.default.temporaryDirectory
                .appendingPathComponent("NPYFileTests-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        func remove() { try? FileManager.default.removeItem(atPath: path) }
        func contents(_ sub: String = "") -> [String] {
            let folder = sub.isEmpty ? path : path + "/" + sub
            return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
        }
        func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path + "/" + name) }
    }

    // MARK: - Round trips

    @Test func roundTripsFloat32OfEveryRank() throws {
        let shapes: [[Int]] = [[], [1], [7], [3, 5], [2, 3, 4], [0], [2, 0, 3]]
        for shape in shapes {
            let count = shape.reduce(1, *)
            let values = (0..<count).map { Float($0) * 0.37 - 2.5 }
            let array = NPYArray(shape: shape, float32: values)
            #expect(array.count == count)
            let decoded = try NPYFile.decode(NPYFile.encode(array), name: "roundtrip.npy")
            #expect(decoded == array, "shape \(shape)")
            #expect(decoded.shape == shape)
        }
    }

    @Test func roundTripsSpecialFloatValuesBitExactly() throws {
        let values: [Float] = [.infinity, -.infinity, .leastNonzeroMagnitude, -0.0, .greatestFiniteMagnitude, .ulpOfOne]
        let decoded = try NPYFile.decode(NPYFile.encode(NPYArray(shape: [6], float32: values)), name: "x.npy")
        guard case let .float32(out) = decoded.elements else { Issue.record("not float32"); return }
        #expect(out.map(\.bitPattern) == values.map(\.bitPattern))

        let nan = try NPYFile.decode(NPYFile.encode(NPYArray(shape: [], float32: [.nan])), name: "nan.npy")
        guard case let .float32(nanOut) = nan.elements else { Issue.record("not float32"); return }
        #expect(nanOut.count == 1 && nanOut[0].isNaN)
    }

    @Test func roundTripsInt64() throws {
        let cases: [([Int], [Int64])] = [
            ([], [42]),
            ([5], [0, -1, 1, .min, .max]),
            ([2, 3], [1, 2, 3, 4, 5, 6]),
            ([2, 2, 2], (0..<8).map { Int64($0) * 1_000_000_007 }),
        ]
        for (shape, values) in cases {
            let array = NPYArray(shape: shape, int64: values)
            let decoded = try NPYFile.decode(NPYFile.encode(array), name: "i.npy")
            #expect(decoded == array)
        }
    }

    // MARK: - Encoder layout (what NumPy writes)

    @Test func encodesVersion1HeaderExactlyAsNumPyDoes() {
        let cases: [(NPYArray, String)] = [
            (NPYArray(shape: [2, 3], float32: [0, 1, 2, 3, 4, 5]), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"),
            (NPYArray(shape: [5], float32: [1, 2, 3, 4, 5]), "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }"),
            (NPYArray(shape: [], float32: [1.5]), "{'descr': '<f4', 'fortran_order': False, 'shape': (), }"),
            (NPYArray(shape: [2, 1, 2], int64: [1, 2, 3, 4]), "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 1, 2), }"),
        ]
        for (array, dict) in cases {
            let bytes = NPYFile.encode(array)
            #expect(Array(bytes[0..<8]) == Self.magic + [1, 0])
            let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            let total = 10 + headerLength
            #expect(total % 64 == 0, "header of \(array.shape) is \(total) bytes")
            let text = String(decoding: bytes[10..<total], as: UTF8.self)
            #expect(text.hasPrefix(dict))
            #expect(text.hasSuffix("\n"))
            #expect(text.dropFirst(dict.count).dropLast().allSatisfy { $0 == " " })
            let itemSize = if case .float32 = array.elements { 4 } else { 8 }
            #expect(bytes.count == total + array.count * itemSize)
        }
        // Byte-exact data for a known array: 1.0f, -2.0f little-endian.
        let bytes = NPYFile.encode(NPYArray(shape: [2], float32: [1, -2]))
        #expect(Array(bytes.suffix(8)) == [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])
        #expect(bytes.count == 136)   // 128-byte header, as np.save writes it
    }

    // MARK: - NumPy-compatible inputs

    @Test func decodesVersion1Float32() throws {
        let data = Self.bytes(f32: [1, 2.5, -3, 4, 5, 6])
        let array = try NPYFile.decode(Self.fixture(header: Self.header("<f4", "(2, 3)"), data: data), name: "a.npy")
        #expect(array == NPYArray(shape: [2, 3], float32: [1, 2.5, -3, 4, 5, 6]))
    }

    @Test func decodesVersion2And3Headers() throws {
        let data = Self.bytes(f32: [0.25, -0.5, 8])
        for version: (UInt8, UInt8) in [(2, 0), (3, 0)] {
            let bytes = Self.fixture(version: version, header: Self.header("<f4", "(3,)"), data: data)
            let array = try NPYFile.decode(bytes, name: "v.npy")
            #expect(array == NPYArray(shape: [3], float32: [0.25, -0.5, 8]), "version \(version.0).\(version.1)")
        }
        // 3.0 headers are decoded as UTF-8: a dtype string holding a non-ASCII character comes
        // through intact and is refused by name.
        let bad = Self.fixture(version: (3, 0), header: Self.header("<f4\u{00E9}", "(3,)"), data: data)
        #expect(Self.refusal(bad).contains("<f4\u{00E9}"))
    }

    @Test func decodesFloat64AsFloat32() throws {
        let doubles: [Double] = [1.0 / 3.0, -2.5, 1e300, 0]
        let array = try NPYFile.decode(Self.fixture(header: Self.header("<f8", "(2, 2)"), data: Self.bytes(f64: doubles)), name: "d.npy")
        #expect(array == NPYArray(shape: [2, 2], float32: doubles.map { Float($0) }))
        guard case let .float32(values) = array.elements else { Issue.record("not float32"); return }
        #expect(values[2] == .infinity)
    }

    @Test func decodesInt32AndInt64AsInt64() throws {
        let i4 = try NPYFile.decode(
            Self.fixture(header: Self.header("<i4", "(4,)"), data: Self.littleEndian([Int32.min, -1, 7, Int32.max])), name: "i4.npy")
        #expect(i4 == NPYArray(shape: [4], int64: [Int64(Int32.min), -1, 7, Int64(Int32.max)]))

        let i8 = try NPYFile.decode(
            Self.fixture(header: Self.header("<i8", "(1, 3)"), data: Self.littleEndian([Int64.min, 0, 1 << 40])), name: "i8.npy")
        #expect(i8 == NPYArray(shape: [1, 3], int64: [.min, 0, 1 << 40]))

        let scalar = try NPYFile.decode(Self.fixture(header: Self.header("<i8", "()"), data: Self.littleEndian([Int64(-9)])), name: "s.npy")
        #expect(scalar == NPYArray(shape: [], int64: [-9]))
    }

    @Test func decodesNativeByteOrderAsLittleEndian() throws {
        let array = try NPYFile.decode(Self.fixture(header: Self.header("=f4", "(2,)"), data: Self.bytes(f32: [3, -4])), name: "n.npy")
        #expect(array == NPYArray(shape: [2], float32: [3, -4]))
        let ints = try NPYFile.decode(Self.fixture(header: Self.header("=i4", "(1,)"), data: Self.littleEndian([Int32(-5)])), name: "n.npy")
        #expect(ints == NPYArray(shape: [1], int64: [-5]))
    }

    @Test func parsesHeaderSpellingVariants() throws {
        let data = Self.bytes(f32: [1, 2, 3, 4, 5, 6])
        let headers = [
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + String(repeating: " ", count: 20) + "\n",
            "{'descr':'<f4','fortran_order':False,'shape':(2,3)}",
            "{ \"shape\" : ( 2 , 3 , ) , \"fortran_order\" : False , \"descr\" : \"<f4\" }\n",
            "{'fortran_order': False,\n 'shape': (2L, 3L),\n 'descr': '<f4'\n}   \n",
            "\t{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3),}\r\n",
        ]
        for header in headers {
            let array = try NPYFile.decode(Self.fixture(header: header, data: data), name: "h.npy")
            #expect(array == NPYArray(shape: [2, 3], float32: [1, 2, 3, 4, 5, 6]), "header \(header)")
        }
        let threeD = try NPYFile.decode(Self.fixture(header: Self.header("<f4", "(1, 2, 3)"), data: data), name: "h.npy")
        #expect(threeD.shape == [1, 2, 3])
    }

    // MARK: - Refused files

    @Test func refusesBigEndian() {
        for descr in [">f4", ">f8", ">i4", ">i8"] {
            let reason = Self.refusal(Self.fixture(header: Self.header(descr, "(1,)"), data: [0, 0, 0, 0, 0, 0, 0, 0]))
            #expect(reason.contains("big-endian"), "\(reason)")
            #expect(reason.contains("'\(descr)'"))
        }
        #expect(
            Self.refusal(Self.fixture(header: Self.header(">f4", "(2,)"), data: Self.bytes(f32: [1, 2])))
                == "big-endian dtype '>f4' is not supported; use little-endian <f4, <f8, <i4 or <i8")
    }

    @Test func refusesUnsupportedDtypes() {
        let cases: [(String, String)] = [
            ("<f2", "half precision"), ("|b1", "bool"), ("<c8", "complex"), ("<c16", "complex"),
            ("<U5", "unicode"), ("|O", "objects"), ("|S3", "string"), ("<u4", "unsigned"),
            ("<i2", "unsupported"), ("|i1", "unsupported"), ("f4", "unsupported"), ("|f4", "unsupported"),
            ("<M8[ns]", "datetime"),
        ]
        for (descr, word) in cases {
            let reason = Self.refusal(Self.fixture(header: Self.header(descr, "(1,)"), data: [0, 0, 0, 0]))
            #expect(reason.contains("unsupported dtype '\(descr)'"), "\(descr): \(reason)")
            #expect(reason.contains(word), "\(descr): \(reason)")
        }
    }

    @Test func refusesStructuredDtype() {
        let header = "{'descr': [('x', '<f4'), ('y', '<i8')], 'fortran_order': False, 'shape': (2,), }\n"
        let reason = Self.refusal(Self.fixture(header: header, data: [UInt8](repeating: 0, count: 24)))
        #expect(reason.contains("structured"), "\(reason)")
    }

    @Test func refusesFortranOrder() {
        let reason = Self.refusal(Self.fixture(header: Self.header("<f4", "(2, 3)", fortran: "True"), data: Self.bytes(f32: [1, 2, 3, 4, 5, 6])))
        #expect(reason == "Fortran-order arrays are not supported; save with C order")
    }

    @Test func refusesEmptyFile() {
        #expect(Self.refusal([]).contains("empty"))
    }

    @Test func refusesBadMagic() {
        #expect(Self.refusal(Array("hello, this is a text file\n".utf8)).contains("bad magic"))
        #expect(Self.refusal([0x50, 0x4B, 0x03, 0x04]).contains("bad magic"))   // a zip file, shorter than the magic
        var wrongFirstByte = Self.fixture(header: Self.header("<f4", "(1,)"), data: Self.bytes(f32: [1]))
        wrongFirstByte[0] = 0x92
        #expect(Self.refusal(wrongFirstByte).contains("bad magic"))
    }

    @Test func refusesTruncatedPreamble() {
        #expect(Self.refusal(Array(Self.magic[0..<4])).contains("truncated"))   // shorter than the magic
        #expect(Self.refusal(Self.magic + [1]).contains("truncated"))   // no full version
        #expect(Self.refusal(Self.magic + [1, 0, 0x40]).contains("truncated"))   // half a length field
        #expect(Self.refusal(Self.magic + [2, 0, 0x40, 0]).contains("truncated"))
        // Header length beyond the end of the file.
        let full = Self.fixture(header: Self.header("<f4", "(1,)"), data: Self.bytes(f32: [1]))
        let cut = Array(full[0..<30])
        let reason = Self.refusal(cut)
        #expect(reason.contains("truncated") && reason.contains("header length"), "\(reason)")
        // A 4 GiB header length in a 2.0 file.
        #expect(Self.refusal(Self.magic + [2, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x7B]).contains("header length"))
    }

    @Test func refusesUnsupportedVersion() {
        let bytes = Self.fixture(version: (4, 0), header: Self.header("<f4", "(1,)"), data: Self.bytes(f32: [1]))
        #expect(Self.refusal(bytes).contains("version 4.0"))
        let minor = Self.fixture(version: (1, 1), header: Self.header("<f4", "(1,)"), data: Self.bytes(f32: [1]))
        #expect(Self.refusal(minor).contains("version 1.1"))
    }

    @Test func refusesHeaderOnlyFile() {
        let reason = Self.refusal(Self.fixture(header: Self.header("<f4", "(2, 3)")))
        #expect(reason == "truncated: data holds 0 bytes but shape [2, 3] of <f4 needs 24")
    }

    @Test func refusesDataShorterThanShape() {
        let reason = Self.refusal(Self.fixture(header: Self.header("<f4", "(2, 3)"), data: Self.bytes(f32: [1, 2, 3, 4, 5])))
        #expect(reason.contains("data holds 20 bytes but shape [2, 3] of <f4 needs 24"), "\(reason)")
        let wide = Self.refusal(Self.fixture(header: Self.header("<f8", "(3,)"), data: Self.bytes(f64: [1, 2])))
        #expect(wide.contains("data holds 16 bytes but shape [3] of <f8 needs 24"), "\(wide)")
        let scalar = Self.refusal(Self.fixture(header: Self.header("<i8", "()"), data: [1, 2, 3]))
        #expect(scalar.contains("needs 8"), "\(scalar)")
    }

    @Test func refusesTrailingBytes() {
        let reason = Self.refusal(Self.fixture(header: Self.header("<f4", "(2,)"), data: Self.bytes(f32: [1, 2, 3])))
        #expect(reason.contains("trailing"), "\(reason)")
        #expect(reason.contains("data holds 12 bytes but shape [2] of <f4 needs 8"))
    }

    @Test func refusesMalformedHeaders() {
        let data = Self.bytes(f32: [1, 2])
        let cases: [(String, String)] = [
            ("", "malformed"),
            ("not a dict\n", "malformed"),
            ("['descr', '<f4']\n", "malformed"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), \n", "malformed"),   // unclosed
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} extra\n", "malformed"),
            ("{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}\n", "malformed"),   // missing comma
            ("{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}\n", "malformed"),   // broken quote
            ("{'descr': '<f4', 'shape': (2,)}\n", "missing key 'fortran_order'"),
            ("{'fortran_order': False, 'shape': (2,)}\n", "missing key 'descr'"),
            ("{'descr': '<f4', 'fortran_order': False}\n", "missing key 'shape'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}\n", "unexpected key 'extra'"),
            ("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\n", "more than once"),
            ("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}\n", "'fortran_order' must be True or False"),
            ("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}\n", "unknown name 'Maybe'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2)}\n", "'shape' must be a tuple"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': [2]}\n", "'shape' must be a tuple"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': ('2',)}\n", "'shape' must be a tuple"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, None)}\n", "'shape' must be a tuple"),
            ("{'descr': 4, 'fortran_order': False, 'shape': (2,)}\n", "'descr' must be a dtype string"),
            ("{1: '<f4', 'fortran_order': False, 'shape': (2,)}\n", "not a string"),
        ]
        for (header, word) in cases {
            let reason = Self.refusal(Self.fixture(header: header, data: data))
            #expect(reason.contains(word), "header \(header.debugDescription): \(reason)")
        }
    }

    @Test func refusesNegativeDimension() {
        let reason = Self.refusal(Self.fixture(header: Self.header("<f4", "(2, -3)"), data: Self.bytes(f32: [1, 2])))
        #expect(reason.contains("negative"), "\(reason)")
    }

    @Test func refusesOverflowingShapesWithoutCrashing() {
        let huge = [
            "(9223372036854775807, 9223372036854775807)",   // element count overflows
            "(4611686018427387904,)",   // byte size of <f4 overflows
            "(3037000500, 3037000500)",   // product just above Int.max
            "(99999999999999999999999999,)",   // a dimension beyond Int
        ]
        for shape in huge {
            let reason = Self.refusal(Self.fixture(header: Self.header("<f4", shape), data: Self.bytes(f32: [1])))
            #expect(reason.contains("too large"), "\(shape): \(reason)")
        }
        // Large but representable: reported as too little data, not a crash.
        let big = Self.refusal(Self.fixture(header: Self.header("<f4", "(1000000, 1000000)"), data: Self.bytes(f32: [1])))
        #expect(big.contains("needs 4000000000000"), "\(big)")
    }

    @Test func refusesDeeplyNestedHeaderWithoutCrashing() {
        let deep = "{'descr': '<f4', 'fortran_order': False, 'shape': " + String(repeating: "(", count: 100_000) + "}"
        #expect(Self.refusal(Self.fixture(version: (2, 0), header: deep)).contains("nest"))
    }

    // MARK: - Reading from disk

    @Test func readsFileWrittenToDisk() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let path = scratch.path + "/raw.npy"
        let bytes = Self.fixture(header: Self.header("<i4", "(3,)"), data: Self.littleEndian([Int32(1), -2, 3]))
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        #expect(try NPYFile.read(path: path) == NPYArray(shape: [3], int64: [1, -2, 3]))

        // A refused file names its path.
        let badPath = scratch.path + "/bad.npy"
        #expect(FileManager.default.createFile(atPath: badPath, contents: Data("text".utf8)))
        let error = #expect(throws: LossKernelsError.self) { try NPYFile.read(path: badPath) }
        #expect(error == .unreadableFile(file: badPath, reason: "not a NumPy .npy file (bad magic)"))
    }

    @Test func readsLargeFileExactly() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let count = 3 * 1024 * 1024 + 17
        let values = (0..<count).map { Float($0 % 1000) - 500.25 }
        let array = NPYArray(shape: [count], float32: values)
        try NPYFile.writeAll([(name: "big.npy", array: array)], to: scratch.path)
        #expect(try NPYFile.read(path: scratch.path + "/big.npy") == array)
    }

    @Test func refusesMissingFile() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let path = scratch.path + "/absent.npy"
        let error = #expect(throws: LossKernelsError.self) { try NPYFile.read(path: path) }
        guard case let .unreadableFile(file, reason)? = error else { Issue.record("wrong error \(String(describing: error))"); return }
        #expect(file == path)
        #expect(reason.contains("no such file"))
    }

    @Test func refusesDirectoryAsPath() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let error = #expect(throws: LossKernelsError.self) { try NPYFile.read(path: scratch.path) }
        guard case let .unreadableFile(file, reason)? = error else { Issue.record("wrong error \(String(describing: error))"); return }
        #expect(file == scratch.path)
        #expect(reason.contains("directory"))
    }

    // MARK: - writeAll

    @Test func writeAllCreatesNestedFolder() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let folder = scratch.path + "/a/b/c"
        let loss = NPYArray(shape: [4], float32: [0.5, 1, 1.5, 2])
        let labels = NPYArray(shape: [2, 2], int64: [0, 1, 2, 3])
        try NPYFile.writeAll([(name: "loss.npy", array: loss), (name: "labels.npy", array: labels)], to: folder)
        #expect(scratch.contents("a/b/c") == ["labels.npy", "loss.npy"])   // no temporaries left
        #expect(try NPYFile.read(path: folder + "/loss.npy") == loss)
        #expect(try NPYFile.read(path: folder + "/labels.npy") == labels)
        let written = try Data(contentsOf: URL(fileURLWithPath: folder + "/loss.npy"))
        #expect([UInt8](written) == NPYFile.encode(loss))
    }

    @Test func writeAllReplacesExistingFiles() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try NPYFile.writeAll([(name: "x.npy", array: NPYArray(shape: [1], float32: [1]))], to: scratch.path + "/")
        try NPYFile.writeAll([(name: "x.npy", array: NPYArray(shape: [2], float32: [2, 3]))], to: scratch.path)
        #expect(scratch.contents() == ["x.npy"])
        #expect(try NPYFile.read(path: scratch.path + "/x.npy") == NPYArray(shape: [2], float32: [2, 3]))
    }

    @Test func writeAllRefusesRegularFileAsFolder() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let file = scratch.path + "/out"
        #expect(FileManager.default.createFile(atPath: file, contents: Data("keep".utf8)))
        let array = NPYArray(shape: [1], float32: [1])

        let error = #expect(throws: LossKernelsError.self) {
            try NPYFile.writeAll([(name: "a.npy", array: array)], to: file)
        }
        guard case let .unwritableOutput(path, reason)? = error else { Issue.record("wrong error \(String(describing: error))"); return }
        #expect(path == file)
        #expect(reason.contains("not a directory"))

        // A folder below the regular file cannot be created either.
        let nested = #expect(throws: LossKernelsError.self) {
            try NPYFile.writeAll([(name: "a.npy", array: array)], to: file + "/sub/dir")
        }
        guard case let .unwritableOutput(nestedPath, _)? = nested else { Issue.record("wrong error \(String(describing: nested))"); return }
        #expect(nestedPath == file + "/sub/dir")

        #expect(scratch.contents() == ["out"])
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "keep")
    }

    @Test func writeAllFailingMidwayLeavesNothingBehind() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        // "blocked.npy" is an existing directory: renaming a file onto it fails (also as root),
        // after "first.npy" was already renamed into place and "kept.npy" was replaced.
        try FileManager.default.createDirectory(atPath: scratch.path + "/blocked.npy", withIntermediateDirectories: false)
        let kept = NPYArray(shape: [1], int64: [7])
        try NPYFile.writeAll([(name: "kept.npy", array: kept)], to: scratch.path)

        let array = NPYArray(shape: [3], float32: [1, 2, 3])
        let error = #expect(throws: LossKernelsError.self) {
            try NPYFile.writeAll(
                [
                    (name: "first.npy", array: array),
                    (name: "kept.npy", array: array),
                    (name: "blocked.npy", array: array),
                    (name: "last.npy", array: array),
                ], to: scratch.path)
        }
        guard case let .unwritableOutput(path, _)? = error else { Issue.record("wrong error \(String(describing: error))"); return }
        #expect(path == scratch.path + "/blocked.npy")
        #expect(scratch.contents() == ["blocked.npy", "kept.npy"])   // no new file, no temporaries
        #expect(scratch.contents("blocked.npy").isEmpty)
        #expect(try NPYFile.read(path: scratch.path + "/kept.npy") == kept)   // replaced file restored
    }

    @Test func writeAllFailureRemovesFoldersItCreated() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let folder = scratch.path + "/new/deeper"
        // The target name is too long for the file system, so the final rename fails.
        let longName = String(repeating: "n", count: 300) + ".npy"
        #expect(throws: LossKernelsError.self) {
            try NPYFile.writeAll(
                [
                    (name: "ok.npy", array: NPYArray(shape: [1], float32: [1])),
                    (name: longName, array: NPYArray(shape: [1], float32: [2])),
                ], to: folder)
        }
        #expect(scratch.contents().isEmpty)
    }

    @Test func writeAllRefusesBadNamesBeforeWriting() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let folder = scratch.path + "/out"
        let array = NPYArray(shape: [1], float32: [1])
        for bad in ["sub/x.npy", "", "..", "."] {
            let error = #expect(throws: LossKernelsError.self) {
                try NPYFile.writeAll([(name: "good.npy", array: array), (name: bad, array: array)], to: folder)
            }
            guard case .unwritableOutput? = error else { Issue.record("wrong error for \(bad)"); continue }
        }
        let duplicate = #expect(throws: LossKernelsError.self) {
            try NPYFile.writeAll([(name: "a.npy", array: array), (name: "a.npy", array: array)], to: folder)
        }
        guard case let .unwritableOutput(_, reason)? = duplicate else { Issue.record("wrong error"); return }
        #expect(reason.contains("more than once"))
        #expect(scratch.contents().isEmpty)   // not even the folder was created
    }

    @Test func writeAllRefusesInconsistentArray() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var array = NPYArray(shape: [2], float32: [1, 2])
        array.shape = [3]
        let error = #expect(throws: LossKernelsError.self) {
            try NPYFile.writeAll([(name: "a.npy", array: array)], to: scratch.path)
        }
        guard case let .unwritableOutput(path, reason)? = error else { Issue.record("wrong error"); return }
        #expect(path == scratch.path + "/a.npy")
        #expect(reason.contains("2 elements"))
        #expect(scratch.contents().isEmpty)
    }

    // MARK: - replaceFile, replaceFloat32File

    /// A streamed float32 file, handed over in uneven pieces, is byte for byte what `encode` writes,
    /// and it replaces an earlier file of that name without leaving temporaries.
    @Test func replaceFloat32FileStreamsPiecesExactlyAsEncodeWrites() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var rng = TestRNG(seed: 91)
        let (rows, columns) = (7, 5)
        let values = (0..<rows * columns).map { _ in Float(rng.normal()) }
        try NPYFile.writeAll([(name: "w.npy", array: NPYArray(shape: [1], float32: [9]))], to: scratch.path)
        try NPYFile.replaceFloat32File(named: "w.npy", in: scratch.path, temporaryPrefix: ".t-", shape: [rows, columns]) { piece in
            try values.withUnsafeBufferPointer { all in
                for range in [0..<3, 3..<3, 3..<20, 20..<rows * columns] { try piece(UnsafeBufferPointer(rebasing: all[range])) }
            }
        }
        #expect(scratch.contents() == ["w.npy"])
        let written = try Data(contentsOf: URL(fileURLWithPath: scratch.path + "/w.npy"))
        #expect([UInt8](written) == NPYFile.encode(NPYArray(shape: [rows, columns], float32: values)))
    }

    /// A stream of the wrong length, or a rename that fails, leaves the previous file and no temporary.
    @Test func replaceFileFailuresLeaveThePreviousFile() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let kept = NPYArray(shape: [2], float32: [1, 2])
        try NPYFile.writeAll([(name: "w.npy", array: kept)], to: scratch.path)
        let short = #expect(throws: LossKernelsError.self) {
            try NPYFile.replaceFloat32File(named: "w.npy", in: scratch.path, temporaryPrefix: ".t-", shape: [2, 2]) { piece in
                try [Float(3), 4, 5].withUnsafeBufferPointer { try piece($0) }
            }
        }
        guard case let .unwritableOutput(path, reason)? = short else { Issue.record("wrong error \(String(describing: short))"); return }
        #expect(path == scratch.path + "/w.npy")
        #expect(reason.contains("3 elements"), "\(reason)")
        #expect(scratch.contents() == ["w.npy"])
        #expect(try NPYFile.read(path: scratch.path + "/w.npy") == kept)

        try FileManager.default.createDirectory(atPath: scratch.path + "/blocked", withIntermediateDirectories: false)
        let blocked = #expect(throws: LossKernelsError.self) {
            try NPYFile.replaceFile(named: "blocked", in: scratch.path, temporaryPrefix: ".t-") { sink in
                try [UInt8](repeating: 1, count: 10).withUnsafeBytes { try sink($0) }
            }
        }
        guard case let .unwritableOutput(blockedPath, _)? = blocked else { Issue.record("wrong error \(String(describing: blocked))"); return }
        #expect(blockedPath == scratch.path + "/blocked")
        #expect(scratch.contents() == ["blocked", "w.npy"])
    }
}
