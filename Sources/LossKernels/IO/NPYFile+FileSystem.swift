import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - File system helpers

extension NPYFile {
    /// A short English description of an `errno` value for error messages, e.g. "permission
    /// denied"; `strerror`'s text for the less common codes.
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
