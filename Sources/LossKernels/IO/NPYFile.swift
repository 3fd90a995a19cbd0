import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - NPYArray

/// An n-dimensional array read from or written to a NumPy `.npy` file, stored row-major (C order).
///
/// `shape` lists the dimensions, outermost first; `[]` is a 0-d scalar holding one element.
/// `elements` holds exactly `count` values (the product of `shape`) in row-major order.
/// Floating-point files (`<f4`, `<f8`) are held as `.float32`, integer files (`<i4`, `<i8`) as `.int64`.
public struct NPYArray: Sendable, Equatable {
    /// The element storage: 32-bit floats or 64-bit signed integers, row-major.
    public enum Elements: Sendable, Equatable {
        /// Float elements (read from `<f4`, or from `<f8` rounded to Float; written as `<f4`).
        case float32([Float])
        /// Integer elements (read from `<i4` or `<i8`; written as `<i8`).
        case int64([Int64])

        /// The number of stored elements.
        public var count: Int {
            switch self {
            case let .float32(values): return values.count
            case let .int64(values): return values.count
            }
        }
    }

    /// The dimensions, outermost first. `[]` is a 0-d scalar (one element).
    public var shape: [Int]
    /// The elements in row-major (C) order; their count must equal `count`.
    public var elements: Elements

    /// Creates a float32 array of the given shape.
    ///
    /// - Precondition: every dimension is non-negative and `float32.count` equals the product of
    ///   `shape` (1 for `[]`). Violating it is a programming error and traps.
    public init(shape: [Int], float32: [Float]) {
        let expected = NPYArray.checkedCount(of: shape)
        precondition(expected == float32.count,
                     "NPYArray: \(float32.count) elements do not fill shape \(shape) (needs \(expected.map(String.init) ?? "an overflowing count"))")
        self.shape = shape
        self.elements = .float32(float32)
    }

    /// Creates an int64 array of the given shape.
    ///
    /// - Precondition: every dimension is non-negative and `int64.count` equals the product of
    ///   `shape` (1 for `[]`). Violating it is a programming error and traps.
    public init(shape: [Int], int64: [Int64]) {
        let expected = NPYArray.checkedCount(of: shape)
        precondition(expected == int64.count,
                     "NPYArray: \(int64.count) elements do not fill shape \(shape) (needs \(expected.map(String.init) ?? "an overflowing count"))")
        self.shape = shape
        self.elements = .int64(int64)
    }

    /// The number of elements the shape describes: the product of `shape`, 1 for a 0-d scalar.
    /// Saturates at `Int.max` for a (malformed) shape whose product overflows; never traps.
    public var count: Int {
        NPYArray.checkedCount(of: shape) ?? Int.max
    }

    /// Wraps a shape and elements that the caller has already checked against each other.
    init(validatedShape shape: [Int], elements: Elements) {
        self.shape = shape
        self.elements = elements
    }

    /// Product of `shape`, or nil when a dimension is negative or the product overflows.
    static func checkedCount(of shape: [Int]) -> Int? {
        var product = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            product = next
        }
        return product
    }
}

// MARK: - NPYFile

/// Reads and writes NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
///
/// Reading accepts little-endian (`<` or native `=`) `f4`, `f8`, `i4` and `i8` arrays in C order;
/// every other file is refused with `LossKernelsError.unreadableFile(file:reason:)`, whose reason
/// says what is wrong. Writing produces version 1.0 files that NumPy's `np.load` reads.
public enum NPYFile {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] // "\x93NUMPY"
    static let supportedList = "<f4, <f8, <i4 or <i8"
    /// Deepest nesting of brackets accepted in a header (guards the recursive parser's stack).
    static let maxHeaderNesting = 32

    /// Parses the bytes of a `.npy` file.
    ///
    /// - Parameters:
    ///   - bytes: the whole file: magic, version, header length, header dict and data.
    ///   - name: the file name used in error messages (the `file:` field of the error).
    /// - Returns: the array; its `shape` is the header's shape (`[]` for 0-d), its elements
    ///   `.float32` for `<f4`/`<f8` (f8 rounded to Float) or `.int64` for `<i4`/`<i8`.
    /// - Throws: `LossKernelsError.unreadableFile(file: name, reason:)` for an empty file, a bad
    ///   magic, an unsupported version, a truncated header, a malformed header dict, an unsupported
    ///   dtype (big-endian, half precision, bool, complex, strings, objects, structured, …),
    ///   Fortran order, a negative or overflowing shape, or data shorter or longer than the shape needs.
    public static func decode(_ bytes: [UInt8], name: String) throws -> NPYArray {
        func refuse(_ reason: String) -> LossKernelsError {
            .unreadableFile(file: name, reason: reason)
        }

        // Magic and version.
        guard !bytes.isEmpty else {
            throw refuse("empty file (0 bytes), not a NumPy .npy file")
        }
        let magicPrefix = min(bytes.count, magic.count)
        guard bytes[0 ..< magicPrefix].elementsEqual(magic[0 ..< magicPrefix]) else {
            throw refuse("not a NumPy .npy file (bad magic)")
        }
        guard bytes.count >= magic.count + 2 else {
            throw refuse("truncated: file is \(bytes.count) bytes, too short to hold the .npy magic and version")
        }
        let major = bytes[6], minor = bytes[7]
        let lengthFieldSize: Int
        switch (major, minor) {
        case (1, 0): lengthFieldSize = 2
        case (2, 0), (3, 0): lengthFieldSize = 4
        default:
            throw refuse("unsupported .npy format version \(major).\(minor) (supported: 1.0, 2.0, 3.0)")
        }
        let headerStart = 8 + lengthFieldSize
        guard bytes.count >= headerStart else {
            throw refuse("truncated: file is \(bytes.count) bytes, too short to hold the .npy header length")
        }
        var headerLength = 0
        for index in 0 ..< lengthFieldSize {
            headerLength |= Int(bytes[8 + index]) << (8 * index)
        }
        // headerLength < 2^32, so this cannot overflow on 64-bit; check anyway.
        let (headerEnd, headerOverflow) = headerStart.addingReportingOverflow(headerLength)
        guard !headerOverflow, headerEnd <= bytes.count else {
            throw refuse("truncated: header length \(headerLength) extends past the end of the file (\(bytes.count) bytes)")
        }

        // Header text: latin-1 for 1.0 and 2.0, UTF-8 for 3.0.
        let headerBytes = bytes[headerStart ..< headerEnd]
        let scalars: [Unicode.Scalar]
        if major == 3 {
            let text = String(decoding: headerBytes, as: UTF8.self)
            guard text.utf8.elementsEqual(headerBytes) else {
                throw refuse("malformed header: not valid UTF-8")
            }
            scalars = Array(text.unicodeScalars)
        } else {
            scalars = headerBytes.map { Unicode.Scalar($0) }
        }

        // Header dict.
        let header: Header
        do {
            header = try parseHeader(scalars)
        } catch let error as HeaderError {
            throw refuse(error.reason)
        }
        if header.fortranOrder {
            throw refuse("Fortran-order arrays are not supported; save with C order")
        }
        let dtype = try resolveDType(header.descr, refuse: refuse)

        // Sizes.
        let shapeText = "[" + header.shape.map(String.init).joined(separator: ", ") + "]"
        guard let count = NPYArray.checkedCount(of: header.shape) else {
            throw refuse("shape \(shapeText) is too large: its element count overflows")
        }
        let (needed, sizeOverflow) = count.multipliedReportingOverflow(by: dtype.itemSize)
        guard !sizeOverflow else {
            throw refuse("shape \(shapeText) of \(header.descr) is too large: its byte size overflows")
        }
        let available = bytes.count - headerEnd
        if available < needed {
            throw refuse("truncated: data holds \(available) bytes but shape \(shapeText) of \(header.descr) needs \(needed)")
        }
        if available > needed {
            throw refuse("data holds \(available) bytes but shape \(shapeText) of \(header.descr) needs \(needed) (\(available - needed) trailing bytes after the array)")
        }

        // Data.
        let elements = bytes.withUnsafeBytes { raw -> NPYArray.Elements in
            let data = UnsafeRawBufferPointer(rebasing: raw[headerEnd ..< headerEnd + needed])
            switch dtype.kind {
            case .f4:
                let values = bulkCopy(data, count: count, as: Float.self)
                #if _endian(big)
                return .float32(values.map { Float(bitPattern: $0.bitPattern.byteSwapped) })
                #else
                return .float32(values)
                #endif
            case .i8:
                let values = bulkCopy(data, count: count, as: Int64.self)
                #if _endian(big)
                return .int64(values.map { $0.byteSwapped })
                #else
                return .int64(values)
                #endif
            case .f8:
                return .float32([Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                    for index in 0 ..< count {
                        let bits = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: index &* 8, as: UInt64.self))
                        buffer[index] = Float(Double(bitPattern: bits))
                    }
                    initialized = count
                })
            case .i4:
                return .int64([Int64](unsafeUninitializedCapacity: count) { buffer, initialized in
                    for index in 0 ..< count {
                        let value = Int32(littleEndian: data.loadUnaligned(fromByteOffset: index &* 4, as: Int32.self))
                        buffer[index] = Int64(value)
                    }
                    initialized = count
                })
            }
        }
        return NPYArray(validatedShape: header.shape, elements: elements)
    }

    /// Reads the `.npy` file at `path` and decodes it (see `decode(_:name:)`).
    ///
    /// - Returns: the array, with the shape and elements `decode` describes.
    /// - Throws: `LossKernelsError.unreadableFile(file: path, reason:)` when the file is missing
    ///   ("no such file"), is a directory, cannot be opened or read, or is refused by `decode`.
    public static func read(path: String) throws -> NPYArray {
        try decode(readBytes(path: path), name: path)
    }

    /// Encodes an array as a version 1.0 `.npy` file: `<f4` for `.float32`, `<i8` for `.int64`,
    /// `fortran_order` False, row-major data. The header (magic, length and dict) is padded with
    /// spaces and a final newline to a multiple of 64 bytes, exactly as NumPy writes it, e.g.
    /// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`. A header too long for 1.0
    /// (over 65535 bytes, i.e. thousands of dimensions) is written as version 2.0.
    ///
    /// - Precondition: `array.elements` holds `array.count` elements and no dimension is negative.
    public static func encode(_ array: NPYArray) -> [UInt8] {
        var bytes: [UInt8] = []
        switch array.elements {
        case let .float32(values): bytes.reserveCapacity(128 + values.count * 4)
        case let .int64(values): bytes.reserveCapacity(128 + values.count * 8)
        }
        write(array) { bytes.append(contentsOf: $0) }
        return bytes
    }
}

// MARK: - Writing a group of files

extension NPYFile {
    /// Writes the files atomically as a group: each goes to a temporary name in `directory`
    /// (created if missing, with intermediate folders) and is renamed into place only after all
    /// were written; on any failure every temporary is removed and no new file is left behind
    /// (files already renamed into place are removed again, files they replaced are restored,
    /// and folders this call created are removed when empty).
    ///
    /// - Parameters:
    ///   - files: plain file names (no `/`, not empty, `.` or `..`, no duplicates) and the arrays
    ///     to write, each encoded as `encode(_:)` does.
    ///   - directory: the folder to write into.
    /// - Throws: `LossKernelsError.unwritableOutput(path:reason:)` naming the folder or file,
    ///   e.g. when `directory` is an existing regular file, a folder cannot be created, a name is
    ///   not a plain file name, or a file cannot be written or renamed into place (for example
    ///   because the target name is an existing directory).
    public static func writeAll(_ files: [(name: String, array: NPYArray)], to directory: String) throws {
        guard !directory.isEmpty else {
            throw LossKernelsError.unwritableOutput(path: directory, reason: "the output folder path is empty")
        }
        let folder = Self.folder(directory)
        func join(_ name: String) -> String { path(name, in: folder) }

        // Validate names before touching the file system.
        var seen = Set<String>()
        for file in files {
            let name = file.name
            if !isPlainFileName(name) {
                throw LossKernelsError.unwritableOutput(
                    path: join(name),
                    reason: "'\(name)' is not a plain file name (it must be non-empty, not '.' or '..', and contain no '/')")
            }
            guard seen.insert(name).inserted else {
                throw LossKernelsError.unwritableOutput(path: join(name), reason: "the name '\(name)' is given more than once")
            }
            if let expected = NPYArray.checkedCount(of: file.array.shape), expected == file.array.elements.count {
                continue
            }
            throw LossKernelsError.unwritableOutput(
                path: join(name),
                reason: "the array holds \(file.array.elements.count) elements but its shape \(file.array.shape) needs \(file.array.count)")
        }

        let createdFolders = try makeFolders(folder)
        var temporaries: [(temporary: String, target: String)] = []
        func removeCreatedFolders() {
            for created in createdFolders.reversed() { _ = rmdir(created) }
        }

        // Phase 1: write every file under a temporary name.
        for file in files {
            let target = join(file.name)
            do {
                let temporary = try writeTemporary(in: folder, temporaryPrefix: ".npy-", reportedAs: target) { try write(file.array, to: $0) }
                temporaries.append((temporary, target))
            } catch {
                for entry in temporaries { _ = unlink(entry.temporary) }
                removeCreatedFolders()
                throw error
            }
        }

        // Phase 2: keep hard-link backups of files that will be replaced, so a failure can restore them.
        var backups: [String?] = []
        for entry in temporaries {
            var info = stat()
            if lstat(entry.target, &info) == 0, (info.st_mode & S_IFMT) != S_IFDIR {
                let backup = join(".npy-\(UUID().uuidString).bak")
                backups.append(link(entry.target, backup) == 0 ? backup : nil)
            } else {
                backups.append(nil)
            }
        }
        func removeBackups() {
            for backup in backups { if let backup { _ = unlink(backup) } }
        }

        // Phase 3: rename into place; on failure undo the renames already done.
        for (index, entry) in temporaries.enumerated() {
            if rename(entry.temporary, entry.target) != 0 {
                let reason = "cannot move the written file into place: \(errnoDescription(errno))"
                for done in (0 ..< index).reversed() {
                    let target = temporaries[done].target
                    if let backup = backups[done] {
                        _ = rename(backup, target)
                    } else {
                        _ = unlink(target)
                    }
                }
                for pending in temporaries[index...] { _ = unlink(pending.temporary) }
                removeBackups()
                removeCreatedFolders()
                throw LossKernelsError.unwritableOutput(path: entry.target, reason: reason)
            }
        }
        removeBackups()
        syncFolder(folder)
    }
}

// MARK: - Header parsing

extension NPYFile {
    struct Header {
        var descr: String
        var fortranOrder: Bool
        var shape: [Int]
    }

    struct HeaderError: Error {
        var reason: String
    }

    /// A Python literal as found in a `.npy` header.
    indirect enum Literal {
        case string(String)
        case bool(Bool)
        case noneValue
        case integer(String)
        case tuple([Literal])
        case list([Literal])
        case dict([(key: Literal, value: Literal)])

        var summary: String {
            switch self {
            case let .string(text): return "'\(text)'"
            case let .bool(value): return value ? "True" : "False"
            case .noneValue: return "None"
            case let .integer(text): return text
            case let .tuple(items):
                return "(" + items.map(\.summary).joined(separator: ", ") + (items.count == 1 ? ",)" : ")")
            case let .list(items): return "[" + items.map(\.summary).joined(separator: ", ") + "]"
            case let .dict(pairs): return "{" + pairs.map { "\($0.key.summary): \($0.value.summary)" }.joined(separator: ", ") + "}"
            }
        }
    }

    static func parseHeader(_ scalars: [Unicode.Scalar]) throws -> Header {
        var parser = LiteralParser(scalars: scalars)
        parser.skipWhitespace()
        guard parser.peek() == "{" else {
            throw HeaderError(reason: "malformed header: expected a dict starting with '{'")
        }
        let literal = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.atEnd else {
            throw HeaderError(reason: "malformed header: unexpected text after the dict at offset \(parser.position)")
        }
        guard case let .dict(pairs) = literal else {
            throw HeaderError(reason: "malformed header: expected a dict")
        }

        var values: [String: Literal] = [:]
        for pair in pairs {
            guard case let .string(key) = pair.key else {
                throw HeaderError(reason: "malformed header: dict key \(pair.key.summary) is not a string")
            }
            guard ["descr", "fortran_order", "shape"].contains(key) else {
                throw HeaderError(reason: "malformed header: unexpected key '\(key)' (expected 'descr', 'fortran_order' and 'shape')")
            }
            guard values[key] == nil else {
                throw HeaderError(reason: "malformed header: key '\(key)' appears more than once")
            }
            values[key] = pair.value
        }
        for key in ["descr", "fortran_order", "shape"] where values[key] == nil {
            throw HeaderError(reason: "malformed header: missing key '\(key)'")
        }

        let descr: String
        switch values["descr"] {
        case let .string(text)?:
            descr = text
        case .list?:
            throw HeaderError(reason: "structured dtype (descr is a list of fields) is not supported; use a plain array of \(supportedList)")
        case let other?:
            throw HeaderError(reason: "malformed header: 'descr' must be a dtype string, got \(other.summary)")
        case nil:
            throw HeaderError(reason: "malformed header: missing key 'descr'")
        }

        guard case let .bool(fortranOrder)? = values["fortran_order"] else {
            throw HeaderError(reason: "malformed header: 'fortran_order' must be True or False, got \(values["fortran_order"]?.summary ?? "nothing")")
        }

        guard case let .tuple(items)? = values["shape"] else {
            throw HeaderError(reason: "malformed header: 'shape' must be a tuple of non-negative integers, got \(values["shape"]?.summary ?? "nothing")")
        }
        var shape: [Int] = []
        for item in items {
            guard case let .integer(text) = item else {
                throw HeaderError(reason: "malformed header: 'shape' must be a tuple of non-negative integers, got \(item.summary) in \(Literal.tuple(items).summary)")
            }
            if text.hasPrefix("-") {
                throw HeaderError(reason: "negative dimension \(text) in shape \(Literal.tuple(items).summary)")
            }
            guard let dimension = Int(text) else {
                throw HeaderError(reason: "shape \(Literal.tuple(items).summary) is too large: dimension \(text) overflows")
            }
            shape.append(dimension)
        }
        return Header(descr: descr, fortranOrder: fortranOrder, shape: shape)
    }

    /// Recursive-descent parser for the Python literals NumPy writes in headers.
    struct LiteralParser {
        let scalars: [Unicode.Scalar]
        var position = 0

        init(scalars: [Unicode.Scalar]) { self.scalars = scalars }

        var atEnd: Bool { position >= scalars.count }

        func peek() -> Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

        mutating func skipWhitespace() {
            while let scalar = peek(), [" ", "\t", "\n", "\r", "\u{0B}", "\u{0C}"].contains(scalar) {
                position += 1
            }
        }

        func failure(_ expected: String) -> HeaderError {
            if let scalar = peek() {
                return HeaderError(reason: "malformed header: expected \(expected) at offset \(position), found '\(Character(scalar))'")
            }
            return HeaderError(reason: "malformed header: expected \(expected) at offset \(position), found the end of the header")
        }

        mutating func parseValue(depth: Int) throws -> Literal {
            guard depth < NPYFile.maxHeaderNesting else {
                throw HeaderError(reason: "malformed header: brackets nest more than \(NPYFile.maxHeaderNesting) deep")
            }
            skipWhitespace()
            guard let scalar = peek() else { throw failure("a value") }
            switch scalar {
            case "'", "\"":
                return .string(try parseString())
            case "(":
                position += 1
                let (items, trailingComma) = try parseItems(closing: ")", depth: depth)
                // "(5)" is just a parenthesised 5; a tuple needs a comma unless empty.
                if items.count == 1 && !trailingComma { return items[0] }
                return .tuple(items)
            case "[":
                position += 1
                return .list(try parseItems(closing: "]", depth: depth).items)
            case "{":
                position += 1
                return try parseDict(depth: depth)
            case "-", "0" ... "9":
                return .integer(try parseInteger())
            default:
                if scalar.properties.isAlphabetic {
                    var word = ""
                    while let next = peek(), next.properties.isAlphabetic || next == "_" || ("0" ... "9").contains(next) {
                        word.unicodeScalars.append(next)
                        position += 1
                    }
                    switch word {
                    case "True": return .bool(true)
                    case "False": return .bool(false)
                    case "None": return .noneValue
                    default:
                        throw HeaderError(reason: "malformed header: unknown name '\(word)' at offset \(position - word.unicodeScalars.count)")
                    }
                }
                throw failure("a value")
            }
        }

        mutating func parseString() throws -> String {
            guard let quote = peek() else { throw failure("a string") }
            position += 1
            var text = ""
            while true {
                guard let scalar = peek() else { throw failure("a closing \(quote)") }
                position += 1
                if scalar == quote { return text }
                if scalar == "\\" {
                    guard let escaped = peek() else { throw failure("an escaped character") }
                    position += 1
                    switch escaped {
                    case "n": text.unicodeScalars.append("\n")
                    case "t": text.unicodeScalars.append("\t")
                    case "r": text.unicodeScalars.append("\r")
                    case "0": text.unicodeScalars.append("\u{0}")
                    default: text.unicodeScalars.append(escaped)
                    }
                } else if scalar == "\n" {
                    throw HeaderError(reason: "malformed header: string not closed before the end of the line at offset \(position - 1)")
                } else {
                    text.unicodeScalars.append(scalar)
                }
            }
        }

        mutating func parseInteger() throws -> String {
            var text = ""
            if peek() == "-" {
                text = "-"
                position += 1
                skipWhitespace()
            }
            var digits = 0
            while let scalar = peek(), ("0" ... "9").contains(scalar) {
                text.unicodeScalars.append(scalar)
                position += 1
                digits += 1
            }
            guard digits > 0 else { throw failure("digits") }
            if peek() == "L" || peek() == "l" { position += 1 } // Python 2 long suffix
            // Strip leading zeros so Int() sees the value (Python 3 forbids them, but be lenient).
            let negative = text.hasPrefix("-")
            var magnitude = Substring(negative ? String(text.dropFirst()) : text)
            while magnitude.count > 1 && magnitude.first == "0" { magnitude = magnitude.dropFirst() }
            return (negative && magnitude != "0" ? "-" : "") + magnitude
        }

        /// Parses comma-separated values up to `closing`; reports whether the last item had a trailing comma.
        mutating func parseItems(closing: Unicode.Scalar, depth: Int) throws -> (items: [Literal], trailingComma: Bool) {
            var items: [Literal] = []
            var trailingComma = false
            while true {
                skipWhitespace()
                if peek() == closing {
                    position += 1
                    return (items, trailingComma)
                }
                if !items.isEmpty && !trailingComma {
                    throw failure("',' or '\(Character(closing))'")
                }
                items.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                trailingComma = false
                if peek() == "," {
                    position += 1
                    trailingComma = true
                }
            }
        }

        mutating func parseDict(depth: Int) throws -> Literal {
            var pairs: [(key: Literal, value: Literal)] = []
            var trailingComma = false
            while true {
                skipWhitespace()
                if peek() == "}" {
                    position += 1
                    return .dict(pairs)
                }
                if !pairs.isEmpty && !trailingComma {
                    throw failure("',' or '}'")
                }
                let key = try parseValue(depth: depth + 1)
                skipWhitespace()
                guard peek() == ":" else { throw failure("':'") }
                position += 1
                let value = try parseValue(depth: depth + 1)
                pairs.append((key, value))
                skipWhitespace()
                trailingComma = false
                if peek() == "," {
                    position += 1
                    trailingComma = true
                }
            }
        }
    }
}

// MARK: - Dtypes

extension NPYFile {
    enum ElementKind { case f4, f8, i4, i8 }

    struct DType {
        var kind: ElementKind
        var itemSize: Int
    }

    static func resolveDType(_ descr: String, refuse: (String) -> LossKernelsError) throws -> DType {
        let supported: [String: DType] = [
            "f4": DType(kind: .f4, itemSize: 4), "f8": DType(kind: .f8, itemSize: 8),
            "i4": DType(kind: .i4, itemSize: 4), "i8": DType(kind: .i8, itemSize: 8),
        ]
        let order = descr.first
        let code = order.map { ["<", ">", "=", "|"].contains($0) } == true ? String(descr.dropFirst()) : descr
        #if _endian(little)
        let nativeIsLittle = true
        #else
        let nativeIsLittle = false
        #endif
        if let dtype = supported[code] {
            if order == "<" || (order == "=" && nativeIsLittle) { return dtype }
            if order == ">" || order == "=" {
                throw refuse("big-endian dtype '\(descr)' is not supported; use little-endian \(supportedList)")
            }
        }
        throw refuse("unsupported dtype '\(descr)'\(describe(code)); supported: \(supportedList)")
    }

    /// A parenthesised description of a dtype code, e.g. " (half precision)", or "" when unknown.
    static func describe(_ code: String) -> String {
        guard let kind = code.first else { return " (empty)" }
        let size = code.dropFirst()
        let text: String?
        switch kind {
        case "f":
            switch size {
            case "2": text = "half precision"
            case "4", "8": text = "byte order must be '<' or '='"
            case "10", "12", "16": text = "extended precision"
            default: text = "floating point"
            }
        case "i": text = ["4", "8"].contains(size) ? "byte order must be '<' or '='" : "\(size.isEmpty ? "" : "\(size)-byte ")integer"
        case "u": text = "unsigned integer"
        case "b": text = "bool or byte"
        case "?": text = "bool"
        case "c": text = "complex"
        case "U": text = "unicode string"
        case "S", "a": text = "byte string"
        case "O": text = "Python objects"
        case "V": text = "raw or structured data"
        case "M": text = "datetime"
        case "m": text = "timedelta"
        default: text = nil
        }
        return text.map { " (\($0))" } ?? ""
    }
}

// MARK: - Byte helpers

extension NPYFile {
    /// Copies `count` values out of `data` with one bulk memory copy (no byte swapping).
    /// `data.count` must be `count * MemoryLayout<T>.size`.
    static func bulkCopy<T: BitwiseCopyable>(_ data: UnsafeRawBufferPointer, count: Int, as type: T.Type) -> [T] {
        precondition(data.count == count * MemoryLayout<T>.size)
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 {
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: data)
            }
            initialized = count
        }
    }

    /// The magic, version, header length and padded header dict that `encode` writes.
    static func headerBytes(for array: NPYArray) -> [UInt8] {
        let descr: String
        switch array.elements {
        case .float32: descr = "<f4"
        case .int64: descr = "<i8"
        }
        let shapeText: String
        switch array.shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(array.shape[0]),)"
        default: shapeText = "(" + array.shape.map(String.init).joined(separator: ", ") + ")"
        }
        let dict = Array("{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }".utf8)
        // NumPy: padlen = 64 - ((magic + version + length field + len(dict) + 1) % 64), then '\n'.
        var lengthFieldSize = 2
        var padding = 64 - ((8 + lengthFieldSize + dict.count + 1) % 64)
        if dict.count + padding + 1 > Int(UInt16.max) {
            lengthFieldSize = 4
            padding = 64 - ((8 + lengthFieldSize + dict.count + 1) % 64)
        }
        let headerLength = dict.count + padding + 1
        var bytes = magic
        bytes.reserveCapacity(8 + lengthFieldSize + headerLength)
        bytes.append(lengthFieldSize == 2 ? 1 : 2)
        bytes.append(0)
        for index in 0 ..< lengthFieldSize {
            bytes.append(UInt8(truncatingIfNeeded: headerLength >> (8 * index)))
        }
        bytes.append(contentsOf: dict)
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }
}

// MARK: - File system helpers

extension NPYFile {
    static func errnoDescription(_ code: Int32) -> String {
        switch code {
        case ENOENT: return "no such file or folder"
        case EACCES, EPERM: return "permission denied"
        case ENOTDIR: return "a part of the path is not a folder"
        case EISDIR: return "is a directory"
        case ENOSPC: return "no space left on the device"
        case EROFS: return "read-only file system"
        case ENAMETOOLONG: return "the name is too long"
        default:
            if let text = strerror(code) { return String(cString: text) }
            return "error \(code)"
        }
    }

    /// Reads the whole file at `path`, refusing missing files, folders and read errors.
    static func readBytes(path: String) throws -> [UInt8] {
        func refuse(_ reason: String) -> LossKernelsError {
            .unreadableFile(file: path, reason: reason)
        }
        guard !path.isEmpty else { throw refuse("no such file (the path is empty)") }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            switch code {
            case ENOENT: throw refuse("no such file")
            case EISDIR: throw refuse("is a directory, not a .npy file")
            default: throw refuse("cannot open: \(errnoDescription(code))")
            }
        }
        defer { _ = close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw refuse("cannot inspect: \(errnoDescription(errno))")
        }
        let type = info.st_mode & S_IFMT
        if type == S_IFDIR { throw refuse("is a directory, not a .npy file") }

        func readSome(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            while true {
                guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
                let got = posixRead(descriptor, base, buffer.count)
                if got >= 0 { return got }
                if errno == EINTR { continue }
                throw refuse("cannot read: \(errnoDescription(errno))")
            }
        }

        var bytes: [UInt8] = []
        if type == S_IFREG, info.st_size > 0 {
            let size = Int(info.st_size)
            bytes = try [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                let raw = UnsafeMutableRawBufferPointer(buffer)
                initialized = 0
                while initialized < size {
                    let got = try readSome(into: UnsafeMutableRawBufferPointer(rebasing: raw[initialized ..< size]))
                    if got == 0 { break }
                    initialized += got
                }
            }
            if bytes.count < size { return bytes } // shrank while reading: decode reports what is there
        }
        // Files of unknown size (pipes, /proc) or that grew: read the rest in chunks.
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let got = try chunk.withUnsafeMutableBytes { try readSome(into: $0) }
            if got == 0 { break }
            bytes.append(contentsOf: chunk[0 ..< got])
        }
        return bytes
    }

    /// Creates `folder` and missing parents; returns the folders it created, outermost first.
    static func makeFolders(_ folder: String) throws -> [String] {
        var info = stat()
        if stat(folder, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw LossKernelsError.unwritableOutput(path: folder, reason: "exists and is not a directory")
            }
            return []
        }
        var created: [String] = []
        var prefix = folder.hasPrefix("/") ? "/" : ""
        let components = folder.split(separator: "/", omittingEmptySubsequences: true)
        for component in components {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
            if stat(prefix, &info) == 0 {
                guard (info.st_mode & S_IFMT) == S_IFDIR else {
                    for done in created.reversed() { _ = rmdir(done) }
                    throw LossKernelsError.unwritableOutput(
                        path: folder, reason: "cannot create the folder: '\(prefix)' exists and is not a directory")
                }
                continue
            }
            if mkdir(prefix, 0o755) == 0 {
                created.append(prefix)
            } else if errno != EEXIST {
                let reason = errnoDescription(errno)
                for done in created.reversed() { _ = rmdir(done) }
                throw LossKernelsError.unwritableOutput(path: folder, reason: "cannot create the folder '\(prefix)': \(reason)")
            }
        }
        return created
    }

    /// Appends bytes to the file being written by `writeNewFile`; throws when they cannot be written.
    typealias ByteSink = (UnsafeRawBufferPointer) throws -> Void

    /// Creates a new file at `path` (which must not exist: exclusive create), lets `body` append
    /// its contents through the sink, then flushes it to disk (fsync) and closes it.
    /// Errors name `reportedAs` (the final file name). The caller removes `path` on failure.
    static func writeNewFile(at path: String, reportedAs target: String, _ body: (ByteSink) throws -> Void) throws {
        func failure(_ what: String, _ code: Int32) -> LossKernelsError {
            .unwritableOutput(path: target, reason: "\(what): \(errnoDescription(code))")
        }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw failure("cannot create a temporary file in the folder", errno) }
        var closed = false
        defer { if !closed { _ = close(descriptor) } }

        try body { raw in
            var offset = 0
            while offset < raw.count {
                guard let base = raw.baseAddress else { return }
                let written = posixWrite(descriptor, base + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw failure("cannot write", errno)
                }
                if written == 0 { throw failure("cannot write", EIO) }
                offset += written
            }
        }
        if fsync(descriptor) != 0, errno != EINVAL, errno != EROFS {
            throw failure("cannot flush to disk", errno)
        }
        closed = true
        if close(descriptor) != 0, errno != EINTR {
            throw failure("cannot close", errno)
        }
    }

    /// Writes a new file `<folder>/<temporaryPrefix><UUID>.tmp` with `writeNewFile` and returns its
    /// path; on failure removes it and rethrows. Errors name `reportedAs`.
    static func writeTemporary(in folder: String, temporaryPrefix: String, reportedAs target: String,
                               _ body: (ByteSink) throws -> Void) throws -> String {
        let temporary = path(temporaryPrefix + UUID().uuidString + ".tmp", in: folder)
        do {
            try writeNewFile(at: temporary, reportedAs: target, body)
        } catch {
            _ = unlink(temporary)
            throw error
        }
        return temporary
    }

    /// Durably creates or replaces the file `name` in the existing `folder`: writes a temporary
    /// (`writeTemporary`, flushed to disk), renames it over `name`, and flushes the folder, so that
    /// after a crash `name` holds either its previous or its complete new contents. On failure the
    /// temporary is removed and the previous file is left as it was.
    /// - Throws: `.unwritableOutput` naming `<folder>/<name>`.
    static func replaceFile(named name: String, in folder: String, temporaryPrefix: String,
                            _ body: (ByteSink) throws -> Void) throws {
        let target = path(name, in: folder)
        let temporary = try writeTemporary(in: folder, temporaryPrefix: temporaryPrefix, reportedAs: target, body)
        guard rename(temporary, target) == 0 else {
            let reason = errnoDescription(errno)
            _ = unlink(temporary)
            throw LossKernelsError.unwritableOutput(path: target, reason: "cannot move the written file into place: \(reason)")
        }
        syncFolder(folder)
    }

    /// Sends `array` encoded as `encode(_:)` describes to `sink`, in pieces (header, elements).
    static func write(_ array: NPYArray, to sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        try headerBytes(for: array).withUnsafeBytes { try sink($0) }
        switch array.elements {
        case let .float32(values): try values.withUnsafeBufferPointer { try writeLittleEndian($0, to: sink) }
        case let .int64(values): try values.withUnsafeBufferPointer { try writeLittleEndian($0, to: sink) }
        }
    }

    /// Sends `values` to `sink` as little-endian bytes.
    static func writeLittleEndian<T: FixedWidthInteger>(_ values: UnsafeBufferPointer<T>, to sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        #if _endian(little)
        try sink(UnsafeRawBufferPointer(values))
        #else
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * MemoryLayout<T>.size)
        for value in values { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        try bytes.withUnsafeBytes { try sink($0) }
        #endif
    }

    /// Sends `values` to `sink` as little-endian IEEE 754 single-precision bytes.
    static func writeLittleEndian(_ values: UnsafeBufferPointer<Float>, to sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        #if _endian(little)
        try sink(UnsafeRawBufferPointer(values))
        #else
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * 4)
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        try bytes.withUnsafeBytes { try sink($0) }
        #endif
    }

    /// Durably creates or replaces the float32 `.npy` file `name` in `folder` (see `replaceFile`)
    /// holding a row-major array of `shape`, whose elements `produce` hands to its argument in
    /// consecutive pieces, so the whole array never needs to be in memory at once.
    /// - Throws: `.unwritableOutput` naming the file when it cannot be written, or when `produce`
    ///   hands over a different number of elements than `shape` holds.
    static func replaceFloat32File(named name: String, in folder: String, temporaryPrefix: String, shape: [Int],
                                   _ produce: (_ piece: (UnsafeBufferPointer<Float>) throws -> Void) throws -> Void) throws {
        let header = NPYArray(validatedShape: shape, elements: .float32([]))
        try replaceFile(named: name, in: folder, temporaryPrefix: temporaryPrefix) { sink in
            try headerBytes(for: header).withUnsafeBytes { try sink($0) }
            var count = 0
            try withoutActuallyEscaping(sink) { sink in
                try produce { piece in
                    count += piece.count
                    try writeLittleEndian(piece, to: sink)
                }
            }
            guard count == header.count else {
                throw LossKernelsError.unwritableOutput(path: path(name, in: folder), reason: "\(count) elements written, the shape \(shape) holds \(header.count)")
            }
        }
    }

    /// Whether `name` names a file directly in a folder: not empty, `.` or `..`, no `/` or NUL.
    static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.utf8.contains(0)
    }

    /// `directory` without a trailing `/` (except the root `/`).
    static func folder(_ directory: String) -> String {
        directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
    }

    /// The path of `name` in `folder` (a path as `folder(_:)` returns it).
    static func path(_ name: String, in folder: String) -> String {
        folder == "/" ? "/" + name : folder + "/" + name
    }

    /// Flushes a folder's entries to disk (best effort).
    static func syncFolder(_ folder: String) {
        let descriptor = open(folder, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        _ = close(descriptor)
    }
}

// `read` is shadowed inside `NPYFile` by `NPYFile.read(path:)`; call the C functions through these.
@inline(__always)
private func posixRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}

@inline(__always)
private func posixWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}
