import Foundation
import Testing

@testable import LossKernels

/// "Deterministic: the same input on the same backend gives the same bits every run, whatever the
/// thread count" (docs/OPERATIONS.md, "Reductions"; the softmax family promises the same). Outputs are
/// compared by `bitPattern`.
@Suite struct DeterminismTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let rows: Int
        let columns: Int
        var scale: Double = 3
        var special: [(row: Int, kind: TestData.SpecialRow)] = []

        var testDescription: String {
            "\(rows)×\(columns)" + (special.isEmpty ? "" : " special " + special.map { "\($0.row):\($0.kind.rawValue)" }.joined(separator: ","))
        }

        func logits() -> [Float] {
            var rng = TestRNG(seed: UInt64(rows * 100_003 + columns))
            var z = TestData.logits(rows: rows, columns: columns, scale: scale, maskProbability: 0.05, rng: &rng)
            for (row, kind) in special { TestData.makeSpecial(kind, row: row, columns: columns, in: &z, rng: &rng) }
            return z
        }
    }

    static let cases: [Case] = [
        Case(rows: 2, columns: 100_000),   // few rows, 7 blocks each: rows split over threads
        Case(rows: 64, columns: 20_000),   // many rows, 2 blocks each
        Case(rows: 3, columns: 40_000, scale: 300, special: [(1, .nan)]),
        Case(rows: 5, columns: 1000, special: [(0, .fullyMasked), (3, .positiveInfinity)]),
    ]

    static let threadCounts = [1, 2, 3, 5]

    /// Every output of every operation on one input, by name.
    struct Outputs {
        var values: [(name: String, values: [Float])] = []
        var indices: [(name: String, indices: [Int])] = []

        mutating func add(_ name: String, _ x: [Float]) { values.append((name, x)) }
    }

    /// The inputs of one case, computed once so every engine sees exactly the same data.
    struct Inputs {
        let logits: Matrix
        let probabilities: Matrix
        let logProbabilities: Matrix
        let logSumExp: [Float]
        let gradOutput: Matrix
        let rowGradient: [Float]

        init(_ c: Case) throws {
            let z = c.logits()
            logits = try Matrix(rows: c.rows, columns: c.columns, values: z)
            // Computed once, before any engine under test runs (accuracy is the parity tests' business).
            let engine = Backends.cpuEngine
            probabilities = try engine.softmax(logits)
            logProbabilities = try engine.logSoftmax(logits)
            logSumExp = try engine.logSumExp(logits)
            var rng = TestRNG(seed: 5)
            gradOutput = try Matrix(rows: c.rows, columns: c.columns, values: TestData.normal(z.count, rng: &rng))
            rowGradient = TestData.normal(c.rows, rng: &rng)
        }
    }

    static func outputs(_ engine: Engine, _ input: Inputs) throws -> Outputs {
        var out = Outputs()
        out.add("softmax", try engine.softmax(input.logits).values)
        out.add("logSoftmax", try engine.logSoftmax(input.logits).values)
        out.add("logSumExp", try engine.logSumExp(input.logits))
        out.add("softmaxBackward", try engine.softmaxBackward(probabilities: input.probabilities, gradOutput: input.gradOutput).values)
        out.add("logSoftmaxBackward", try engine.logSoftmaxBackward(logProbabilities: input.logProbabilities, gradOutput: input.gradOutput).values)
        out.add("logSumExpBackward", try engine.logSumExpBackward(logits: input.logits, logSumExp: input.logSumExp, gradOutput: input.rowGradient).values)
        // Reductions of the (finite) upstream gradient, and of the logits with their masks and specials.
        for (source, matrix) in [("g", input.gradOutput), ("z", input.logits)] {
            for op in ReductionOperation.allCases {
                for axis in ReductionAxis.allCases {
                    let result = try engine.reduce(op, matrix, over: axis)
                    out.add("\(op.rawValue) over \(axis.rawValue) of \(source)", result.values)
                    out.indices.append(("\(op.rawValue) over \(axis.rawValue) of \(source)", result.indices))
                    // The backward is elementwise (no accumulation): checked on the smaller inputs only, for time.
                    if op != .argmax && source == "g" && matrix.count <= 300_000 {
                        let groups = result.values.count
                        let dz = try engine.reduceBackward(op, matrix, over: axis, result: result, gradOutput: [Float](repeating: 0.75, count: groups))
                        out.add("\(op.rawValue) backward over \(axis.rawValue) of \(source)", dz.values)
                    }
                }
            }
        }
        return out
    }

    static func expectIdentical(_ a: Outputs, _ b: Outputs, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.values.map(\.name) == b.values.map(\.name), sourceLocation: sourceLocation)
        for (x, y) in zip(a.values, b.values) {
            expectBitwiseEqual(x.values, y.values, "\(x.name): \(context)", sourceLocation: sourceLocation)
        }
        for (x, y) in zip(a.indices, b.indices) {
            expectEqualIndices(x.indices, y.indices, "\(x.name) indices: \(context)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: cases)
    func cpuThreadCountDoesNotChangeBits(_ c: Case) throws {
        let input = try Inputs(c)
        let baseline = try Self.outputs(Engine(policy: .cpu, cpuThreads: 1), input)
        for threads in Self.threadCounts.dropFirst() {
            let engine = try Engine(policy: .cpu, cpuThreads: threads)
            #expect(engine.cpuThreads == threads)
            Self.expectIdentical(try Self.outputs(engine, input), baseline, "\(threads) threads vs 1 on \(c.testDescription)")
        }
    }

    @Test(arguments: Backends.all, cases)
    func repeatedRunsGiveTheSameBits(_ backend: TestBackend, _ c: Case) throws {
        let engine = try Backends.engine(for: backend)
        let input = try Inputs(c)
        let first = try Self.outputs(engine, input)
        Self.expectIdentical(try Self.outputs(engine, input), first, "\(backend) run 2 vs run 1 on \(c.testDescription)")
    }
}
