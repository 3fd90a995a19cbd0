import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// softmax, logSoftmax, logSumExp and their backwards on every backend against the float64
/// reference (Support/Reference.swift), through the Matrix API and the buffer API.
@Suite struct SoftmaxParityTests {
    /// One input shape and how its logits are made.
    struct Case: Sendable, CustomTestStringConvertible {
        let rows: Int
        let columns: Int
        /// Standard deviation of the logits.
        var scale: Double = 300
        /// Added to every finite logit (softmax is shift-invariant; logits far from 0 stress `z − lse`).
        var offset: Float = 0
        /// Probability that an entry is a −∞ mask (every row keeps one finite entry).
        var maskProbability: Double = 0.1
        /// Rows overwritten with special values.
        var special: [(row: Int, kind: TestData.SpecialRow)] = []
        /// Row 0's first `maskedPrefix` columns are −∞ (a whole block when > `CPUSoftmax.blockLength`).
        var maskedPrefix: Int = 0
        var seed: UInt64 = 1

        var testDescription: String {
            var text = "\(rows)×\(columns) scale \(scale)"
            if offset != 0 { text += " offset \(offset)" }
            if maskProbability > 0 { text += " masks \(maskProbability)" }
            if !special.isEmpty { text += " special " + special.map { "\($0.row):\($0.kind.rawValue)" }.joined(separator: ",") }
            if maskedPrefix > 0 { text += " row0 prefix \(maskedPrefix) masked" }
            return text
        }

        func logits() -> [Float] {
            var rng = TestRNG(seed: seed &* 0x9E37_79B9 &+ UInt64(rows * 7919 + columns))
            var z = TestData.logits(rows: rows, columns: columns, scale: scale, maskProbability: maskProbability, rng: &rng)
            if offset != 0 { z = z.map { $0.isFinite ? $0 + offset : $0 } }
            for j in 0..<min(maskedPrefix, columns) { z[j] = -.infinity }
            for (row, kind) in special { TestData.makeSpecial(kind, row: row, columns: columns, in: &z, rng: &rng) }
            return z
        }

        /// Upstream gradients: one per element and one per row.
        func gradients() -> (elements: [Float], rows: [Float]) {
            var rng = TestRNG(seed: seed ^ 0xD1B5_4A32_D192_ED03 &+ UInt64(rows * 31 + columns))
            return (TestData.normal(rows * columns, rng: &rng), TestData.normal(rows, scale: 2, rng: &rng))
        }
    }

    /// All four kinds of special rows, at rows 1…4 (row 0 and row 5 on stay regular).
    static let allSpecial: [(row: Int, kind: TestData.SpecialRow)] = TestData.SpecialRow.allCases.enumerated().map { ($0.offset + 1, $0.element) }

    static let cases: [Case] = [
        Case(rows: 1, columns: 1, maskProbability: 0),
        Case(rows: 4, columns: 1, maskProbability: 0, special: [(1, .fullyMasked), (2, .nan), (3, .positiveInfinity)]),
        Case(rows: 1, columns: 3),
        Case(rows: 5, columns: 7, special: [(1, .fullyMasked), (3, .nan)]),
        Case(rows: 4, columns: 8, special: [(0, .positiveInfinity)]),
        Case(rows: 6, columns: 9, special: allSpecial),
        Case(rows: 3, columns: 15, scale: 3),
        Case(rows: 7, columns: 17, special: allSpecial),
        Case(rows: 2, columns: 33, maskProbability: 0.5),
        Case(rows: 8, columns: 255, special: allSpecial),
        Case(rows: 4, columns: 257, scale: 3),
        Case(rows: 6, columns: 1000, special: allSpecial),
        Case(rows: 2, columns: 4099, scale: 3, maskProbability: 0.3),
        Case(rows: 1, columns: 40_000),
        Case(rows: 3, columns: 40_000, scale: 1, special: [(1, .nan)]),
        Case(rows: 2, columns: 40_000, special: [(1, .positiveInfinity)], maskedPrefix: 20_000),
        Case(rows: 3, columns: 16_385, scale: 3, special: [(2, .fullyMasked)]),
        Case(rows: 64, columns: 40, scale: 10, special: allSpecial),
        // Logits in the hundreds with close competitors: log-probabilities of order 1 next to an lse of ±hundreds.
        Case(rows: 4, columns: 1000, scale: 1, offset: 400),
        Case(rows: 4, columns: 9, scale: 1, offset: 400),
        Case(rows: 5, columns: 7, scale: 2, offset: -700, special: [(3, .fullyMasked)]),
    ]

    // MARK: Forward

    @Test(arguments: Backends.all, cases)
    func softmaxAndLogSoftmax(_ backend: TestBackend, _ c: Case) throws {
        let engine = try Backends.engine(for: backend)
        let z = c.logits()
        let logits = try Matrix(rows: c.rows, columns: c.columns, values: z, name: "logits")
        let refP = Reference.softmax(z, rows: c.rows, columns: c.columns)
        let refY = Reference.logSoftmax(z, rows: c.rows, columns: c.columns)

        expectClose(try engine.softmax(logits).values, refP, "\(backend) softmax (Matrix) \(c.testDescription)")
        expectClose(try engine.logSoftmax(logits).values, refY, "\(backend) logSoftmax (Matrix) \(c.testDescription)")

        var p = [Float](repeating: -7, count: z.count), y = p
        let ranP = try z.withUnsafeBufferPointer { x in
            try p.withUnsafeMutableBufferPointer { try engine.softmax(logits: x, rows: c.rows, columns: c.columns, into: $0) }
        }
        let ranY = try z.withUnsafeBufferPointer { x in
            try y.withUnsafeMutableBufferPointer { try engine.logSoftmax(logits: x, rows: c.rows, columns: c.columns, into: $0) }
        }
        #expect(ranP == backend.expected)
        #expect(ranY == backend.expected)
        expectClose(p, refP, "\(backend) softmax (buffer) \(c.testDescription)")
        expectClose(y, refY, "\(backend) logSoftmax (buffer) \(c.testDescription)")

        // Few rows and several blocks: with more threads than rows the CPU splits each row.
        if backend == .cpu, c.columns > CPUSoftmax.blockLength {
            let split = try Engine(policy: .cpu, cpuThreads: 4 * c.rows)
            expectClose(try split.softmax(logits).values, refP, "cpu×\(4 * c.rows) softmax \(c.testDescription)")
            expectClose(try split.logSoftmax(logits).values, refY, "cpu×\(4 * c.rows) logSoftmax \(c.testDescription)")
        }
    }

    @Test(arguments: Backends.all, cases)
    func logSumExp(_ backend: TestBackend, _ c: Case) throws {
        let engine = try Backends.engine(for: backend)
        let z = c.logits()
        let ref = Reference.logSumExp(z, rows: c.rows, columns: c.columns)
        expectClose(try engine.logSumExp(Matrix(rows: c.rows, columns: c.columns, values: z)), ref, "\(backend) logSumExp (Matrix) \(c.testDescription)")

        var out = [Float](repeating: -7, count: c.rows)
        let ran = try z.withUnsafeBufferPointer { x in
            try out.withUnsafeMutableBufferPointer { try engine.logSumExp(logits: x, rows: c.rows, columns: c.columns, into: $0) }
        }
        #expect(ran == backend.expected)
        expectClose(out, ref, "\(backend) logSumExp (buffer) \(c.testDescription)")

        if backend == .cpu, c.columns > CPUSoftmax.blockLength {
            let split = try Engine(policy: .cpu, cpuThreads: 4 * c.rows)
            expectClose(try split.logSumExp(Matrix(rows: c.rows, columns: c.columns, values: z)), ref, "cpu×\(4 * c.rows) logSumExp \(c.testDescription)")
        }
    }

    // MARK: Backward

    @Test(arguments: Backends.all, cases)
    func softmaxBackward(_ backend: TestBackend, _ c: Case) throws {
        let engine = try Backends.engine(for: backend)
        let z = c.logits(), g = c.gradients().elements
        // Probabilities from the reference, rounded to float32: the backward is tested on its own.
        let p = Reference.softmax(z, rows: c.rows, columns: c.columns).asFloat
        let ref = Reference.softmaxBackward(probabilities: p, gradOutput: g, rows: c.rows, columns: c.columns)
        let pm = try Matrix(rows: c.rows, columns: c.columns, values: p), gm = try Matrix(rows: c.rows, columns: c.columns, values: g)
        expectClose(try engine.softmaxBackward(probabilities: pm, gradOutput: gm).values, ref, "\(backend) softmaxBackward (Matrix) \(c.testDescription)")

        var dz = [Float](repeating: -7, count: z.count)
        let ran = try p.withUnsafeBufferPointer { pb in
            try g.withUnsafeBufferPointer { gb in
                try dz.withUnsafeMutableBufferPointer {
                    try engine.softmaxBackward(probabilities: pb, gradOutput: gb, rows: c.rows, columns: c.columns, into: $0)
                }
            }
        }
        #expect(ran == backend.expected)
        expectClose(dz, ref, "\(backend) softmaxBackward (buffer) \(c.testDescription)")
    }

    @Test(arguments: Backends.all, cases)
    func logSoftmaxBackward(_ backend: TestBackend, _ c: Case) throws {
        let engine = try Backends.engine(for: backend)
        let z = c.logits(), g = c.gradients().elements
        let y = Reference.logSoftmax(z, rows: c.rows, columns: c.columns).asFloat
        let ref = Reference.logSoftmaxBackward(logProbabilities: y, gradOutput: g, rows: c.rows, columns: c.columns)
        let ym = try Matrix(rows: c.rows, columns: c.columns, values: y), gm = try Matrix(rows: c.rows, columns: c.columns, values: g)
        expectClose(
            try engine.logSoftmaxBackward(logProbabilities: ym, gradOutput: gm).values, ref, "\(backend) logSoftmaxBackward (Matrix) \(c.testDescription)")

        var dz = [Float](repeating: -7, count: z.count)
        let ran = try y.withUnsafeBufferPointer { yb in
            try g.withUnsafeBufferPointer { gb in
                try dz.withUnsafeMutableBufferPointer {
                    try engine.logSoftmaxBackward(logProbabilities: yb, gradOutput: gb, rows: c.rows, columns: c.columns, into: $0)
                }
            }
        }
        #expect(ran == backend.expected)
        expectClose(dz, ref, "\(backend) logSoftmaxBackward (buffer) \(c.testDescription)")
    }

    @Test(arguments: Backends.all, cases)
    func logSumExpBackward(_ backend: TestBackend, _ c: Case) throws {
        let engine = try Backends.engine(for: backend)
        let z = c.logits(), g = c.gradients().rows
        let lse = Reference.logSumExp(z, rows: c.rows, columns: c.columns).asFloat
        let ref = Reference.logSumExpBackward(logits: z, logSumExp: lse, gradOutput: g, rows: c.rows, columns: c.columns)
        let zm = try Matrix(rows: c.rows, columns: c.columns, values: z)
        expectClose(
            try engine.logSumExpBackward(logits: zm, logSumExp: lse, gradOutput: g).values, ref, "\(backend) logSumExpBackward (Matrix) \(c.testDescription)")

        var dz = [Float](repeating: -7, count: z.count)
        let ran = try z.withUnsafeBufferPointer { zb in
            try lse.withUnsafeBufferPointer { lb in
                try g.withUnsafeBufferPointer { gb in
                    try dz.withUnsafeMutableBufferPointer {
                        try engine.logSumExpBackward(logits: zb, logSumExp: lb, gradOutput: gb, rows: c.rows, columns: c.columns, into: $0)
                    }
                }
            }
        }
        #expect(ran == backend.expected)
        expectClose(dz, ref, "\(backend) logSumExpBackward (buffer) \(c.testDescription)")
    }

    /// The backward takes any logSumExp vector, not only the forward's: `g·exp(z − lse)` must hold
    /// elementwise, including NaN/±∞ logits under a finite lse and logits above the lse by more
    /// than 88 (where exp reaches the top of float32's range).
    @Test(arguments: Backends.all)
    func logSumExpBackwardWithGivenShift(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let rows = 3, columns = 21
        var rng = TestRNG(seed: 77)
        var z = TestData.normal(rows * columns, scale: 5, rng: &rng)
        z[3] = .nan
        z[5] = -.infinity
        z[columns + 4] = .infinity
        z[2 * columns + 9] = .nan
        z[7] = 90   // z − lse = 88.5: exp is still finite in float32 (≈2.7e38)
        z[8] = 91   // z − lse = 89.5: overflows float32, so +∞
        let lse: [Float] = [1.5, -2, 4]
        let g: [Float] = [0.5, -1.25, 2]
        let ref = Reference.logSumExpBackward(logits: z, logSumExp: lse, gradOutput: g, rows: rows, columns: columns)
        let dz = try engine.logSumExpBackward(logits: Matrix(rows: rows, columns: columns, values: z), logSumExp: lse, gradOutput: g)
        expectClose(dz.values, ref, "\(backend) logSumExpBackward with NaN/±∞ logits and a finite lse")
    }

    // MARK: Empty shapes

    @Test(arguments: Backends.all, [(0, 5), (3, 0), (0, 0)])
    func emptyShapes(_ backend: TestBackend, _ shape: (Int, Int)) throws {
        let engine = try Backends.engine(for: backend)
        let (rows, columns) = shape
        let m = try Matrix(rows: rows, columns: columns, values: [])
        #expect(try engine.softmax(m) == m)
        #expect(try engine.logSoftmax(m) == m)
        expectClose(try engine.logSumExp(m), Reference.logSumExp([], rows: rows, columns: columns), "\(backend) logSumExp \(rows)×\(columns)")
        #expect(try engine.softmaxBackward(probabilities: m, gradOutput: m) == m)
        #expect(try engine.logSoftmaxBackward(logProbabilities: m, gradOutput: m) == m)
        let perRow = [Float](repeating: 1, count: rows)
        #expect(try engine.logSumExpBackward(logits: m, logSumExp: perRow, gradOutput: perRow) == m)
    }
}
