import ArgumentParser
import Foundation
import LossKernels
import LossKernelsCatalog
import LossKernelsReference

/// `losskernels verify [--seed N] [--json]`: runs every case of the operation table
/// (`CatalogOperation.verification`: each operation, each margin head, both mining modes) on the
/// CPU and on every OpenCL device, on random inputs of modest size, and compares every result with
/// the table's float64 reference (LossKernelsReference). Prints case × backend → pass/fail and the
/// largest error `|out − ref| / max(1, |ref|)`; exit 1 when anything fails. The command to run on
/// a new GPU.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every operation on every available backend against the float64 reference.",
        discussion: """
            Inputs: random values from --seed, as `bench` makes them, at each case's modest shape \
            (8 × 257 logits, 4,099 elements, 8 × 97 × 24 margin heads, 16 × 12 metric losses). Rules: elementwise |Δ| ≤ 1e-4·max(1, |ref|); \
            results of matrix products (margin heads, mined triplets) ‖Δ‖/‖ref‖ ≤ 1e-4 and \
            |Δ| ≤ 1e-3·max(1, |ref|). Exit 0 when all pass, 1 when any fails. Without OpenCL only \
            the CPU is checked (the reason is printed).
            """)

    @Option(name: .long, help: "Seed of the random inputs.") var seed: UInt64 = 42
    @Flag(name: .long, help: "Print one JSON object: {\"passed\", \"opencl_unavailable\", \"results\": [...]}.") var json = false

    /// One operation on one backend.
    struct Outcome: Codable {
        var op: String
        var backend: String
        var device: String
        /// The device's position in `losskernels devices` (OpenCL only).
        var device_index: Int?
        var passed: Bool
        var max_error: Double?
        var failed_outputs: [String]
        var error: String?
    }

    struct Report: Codable {
        var passed: Bool
        var opencl_unavailable: String?
        var results: [Outcome]
    }

    func run() throws {
        var engines: [(String, String, Int?, Engine)] = [("cpu", "CPU (\(Engine.cpuInstructionSet))", nil, try Engine(policy: .cpu))]
        var unavailable: String?
        switch Engine.openCLDevices() {
        case .failure(let error): unavailable = error.description
        case .success(let devices) where devices.isEmpty: unavailable = "no OpenCL device"
        case .success(let devices):
            for position in devices.indices {
                let engine = try Engine(policy: .opencl, openCLDeviceTypes: .any, openCLDevice: position)
                engines.append(("opencl", devices[position].name, position, engine))
            }
        }
        var outcomes: [Outcome] = []
        for (index, (operation, verifyCase)) in Catalog.operations.flatMap({ op in op.verification.map { (op, $0) } }).enumerated() {
            let inputs = operation.makeInputs(shape: verifyCase.shape, pass: .both, seed: seed &+ UInt64(index), including: verifyCase.tensors)
            let references = try operation.referenceResults(inputs: inputs, options: verifyCase.options) ?? []
            for (backend, device, position, engine) in engines {
                var outcome = Outcome(
                    op: verifyCase.label, backend: backend, device: device, device_index: position, passed: false, max_error: nil, failed_outputs: [],
                    error: nil)
                do {
                    let call = try operation.prepare(engine: engine, inputs: inputs, options: verifyCase.options)
                    let ran = try call.run()
                    let results = Dictionary(uniqueKeysWithValues: try call.results().map { ($0.name, $0.values) })
                    let checks = references.map { reference in
                        VerifyCheck(
                            output: reference.name, actual: results[reference.name] ?? [], reference: reference.values,
                            rule: reference.rule == .gemm ? .gemm : .elementwise(VerifyCheck.tolerance(reference.rule)))
                    }
                    outcome.max_error = checks.map(\.maxError).max() ?? 0
                    outcome.failed_outputs = checks.filter { !$0.passed }.map(\.output)
                    if ran.rawValue != backend { outcome.error = "ran on \(ran.rawValue)" }
                    outcome.passed = !checks.isEmpty && outcome.failed_outputs.isEmpty && outcome.error == nil
                } catch {
                    outcome.error = "\(error)"
                }
                outcomes.append(outcome)
            }
        }
        let report = Report(passed: outcomes.allSatisfy(\.passed), opencl_unavailable: unavailable, results: outcomes)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            printTable(report)
        }
        let failed = outcomes.filter { !$0.passed }.count
        if failed > 0 { throw CommandFailure(message: "verify: \(failed) of \(outcomes.count) operation × backend checks failed") }
    }

    func printTable(_ report: Report) {
        var rows = [["operation", "backend", "result", "max error", "note"]]
        for o in report.results {
            let error = o.max_error.map { $0.isFinite ? String(format: "%.2e", $0) : "inf" } ?? "-"
            var note = o.failed_outputs.isEmpty ? "" : "off: " + o.failed_outputs.joined(separator: ", ")
            if let e = o.error { note += (note.isEmpty ? "" : "; ") + e }
            rows.append([o.op, o.device_index.map { "opencl \($0)" } ?? o.backend, o.passed ? "pass" : "FAIL", error, note])
        }
        TextTable.print(rows)
        print("")
        var listed: [String] = []
        for line in report.results.map({ "\($0.device_index.map { "opencl \($0)" } ?? $0.backend): \($0.device)" }) where !listed.contains(line) {
            listed.append(line)
        }
        for line in listed { print(line) }
        if let reason = report.opencl_unavailable { print("opencl: not checked (\(reason))") }
        let passed = report.results.filter(\.passed).count
        print("\(passed) of \(report.results.count) passed")
    }
}

/// Left-aligned columns separated by two spaces; the first row is the header.
enum TextTable {
    static func print(_ rows: [[String]]) {
        guard let first = rows.first else { return }
        var widths = [Int](repeating: 0, count: first.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        for row in rows {
            let line = row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            Swift.print(line.joined(separator: "  ").trimmingTrailingSpaces())
        }
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
