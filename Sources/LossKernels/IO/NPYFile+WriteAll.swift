import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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
    package static func writeAll(_ files: [(name: String, array: NPYArray)], to directory: String) throws {
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
                for done in (0..<index).reversed() {
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
