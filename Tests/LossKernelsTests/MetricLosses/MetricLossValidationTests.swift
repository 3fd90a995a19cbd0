import Foundation
import Testing

@testable import LossKernels

/// Bad input to the pair, triplet, center and mined triplet losses throws the right
/// `LossKernelsError` on both policies, and its description names the tensor, option or row.
@Suite struct MetricLossValidationTests {
    typealias Expected = ExpectedError

    static func matrix(_ rows: Int, _ columns: Int, seed: UInt64 = 1) -> Matrix {
        var rng = TestRNG(seed: seed &+ UInt64(rows * 100 + columns))
        return try! Matrix(rows: rows, columns: columns, values: TestData.normal(rows * columns, rng: &rng))
    }

    // MARK: Contrastive

    @Test(arguments: Backends.all)
    func contrastive(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let a = Self.matrix(4, 3), b = Self.matrix(4, 3, seed: 2)
        let similar = [true, false, true, false]
        let c = "\(backend) contrastive"

        // The good call works (so each failure below is the bad argument's).
        let ok = try engine.contrastiveLoss(left: a, right: b, similar: similar, margin: 0, reduction: .none, gradOutput: [1, 2, 3, 4])
        #expect(ok.backend == backend.expected && ok.loss.count == 4)

        expectError(.shape(tensor: "right"), "\(c) right has another width") { try engine.contrastiveLoss(left: a, right: Self.matrix(4, 2), similar: similar) }
        expectError(.shape(tensor: "right"), "\(c) right has another batch") { try engine.contrastiveLoss(left: a, right: Self.matrix(5, 3), similar: similar) }
        expectError(.shape(tensor: "similar"), "\(c) similar count 3 ≠ B") { try engine.contrastiveLoss(left: a, right: b, similar: [true, false, true]) }
        expectError(.shape(tensor: "similar"), "\(c) similar count 5 ≠ B") {
            try engine.contrastiveLoss(left: a, right: b, similar: similar + [true])
        }
        expectError(.option(name: "margin", value: "inf"), "\(c) margin ∞") {
            try engine.contrastiveLoss(left: a, right: b, similar: similar, margin: .infinity)
        }
        expectError(.option(name: "margin", value: "nan"), "\(c) margin NaN") { try engine.contrastiveLoss(left: a, right: b, similar: similar, margin: .nan) }
        expectError(.option(name: "margin", value: "-0.5"), "\(c) margin < 0") { try engine.contrastiveLoss(left: a, right: b, similar: similar, margin: -0.5) }
        expectError(.shape(tensor: "left"), "\(c) empty batch") {
            try engine.contrastiveLoss(left: Self.matrix(0, 3), right: Self.matrix(0, 3), similar: [])
        }
        expectError(.shape(tensor: "left"), "\(c) D = 0") {
            try engine.contrastiveLoss(left: Self.matrix(4, 0), right: Self.matrix(4, 0), similar: similar)
        }
        expectError(.option(name: "gradOutput", value: nil), "\(c) gradOutput with mean") {
            try engine.contrastiveLoss(left: a, right: b, similar: similar, gradOutput: [1, 1, 1, 1])
        }
        expectError(.option(name: "gradOutput", value: nil), "\(c) gradOutput with sum") {
            try engine.contrastiveLoss(left: a, right: b, similar: similar, reduction: .sum, gradOutput: [1, 1, 1, 1])
        }
        expectError(.shape(tensor: "gradOutput"), "\(c) gradOutput count 3 ≠ B") {
            try engine.contrastiveLoss(left: a, right: b, similar: similar, reduction: .none, gradOutput: [1, 1, 1])
        }
    }

    // MARK: Triplet

    @Test(arguments: Backends.all)
    func triplet(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let a = Self.matrix(3, 5), p = Self.matrix(3, 5, seed: 2), n = Self.matrix(3, 5, seed: 3)
        let c = "\(backend) triplet"

        let ok = try engine.tripletMarginLoss(
            anchors: a, positives: p, negatives: n, margin: -1, p: 1, eps: 0, swap: true, reduction: .none,
            gradOutput: [1, 2, 3])
        #expect(ok.backend == backend.expected && ok.loss.count == 3)

        expectError(.shape(tensor: "positives"), "\(c) positives width") {
            try engine.tripletMarginLoss(anchors: a, positives: Self.matrix(3, 4), negatives: n)
        }
        expectError(.shape(tensor: "positives"), "\(c) positives batch") {
            try engine.tripletMarginLoss(anchors: a, positives: Self.matrix(2, 5), negatives: n)
        }
        expectError(.shape(tensor: "negatives"), "\(c) negatives width") {
            try engine.tripletMarginLoss(anchors: a, positives: p, negatives: Self.matrix(3, 6))
        }
        expectError(.shape(tensor: "negatives"), "\(c) negatives batch") {
            try engine.tripletMarginLoss(anchors: a, positives: p, negatives: Self.matrix(4, 5))
        }
        expectError(.option(name: "p", value: "3"), "\(c) p = 3") { try engine.tripletMarginLoss(anchors: a, positives: p, negatives: n, p: 3) }
        expectError(.option(name: "p", value: "0"), "\(c) p = 0") { try engine.tripletMarginLoss(anchors: a, positives: p, negatives: n, p: 0) }
        expectError(.option(name: "eps", value: "\(Float(-1e-6))"), "\(c) eps < 0") {
            try engine.tripletMarginLoss(anchors: a, positives: p, negatives: n, eps: -1e-6)
        }
        expectError(.option(name: "eps", value: "nan"), "\(c) eps NaN") { try engine.tripletMarginLoss(anchors: a, positives: p, negatives: n, eps: .nan) }
        expectError(.option(name: "eps", value: "inf"), "\(c) eps ∞") { try engine.tripletMarginLoss(anchors: a, positives: p, negatives: n, eps: .infinity) }
        expectError(.option(name: "margin", value: "-inf"), "\(c) margin −∞") {
            try engine.tripletMarginLoss(anchors: a, positives: p, negatives: n, margin: -.infinity)
        }
        expectError(.option(name: "margin", value: "nan"), "\(c) margin NaN") {
            try engine.tripletMarginLoss(anchors: a, positives: p, negatives: n, margin: .nan)
        }
        expectError(.shape(tensor: "anchors"), "\(c) empty batch") {
            try engine.tripletMarginLoss(anchors: Self.matrix(0, 5), positives: Self.matrix(0, 5), negatives: Self.matrix(0, 5))
        }
        expectError(.shape(tensor: "anchors"), "\(c) D = 0") {
            try engine.tripletMarginLoss(anchors: Self.matrix(3, 0), positives: Self.matrix(3, 0), negatives: Self.matrix(3, 0))
        }
        expectError(.option(name: "gradOutput", value: nil), "\(c) gradOutput with mean") {
            try engine.tripletMarginLoss(anchors: a, positives: p, negatives: n, gradOutput: [1, 1, 1])
        }
        expectError(.option(name: "gradOutput", value: nil), "\(c) gradOutput with sum") {
            try engine.tripletMarginLoss(anchors: a, positives: p, negatives: n, reduction: .sum, gradOutput: [1, 1, 1])
        }
        expectError(.shape(tensor: "gradOutput"), "\(c) gradOutput count 4 ≠ B") {
            try engine.tripletMarginLoss(anchors: a, positives: p, negatives: n, reduction: .none, gradOutput: [1, 1, 1, 1])
        }
    }

    // MARK: Center loss

    @Test(arguments: Backends.all)
    func center(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let x = Self.matrix(4, 3), centers = Self.matrix(5, 3, seed: 2)
        let labels = [0, 4, 2, 4]
        let c = "\(backend) center"

        let ok = try engine.centerLoss(features: x, labels: labels, centers: centers, alpha: 1)
        #expect(ok.backend == backend.expected && ok.updatedCenters.rows == 5)
        _ = try engine.centerLoss(features: x, labels: labels, centers: centers, alpha: 0)

        expectError(.shape(tensor: "centers"), "\(c) centers D 4 vs features D 3") {
            try engine.centerLoss(features: x, labels: labels, centers: Self.matrix(5, 4))
        }
        expectError(.shape(tensor: "centers"), "\(c) no centers") { try engine.centerLoss(features: x, labels: labels, centers: Self.matrix(0, 3)) }
        expectError(.shape(tensor: "labels"), "\(c) labels count 3 ≠ B") { try engine.centerLoss(features: x, labels: [0, 1, 2], centers: centers) }
        expectError(.shape(tensor: "labels"), "\(c) labels count 5 ≠ B") { try engine.centerLoss(features: x, labels: [0, 1, 2, 3, 4], centers: centers) }
        expectError(.value(tensor: "labels", index: 2, value: "5"), "\(c) label = C at row 2") {
            try engine.centerLoss(features: x, labels: [0, 1, 5, 2], centers: centers)
        }
        expectError(.value(tensor: "labels", index: 3, value: "-1"), "\(c) label −1 at row 3") {
            try engine.centerLoss(features: x, labels: [0, 1, 2, -1], centers: centers)
        }
        expectError(.value(tensor: "labels", index: 1, value: "1000"), "\(c) label 1000 at row 1 (first bad row)") {
            try engine.centerLoss(features: x, labels: [0, 1000, 2, 7], centers: centers)
        }
        for alpha: Float in [-0.01, 1.5, .nan, .infinity] {
            expectError(.option(name: "alpha", value: "\(alpha)"), "\(c) alpha \(alpha)") {
                try engine.centerLoss(features: x, labels: labels, centers: centers, alpha: alpha)
            }
        }
        expectError(.shape(tensor: "features"), "\(c) empty batch") { try engine.centerLoss(features: Self.matrix(0, 3), labels: [], centers: centers) }
        expectError(.shape(tensor: "features"), "\(c) D = 0") {
            try engine.centerLoss(features: Self.matrix(4, 0), labels: labels, centers: Self.matrix(5, 0))
        }
    }

    // MARK: Mined triplet

    @Test(arguments: Backends.all)
    func mined(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let e = Self.matrix(5, 4)
        let labels = [0, 1, 0, 1, 2]

        for mining in TripletMining.allCases {
            let c = "\(backend) mined \(mining)"
            let ok = try engine.minedTripletLoss(embeddings: e, labels: [9, 0, 9, 1_000_000, 0], mining: mining, margin: -0.5)
            #expect(ok.backend == backend.expected)

            expectError(.shape(tensor: "labels"), "\(c) labels count 4 ≠ B") {
                try engine.minedTripletLoss(embeddings: e, labels: [0, 1, 0, 1], mining: mining)
            }
            expectError(.shape(tensor: "labels"), "\(c) labels count 6 ≠ B") {
                try engine.minedTripletLoss(embeddings: e, labels: labels + [0], mining: mining)
            }
            expectError(.value(tensor: "labels", index: 3, value: "-1"), "\(c) negative label at row 3") {
                try engine.minedTripletLoss(embeddings: e, labels: [0, 1, 0, -1, 2], mining: mining)
            }
            expectError(.value(tensor: "labels", index: 0, value: "-7"), "\(c) negative label at row 0") {
                try engine.minedTripletLoss(embeddings: e, labels: [-7, 1, 0, -1, 2], mining: mining)
            }
            expectError(.option(name: "margin", value: "inf"), "\(c) margin ∞") {
                try engine.minedTripletLoss(embeddings: e, labels: labels, mining: mining, margin: .infinity)
            }
            expectError(.option(name: "margin", value: "nan"), "\(c) margin NaN") {
                try engine.minedTripletLoss(embeddings: e, labels: labels, mining: mining, margin: .nan)
            }
            expectError(.shape(tensor: "embeddings"), "\(c) empty batch") {
                try engine.minedTripletLoss(embeddings: Self.matrix(0, 4), labels: [], mining: mining)
            }
            expectError(.shape(tensor: "embeddings"), "\(c) D = 0") {
                try engine.minedTripletLoss(embeddings: Self.matrix(5, 0), labels: labels, mining: mining)
            }
            var bad = e
            bad[2, 1] = .nan
            expectError(.value(tensor: "embeddings", index: 9, value: "nan"), "\(c) NaN embedding at flat index 9") {
                try engine.minedTripletLoss(embeddings: bad, labels: labels, mining: mining)
            }
        }
    }
}
