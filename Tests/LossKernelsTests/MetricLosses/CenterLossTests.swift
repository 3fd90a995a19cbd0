import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// `centerLoss` on both backends against `MetricReference.center` (tolerance `1e-5·max(1,|ref|)`):
/// loss, ∂L/∂features and the updated centers; classes absent from the batch keep their centers
/// bit for bit.
@Suite struct CenterLossTests {
    static let cpuShapes = [(1, 1), (1, 128), (5, 7), (64, 1), (64, 7), (64, 128), (300, 1), (300, 7), (300, 128)]
    static let openCLShapes = [(1, 7), (5, 1), (5, 128), (64, 7), (300, 7)]

    struct Data {
        var features: [Float], labels: [Int], centers: [Float], classes: Int
    }

    /// `classes` classes of which the last is never used (when there are at least 2) and class 0
    /// holds rows 0 and 1 (several rows of one class).
    static func data(rows: Int, dimension: Int, classes: Int, rng: inout TestRNG) -> Data {
        let used = max(1, classes - 1)
        var labels = (0..<rows).map { _ in rng.index(used) }
        if rows >= 2 { labels[0] = 0; labels[1] = 0 }
        return Data(
            features: TestData.normal(rows * dimension, rng: &rng), labels: labels,
            centers: TestData.normal(classes * dimension, scale: 0.5, rng: &rng), classes: classes)
    }

    static func check(
        _ out: Engine.CenterLossOutput, _ data: Data, rows: Int, dimension: Int, alpha: Float, backend: TestBackend, _ context: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let ref = MetricReference.center(
            features: MetricReference.widen(data.features), labels: data.labels, centers: MetricReference.widen(data.centers),
            rows: rows, classes: data.classes, dimension: dimension, alpha: Double(alpha))
        #expect(out.backend == backend.expected, "\(context): ran on \(out.backend)", sourceLocation: sourceLocation)
        #expect(out.gradFeatures.rows == rows && out.gradFeatures.columns == dimension, "\(context): gradFeatures shape", sourceLocation: sourceLocation)
        #expect(
            out.updatedCenters.rows == data.classes && out.updatedCenters.columns == dimension, "\(context): updatedCenters shape",
            sourceLocation: sourceLocation)
        expectClose([out.loss], [ref.loss], "\(context) loss", sourceLocation: sourceLocation)
        expectClose(out.gradFeatures.values, ref.gradFeatures, "\(context) gradFeatures", sourceLocation: sourceLocation)
        expectClose(out.updatedCenters.values, ref.updatedCenters, "\(context) updatedCenters", sourceLocation: sourceLocation)
        // Absent classes: exactly the centers that went in.
        let present = Set(data.labels)
        for j in 0..<data.classes where !present.contains(j) {
            let range = (j * dimension)..<((j + 1) * dimension)
            expectBitwiseEqual(
                Array(out.updatedCenters.values[range]), Array(data.centers[range]), "\(context): absent class \(j) center",
                sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: MetricCase.cases(cpu: cpuShapes, opencl: openCLShapes, seed: 0xCE))
    func centerLossMatchesReference(_ c: MetricCase) throws {
        let engine = try Backends.engine(for: c.backend)
        for (k, classes) in [1, 4, 23].enumerated() {
            var rng = TestRNG(seed: c.seed &+ UInt64(k))
            let data = Self.data(rows: c.rows, dimension: c.dimension, classes: classes, rng: &rng)
            let features = MetricTestData.matrix(c.rows, c.dimension, data.features)
            let centers = MetricTestData.matrix(classes, c.dimension, data.centers)
            // The default α (0.5), then 0, 1 and a value in between.
            let defaults = try engine.centerLoss(features: features, labels: data.labels, centers: centers)
            Self.check(defaults, data, rows: c.rows, dimension: c.dimension, alpha: 0.5, backend: c.backend, "\(c) C=\(classes) α default")
            for alpha: Float in [0, 1, 0.37] {
                let out = try engine.centerLoss(features: features, labels: data.labels, centers: centers, alpha: alpha)
                Self.check(out, data, rows: c.rows, dimension: c.dimension, alpha: alpha, backend: c.backend, "\(c) C=\(classes) α=\(alpha)")
                if alpha == 0 {
                    expectClose(out.updatedCenters.values, MetricReference.widen(data.centers), "\(c) C=\(classes) α=0 leaves every center")
                }
            }
        }
    }

    @Test(arguments: Backends.all)
    func oneClassManyRowsAndAbsentClasses(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        var rng = TestRNG(seed: 77)
        let rows = 9, d = 5, classes = 40
        // Rows of classes 7 (six of them) and 31 (three); the 38 other centers must not move.
        let labels = [7, 31, 7, 7, 31, 7, 7, 31, 7]
        let data = Data(features: TestData.normal(rows * d, rng: &rng), labels: labels, centers: TestData.normal(classes * d, rng: &rng), classes: classes)
        let features = MetricTestData.matrix(rows, d, data.features), centers = MetricTestData.matrix(classes, d, data.centers)
        for alpha: Float in [0.5, 1] {
            let out = try engine.centerLoss(features: features, labels: labels, centers: centers, alpha: alpha)
            Self.check(out, data, rows: rows, dimension: d, alpha: alpha, backend: backend, "\(backend) α=\(alpha)")
            // Spelled out for class 7: c − α·Σ(c − x_i)/(1 + 6).
            for k in 0..<d {
                let c = Double(data.centers[7 * d + k])
                let s = labels.indices.filter { labels[$0] == 7 }.reduce(0.0) { $0 + (c - Double(data.features[$1 * d + k])) }
                expectClose([out.updatedCenters[7, k]], [c - Double(alpha) * s / 7], "\(backend) α=\(alpha) class 7 component \(k)")
            }
        }
    }

    @Test(arguments: Backends.all)
    func featuresOnTheirCenters(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        var rng = TestRNG(seed: 78)
        let rows = 6, d = 3, classes = 3
        let labels = [2, 0, 2, 2, 0, 0]
        let centerValues = TestData.normal(classes * d, rng: &rng)
        let features = MetricTestData.matrix(rows, d, labels.flatMap { centerValues[($0 * d)..<(($0 + 1) * d)] })
        let centers = MetricTestData.matrix(classes, d, centerValues)
        let out = try engine.centerLoss(features: features, labels: labels, centers: centers, alpha: 1)
        #expect(out.backend == backend.expected)
        #expect(out.loss == 0, "\(backend) x_i = c_{y_i}: loss \(out.loss)")
        #expect(allZero(out.gradFeatures.values), "\(backend) x_i = c_{y_i}: gradient must be exactly 0")
        expectBitwiseEqual(out.updatedCenters.values, centerValues, "\(backend) x_i = c_{y_i}: no center moves")
    }

    @Test(arguments: Backends.all)
    func handComputed(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        // B = 3, D = 2, C = 3: rows (1, 2), (3, 2) in class 0 at (0, 0); (5, 5) in class 2 at (4, 5);
        // class 1 at (9, 9) absent. L = (5 + 13 + 1)/6; ∂L/∂x = (x − c)/3;
        // c_0 ← −0.5·((−1, −2) + (−3, −2))/3 = (2/3, 2/3); c_2 ← (4, 5) − 0.5·(−1, 0)/2 = (4.25, 5).
        let out = try engine.centerLoss(
            features: MetricTestData.matrix(3, 2, [1, 2, 3, 2, 5, 5]), labels: [0, 0, 2],
            centers: MetricTestData.matrix(3, 2, [0, 0, 9, 9, 4, 5]))
        #expect(out.backend == backend.expected)
        expectClose([out.loss], [19.0 / 6], "\(backend) loss")
        expectClose(out.gradFeatures.values, [1.0 / 3, 2.0 / 3, 1, 2.0 / 3, 1.0 / 3, 0], "\(backend) gradFeatures")
        expectClose(out.updatedCenters.values, [2.0 / 3, 2.0 / 3, 9, 9, 4.25, 5], "\(backend) updatedCenters")
        #expect(out.updatedCenters[1, 0] == 9 && out.updatedCenters[1, 1] == 9, "\(backend) absent class 1 moved")
    }
}
