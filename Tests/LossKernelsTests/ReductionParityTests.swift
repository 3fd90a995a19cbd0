import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// Every reduction × axis × backend against the float64 reference (Support/Reference.swift):
/// values within the tolerance, winning indices exact, NaN propagation, ties, empty groups; and the
/// backward of each reduction.
@Suite struct ReductionParityTests {
    /// How the input values are made.
    enum Values: String, Sendable {
        /// Normal values times 10.
        case random
        /// Small integers 0…3: many exact ties (and exactly representable sums).
        case ties
        /// Random values with NaN at a few positions (the first NaN of a group must win max/min/argmax).
        case nan
        /// Random values with ±∞ at a few positions.
        case infinities
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let rows: Int
        let columns: Int
        let values: Values
        var seed: UInt64 = 3

        var testDescription: String { "\(rows)×\(columns) \(values.rawValue)" }

        func input() -> [Float] {
            var rng = TestRNG(seed: seed &+ UInt64(rows &* 1_000_003 &+ columns) &* 31 &+ UInt64(values.rawValue.count))
            let n = rows * columns
            switch values {
            case .random:
                return TestData.normal(n, scale: 10, rng: &rng)
            case .ties:
                return (0..<n).map { _ in Float(rng.index(4)) }
            case .nan, .infinities:
                var x = TestData.normal(n, scale: 10, rng: &rng)
                guard n > 0 else { return x }
                let specials: [Float] = values == .nan ? [.nan] : [.infinity, -.infinity]
                // A handful of positions, two of them in the same row and in the same column.
                var positions = (0..<max(2, n / 997)).map { _ in rng.index(n) }
                positions.append(positions[0] / max(columns, 1) * columns + (positions[0] + 1) % max(columns, 1))
                positions.append((positions[0] + columns) % n)
                for (k, p) in positions.enumerated() { x[p] = specials[k % specials.count] }
                return x
            }
        }
    }

    static let cases: [Case] = [
        Case(rows: 1, columns: 1, values: .random),
        Case(rows: 1, columns: 17, values: .random),
        Case(rows: 17, columns: 1, values: .random),
        Case(rows: 5, columns: 9, values: .random),
        Case(rows: 7, columns: 33, values: .ties),
        Case(rows: 33, columns: 7, values: .ties),
        Case(rows: 1, columns: 300, values: .ties),
        Case(rows: 6, columns: 13, values: .nan),
        Case(rows: 1, columns: 40, values: .nan),
        Case(rows: 40, columns: 1, values: .nan),
        Case(rows: 9, columns: 11, values: .infinities),
        Case(rows: 64, columns: 100, values: .random),
        Case(rows: 3, columns: 50_000, values: .random),
        Case(rows: 70_000, columns: 3, values: .random),
        Case(rows: 3, columns: 50_000, values: .nan),
        Case(rows: 70_000, columns: 3, values: .ties),
    ]

    static let hasIndices: Set<ReductionOperation> = [.max, .min, .argmax]

    /// Runs one reduction through the buffer API (checking the backend that ran) and the Matrix API
    /// (which must give the same result), and compares with the reference.
    static func check(
        _ engine: Engine, _ backend: TestBackend, _ op: ReductionOperation, _ axis: ReductionAxis, _ x: [Float], rows: Int, columns: Int,
        _ context: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let label = "\(backend) \(op.rawValue) over \(axis.rawValue) \(context)"
        let ref = try Reference.reduce(op, x, rows: rows, columns: columns, over: axis)
        let (result, ran) = try x.withUnsafeBufferPointer { try engine.reduce(op, input: $0, rows: rows, columns: columns, over: axis) }
        if rows * columns > 0 {
            #expect(ran == backend.expected, "\(label) ran on \(ran)", sourceLocation: sourceLocation)
        }
        expectClose(result.values, ref.values, label, sourceLocation: sourceLocation)
        if hasIndices.contains(op) {
            expectEqualIndices(result.indices, ref.indices, "\(label) indices", sourceLocation: sourceLocation)
        } else {
            #expect(result.indices.isEmpty, "\(label): indices must be empty", sourceLocation: sourceLocation)
        }
        // The Matrix API wraps the buffer API; checked on the smaller inputs to keep the suite quick.
        if x.count <= 20_000 {
            let viaMatrix = try engine.reduce(op, Matrix(rows: rows, columns: columns, values: x), over: axis)
            expectClose(viaMatrix.values, ref.values, "\(label) (Matrix)", sourceLocation: sourceLocation)
            expectEqualIndices(viaMatrix.indices, result.indices, "\(label) (Matrix) indices", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: Backends.all, cases)
    func forward(_ backend: TestBackend, _ c: Case) throws {
        let engine = try Backends.engine(for: backend)
        let x = c.input()
        for op in ReductionOperation.allCases {
            for axis in ReductionAxis.allCases {
                try Self.check(engine, backend, op, axis, x, rows: c.rows, columns: c.columns, c.testDescription)
            }
        }
    }

    /// Ties everywhere: a constant matrix, and the maximum/minimum repeated in every group.
    @Test(arguments: Backends.all)
    func tiesPickTheFirstIndex(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let rows = 6, columns = 10
        try Self.check(engine, backend, .argmax, .all, [Float](repeating: 2.5, count: rows * columns), rows: rows, columns: columns, "constant")
        var x = [Float](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            for c in 0..<columns { x[r * columns + c] = Float((r + c) % 3) }   // 0, 1, 2 repeating: ties for max and min
        }
        for op in [ReductionOperation.max, .min, .argmax] {
            for axis in ReductionAxis.allCases { try Self.check(engine, backend, op, axis, x, rows: rows, columns: columns, "repeating 0,1,2") }
        }
        // −0 and +0 compare equal: the first one wins.
        try Self.check(engine, backend, .max, .rows, [-0.0, 0.0, 0.0, -0.0], rows: 2, columns: 2, "signed zeros")
    }

    /// Every group NaN-free except one whose NaN is preceded by larger values and by ±∞.
    @Test(arguments: Backends.all)
    func nanWinsAtItsFirstPosition(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let x: [Float] = [
            1, .infinity, .nan, 5, .nan,
            -.infinity, 2, 3, 3, 1,
            .nan, 0, 0, -1, .infinity,
        ]
        for op in ReductionOperation.allCases {
            for axis in ReductionAxis.allCases { try Self.check(engine, backend, op, axis, x, rows: 3, columns: 5, "hand-made NaN/±∞") }
        }
    }

    /// Empty groups: max/min/argmax throw `.shapeMismatch` naming the input; sum and l2Norm give 0,
    /// mean NaN, logSumExp −∞; no group at all gives an empty result.
    @Test(arguments: Backends.all, [(0, 4), (3, 0), (0, 0)])
    func emptyGroups(_ backend: TestBackend, _ shape: (Int, Int)) throws {
        let engine = try Backends.engine(for: backend)
        let (rows, columns) = shape
        for op in ReductionOperation.allCases {
            for axis in ReductionAxis.allCases {
                let context = "\(backend) \(op.rawValue) over \(axis.rawValue) of \(rows)×\(columns)"
                do {
                    let ref = try Reference.reduce(op, [], rows: rows, columns: columns, over: axis)
                    let result = try engine.reduce(op, Matrix(rows: rows, columns: columns, values: []), over: axis)
                    expectClose(result.values, ref.values, context)
                    expectEqualIndices(result.indices, ref.indices, "\(context) indices")
                } catch is Reference.EmptyGroup {
                    let error = #expect(throws: LossKernelsError.self, "\(context) must throw") {
                        try engine.reduce(op, Matrix(rows: rows, columns: columns, values: []), over: axis)
                    }
                    guard case let .shapeMismatch(tensor, _, _)? = error else {
                        Issue.record("\(context): expected .shapeMismatch, got \(String(describing: error))")
                        continue
                    }
                    #expect(tensor == "input", "\(context): the error names \(tensor)")
                }
            }
        }
    }

    // MARK: Backward

    /// Inputs for the backward: random or tied values, with a group of zeros (‖x‖ = 0) in row 0.
    static let backwardCases: [Case] = [
        Case(rows: 1, columns: 1, values: .random),
        Case(rows: 5, columns: 9, values: .random),
        Case(rows: 7, columns: 33, values: .ties),
        Case(rows: 17, columns: 1, values: .random),
        Case(rows: 64, columns: 100, values: .random),
        Case(rows: 3, columns: 50_000, values: .random),
        Case(rows: 70_000, columns: 3, values: .ties),
    ]

    static func checkBackward(
        _ engine: Engine, _ backend: TestBackend, _ op: ReductionOperation, _ axis: ReductionAxis, _ x: [Float], rows: Int, columns: Int,
        _ context: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let ref = try Reference.reduce(op, x, rows: rows, columns: columns, over: axis)
        let groups = ref.values.count
        var rng = TestRNG(seed: UInt64(groups) &* 977 &+ UInt64(op.rawValue.count))
        let g = TestData.normal(groups, scale: 2, rng: &rng)
        // The forward result handed to the backward is the reference's, rounded to float32.
        let result = ReductionResult(values: ref.values.asFloat, indices: ref.indices)
        let expected = Reference.reduceBackward(op, x, rows: rows, columns: columns, over: axis, values: result.values, indices: result.indices, gradOutput: g)
        let dz = try engine.reduceBackward(op, Matrix(rows: rows, columns: columns, values: x), over: axis, result: result, gradOutput: g)
        #expect(dz.rows == rows && dz.columns == columns, sourceLocation: sourceLocation)
        expectClose(dz.values, expected, "\(backend) \(op.rawValue) backward over \(axis.rawValue) \(context)", sourceLocation: sourceLocation)
    }

    @Test(arguments: Backends.all, backwardCases)
    func backward(_ backend: TestBackend, _ c: Case) throws {
        let engine = try Backends.engine(for: backend)
        var x = c.input()
        for j in 0..<c.columns where c.rows > 1 { x[j] = 0 }   // row 0 all zeros: ‖x‖ = 0 over .rows
        for op in ReductionOperation.allCases where op != .argmax {
            for axis in ReductionAxis.allCases {
                try Self.checkBackward(engine, backend, op, axis, x, rows: c.rows, columns: c.columns, c.testDescription)
            }
        }
    }

    /// A NaN in a group: max/min route the gradient to the first NaN, and the gradient of a group
    /// whose value is NaN is NaN for logSumExp and l2Norm (g·x/NaN), while sum and mean pass `g` on.
    @Test(arguments: Backends.all)
    func backwardWithNaN(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let x: [Float] = [
            1, .nan, 3, .nan,
            0, 0, 0, 0,
            -2, 5, 1, 5,
        ]
        for op in ReductionOperation.allCases where op != .argmax {
            for axis in ReductionAxis.allCases {
                try Self.checkBackward(engine, backend, op, axis, x, rows: 3, columns: 4, "hand-made NaN")
            }
        }
    }

    @Test(arguments: Backends.all)
    func argmaxHasNoGradient(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let x = try Matrix(rows: 2, columns: 3, values: [1, 2, 3, 4, 5, 6])
        let result = try engine.reduce(.argmax, x, over: .rows)
        let error = #expect(throws: LossKernelsError.self) {
            try engine.reduceBackward(.argmax, x, over: .rows, result: result, gradOutput: [1, 1])
        }
        guard case let .invalidOption(name, value, _)? = error else {
            Issue.record("expected .invalidOption, got \(String(describing: error))")
            return
        }
        #expect(name == "operation" && value == "argmax")
    }

    /// The backward of an empty input is an empty gradient of the same shape.
    @Test(arguments: Backends.all)
    func backwardOfEmptyInput(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let x = try Matrix(rows: 0, columns: 4, values: [])
        let dz = try engine.reduceBackward(.sum, x, over: .columns, result: ReductionResult(values: [0, 0, 0, 0]), gradOutput: [1, 2, 3, 4])
        #expect(dz == x)
    }
}
