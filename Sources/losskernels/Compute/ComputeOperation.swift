import LossKernelsCatalog

/// A flag of `losskernels compute`: a tensor's file or an option. `rawValue` is the flag without `--`.
struct ComputeFlag: Hashable {
    let rawValue: String

    /// `--name`, as the user types it.
    var flag: String { "--" + rawValue }
}

/// An operation of `losskernels compute` as its help presents it: a view of the table's row
/// (`CatalogOperation`) — the inputs it needs, the flags it accepts besides, the files it writes.
struct ComputeOperation {
    let entry: CatalogOperation

    /// The operations `compute` runs, in the table's order.
    static var allCases: [ComputeOperation] { Catalog.operations.filter(\.computable).map(ComputeOperation.init) }

    /// The operation's name.
    var rawValue: String { entry.name }

    /// Inputs it cannot run without (of a group of alternatives, the first).
    var requiredInputs: [ComputeFlag] {
        var seen: Set<String> = []
        return entry.tensors.compactMap { spec in
            switch spec.need {
            case .required: return ComputeFlag(rawValue: spec.flag)
            case .oneOf(let group): return seen.insert(group).inserted ? ComputeFlag(rawValue: spec.flag) : nil
            case .optional, .backward: return nil
            }
        }
    }

    /// Optional inputs and the options it uses.
    var optionalFlags: [ComputeFlag] {
        let required = Set(requiredInputs)
        return entry.tensors.map { ComputeFlag(rawValue: $0.flag) }.filter { !required.contains($0) } + entry.options.map { ComputeFlag(rawValue: $0.flag) }
    }

    /// The files it writes; the bracketed ones only in some cases.
    var outputs: String {
        entry.results.map { $0.hasPrefix("[") ? "[" + $0.dropFirst().dropLast() + ".npy]" : $0 + ".npy" }.joined(separator: " ")
    }

    /// The operation's lines of the help: its input files ([optional]), options and result files.
    var usage: [String] {
        var inputs: [String] = []
        var groups: Set<String> = []
        for spec in entry.tensors {
            switch spec.need {
            case .required: inputs.append("--" + spec.flag)
            case .optional, .backward: inputs.append("[--\(spec.flag)]")
            case .oneOf(let group):
                guard groups.insert(group).inserted else { continue }
                inputs.append("(" + entry.tensors.filter { $0.need == .oneOf(group) }.map { "--" + $0.flag }.joined(separator: " | ") + ")")
            }
        }
        let headFlags = Set(["scale", "margin", "m1", "m2", "m3", "lambda", "easy-margin", "gradient", "memory-budget-mb"])
        let options = entry.options.filter { !headFlags.contains($0.flag) || entry.option("head") == nil }.map {
            $0.flag == "head" ? "the head flags" : "--" + $0.flag
        }
        let indent = String(repeating: " ", count: 18)
        var lines = ["  " + rawValue.padding(toLength: 16, withPad: " ", startingAt: 0) + inputs.joined(separator: " ")]
        if !options.isEmpty { lines.append(indent + "options: " + options.joined(separator: " ")) }
        lines.append(indent + "writes: " + outputs)
        return lines
    }
}
