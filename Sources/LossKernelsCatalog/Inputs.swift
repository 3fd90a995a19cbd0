import Foundation
import LossKernels

extension CatalogOperation {
    /// `requested` with the operation's defaults filled in: `--dim` when it has a D, `--elements`
    /// for the elementwise operations that have a default.
    public func benchShape(_ requested: BenchShape) -> BenchShape {
        var shape = requested
        if shape.dim == 0 { shape.dim = bench.defaultDim }
        if shape.elements == 0, let elements = bench.defaultElements { shape.elements = elements }
        return shape
    }

    /// The size of each dimension at `shape` (after `benchShape`).
    func sizes(_ shape: BenchShape) -> [TensorSpec.Dimension: Int] {
        [.batch: shape.batch, .classes: bench.classes(shape.batch, shape.classes), .dim: shape.dim]
    }

    /// The tensors a benchmark or `verify` gives at `shape`: every required tensor, one of each
    /// group of alternatives (the first, unless `including` names another), the optional tensors
    /// `including` names, and with `pass` both the backward's upstream gradient. Values from
    /// `seed` (`TensorSpec.Values`), in the order of `tensors`.
    public func makeInputs(shape requested: BenchShape, pass: Pass, seed: UInt64, including: Set<String> = []) -> [String: HostTensor] {
        let shape = benchShape(requested)
        let size = sizes(shape)
        var random = SplitMix64(seed: seed)
        var made: [String: HostTensor] = [:]
        var groups: Set<String> = []
        for spec in tensors {
            switch spec.need {
            case .required: break
            case .optional: if !including.contains(spec.flag) { continue }
            case .backward: if pass == .forward { continue }
            case .oneOf(let group):
                let chosen = tensors.first { $0.need == .oneOf(group) && including.contains($0.flag) } ?? tensors.first { $0.need == .oneOf(group) }
                if chosen?.flag != spec.flag || !groups.insert(group).inserted { continue }
            }
            let dims: [Int]
            switch spec.shape {
            case .dims(let named): dims = named.map { size[$0]! }
            case .anyRank: dims = shape.elements > 0 ? [1, shape.elements] : [shape.batch, shape.classes]
            case .rowsOfClasses: dims = [shape.batch, size[.classes]!]
            case .sameAs(let other), .sameAsOrRow(let other): dims = made[other]?.shape ?? []
            case .rowsOf(let other): dims = made[other]?.rowShape ?? []
            case .lastDimensionOf(let other): dims = [made[other]?.shape.last ?? 1]
            }
            made[spec.flag] = Self.values(spec, shape: dims, classes: size[.classes]!, &random)
        }
        return made
    }

    /// One tensor of `shape` with the spec's values.
    static func values(_ spec: TensorSpec, shape: [Int], classes: Int, _ random: inout SplitMix64) -> HostTensor {
        let count = shape.reduce(1, *)
        switch spec.values {
        case .uniform(let scale, let offset):
            let step = 2 * scale / Float(1 << 24)
            return HostTensor(shape: shape, floats: (0..<count).map { _ in Float(random.next() >> 40) * step - scale + offset })
        case .classIndices:
            return HostTensor(shape: shape, integers: (0..<count).map { _ in Int(random.next() % UInt64(max(1, classes))) })
        case .binary:
            return HostTensor(shape: shape, integers: (0..<count).map { _ in Int(random.next() & 1) })
        case .logProbabilities(let scale):
            let columns = shape.last ?? 1
            let step = 2 * scale / Float(1 << 24)
            var values = (0..<count).map { _ in Float(random.next() >> 40) * step - scale }
            for start in stride(from: 0, to: count, by: max(1, columns)) {
                let row = values[start..<start + columns]
                let m = Double(row.max() ?? 0)
                let lse = m + Foundation.log(row.reduce(0.0) { $0 + Foundation.exp(Double($1) - m) })
                for j in start..<start + columns { values[j] = Float(Double(values[j]) - lse) }
            }
            return HostTensor(shape: shape, floats: values)
        }
    }
}
