import Foundation

// MARK: - NPYFile

/// Reads and writes NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
///
/// Reading accepts little-endian (`<` or native `=`) `f4`, `f8`, `i4` and `i8` arrays in C order;
/// every other file is refused with `LossKernelsError.unreadableFile(file:reason:)`, whose reason
/// says what is wrong. Writing produces version 1.0 files that NumPy's `np.load` reads.
///
/// The format itself (this file: `decode`, `encode` and the byte conversions) is pure: it never
/// touches the file system. The other parts live in extensions, one job per file:
/// `NPYFile+Header.swift` parses the header dict, `NPYFile+DType.swift` resolves its dtype,
/// `NPYFile+Reading.swift` reads files, `NPYFile+FileSystem.swift` holds the path and folder
/// helpers, `NPYFile+DurableWriting.swift` writes one file crash-safely (temporary file, fsync,
/// rename, folder fsync) and `NPYFile+WriteAll.swift` writes a group of files atomically.
///
/// Package access: the CLI and the tests use it; it is not part of the library's public API.
package enum NPYFile {
    /// The six bytes every `.npy` file starts with: `"\x93NUMPY"`.
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]   // "\x93NUMPY"
    /// The dtypes `decode` accepts, as error messages list them.
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
    package static func decode(_ bytes: [UInt8], name: String) throws -> NPYArray {
        func refuse(_ reason: String) -> LossKernelsError {
            .unreadableFile(file: name, reason: reason)
        }

        // Magic and version.
        guard !bytes.isEmpty else {
            throw refuse("empty file (0 bytes), not a NumPy .npy file")
        }
        let magicPrefix = min(bytes.count, magic.count)
        guard bytes[0..<magicPrefix].elementsEqual(magic[0..<magicPrefix]) else {
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
        for index in 0..<lengthFieldSize {
            headerLength |= Int(bytes[8 + index]) << (8 * index)
        }
        // headerLength < 2^32, so this cannot overflow on 64-bit; check anyway.
        let (headerEnd, headerOverflow) = headerStart.addingReportingOverflow(headerLength)
        guard !headerOverflow, headerEnd <= bytes.count else {
            throw refuse("truncated: header length \(headerLength) extends past the end of the file (\(bytes.count) bytes)")
        }

        // Header text: latin-1 for 1.0 and 2.0, UTF-8 for 3.0.
        let headerBytes = bytes[headerStart..<headerEnd]
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
            throw refuse(
                "data holds \(available) bytes but shape \(shapeText) of \(header.descr) needs \(needed) (\(available - needed) trailing bytes after the array)"
            )
        }

        // Data.
        let elements = bytes.withUnsafeBytes { raw -> NPYArray.Elements in
            let data = UnsafeRawBufferPointer(rebasing: raw[headerEnd..<headerEnd + needed])
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
                return .float32(
                    [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                        for index in 0..<count {
                            let bits = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: index &* 8, as: UInt64.self))
                            buffer[index] = Float(Double(bitPattern: bits))
                        }
                        initialized = count
                    })
            case .i4:
                return .int64(
                    [Int64](unsafeUninitializedCapacity: count) { buffer, initialized in
                        for index in 0..<count {
                            let value = Int32(littleEndian: data.loadUnaligned(fromByteOffset: index &* 4, as: Int32.self))
                            buffer[index] = Int64(value)
                        }
                        initialized = count
                    })
            }
        }
        return NPYArray(validatedShape: header.shape, elements: elements)
    }

    /// Encodes an array as a version 1.0 `.npy` file: `<f4` for `.float32`, `<i8` for `.int64`,
    /// `fortran_order` False, row-major data. The header (magic, length and dict) is padded with
    /// spaces and a final newline to a multiple of 64 bytes, exactly as NumPy writes it, e.g.
    /// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`. A header too long for 1.0
    /// (over 65535 bytes, i.e. thousands of dimensions) is written as version 2.0.
    ///
    /// - Precondition: `array.elements` holds `array.count` elements and no dimension is negative.
    package static func encode(_ array: NPYArray) -> [UInt8] {
        var bytes: [UInt8] = []
        switch array.elements {
        case let .float32(values): bytes.reserveCapacity(128 + values.count * 4)
        case let .int64(values): bytes.reserveCapacity(128 + values.count * 8)
        }
        write(array) { bytes.append(contentsOf: $0) }
        return bytes
    }
}

// MARK: - Byte and element conversion

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
        for index in 0..<lengthFieldSize {
            bytes.append(UInt8(truncatingIfNeeded: headerLength >> (8 * index)))
        }
        bytes.append(contentsOf: dict)
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
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
}
