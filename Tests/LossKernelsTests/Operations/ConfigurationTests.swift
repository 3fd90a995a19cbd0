import Foundation
import Testing

@testable import LossKernels

/// One rule for every environment variable (`Configuration`): unset or empty is the default; a
/// value outside the allowed ones is an error naming the variable and what is allowed.
@Suite struct ConfigurationTests {
    @Test func unsetAndEmptyAreTheDefaults() throws {
        let defaults = Configuration()
        #expect(try Configuration.fromEnvironment([:]) == defaults)
        let empty = [
            "LOSSKERNELS_BACKEND", "LOSSKERNELS_THREADS", "LOSSKERNELS_OFFLOAD_MIN_ELEMENTS", "LOSSKERNELS_OPENCL_DEVICE_TYPE",
            "LOSSKERNELS_CHECK_FINITE", "LOSSKERNELS_CPU_MICROKERNELS", "LOSSKERNELS_FAULT", "LOSSKERNELS_OPENCL_DEVICE", "LOSSKERNELS_AUTO_PROBE",
            "LOSSKERNELS_CACHE_DIR",
        ].reduce(into: [String: String]()) { $0[$1] = "" }
        #expect(try Configuration.fromEnvironment(empty) == defaults)
    }

    @Test func valuesAreParsed() throws {
        let c = try Configuration.fromEnvironment([
            "LOSSKERNELS_BACKEND": "OpenCL", "LOSSKERNELS_THREADS": "3", "LOSSKERNELS_OFFLOAD_MIN_ELEMENTS": "0",
            "LOSSKERNELS_OPENCL_DEVICE_TYPE": "any", "LOSSKERNELS_CHECK_FINITE": "yes", "LOSSKERNELS_CPU_MICROKERNELS": "off", "LOSSKERNELS_FAULT": "read",
        ])
        #expect(c.backend == .opencl && c.threads == 3 && c.offloadMinimumElements == 0 && c.openCLDeviceTypes == .any)
        #expect(c.checkFinite && !c.cpuMicrokernels && c.fault == .read)
        for word in ["1", "true", "TRUE", "Yes", "on"] { #expect(try Configuration.fromEnvironment(["LOSSKERNELS_CHECK_FINITE": word]).checkFinite, "\(word)") }
        for word in ["0", "false", "No", "OFF"] { #expect(try !Configuration.fromEnvironment(["LOSSKERNELS_CHECK_FINITE": word]).checkFinite, "\(word)") }
    }

    /// Each variable refuses a bad value, naming itself, the value and the allowed values.
    @Test(arguments: [
        ("LOSSKERNELS_BACKEND", "gpu", "auto, cpu, opencl"), ("LOSSKERNELS_THREADS", "abc", "an integer >= 1"), ("LOSSKERNELS_THREADS", "0", "an integer >= 1"),
        ("LOSSKERNELS_OFFLOAD_MIN_ELEMENTS", "-1", "an integer >= 0"), ("LOSSKERNELS_OPENCL_DEVICE_TYPE", "fpga", "gpu, cpu, any"),
        ("LOSSKERNELS_CHECK_FINITE", "2", "1, true, yes, on, 0, false, no, off"),
        ("LOSSKERNELS_CPU_MICROKERNELS", "avx", "1, true, yes, on, 0, false, no, off"),
        ("LOSSKERNELS_FAULT", "crash", "build, alloc, enqueue, read"), ("LOSSKERNELS_OPENCL_DEVICE", "-1", "an integer >= 0"),
        ("LOSSKERNELS_OPENCL_DEVICE", "gpu0", "an integer >= 0"), ("LOSSKERNELS_AUTO_PROBE", "sometimes", "1, true, yes, on, 0, false, no, off"),
    ])
    func badValuesAreRefused(variable: String, value: String, allowed: String) {
        #expect(throws: LossKernelsError.invalidOption(name: variable, value: value, allowed: allowed)) {
            try Configuration.fromEnvironment([variable: value])
        }
    }

    /// An engine is created from the environment and refuses a bad value there: through the CLI,
    /// which creates one per command (exit 1, one line naming the variable).
    @Test func engineCreationRefusesABadVariable() throws {
        let result = try CLIRunner.run(
            ["bench", "softmax", "--batch", "2", "--classes", "8", "--iterations", "1", "--warmup", "0", "--backend", "cpu"],
            environment: ["LOSSKERNELS_THREADS": "many"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(
            result.stderr.contains("LOSSKERNELS_THREADS") && result.stderr.contains("many") && result.stderr.split(separator: "\n").count == 1,
            "\(result.stderr)")
        let good = try CLIRunner.run(
            ["bench", "softmax", "--batch", "2", "--classes", "8", "--iterations", "1", "--warmup", "0", "--backend", "cpu", "--json"],
            environment: ["LOSSKERNELS_THREADS": "1", "LOSSKERNELS_CHECK_FINITE": "true"])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("1 threads"), "\(good.stdout)")
    }
}
