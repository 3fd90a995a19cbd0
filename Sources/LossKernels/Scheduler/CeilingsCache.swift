import Foundation

/// The file that keeps `auto`'s measured ceilings between processes: one JSON object,
/// `{"version": 1, "devices": {key: entry}}`, keyed by device name, driver version and CPU threads
/// (`key(device:driverVersion:threads:)`). It lives in `$LOSSKERNELS_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/losskernels`, else `~/.cache/losskernels`, as `auto-ceilings.json`.
///
/// Reading is forgiving: a missing, unreadable or corrupt file, or an entry with unusable values,
/// reads as no entry (the probe runs again and the file is rewritten). Writing merges with what the
/// file holds, replaces it atomically, and ignores failures (a read-only home directory).
package enum CeilingsCache {
    /// The file name inside the cache directory.
    package static let fileName = "auto-ceilings.json"
    /// The format's version; a file of another version is treated as corrupt.
    package static let version = 1

    /// One device's ceilings as the file holds them.
    package struct Entry: Sendable, Codable, Equatable {
        /// The device's name.
        package var device: String
        /// The driver's version string.
        package var driverVersion: String
        /// The CPU threads the host side was measured with.
        package var cpuThreads: Int
        /// The rates.
        package var ceilings: CostCeilings
        /// Seconds the probes took, all of them together.
        package var probeSeconds: Double
        /// When the entry was last written (ISO 8601).
        package var measuredAt: String

        /// An entry from its fields.
        /// - Parameters:
        ///   - device: the device's name.
        ///   - driverVersion: its driver version.
        ///   - cpuThreads: the engine's CPU threads.
        ///   - ceilings: the rates.
        ///   - probeSeconds: seconds spent measuring them.
        ///   - measuredAt: ISO 8601 time; default now.
        package init(device: String, driverVersion: String, cpuThreads: Int, ceilings: CostCeilings, probeSeconds: Double, measuredAt: String? = nil) {
            self.device = device
            self.driverVersion = driverVersion
            self.cpuThreads = cpuThreads
            self.ceilings = ceilings
            self.probeSeconds = probeSeconds
            self.measuredAt = measuredAt ?? ISO8601DateFormatter().string(from: Date())
        }

        enum CodingKeys: String, CodingKey {
            case device
            case driverVersion = "driver_version"
            case cpuThreads = "cpu_threads"
            case ceilings
            case probeSeconds = "probe_seconds"
            case measuredAt = "measured_at"
        }

        /// The key this entry is stored under.
        package var key: String { CeilingsCache.key(device: device, driverVersion: driverVersion, threads: cpuThreads) }
    }

    struct File: Codable {
        var version: Int
        var devices: [String: Entry]
    }

    /// The key of a device measured with `threads` CPU threads.
    /// - Parameters:
    ///   - device: the device's name.
    ///   - driverVersion: its driver version.
    ///   - threads: the engine's CPU threads.
    /// - Returns: `"name|driver|threads"`.
    package static func key(device: String, driverVersion: String, threads: Int) -> String {
        "\(device)|\(driverVersion)|\(threads)"
    }

    /// The cache directory the environment names: `LOSSKERNELS_CACHE_DIR`, else
    /// `XDG_CACHE_HOME/losskernels`, else `HOME/.cache/losskernels`; nil when none is set.
    /// - Parameter environment: the process environment.
    /// - Returns: the directory, or nil.
    package static func directory(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        if let explicit = value("LOSSKERNELS_CACHE_DIR") { return URL(fileURLWithPath: explicit, isDirectory: true) }
        if let xdg = value("XDG_CACHE_HOME") { return URL(fileURLWithPath: xdg, isDirectory: true).appendingPathComponent("losskernels", isDirectory: true) }
        if let home = value("HOME") {
            return URL(fileURLWithPath: home, isDirectory: true).appendingPathComponent(".cache/losskernels", isDirectory: true)
        }
        return nil
    }

    /// The cache file inside `directory`.
    /// - Parameter directory: the cache directory.
    /// - Returns: `directory/auto-ceilings.json`.
    package static func file(in directory: URL) -> URL { directory.appendingPathComponent(fileName) }

    /// Every valid entry of the file, by key; empty when the file is missing or corrupt.
    /// - Parameter url: the cache file.
    /// - Returns: the entries whose ceilings are usable and whose key matches their fields.
    package static func load(_ url: URL) -> [String: Entry] {
        guard let data = try? Data(contentsOf: url), let file = try? JSONDecoder().decode(File.self, from: data), file.version == version else {
            return [:]
        }
        return file.devices.filter { key, entry in entry.ceilings.isValid && entry.key == key }
    }

    /// Writes `entry` into the file, keeping the other valid entries; a corrupt file is replaced.
    /// Creates the directory; the file is replaced atomically.
    /// - Parameters:
    ///   - entry: the entry to store under its key.
    ///   - url: the cache file.
    /// - Returns: whether the file was written (failures are otherwise ignored).
    @discardableResult
    package static func store(_ entry: Entry, in url: URL) -> Bool {
        var devices = load(url)
        devices[entry.key] = entry
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try encoder.encode(File(version: version, devices: devices)).write(to: url, options: .atomic)
            return true
        } catch {
            return false
        }
    }
}
