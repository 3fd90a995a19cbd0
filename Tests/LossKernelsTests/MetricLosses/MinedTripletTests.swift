import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// `minedTripletLoss` (batchAll, batchHard) on both backends against `MetricReference.mined`, whose
/// distances come from explicit differences. The library's distances go through a GEMM, so the loss
/// and the gradient use the GEMM tolerance (`expectCloseGEMM`); random data are drawn away from
/// near ties and hinge kinks, and batchAll's count may differ only by triplets whose hinge value is
/// within float error of 0.
@Suite struct MinedTripletTests {
    static let cpuShapes = [(1, 7), (5, 1), (5, 7), (64, 1), (64, 7), (64, 128), (300, 1), (300, 7), (300, 128)]
    static let openCLShapes = [(1, 1), (5, 7), (64, 7), (64, 128), (300, 7)]

    /// Band of hinge values that a float32 computation may put on either side of 0.
    static let countTolerance = 2e-5

    struct Data {
        var embeddings: [Float], labels: [Int]
    }

    /// Labels from `max(2, B/8)` classes spread over large, non-contiguous values (any label ≥ 0 is
    /// allowed); rows 0 and 1 share a class. Embeddings: normal values scaled by `1/√D` (distances ≈ √2).
    static func data(rows: Int, dimension: Int, rng: inout TestRNG) -> Data {
        let classes = max(2, rows / 8)
        var labels = (0..<rows).map { _ in 37 * rng.index(classes) + 5 }
        if rows >= 2 { labels[1] = labels[0] }
        return Data(embeddings: TestData.normal(rows * dimension, scale: 1 / Double(dimension).squareRoot(), rng: &rng), labels: labels)
    }

    static func reference(_ data: Data, rows: Int, dimension: Int, mining: TripletMining, margin: Float) -> MetricReference.Mined {
        MetricReference.mined(
            embeddings: MetricReference.widen(data.embeddings), labels: data.labels, rows: rows, dimension: dimension, mining: mining,
            margin: Double(margin), countTolerance: countTolerance)
    }

    static func check(
        _ out: Engine.MinedTripletOutput, _ ref: MetricReference.Mined, mining: TripletMining, rows: Int, dimension: Int,
        backend: TestBackend, _ context: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(out.backend == backend.expected, "\(context): ran on \(out.backend)", sourceLocation: sourceLocation)
        #expect(out.gradEmbeddings.rows == rows && out.gradEmbeddings.columns == dimension, "\(context): gradient shape", sourceLocation: sourceLocation)
        expectCloseGEMM([out.loss], [ref.loss], "\(context) loss", sourceLocation: sourceLocation)
        expectCloseGEMM(out.gradEmbeddings.values, ref.gradient, "\(context) gradEmbeddings", sourceLocation: sourceLocation)
        switch mining {
        case .batchAll:
            #expect(
                abs(out.tripletCount - ref.tripletCount) <= ref.ambiguousTriplets,
                "\(context): tripletCount \(out.tripletCount), reference \(ref.tripletCount) (± \(ref.ambiguousTriplets) within float error of the hinge)",
                sourceLocation: sourceLocation)
        case .batchHard:
            #expect(
                out.tripletCount == ref.tripletCount, "\(context): tripletCount \(out.tripletCount), reference \(ref.tripletCount)",
                sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: MetricCase.cases(cpu: cpuShapes, opencl: openCLShapes, seed: 0x3A))
    func minedMatchesReference(_ c: MetricCase) throws {
        let engine = try Backends.engine(for: c.backend)
        let rows = c.rows, d = c.dimension
        let margins: [Float?] = [nil, 0.3]   // nil: the default margin 1 is not passed
        // 300 points on a line always hold near ties (nearest negatives closer than float32 can
        // order them): batchHard is not defined to float precision there, batchAll is.
        let minings: [TripletMining] = rows >= 300 && d == 1 ? [.batchAll] : TripletMining.allCases
        let data = try #require(
            MetricTestData.draw(
                seed: c.seed, { Self.data(rows: rows, dimension: d, rng: &$0) },
                acceptable: { data in
                    !minings.contains(.batchHard)
                        || margins.allSatisfy { Self.reference(data, rows: rows, dimension: d, mining: .batchHard, margin: $0 ?? 1).ambiguousAnchors == 0 }
                }), "no draw without near ties for batchHard")
        let embeddings = MetricTestData.matrix(rows, d, data.embeddings)
        var mined = 0
        for mining in minings {
            for margin in margins {
                let out =
                    try margin.map { try engine.minedTripletLoss(embeddings: embeddings, labels: data.labels, mining: mining, margin: $0) }
                    ?? engine.minedTripletLoss(embeddings: embeddings, labels: data.labels, mining: mining)
                let ref = Self.reference(data, rows: rows, dimension: d, mining: mining, margin: margin ?? 1)
                Self.check(out, ref, mining: mining, rows: rows, dimension: d, backend: c.backend, "\(c) \(mining) margin=\(margin ?? 1)")
                mined += ref.tripletCount
            }
        }
        if rows >= 5 { #expect(mined > 0, "\(c): the data mine some triplets") }
    }

    /// No valid triplet: every row in one class, every row in its own class, a single row.
    @Test(arguments: Backends.all, TripletMining.allCases)
    func noValidTriplet(_ backend: TestBackend, _ mining: TripletMining) throws {
        let engine = try Backends.engine(for: backend)
        var rng = TestRNG(seed: 90)
        let cases: [(String, Int, [Int])] = [("one class", 5, [3, 3, 3, 3, 3]), ("all classes distinct", 4, [0, 1, 2, 3]), ("single row", 1, [0])]
        for (name, rows, labels) in cases {
            let e = MetricTestData.matrix(rows, 7, TestData.normal(rows * 7, rng: &rng))
            let out = try engine.minedTripletLoss(embeddings: e, labels: labels, mining: mining, margin: 2)
            let context = "\(backend) \(mining) \(name)"
            #expect(out.backend == backend.expected, "\(context): ran on \(out.backend)")
            #expect(out.loss == 0 && out.tripletCount == 0, "\(context): loss \(out.loss), count \(out.tripletCount)")
            #expect(
                out.gradEmbeddings.rows == rows && out.gradEmbeddings.columns == 7 && allZero(out.gradEmbeddings.values),
                "\(context): the gradient must be exactly 0: \(out.gradEmbeddings.values.prefix(8))")
        }
    }

    /// Two far-apart clusters: every hinge is inactive. batchAll mines nothing; batchHard still
    /// counts the anchors (the mean is over anchors having a positive and a negative) with loss 0.
    @Test(arguments: Backends.all)
    func everyHingeInactive(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        var rng = TestRNG(seed: 91)
        let rows = 8, d = 3
        let labels = [0, 1, 0, 1, 0, 1, 0, 2]   // row 7: the only member of class 2 (no positive)
        let values = (0..<rows * d).map { i in Float(rng.normal() * 0.1) + (labels[i / d] == 1 ? 20 : 0) + (labels[i / d] == 2 ? -20 : 0) }
        let e = MetricTestData.matrix(rows, d, values)
        let all = try engine.minedTripletLoss(embeddings: e, labels: labels, mining: .batchAll)
        #expect(all.backend == backend.expected)
        #expect(all.loss == 0 && all.tripletCount == 0 && allZero(all.gradEmbeddings.values), "\(backend) batchAll: \(all.loss), \(all.tripletCount)")
        let hard = try engine.minedTripletLoss(embeddings: e, labels: labels, mining: .batchHard)
        #expect(hard.backend == backend.expected)
        #expect(hard.loss == 0 && hard.tripletCount == 7 && allZero(hard.gradEmbeddings.values), "\(backend) batchHard: \(hard.loss), \(hard.tripletCount)")
    }

    /// Hinge values exactly 0 (integer coordinates, exact in float32 through a GEMM too): batchAll
    /// leaves them out of the count, batchHard counts the anchor with loss 0 and no gradient.
    @Test(arguments: Backends.all)
    func hingeExactlyAtMargin(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        // On a line: 0 (A), 1 (A), 2 (B). a=0: D_ap = 1, D_an = 2 → 1 − 2 + 1 = 0;
        // a=1: 1 − 1 + 1 = 1; a=2 has no positive.
        let e = MetricTestData.matrix(3, 2, [0, 0, 1, 0, 2, 0])
        let labels = [4, 4, 9]
        let all = try engine.minedTripletLoss(embeddings: e, labels: labels, mining: .batchAll)
        #expect(all.backend == backend.expected)
        #expect(all.tripletCount == 1 && all.loss == 1, "\(backend) batchAll: count \(all.tripletCount), loss \(all.loss)")
        // ∂/∂e_1 = (e_1 − e_0)/1 − (e_1 − e_2)/1 = (2, 0); ∂/∂e_0 = −(1, 0); ∂/∂e_2 = −(1, 0).
        expectCloseGEMM(all.gradEmbeddings.values, [-1, 0, 2, 0, -1, 0], "\(backend) batchAll gradient")
        let hard = try engine.minedTripletLoss(embeddings: e, labels: labels, mining: .batchHard)
        #expect(hard.backend == backend.expected)
        #expect(hard.tripletCount == 2 && hard.loss == 0.5, "\(backend) batchHard: count \(hard.tripletCount), loss \(hard.loss)")
        expectCloseGEMM(hard.gradEmbeddings.values, [-0.5, 0, 1, 0, -0.5, 0], "\(backend) batchHard gradient")
        for mining in TripletMining.allCases {
            let ref = MetricReference.mined(embeddings: MetricReference.widen(e.values), labels: labels, rows: 3, dimension: 2, mining: mining, margin: 1)
            let out = mining == .batchAll ? all : hard
            Self.check(out, ref, mining: mining, rows: 3, dimension: 2, backend: backend, "\(backend) \(mining) at the margin")
        }
    }

    /// Exact ties (integer coordinates): batchHard takes the lowest index among equally far
    /// positives and equally near negatives.
    @Test(arguments: Backends.all)
    func hardMiningTiesTakeTheLowestIndex(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        // Anchor row 0 at (1, 1). Positives (class 0): rows 2 and 4 at distance 3 (tie), row 5 at 1.
        // Negatives (class 1): rows 1 and 3 at distance 2 (tie), row 6 at 5.
        let values: [Float] = [1, 1, /*1*/ 3, 1, /*2*/ 1, 4, /*3*/ 1, -1, /*4*/ 1, -2, /*5*/ 2, 1, /*6*/ 6, 1]
        let labels = [0, 1, 0, 1, 0, 0, 1]
        let e = MetricTestData.matrix(7, 2, values)
        let ref = MetricReference.mined(embeddings: MetricReference.widen(values), labels: labels, rows: 7, dimension: 2, mining: .batchHard, margin: 2)
        let out = try engine.minedTripletLoss(embeddings: e, labels: labels, mining: .batchHard, margin: 2)
        Self.check(out, ref, mining: .batchHard, rows: 7, dimension: 2, backend: backend, "\(backend) ties")
        // Rows 5 and 6 as single-member classes: they are only ever negatives.
        let single = try engine.minedTripletLoss(embeddings: e, labels: [0, 1, 0, 1, 0, 2, 3], mining: .batchHard, margin: 2)
        let refSingle = MetricReference.mined(
            embeddings: MetricReference.widen(values), labels: [0, 1, 0, 1, 0, 2, 3], rows: 7, dimension: 2,
            mining: .batchHard, margin: 2)
        Self.check(single, refSingle, mining: .batchHard, rows: 7, dimension: 2, backend: backend, "\(backend) ties, classes 2 and 3 single")
    }

    /// Duplicated embeddings: zero distances between a positive pair and between an anchor and a
    /// negative; no NaN, and the gradient has no term along a zero difference.
    @Test(arguments: Backends.all, TripletMining.allCases)
    func duplicatedEmbeddings(_ backend: TestBackend, _ mining: TripletMining) throws {
        let engine = try Backends.engine(for: backend)
        var rng = TestRNG(seed: 93)
        let rows = 8, d = 6
        var values = TestData.normal(rows * d, scale: 1 / Double(d).squareRoot(), rng: &rng)
        for k in 0..<d {
            values[1 * d + k] = values[0 * d + k]   // rows 0 and 1: same class, same point
            values[3 * d + k] = values[2 * d + k]   // rows 2 and 3: different classes, same point
            values[7 * d + k] = values[0 * d + k]   // row 7 (class 0) is row 0 again
        }
        let labels = [0, 0, 1, 2, 1, 2, 0, 0]
        let e = MetricTestData.matrix(rows, d, values)
        for margin: Float in [1, 0.2] {
            let ref = MetricReference.mined(
                embeddings: MetricReference.widen(values), labels: labels, rows: rows, dimension: d, mining: mining,
                margin: Double(margin), countTolerance: Self.countTolerance)
            let out = try engine.minedTripletLoss(embeddings: e, labels: labels, mining: mining, margin: margin)
            Self.check(out, ref, mining: mining, rows: rows, dimension: d, backend: backend, "\(backend) \(mining) duplicates margin=\(margin)")
            #expect(ref.ambiguousAnchors == 0 && ref.tripletCount > 0)
        }
        // Every row at one point, two classes: all distances 0, every hinge equals the margin.
        let same = MetricTestData.matrix(4, d, Array(repeating: Array(values[0..<d]), count: 4).flatMap { $0 })
        let out = try engine.minedTripletLoss(embeddings: same, labels: [0, 1, 0, 1], mining: mining, margin: 0.5)
        #expect(out.backend == backend.expected)
        // batchAll: 4 anchors × 1 positive × 2 negatives = 8 triplets of 0.5; batchHard: 4 anchors.
        #expect(out.tripletCount == (mining == .batchAll ? 8 : 4), "\(backend) \(mining) one point: count \(out.tripletCount)")
        expectCloseGEMM([out.loss], [0.5], "\(backend) \(mining) one point: loss")
        #expect(
            allZero(out.gradEmbeddings.values),
            "\(backend) \(mining) one point: gradient must be exactly 0 (no direction): \(out.gradEmbeddings.values.prefix(6))")
    }
}
