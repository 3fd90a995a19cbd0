import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Durable writing

extension NPYFile {
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
    static func writeTemporary(
        in folder: String, temporaryPrefix: String, reportedAs target: String,
        _ body: (ByteSink) throws -> Void
    ) throws -> String {
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
    static func replaceFile(
        named name: String, in folder: String, temporaryPrefix: String,
        _ body: (ByteSink) throws -> Void
    ) throws {
        let target = path(name, in: folder)
        let temporary = try writeTemporary(in: folder, temporaryPrefix: temporaryPrefix, reportedAs: target, body)
        guard rename(temporary, target) == 0 else {
            let reason = errnoDescription(errno)
            _ = unlink(temporary)
            throw LossKernelsError.unwritableOutput(path: target, reason: "cannot move the written file into place: \(reason)")
        }
        syncFolder(folder)
    }

    /// Durably creates or replaces the float32 `.npy` file `name` in `folder` (see `replaceFile`)
    /// holding a row-major array of `shape`, whose elements `produce` hands to its argument in
    /// consecutive pieces, so the whole array never needs to be in memory at once.
    /// - Throws: `.unwritableOutput` naming the file when it cannot be written, or when `produce`
    ///   hands over a different number of elements than `shape` holds.
    static func replaceFloat32File(
        named name: String, in folder: String, temporaryPrefix: String, shape: [Int],
        _ produce: (_ piece: (UnsafeBufferPointer<Float>) throws -> Void) throws -> Void
    ) throws {
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
                throw LossKernelsError.unwritableOutput(
                    path: path(name, in: folder), reason: "\(count) elements written, the shape \(shape) holds \(header.count)")
            }
        }
    }
}

/// `write(2)`: inside `NPYFile` the name `write` means `NPYFile.write(_:to:)`, so the C function is
/// called through this.
@inline(__always)
private func posixWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}
