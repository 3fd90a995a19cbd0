import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Reading files

extension NPYFile {
    /// Reads the `.npy` file at `path` and decodes it (see `decode(_:name:)`).
    ///
    /// - Returns: the array, with the shape and elements `decode` describes.
    /// - Throws: `LossKernelsError.unreadableFile(file: path, reason:)` when the file is missing
    ///   ("no such file"), is a directory, cannot be opened or read, or is refused by `decode`.
    package static func read(path: String) throws -> NPYArray {
        try decode(readBytes(path: path), name: path)
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
                    let got = try readSome(into: UnsafeMutableRawBufferPointer(rebasing: raw[initialized..<size]))
                    if got == 0 { break }
                    initialized += got
                }
            }
            if bytes.count < size { return bytes }   // shrank while reading: decode reports what is there
        }
        // Files of unknown size (pipes, /proc) or that grew: read the rest in chunks.
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let got = try chunk.withUnsafeMutableBytes { try readSome(into: $0) }
            if got == 0 { break }
            bytes.append(contentsOf: chunk[0..<got])
        }
        return bytes
    }
}

/// `read(2)`: inside `NPYFile` the name `read` means `NPYFile.read(path:)`, so the C function is
/// called through this.
@inline(__always)
private func posixRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}
