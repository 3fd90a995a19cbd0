import LossKernelsCatalog

/// Reads `compute`'s input files as the table describes each tensor and checks their shapes
/// against one another, naming the file, the flag and the dimension at fault (exit 1). Labels
/// and flags are checked for kind and rank as they are read; values and options are the library's
/// to check.
enum ComputeInputs {
    /// The tensors of `operation` given in `paths` (flag → file), in the table's order.
    static func read(_ operation: CatalogOperation, paths: [String: String]) throws -> [String: HostTensor] {
        var tensors: [String: HostTensor] = [:]
        var sizes: [TensorSpec.Dimension: (size: Int, from: String)] = [:]
        for spec in operation.tensors {
            guard let path = paths[spec.flag] else { continue }
            let tensor: HostTensor
            switch spec.kind {
            case .floats: tensor = try TensorFiles.readFloats(path, tensor: spec.flag)
            case .labels:
                let labels = try TensorFiles.readLabels(path, tensor: spec.flag)
                tensor = HostTensor(shape: [labels.count], integers: labels)
            case .flags:
                let flags = try TensorFiles.readFlags(path, tensor: spec.flag)
                tensor = HostTensor(shape: [flags.count], integers: flags)
            }
            try check(spec, tensor, path: path, tensors: tensors, sizes: &sizes)
            tensors[spec.flag] = tensor
        }
        return tensors
    }

    /// Checks `tensor`'s shape against its spec and the tensors read before it.
    static func check(
        _ spec: TensorSpec, _ tensor: HostTensor, path: String, tensors: [String: HostTensor],
        sizes: inout [TensorSpec.Dimension: (size: Int, from: String)]
    ) throws {
        let shape = tensor.shape
        func mismatch(_ expected: [Int], _ why: String) -> CommandFailure {
            CommandFailure(message: "\(path): --\(spec.flag) has shape \(shape) but must be \(expected) (\(why))")
        }
        switch spec.shape {
        case .dims(let dims):
            guard shape.count == dims.count else {
                throw CommandFailure(
                    message:
                        "\(path): --\(spec.flag) must have \(dims.count) dimension\(dims.count == 1 ? "" : "s") (\(spec.shapeDescription): \(spec.help)), got shape \(shape)"
                )
            }
            for (dim, size) in zip(dims, shape) {
                if let bound = sizes[dim], bound.size != size {
                    throw mismatch(zip(dims, shape).map { sizes[$0.0]?.size ?? $0.1 }, "\(dim.rawValue) = \(bound.size) from --\(bound.from)")
                }
                if sizes[dim] == nil { sizes[dim] = (size, spec.flag) }
            }
        case .rowsOfClasses:
            guard !shape.isEmpty else { throw CommandFailure(message: "\(path): --\(spec.flag) must have at least one dimension, got a 0-d scalar") }
        case .anyRank:
            break
        case .sameAs(let other):
            guard let reference = tensors[other]?.shape, shape != reference else { return }
            throw mismatch(reference, "the shape of --\(other)")
        case .sameAsOrRow(let other):
            guard let reference = tensors[other]?.shape, shape != reference, shape != [reference.last ?? 1] else { return }
            throw mismatch(reference, "the shape of --\(other), or [\(reference.last ?? 1)] broadcast over its rows")
        case .rowsOf(let other):
            guard let reference = tensors[other]?.rowShape, shape != reference else { return }
            throw mismatch(reference, "one value per row of --\(other)")
        case .lastDimensionOf(let other):
            guard let last = tensors[other]?.shape.last, shape != [last] else { return }
            throw mismatch([last], "one value per class of --\(other)")
        }
    }
}
