import ArgumentParser
import LossKernelsCatalog

/// The command-line rules the operation table implies, shared by `compute` and `bench`: a flag the
/// operation does not use, a word an option does not take, a missing input, `--grad-output` with a
/// reduction other than none, a head flag the head does not use, flags that exclude each other —
/// each a `ValidationError` (exit 2) naming the operation and the flag.
enum OperationUsage {
    /// The operation named `name`, or a `ValidationError` listing the valid names.
    static func operation(_ name: String, computable: Bool = false) throws -> CatalogOperation {
        let candidates = Catalog.operations.filter { !computable || $0.computable }
        guard let operation = candidates.first(where: { $0.name == name }) else {
            throw ValidationError("unknown operation '\(name)' (one of: \(candidates.map(\.name).joined(separator: ", ")))")
        }
        return operation
    }

    /// Checks `options` and the `tensors` given (`compute`: every input must be there) against
    /// `operation`'s row of the table.
    static func check(_ operation: CatalogOperation, options: OperationOptions, tensors: Set<String>, requireInputs: Bool) throws {
        let name = operation.name
        if requireInputs {
            for spec in operation.tensors where spec.need == .required && !tensors.contains(spec.flag) {
                throw ValidationError("\(name) needs --\(spec.flag)")
            }
            var groups: [String: [String]] = [:]
            for spec in operation.tensors { if case .oneOf(let group) = spec.need { groups[group, default: []].append(spec.flag) } }
            for (_, flags) in groups.sorted(by: { $0.key < $1.key }) {
                let given = flags.filter(tensors.contains)
                if given.isEmpty { throw ValidationError("\(name) needs \(flags.map { "--" + $0 }.joined(separator: " or "))") }
                if given.count > 1 { throw ValidationError("\(name) takes one of \(flags.map { "--" + $0 }.joined(separator: ", ")), not several") }
            }
        }
        for flag in tensors.sorted() where operation.tensor(flag) == nil {
            throw ValidationError("\(name) does not use --\(flag)")
        }
        for flag in options.flags.sorted() {
            guard let spec = operation.option(flag) else { throw ValidationError("\(name) does not use --\(flag)") }
            if let words = spec.words, let word = options.word(flag), !words.contains(word) {
                throw ValidationError("\(name): --\(flag) \(word) is not allowed (one of: \(words.joined(separator: ", ")))")
            }
        }
        if let (a, b) = operation.exclusions.first(where: {
            (tensors.contains($0.0) || options.flags.contains($0.0)) && (tensors.contains($0.1) || options.flags.contains($0.1))
        }) {
            throw ValidationError("\(name) does not use --\(a) together with --\(b)")
        }
        let reduction = options.word("reduction") ?? "mean"
        if operation.option("reduction") != nil, tensors.contains("grad-output"), reduction != "none" {
            throw ValidationError("\(name): --grad-output needs --reduction none (with \(reduction) the loss is one value and its gradient is written as is)")
        }
        if operation.option("head") != nil, let unused = Catalog.unusedHeadFlag(options) {
            throw ValidationError("\(name) with --head \(options.word("head") ?? "cosface") does not use --\(unused)")
        }
    }
}
