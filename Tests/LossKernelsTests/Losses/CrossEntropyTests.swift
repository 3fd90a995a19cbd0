import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// `crossEntropy` on every backend against the float64 reference (LossReference.swift), for every
/// reduction, class weights, ignore index, label smoothing, masks and large C.
@Suite struct CrossEntropyTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let rows: Int
        let columns: Int
        /// Standard deviation of the logits (100: |logits| up to a few hundred).
        var scale: Double = 100
        var weighted = false
        var ignoreIndex = -100
        /// Rows (at random positions) whose label is set to `ignoreIndex`.
        var ignoredRows = 0
        var smoothing: Float = 0
        /// Probability of a −∞ mask per entry; the target of a row is never masked.
        var maskProbability: Double = 0
        var seed: UInt64 = 1

        var testDescription: String {
            var text = "\(rows)×\(columns) scale \(scale)"
            if weighted { text += " weights" }
            if ignoredRows > 0 {
                text += " ignore \(ignoredRows) rows (index \(ignoreIndex))"
            } else if ignoreIndex != -100 {
                text += " ignoreIndex \(ignoreIndex)"
            }
            if smoothing != 0 { text += " smoothing \(smoothing)" }
            if maskProbability > 0 { text += " masks \(maskProbability)" }
            return text
        }

        struct Inputs {
            var logits: Matrix
            var labels: [Int]
            var weights: [Float]?
            var gradOutput: [Float]
        }

        func inputs() throws -> Inputs {
            var rng = TestRNG(seed: seed &* 0x9E37_79B9 &+ UInt64(rows * 7919 + columns))
            let z = TestData.logits(rows: rows, columns: columns, scale: scale, maskProbability: maskProbability, rng: &rng)
            var labels = (0..<rows).map { r -> Int in
                // A label whose logit is finite (never a masked target).
                while true {
                    let j = rng.index(columns)
                    if z[r * columns + j].isFinite { return j }
                }
            }
            if ignoredRows > 0 {
                var order = Array(0..<rows)
                order.shuffle(using: &rng)
                for r in order.prefix(ignoredRows) { labels[r] = ignoreIndex }
            }
            if ignoredRows < rows, !labels.contains(where: { $0 != ignoreIndex }), columns > 1 {
                // The ignore index is a class that every row drew: keep one row counted.
                labels[0] = (0..<columns).first { $0 != ignoreIndex && z[$0].isFinite }!
            }
            let weights = weighted ? (0..<columns).map { _ in Float(0.1 + 2.9 * rng.unit()) } : nil
            let gradOutput = TestData.normal(rows, scale: 2, rng: &rng)
            return Inputs(logits: try Matrix(rows: rows, columns: columns, values: z), labels: labels, weights: weights, gradOutput: gradOutput)
        }
    }

    static let cases: [Case] = [
        Case(rows: 1, columns: 1),
        Case(rows: 3, columns: 1, smoothing: 0.1),
        Case(rows: 3, columns: 2, scale: 3),
        Case(rows: 3, columns: 2, scale: 300),
        Case(rows: 17, columns: 7, scale: 3, weighted: true),
        Case(rows: 64, columns: 8, scale: 3, ignoredRows: 10),
        Case(rows: 64, columns: 9, scale: 300, weighted: true),
        Case(rows: 3, columns: 9, scale: 3, smoothing: 0.1),
        Case(rows: 17, columns: 33, scale: 3, weighted: true, smoothing: 1.0),
        Case(rows: 17, columns: 33, scale: 100, smoothing: 0.1),
        // A custom ignore index that is also a valid class: those rows are ignored.
        Case(rows: 17, columns: 8, scale: 3, weighted: true, ignoreIndex: 3, ignoredRows: 5),
        Case(rows: 64, columns: 7, scale: 3, ignoreIndex: 3, smoothing: 0.1),
        // Weights + smoothing + ignore together.
        Case(rows: 64, columns: 9, scale: 3, weighted: true, ignoredRows: 7, smoothing: 0.1),
        Case(rows: 64, columns: 1000, scale: 3, weighted: true, ignoredRows: 9, smoothing: 0.1),
        Case(rows: 17, columns: 1000, scale: 100, weighted: true, ignoreIndex: 3, ignoredRows: 4, smoothing: 1.0),
        // −∞ masks without smoothing: finite losses (targets are never masked).
        Case(rows: 17, columns: 33, scale: 3, weighted: true, maskProbability: 0.3),
        Case(rows: 64, columns: 8, scale: 100, ignoredRows: 3, maskProbability: 0.5),
        Case(rows: 3, columns: 1000, scale: 3, maskProbability: 0.9),
        // C above one 16,384-float block: a row is split across threads.
        Case(rows: 1, columns: 20_000, scale: 100),
        Case(rows: 1, columns: 20_000, scale: 3, weighted: true, smoothing: 0.1),
        Case(rows: 3, columns: 20_000, scale: 100, weighted: true, ignoredRows: 1, smoothing: 0.1),
        Case(rows: 3, columns: 20_000, scale: 3, maskProbability: 0.5),
        Case(rows: 1, columns: 16_385, scale: 3, weighted: true, ignoreIndex: 3, smoothing: 1.0),
    ]

    @Test(arguments: Backends.all, cases)
    func matchesReference(_ backend: TestBackend, _ c: Case) throws {
        let engine = try Backends.engine(for: backend)
        let input = try c.inputs()
        for (reduction, withGradOutput) in LossCheck.variants {
            let g = withGradOutput ? input.gradOutput : nil
            let output = try engine.crossEntropy(
                logits: input.logits, labels: input.labels, classWeights: input.weights, ignoreIndex: c.ignoreIndex,
                labelSmoothing: c.smoothing, reduction: reduction, gradOutput: g)
            let reference = LossReference.crossEntropy(
                logits: input.logits.values, rows: c.rows, columns: c.columns, labels: input.labels,
                classWeights: input.weights, ignoreIndex: c.ignoreIndex, labelSmoothing: c.smoothing,
                reduction: reduction, gradOutput: g)
            if c.maskProbability > 0 || c.smoothing == 0 {
                // Sanity of the case itself: the reference is finite here (masked targets never occur).
                #expect(reference.loss.allSatisfy { $0.isFinite }, "reference loss not finite")
            }
            LossCheck.expectMatches(
                output, reference, backend: backend, rows: c.rows, columns: c.columns,
                "\(backend) \(c.testDescription) \(LossCheck.describe(reduction, withGradOutput))")
        }
    }

    /// Every row ignored: mean is NaN (0/0, as PyTorch), sum 0, none all 0; the gradient is 0.
    @Test(arguments: Backends.all)
    func allRowsIgnored(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        var rng = TestRNG(seed: 77)
        let rows = 5, columns = 7
        let logits = try Matrix(rows: rows, columns: columns, values: TestData.normal(rows * columns, scale: 3, rng: &rng))
        let weights = (0..<columns).map { _ in Float(0.5 + rng.unit()) }
        let setups: [(ignoreIndex: Int, weights: [Float]?, smoothing: Float)] = [(-100, nil, 0), (3, weights, 0.1), (3, weights, 1.0)]
        for setup in setups {
            let labels = [Int](repeating: setup.ignoreIndex, count: rows)
            for (reduction, withGradOutput) in LossCheck.variants {
                let g: [Float]? = withGradOutput ? TestData.normal(rows, rng: &rng) : nil
                let output = try engine.crossEntropy(
                    logits: logits, labels: labels, classWeights: setup.weights, ignoreIndex: setup.ignoreIndex,
                    labelSmoothing: setup.smoothing, reduction: reduction, gradOutput: g)
                let reference = LossReference.crossEntropy(
                    logits: logits.values, rows: rows, columns: columns, labels: labels, classWeights: setup.weights,
                    ignoreIndex: setup.ignoreIndex, labelSmoothing: setup.smoothing, reduction: reduction, gradOutput: g)
                #expect(reference.gradient.allSatisfy { $0 == 0 })
                #expect(reduction != .mean || reference.loss[0].isNaN)
                LossCheck.expectMatches(
                    output, reference, backend: backend, rows: rows, columns: columns,
                    "\(backend) all ignored (index \(setup.ignoreIndex), smoothing \(setup.smoothing)) \(LossCheck.describe(reduction, withGradOutput))")
            }
        }
    }

    /// Non-finite logits. (a) Ignored rows contribute loss 0 and gradient 0 whatever their logits
    /// hold (all −∞, a NaN, a +∞): the other rows stay finite. (b) A −∞ mask on the target, or on
    /// any class with label smoothing, gives a +∞ loss with a finite gradient (PyTorch). (c) A
    /// counted row that is all −∞ gives NaN (its softmax is NaN).
    @Test(arguments: Backends.all)
    func nonFiniteLogits(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let rows = 5, columns = 6
        var rng = TestRNG(seed: 55)
        let regular = TestData.normal(rows * columns, scale: 3, rng: &rng)
        let weights = (0..<columns).map { _ in Float(0.5 + rng.unit()) }
        let gradOutput = TestData.normal(rows, scale: 2, rng: &rng)

        var ignoredSpecial = regular
        for j in 0..<columns { ignoredSpecial[1 * columns + j] = -.infinity }
        ignoredSpecial[2 * columns + 1] = .nan
        ignoredSpecial[3 * columns + 4] = .infinity
        var maskedTarget = regular
        maskedTarget[0 * columns + 2] = -.infinity
        var maskedOther = regular
        maskedOther[4 * columns + 5] = -.infinity
        var countedAllMasked = regular
        for j in 0..<columns { countedAllMasked[3 * columns + j] = -.infinity }

        let scenarios: [(name: String, z: [Float], labels: [Int], smoothing: Float)] = [
            ("ignored rows with −∞/NaN/+∞", ignoredSpecial, [2, -100, -100, -100, 0], 0),
            ("ignored rows with −∞/NaN/+∞, smoothing 0.1", ignoredSpecial, [2, -100, -100, -100, 0], 0.1),
            ("masked target", maskedTarget, [2, 1, 3, 4, 0], 0),
            ("masked non-target, smoothing 0.1", maskedOther, [2, 1, 3, 4, 0], 0.1),
            ("counted all −∞ row", countedAllMasked, [2, 1, 3, 4, 0], 0),
        ]
        for s in scenarios {
            let logits = try Matrix(rows: rows, columns: columns, values: s.z)
            for w in [nil, weights] {
                for (reduction, withGradOutput) in LossCheck.variants {
                    let g = withGradOutput ? gradOutput : nil
                    let output = try engine.crossEntropy(
                        logits: logits, labels: s.labels, classWeights: w, labelSmoothing: s.smoothing,
                        reduction: reduction, gradOutput: g)
                    let reference = LossReference.crossEntropy(
                        logits: s.z, rows: rows, columns: columns, labels: s.labels, classWeights: w,
                        labelSmoothing: s.smoothing, reduction: reduction, gradOutput: g)
                    if s.name.hasPrefix("ignored") {
                        #expect(reference.loss.allSatisfy { $0.isFinite } && reference.gradient.allSatisfy { $0.isFinite })
                    } else if s.name.hasPrefix("masked") {
                        #expect(reference.loss.contains(.infinity) && reference.gradient.allSatisfy { $0.isFinite })
                    } else {
                        #expect(reference.loss.contains { $0.isNaN })
                    }
                    LossCheck.expectMatches(
                        output, reference, backend: backend, rows: rows, columns: columns,
                        "\(backend) \(s.name)\(w == nil ? "" : " weights") \(LossCheck.describe(reduction, withGradOutput))")
                }
            }
        }
    }

    /// The buffer form writes every gradient element (ignored rows get 0, even over a dirty buffer)
    /// and can be called again with the same buffer.
    @Test(arguments: Backends.all)
    func bufferFormOverwritesGradient(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let rows = 6, columns = 11
        var rng = TestRNG(seed: 91)
        var gradient = [Float](repeating: .nan, count: rows * columns)
        for (round, smoothing) in [Float(0), 0.2].enumerated() {
            let z = TestData.normal(rows * columns, scale: 4, rng: &rng)
            var labels = (0..<rows).map { _ in rng.index(columns) }
            labels[1] = -100
            labels[4] = -100
            let weights = (0..<columns).map { _ in Float(0.2 + rng.unit()) }
            for reduction in LossReduction.allCases {
                if round == 0 { for i in gradient.indices { gradient[i] = .nan } }
                let (loss, ran) = try z.withUnsafeBufferPointer { zp in
                    try gradient.withUnsafeMutableBufferPointer { dz in
                        try engine.crossEntropy(
                            logits: zp, rows: rows, columns: columns, labels: labels, classWeights: weights,
                            labelSmoothing: smoothing, reduction: reduction, gradient: dz)
                    }
                }
                let reference = LossReference.crossEntropy(
                    logits: z, rows: rows, columns: columns, labels: labels, classWeights: weights,
                    labelSmoothing: smoothing, reduction: reduction)
                let context = "\(backend) buffer form round \(round) \(reduction)"
                #expect(ran == backend.expected, "\(context): ran on \(ran)")
                expectClose(loss, reference.loss, "\(context) loss")
                expectClose(gradient, reference.gradient, "\(context) gradient")
            }
        }
    }
}
