import Foundation
import LossKernels

/// The float64 reference of the softmax family and of the reductions, written from
/// docs/OPERATIONS.md ("Conventions", "Softmax family", "Reductions") and the PyTorch corner
/// cases the library adopts — never from the kernels. Inputs are the float32 values a backend sees,
/// widened exactly to Double; every computation is then done in Double.
///
/// Edge semantics (PyTorch):
/// - softmax / logSoftmax: `−∞` entries are masks (probability 0, log-probability `−∞`); a row that
///   is entirely `−∞`, or holds a NaN or a `+∞`, gives NaN for every output of that row.
/// - logSumExp: NaN if the row holds NaN; else `+∞` if it holds `+∞`; else `−∞` if it is all `−∞`
///   (or empty); else `m + log Σ exp(z − m)` with `m` the maximum.
/// - Reductions: max/min/argmax propagate NaN (value NaN, index of the first NaN); ties give the
///   first index; an empty group is an error for max/min/argmax, 0 for sum/l2Norm, NaN for mean and
///   `−∞` for logSumExp.
package enum Reference {
    // MARK: Softmax family, one row

    /// What a row's statistics say about it.
    package enum RowKind: Equatable {
        /// A finite maximum and no NaN/+∞: probabilities are defined.
        case regular(max: Double, sum: Double)
        case hasNaN
        case hasPositiveInfinity
        /// Every entry is −∞ (or the row is empty).
        case allNegativeInfinity
    }

    /// Classifies a row and, for a regular one, returns `max` and `Σ exp(z − max)`.
    package static func rowKind(_ z: ArraySlice<Double>) -> RowKind {
        if z.contains(where: { $0.isNaN }) { return .hasNaN }
        if z.contains(.infinity) { return .hasPositiveInfinity }
        guard let m = z.max(), m != -.infinity else { return .allNegativeInfinity }
        var s = 0.0
        for v in z { s += Foundation.exp(v - m) }   // exp(−∞ − m) = 0: masks contribute nothing
        return .regular(max: m, sum: s)
    }

    /// log Σ_j exp(z_j) of one row with the edge semantics above.
    package static func logSumExp(row z: ArraySlice<Double>) -> Double {
        switch rowKind(z) {
        case .hasNaN: return .nan
        case .hasPositiveInfinity: return .infinity
        case .allNegativeInfinity: return -.infinity
        case let .regular(m, s): return m + Foundation.log(s)
        }
    }

    // MARK: Softmax family, matrices (row-major, `rows × columns`)

    package static func widen(_ x: [Float]) -> [Double] { x.map(Double.init) }

    private static func row(_ x: [Double], _ r: Int, _ columns: Int) -> ArraySlice<Double> {
        x[(r * columns)..<((r + 1) * columns)]
    }

    /// `softmax(z)_j = exp(z_j − max) / Σ_k exp(z_k − max)` per row.
    package static func softmax(_ logits: [Float], rows: Int, columns: Int) -> [Double] {
        precondition(logits.count == rows * columns)
        let z = widen(logits)
        var out = [Double](repeating: 0, count: z.count)
        for r in 0..<rows {
            let zr = row(z, r, columns)
            switch rowKind(zr) {
            case let .regular(m, s):
                for j in 0..<columns { out[r * columns + j] = Foundation.exp(z[r * columns + j] - m) / s }
            default:
                for j in 0..<columns { out[r * columns + j] = .nan }
            }
        }
        return out
    }

    /// `logSoftmax(z)_j = z_j − max − log Σ_k exp(z_k − max)` per row.
    package static func logSoftmax(_ logits: [Float], rows: Int, columns: Int) -> [Double] {
        precondition(logits.count == rows * columns)
        let z = widen(logits)
        var out = [Double](repeating: 0, count: z.count)
        for r in 0..<rows {
            switch rowKind(row(z, r, columns)) {
            case let .regular(m, s):
                let logSum = Foundation.log(s)
                for j in 0..<columns { out[r * columns + j] = z[r * columns + j] - m - logSum }
            default:
                for j in 0..<columns { out[r * columns + j] = .nan }
            }
        }
        return out
    }

    /// logSumExp of each row (`rows` values).
    package static func logSumExp(_ logits: [Float], rows: Int, columns: Int) -> [Double] {
        precondition(logits.count == rows * columns)
        let z = widen(logits)
        return (0..<rows).map { logSumExp(row: row(z, $0, columns)) }
    }

    /// Softmax backward: `dz = p ⊙ (g − Σ_j g_j p_j)` per row, from probabilities `p` and upstream `g`.
    package static func softmaxBackward(probabilities: [Float], gradOutput: [Float], rows: Int, columns: Int) -> [Double] {
        precondition(probabilities.count == rows * columns && gradOutput.count == rows * columns)
        let p = widen(probabilities), g = widen(gradOutput)
        var out = [Double](repeating: 0, count: p.count)
        for r in 0..<rows {
            var dot = 0.0
            for j in 0..<columns { dot += g[r * columns + j] * p[r * columns + j] }
            for j in 0..<columns { out[r * columns + j] = p[r * columns + j] * (g[r * columns + j] - dot) }
        }
        return out
    }

    /// logSoftmax backward: `dz = g − exp(y)·Σ_j g_j` per row, from log-probabilities `y`.
    package static func logSoftmaxBackward(logProbabilities: [Float], gradOutput: [Float], rows: Int, columns: Int) -> [Double] {
        precondition(logProbabilities.count == rows * columns && gradOutput.count == rows * columns)
        let y = widen(logProbabilities), g = widen(gradOutput)
        var out = [Double](repeating: 0, count: y.count)
        for r in 0..<rows {
            var total = 0.0
            for j in 0..<columns { total += g[r * columns + j] }
            for j in 0..<columns { out[r * columns + j] = g[r * columns + j] - Foundation.exp(y[r * columns + j]) * total }
        }
        return out
    }

    /// logSumExp backward: `dz[r, j] = g[r]·exp(z[r, j] − lse[r])`.
    package static func logSumExpBackward(logits: [Float], logSumExp lse: [Float], gradOutput: [Float], rows: Int, columns: Int) -> [Double] {
        precondition(logits.count == rows * columns && lse.count == rows && gradOutput.count == rows)
        let z = widen(logits)
        var out = [Double](repeating: 0, count: z.count)
        for r in 0..<rows {
            let l = Double(lse[r]), g = Double(gradOutput[r])
            for j in 0..<columns { out[r * columns + j] = g * Foundation.exp(z[r * columns + j] - l) }
        }
        return out
    }

    // MARK: Reductions

    /// The reference answer of a reduction: one value per group, and for max/min/argmax the
    /// winning position per group (flat row-major for `.all`, a column for `.rows`, a row for
    /// `.columns`); empty indices for the other operations.
    package struct Reduction {
        package var values: [Double]
        package var indices: [Int]
    }

    /// An empty group reduced by max, min or argmax.
    package struct EmptyGroup: Error {}

    package static func groupCount(_ axis: ReductionAxis, rows: Int, columns: Int) -> Int {
        switch axis {
        case .all: return 1
        case .rows: return rows
        case .columns: return columns
        }
    }

    /// Where group `k` lies in the row-major input: first flat index, stride and length.
    package static func groupLayout(_ axis: ReductionAxis, _ k: Int, rows: Int, columns: Int) -> (start: Int, stride: Int, count: Int) {
        switch axis {
        case .all: return (0, 1, rows * columns)
        case .rows: return (k * columns, 1, columns)
        case .columns: return (k, columns, rows)
        }
    }

    /// Reduces one group (`v` in position order); the index is the position within the group.
    package static func reduceGroup(_ op: ReductionOperation, _ v: UnsafeBufferPointer<Double>) throws -> (value: Double, index: Int?) {
        switch op {
        case .sum:
            var s = 0.0
            for x in v { s += x }
            return (s, nil)
        case .mean:
            var s = 0.0
            for x in v { s += x }
            return (s / Double(v.count), nil)   // 0/0 = NaN for an empty group
        case .l2Norm:
            var s = 0.0
            for x in v { s += x * x }
            return (s.squareRoot(), nil)
        case .logSumExp:
            return (logSumExp(row: ArraySlice(v)), nil)
        case .max, .min, .argmax:
            guard !v.isEmpty else { throw EmptyGroup() }
            if let firstNaN = v.firstIndex(where: { $0.isNaN }) { return (.nan, firstNaN) }
            var best = 0
            for i in 1..<v.count where op == .min ? v[i] < v[best] : v[i] > v[best] { best = i }
            return (v[best], best)
        }
    }

    /// Reduces `input` (`rows × columns`) over `axis`. Throws `EmptyGroup` when max/min/argmax meet
    /// an empty group.
    package static func reduce(_ op: ReductionOperation, _ input: [Float], rows: Int, columns: Int, over axis: ReductionAxis) throws -> Reduction {
        precondition(input.count == rows * columns)
        let groups = groupCount(axis, rows: rows, columns: columns)
        var result = Reduction(values: [], indices: [])
        result.values.reserveCapacity(groups)
        var scratch = [Double](repeating: 0, count: groupLayout(axis, 0, rows: rows, columns: columns).count)
        try input.withUnsafeBufferPointer { x in
            try scratch.withUnsafeMutableBufferPointer { group in
                for k in 0..<groups {
                    let (start, stride, count) = groupLayout(axis, k, rows: rows, columns: columns)
                    for i in 0..<count { group[i] = Double(x[start + i * stride]) }
                    let (value, index) = try reduceGroup(op, UnsafeBufferPointer(group))
                    result.values.append(value)
                    if let index { result.indices.append(index) }
                }
            }
        }
        return result
    }

    /// Backward of a reduction given the forward `values`/`indices` (as handed to the library) and
    /// one upstream value per group: sum `g`; mean `g/n`; l2Norm `g·x/‖x‖` (0 where ‖x‖ = 0); max/min
    /// `g` at the winning index, 0 elsewhere; logSumExp `g·exp(x − lse)`.
    package static func reduceBackward(
        _ op: ReductionOperation, _ input: [Float], rows: Int, columns: Int, over axis: ReductionAxis,
        values: [Float], indices: [Int], gradOutput: [Float]
    ) -> [Double] {
        precondition(op != .argmax, "argmax has no gradient")
        var out = [Double](repeating: 0, count: input.count)
        input.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { dz in
                for k in 0..<groupCount(axis, rows: rows, columns: columns) {
                    let (start, stride, count) = groupLayout(axis, k, rows: rows, columns: columns)
                    let g = Double(gradOutput[k]), v = Double(values[k])
                    for position in 0..<count {
                        let i = start + position * stride, xi = Double(x[i])
                        switch op {
                        case .sum: dz[i] = g
                        case .mean: dz[i] = g / Double(count)
                        case .l2Norm: dz[i] = v == 0 ? 0 : g * xi / v
                        case .max, .min: dz[i] = position == indices[k] ? g : 0
                        case .logSumExp: dz[i] = g * Foundation.exp(xi - v)
                        case .argmax: break
                        }
                    }
                }
            }
        }
        return out
    }
}
