import Foundation
import Testing

@testable import LossKernels

/// `losskernels verify`: every operation on every available backend against the float64
/// reference; exit 1 when a backend fails.
@Suite struct CLIVerifyTests {
    /// The rows of `verify`: 17 operations of docs/CLI.md (margin-softmax once per head, triplet-mined
    /// once per mining mode) plus logsumexp (24), and the cases the one-description issue added:
    /// cross-entropy with probability targets, weighted BCE, nll, kl-div twice (29).
    static let rowsPerBackend = 29

    static func report(_ stdout: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
    }

    @Test func everyOperationPassesOnEveryBackend() throws {
        let result = try CLIRunner.run(["verify", "--json"])
        #expect(result.status == 0, "stderr: \(result.stderr)\n\(result.stdout)")
        let report = try Self.report(result.stdout)
        #expect(report["passed"] as? Bool == true)
        let rows = try #require(report["results"] as? [[String: Any]])
        // The CPU, then every OpenCL device (each under its position in `devices`).
        let deviceCount = (try? Backends.openCLDevices.get())?.count ?? 0
        #expect(rows.count == Self.rowsPerBackend * (1 + deviceCount))
        #expect(rows.filter { $0["backend"] as? String == "cpu" }.count == Self.rowsPerBackend)
        for index in 0..<deviceCount {
            #expect(rows.filter { $0["backend"] as? String == "opencl" && $0["device_index"] as? Int == index }.count == Self.rowsPerBackend)
        }
        #expect(rows.allSatisfy { ($0["max_error"] as? Double).map { $0 <= 1e-3 } ?? false })
    }

    @Test func withoutOpenCLOnlyTheCPUIsChecked() throws {
        let result = try CLIRunner.run(["verify"], environment: CLIBenchToolsTests.noOpenCL)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.contains("\(Self.rowsPerBackend) of \(Self.rowsPerBackend) passed"), "\(result.stdout)")
        #expect(result.stdout.contains("opencl: not checked"))
        #expect(!result.stdout.contains("FAIL"))
    }

    /// A backend that fails (OpenCL made to fail at every enqueue) is reported and exits 1.
    @Test func aFailingBackendExitsOne() throws {
        try Backends.requireOpenCL()
        let result = try CLIRunner.run(["verify", "--json"], environment: ["LOSSKERNELS_FAULT": "enqueue"])
        #expect(result.status == 1, "stdout: \(result.stdout)")
        #expect(result.stderr.contains("checks failed"))
        let report = try Self.report(result.stdout)
        #expect(report["passed"] as? Bool == false)
        let rows = try #require(report["results"] as? [[String: Any]])
        #expect(rows.filter { $0["backend"] as? String == "cpu" }.allSatisfy { $0["passed"] as? Bool == true })
        #expect(rows.contains { $0["backend"] as? String == "opencl" && $0["passed"] as? Bool == false })
    }
}
