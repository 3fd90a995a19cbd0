import Foundation

/// The settings an engine reads from the environment, parsed in one place with one rule for every
/// variable: unset or empty means the default; any other value must be one of the allowed values,
/// or `fromEnvironment` throws `.invalidOption` naming the variable, the value and what is allowed.
/// `Engine.init` reads it, so a bad value stops engine creation instead of being ignored.
///
/// | variable | allowed | default |
/// |---|---|---|
/// | `LOSSKERNELS_BACKEND` | `auto`, `cpu`, `opencl` | `auto` |
/// | `LOSSKERNELS_THREADS` | an integer ≥ 1 | every active core |
/// | `LOSSKERNELS_OFFLOAD_MIN_ELEMENTS` | an integer ≥ 0 | 2^20 |
/// | `LOSSKERNELS_OPENCL_DEVICE_TYPE` | `gpu`, `cpu`, `any` | `gpu` |
/// | `LOSSKERNELS_OPENCL_DEVICE` | an integer ≥ 0 (a position in `Engine.openCLDevices()`) | none |
/// | `LOSSKERNELS_AUTO_PROBE` | a boolean | true |
/// | `LOSSKERNELS_CACHE_DIR` | a directory | `$XDG_CACHE_HOME/losskernels`, else `~/.cache/losskernels` |
/// | `LOSSKERNELS_CHECK_FINITE` | a boolean | false |
/// | `LOSSKERNELS_CPU_MICROKERNELS` | a boolean | true (when the CPU has AVX2+FMA) |
/// | `LOSSKERNELS_FAULT` | `build`, `alloc`, `enqueue`, `read` | none |
/// | `LOSSKERNELS_PROFILE` | a boolean: time every OpenCL kernel (`OpenCLProfile`) | false |
/// | `LOSSKERNELS_OPENCL_MAX_WORK_ITEMS` | an integer ≥ 1: work-items per launch in dimension 0 | 2^30 |
/// | `LOSSKERNELS_OPENCL_MAX_GROUPS` | an integer ≥ 1: work-groups per launch in dimensions 1–2 | 65,535 |
/// | `LOSSKERNELS_OPENCL_BUILD_OPTIONS` | extra OpenCL program build options | none |
/// | `LOSSKERNELS_OPENCL_SPLIT_K` | an integer ≥ 0: K-slices of long GEMMs (0: never split) | chosen per shape |
/// | `LOSSKERNELS_OPENCL_SLAB_BYTES` | an integer ≥ 0: row-slab bytes of the softmax forward (0: no slabs) | 0 |
/// | `LOSSKERNELS_CLBLAST_PARAMETERS` | a JSON file of CLBlast kernel parameters (`CLBlast.tuning`) | none |
///
/// The max-work-items, max-groups, build-options and split-K variables are test and diagnostic hooks: lowered caps make the kernels' strided loops run
/// at small sizes, and `-cl-mad-enable` checks the numerics under contracted multiply-adds.
///
/// Booleans are `1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off`; every word is
/// case-insensitive. `LOSSKERNELS_OPENCL_LIBRARY` and `LOSSKERNELS_CLBLAST_LIBRARY` (paths) are
/// read by the OpenCL shim when it loads those libraries.
package struct Configuration: Sendable, Equatable {
    package var backend: BackendPolicy = .auto
    package var threads: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)
    package var offloadMinimumElements: Int = 1 << 20
    package var openCLDeviceTypes: OpenCLDeviceTypeFilter = .gpu
    package var checkFinite = false
    /// `LOSSKERNELS_CPU_MICROKERNELS`. The choice is per process (`RowKernels.useMicrokernels` reads
    /// the variable by the same rule at first use); engine creation checks the value here.
    package var cpuMicrokernels = true
    package var fault: OpenCLFault? = nil
    package var profile = false
    package var launchLimits = OpenCLLaunchLimits()
    package var openCLBuildOptions = ""
    package var splitK: Int? = nil
    package var slabBytes: Int? = nil
    package var clblastParameters: String? = nil

    /// The settings of the OpenCL devices an engine opens.
    var openCLDeviceSettings: OpenCLDeviceSettings {
        OpenCLDeviceSettings(
            fault: fault, limits: launchLimits, profile: profile, extraBuildOptions: openCLBuildOptions, clblastParameters: clblastParameters, splitK: splitK,
            slabBytes: slabBytes)
    }
    /// `LOSSKERNELS_OPENCL_DEVICE`: the pinned device's position, used by `opencl` and `auto`.
    package var openCLDevice: Int? = nil
    /// `LOSSKERNELS_AUTO_PROBE`: whether `auto` measures the ceilings of its cost model (and keeps
    /// them in the cache file); false decides by `CostModel.staticRule`.
    package var autoProbe = true
    /// Where the measured ceilings are cached (`CeilingsCache.directory`): `LOSSKERNELS_CACHE_DIR`,
    /// else `XDG_CACHE_HOME/losskernels`, else `HOME/.cache/losskernels`; nil when none is set.
    package var cacheDirectory: URL? = nil

    package init() {}

    /// Where `auto`'s cost model gets its ceilings under this configuration: measured and cached in
    /// `cacheDirectory` (in memory only without one), or the static rule when `autoProbe` is off.
    package var autoCeilings: AutoCeilingsSource {
        autoProbe ? .measured(cacheFile: cacheDirectory.map(CeilingsCache.file(in:))) : .staticRule
    }

    /// The configuration the environment describes.
    /// - Throws: `.invalidOption(name: variable, value:, allowed:)` for the first variable whose
    ///   value is not allowed.
    package static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Configuration {
        let variables = EnvironmentVariables(environment)
        var c = Configuration()
        c.backend = try variables.choice("LOSSKERNELS_BACKEND", default: c.backend)
        c.threads = try variables.integer("LOSSKERNELS_THREADS", minimum: 1, default: c.threads)
        c.offloadMinimumElements = try variables.integer("LOSSKERNELS_OFFLOAD_MIN_ELEMENTS", minimum: 0, default: c.offloadMinimumElements)
        c.openCLDeviceTypes = try variables.choice("LOSSKERNELS_OPENCL_DEVICE_TYPE", default: c.openCLDeviceTypes)
        c.checkFinite = try variables.boolean("LOSSKERNELS_CHECK_FINITE", default: c.checkFinite)
        c.cpuMicrokernels = try variables.boolean("LOSSKERNELS_CPU_MICROKERNELS", default: c.cpuMicrokernels)
        c.fault = try variables.optionalChoice("LOSSKERNELS_FAULT", as: OpenCLFault.self)
        c.profile = try variables.boolean("LOSSKERNELS_PROFILE", default: c.profile)
        c.launchLimits.maxWorkItems = try variables.integer("LOSSKERNELS_OPENCL_MAX_WORK_ITEMS", minimum: 1, default: c.launchLimits.maxWorkItems)
        c.launchLimits.maxGroups = try variables.integer("LOSSKERNELS_OPENCL_MAX_GROUPS", minimum: 1, default: c.launchLimits.maxGroups)
        c.openCLBuildOptions = variables.raw("LOSSKERNELS_OPENCL_BUILD_OPTIONS") ?? ""
        if variables.raw("LOSSKERNELS_OPENCL_SPLIT_K") != nil { c.splitK = try variables.integer("LOSSKERNELS_OPENCL_SPLIT_K", minimum: 0, default: 0) }
        c.clblastParameters = variables.raw("LOSSKERNELS_CLBLAST_PARAMETERS")
        if variables.raw("LOSSKERNELS_OPENCL_SLAB_BYTES") != nil {
            c.slabBytes = try variables.integer("LOSSKERNELS_OPENCL_SLAB_BYTES", minimum: 0, default: 0)
        }
        c.openCLDevice = try variables.optionalInteger("LOSSKERNELS_OPENCL_DEVICE", minimum: 0)
        c.autoProbe = try variables.boolean("LOSSKERNELS_AUTO_PROBE", default: c.autoProbe)
        c.cacheDirectory = CeilingsCache.directory(environment)
        return c
    }
}

/// The rule every variable follows: unset or empty is the default, anything else must parse.
struct EnvironmentVariables {
    let environment: [String: String]

    init(_ environment: [String: String]) { self.environment = environment }

    /// The raw value, nil when unset or empty.
    func raw(_ name: String) -> String? {
        guard let value = environment[name], !value.isEmpty else { return nil }
        return value
    }

    func refuse(_ name: String, _ value: String, allowed: String) -> LossKernelsError {
        .invalidOption(name: name, value: value, allowed: allowed)
    }

    /// One of an enumeration's raw values (case-insensitive).
    func choice<T: RawRepresentable & CaseIterable>(_ name: String, default value: T) throws -> T where T.RawValue == String {
        try optionalChoice(name, as: T.self) ?? value
    }

    func optionalChoice<T: RawRepresentable & CaseIterable>(_ name: String, as type: T.Type) throws -> T? where T.RawValue == String {
        guard let raw = raw(name) else { return nil }
        guard let value = T(rawValue: raw.lowercased()) else {
            throw refuse(name, raw, allowed: T.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return value
    }

    /// An integer of at least `minimum`.
    func integer(_ name: String, minimum: Int, default value: Int) throws -> Int {
        try optionalInteger(name, minimum: minimum) ?? value
    }

    /// An integer of at least `minimum`, or nil when unset or empty.
    func optionalInteger(_ name: String, minimum: Int) throws -> Int? {
        guard let raw = raw(name) else { return nil }
        guard let parsed = Int(raw.trimmingCharacters(in: .whitespaces)), parsed >= minimum else {
            throw refuse(name, raw, allowed: "an integer >= \(minimum)")
        }
        return parsed
    }

    static let trueWords: Set<String> = ["1", "true", "yes", "on"]
    static let falseWords: Set<String> = ["0", "false", "no", "off"]

    /// A boolean: 1/true/yes/on or 0/false/no/off.
    func boolean(_ name: String, default value: Bool) throws -> Bool {
        guard let raw = raw(name) else { return value }
        let word = raw.lowercased()
        if Self.trueWords.contains(word) { return true }
        if Self.falseWords.contains(word) { return false }
        throw refuse(name, raw, allowed: "1, true, yes, on, 0, false, no, off")
    }
}
