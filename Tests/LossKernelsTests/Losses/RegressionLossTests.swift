import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// The regression losses of docs/OPERATIONS.md (mse, l1, smoothL1, huber, msle, mape) on both backends
/// against a float64 reference written from the spec's table, whose derivatives are themselves
/// checked by central differences away from the kinks.
@Suite struct RegressionLossTests {
    /// The spec's table, per element: (loss, ∂loss/∂p) — `RegressionReference`.
    static func reference(_ name: String, _ p: Double, _ t: Double, parameter: Double) -> (Double, Double) {
        RegressionReference.element(loss(name, parameter: Float(parameter)), p, t)
    }

    static func loss(_ name: String, parameter: Float) -> RegressionLoss {
        switch name {
        case "mse": return .mse
        case "l1": return .l1
        case "smoothL1": return .smoothL1(beta: parameter)
        case "huber": return .huber(delta: parameter)
        case "msle": return .msle
        default: return .mape
        }
    }

    static let cases: [(String, Float)] = [
        ("mse", 0), ("l1", 0), ("smoothL1", 1), ("smoothL1", 0.25), ("smoothL1", 0), ("huber", 1), ("huber", 2.5), ("msle", 0), ("mape", 0),
    ]

    /// Inputs with the edge cases: equal pairs (d = 0), |d| at β/δ, zero targets (mape),
    /// negative predictions and targets (msle), and random values.
    static func inputs(count: Int, parameter: Float, seed: UInt64) -> ([Float], [Float]) {
        var rng = TestRNG(seed: seed)
        var p = TestData.normal(count, scale: 2, rng: &rng), t = TestData.normal(count, scale: 2, rng: &rng)
        for i in stride(from: 0, to: count, by: 7) { t[i] = p[i] }
        for i in stride(from: 3, to: count, by: 11) { t[i] = 0 }
        for i in stride(from: 5, to: count, by: 13) { p[i] = -abs(p[i]) }
        if parameter > 0 { for i in stride(from: 2, to: count, by: 17) { t[i] = p[i] - parameter * 1.5 } }
        return (p, t)
    }

    @Test(arguments: cases.map { "\($0.0) \($0.1)" }, [TestBackend.cpu, .opencl])
    func matchesReference(_ name: String, _ backend: TestBackend) throws {
        let parts = name.split(separator: " ")
        let kind = String(parts[0]), parameter = Float(parts[1])!
        let engine = try Backends.engine(for: backend)
        for (rows, columns) in [(1, 1), (3, 5), (17, 33), (64, 1000), (1, 40_000)] {
            let (p, t) = Self.inputs(count: rows * columns, parameter: parameter, seed: UInt64(rows * 1000 + columns))
            var rng = TestRNG(seed: 5)
            let upstream = TestData.normal(rows * columns, rng: &rng)
            for (reduction, withGrad) in LossCheck.variants {
                let out = try engine.regressionLoss(
                    Self.loss(kind, parameter: parameter), predictions: Matrix(rows: rows, columns: columns, values: p),
                    targets: Matrix(rows: rows, columns: columns, values: t), reduction: reduction,
                    gradOutput: withGrad ? Matrix(rows: rows, columns: columns, values: upstream) : nil)
                let n = Double(p.count)
                let each = zip(p, t).map { Self.reference(kind, Double($0), Double($1), parameter: Double(parameter)) }
                let scale: [Double] = (0..<p.count).map { i in reduction == .mean ? 1 / n : (withGrad ? Double(upstream[i]) : 1) }
                let refLoss: [Double]
                switch reduction {
                case .mean: refLoss = [each.reduce(0) { $0 + $1.0 } / n]
                case .sum: refLoss = [each.reduce(0) { $0 + $1.0 }]
                case .none: refLoss = each.map(\.0)
                }
                let refGrad = (0..<p.count).map { each[$0].1 * scale[$0] }
                let context = "\(name) \(rows)×\(columns) \(LossCheck.describe(reduction, withGrad)) on \(backend)"
                #expect(out.backend == backend.expected, "\(context)")
                expectClose(out.loss, refLoss, tolerance: 1e-5, "\(context) loss")
                expectClose(out.gradient.values, refGrad, "\(context) gradient")
            }
        }
    }

    /// The buffer form (reused gradient) gives the matrix form's result.
    @Test(arguments: [TestBackend.cpu, .opencl])
    func bufferFormMatchesMatrixForm(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let (p, t) = Self.inputs(count: 50_001, parameter: 1, seed: 9)
        for loss in [RegressionLoss.mse, .huber(delta: 1), .mape] {
            let matrix = try engine.regressionLoss(
                loss, predictions: Matrix(rows: 1, columns: p.count, values: p), targets: Matrix(rows: 1, columns: t.count, values: t), reduction: .sum)
            var gradient = [Float](repeating: .nan, count: p.count)
            let (value, ran) = try p.withUnsafeBufferPointer { pb in
                try t.withUnsafeBufferPointer { tb in
                    try gradient.withUnsafeMutableBufferPointer { try engine.regressionLoss(loss, predictions: pb, targets: tb, reduction: .sum, gradient: $0) }
                }
            }
            #expect(ran == backend.expected)
            #expect(value == matrix.loss)
            #expect(gradient == matrix.gradient.values)
        }
    }

    /// The reference's derivatives are the derivatives of its losses (central differences, away from kinks).
    @Test(arguments: cases.map { "\($0.0) \($0.1)" })
    func referenceDerivativesAreCentralDifferences(_ name: String) {
        let parts = name.split(separator: " ")
        let kind = String(parts[0]), parameter = Double(parts[1])!
        var rng = TestRNG(seed: 77)
        for _ in 0..<200 {
            let p = rng.normal() * 3, t = rng.normal() * 3
            let d = p - t
            if abs(d) < 1e-3 || abs(abs(d) - parameter) < 1e-3 || abs(p) < 1e-3 { continue }
            let h = 1e-6
            let numeric = (Self.reference(kind, p + h, t, parameter: parameter).0 - Self.reference(kind, p - h, t, parameter: parameter).0) / (2 * h)
            let analytic = Self.reference(kind, p, t, parameter: parameter).1
            #expect(abs(numeric - analytic) <= 1e-5 * max(1, abs(analytic)), "\(name) at p=\(p), t=\(t): \(analytic) vs \(numeric)")
        }
    }

    @Test(arguments: [TestBackend.cpu, .opencl])
    func badInputIsRefused(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let a = try Matrix(rows: 2, columns: 3, values: [1, 2, 3, 4, 5, 6])
        let b = try Matrix(rows: 3, columns: 2, values: [1, 2, 3, 4, 5, 6])
        let cases: [(RegressionLoss, Matrix, Matrix, Matrix?, String)] = [
            (.mse, a, b, nil, "targets"),
            (.smoothL1(beta: -1), a, a, nil, "beta"),
            (.huber(delta: 0), a, a, nil, "delta"),
            (.huber(delta: .nan), a, a, nil, "delta"),
            (.l1, Matrix(rows: 0, columns: 3, repeating: 0), Matrix(rows: 0, columns: 3, repeating: 0), nil, "predictions"),
            (.mse, a, a, b, "gradOutput"),
        ]
        for (loss, p, t, g, word) in cases {
            do {
                _ = try engine.regressionLoss(loss, predictions: p, targets: t, reduction: g == nil ? .mean : .none, gradOutput: g)
                Issue.record("\(loss) with \(word) problem was accepted")
            } catch let error as LossKernelsError {
                #expect(error.description.contains(word), "\(error)")
            }
        }
    }
}
