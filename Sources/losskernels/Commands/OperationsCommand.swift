import ArgumentParser
import Foundation
import LossKernelsCatalog

/// `losskernels operations [--json]`: the operation table every front end reads — for each
/// operation its inputs, options, results, benchmark sizes and passes, the ceiling `--vs-ceiling`
/// compares it with, where it runs device-resident, and its `verify` cases.
struct OperationsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operations",
        abstract: "List the operations: inputs, options, results, benchmark sizes, ceilings, device residency.")

    @Flag(name: .long, help: "One JSON object: {\"operations\": [...]}.") var json = false

    struct Entry: Codable {
        struct Tensor: Codable {
            var flag: String
            var kind: String
            var shape: String
            var need: String
            var values: String
        }
        var name: String
        var summary: String
        var computable: Bool
        var inputs: [Tensor]
        var options: [String]
        var results: [String]
        var bench_sizes: [String]
        var bench_default_dim: Int?
        var bench_default_elements: Int?
        var bench_passes: [String]
        var bound: String
        var device_resident_passes: [String]
        var verify_cases: [String]
    }

    static func entry(_ op: CatalogOperation) -> Entry {
        Entry(
            name: op.name, summary: op.summary, computable: op.computable,
            inputs: op.tensors.map {
                Entry.Tensor(flag: $0.flag, kind: $0.kind.rawValue, shape: $0.shapeDescription, need: need($0.need), values: values($0.values))
            },
            options: op.options.map { option in option.words.map { "\(option.flag) \($0.joined(separator: "|"))" } ?? option.flag }, results: op.results,
            bench_sizes: BenchSpec.SizeFlag.allCases.filter(op.bench.sizes.contains).map(\.rawValue),
            bench_default_dim: op.bench.defaultDim == 0 ? nil : op.bench.defaultDim, bench_default_elements: op.bench.defaultElements,
            bench_passes: op.bench.passes.map(\.rawValue), bound: op.bound.rawValue,
            device_resident_passes: CatalogOperation.Pass.allCases.filter(op.deviceResidentPasses.contains).map(\.rawValue),
            verify_cases: op.verification.map(\.label))
    }

    static func need(_ need: TensorSpec.Need) -> String {
        switch need {
        case .required: return "required"
        case .optional: return "optional"
        case .backward: return "backward"
        case .oneOf(let group): return "one of \(group)"
        }
    }

    static func values(_ values: TensorSpec.Values) -> String {
        switch values {
        case let .uniform(scale, offset): return "uniform[\(offset - scale), \(offset + scale))"
        case .classIndices: return "class indices"
        case .binary: return "0/1"
        case .logProbabilities(let scale): return "log-softmax of uniform[\(-scale), \(scale))"
        }
    }

    func run() throws {
        let entries = Catalog.operations.map(Self.entry)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            struct Table: Codable { var operations: [Entry] }
            print(String(decoding: try encoder.encode(Table(operations: entries)), as: UTF8.self))
            return
        }
        var rows = [["operation", "inputs", "options", "results", "bench sizes", "passes", "ceiling", "device-resident"]]
        for e in entries {
            var groups: [String] = []
            let inputs = e.inputs.compactMap { input -> String? in
                if input.need == "required" { return input.flag }
                if input.need.hasPrefix("one of ") {
                    guard !groups.contains(input.need) else { return nil }
                    groups.append(input.need)
                    return "(" + e.inputs.filter { $0.need == input.need }.map(\.flag).joined(separator: "|") + ")"
                }
                return "[\(input.flag)]"
            }.joined(separator: " ")
            rows.append([
                e.name + (e.computable ? "" : " (bench only)"), inputs,
                e.options.map { $0.split(separator: " ").first.map(String.init) ?? $0 }.joined(separator: " "),
                e.results.joined(separator: " "), e.bench_sizes.joined(separator: ","), e.bench_passes.joined(separator: ","),
                e.bound == "gemm" ? "sgemm" : "copy", e.device_resident_passes.isEmpty ? "-" : e.device_resident_passes.joined(separator: ","),
            ])
        }
        TextTable.print(rows)
    }
}
