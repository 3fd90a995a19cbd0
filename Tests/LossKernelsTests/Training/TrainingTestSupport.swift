import Foundation

@testable import LossKernels

/// Inputs and the float64 SGD reference of the training-head tests.
enum TrainingTestSupport {
    struct Batch {
        var features: Matrix
        var labels: [Int]
    }

    /// A random batch of `rows × d` normal features with labels in `0..<classes`.
    static func batch(rows: Int, d: Int, classes: Int, rng: inout TestRNG) -> Batch {
        let x = TestData.normal(rows * d, rng: &rng)
        return Batch(features: try! Matrix(rows: rows, columns: d, values: x), labels: (0..<rows).map { _ in rng.index(classes) })
    }

    /// torch.optim.SGD in float64 on every row: `g' = g + wd·w; v = μ·v + g'; w = w − lr·v`.
    static func sgd(weights w: [Float], momentum v: [Float], gradient g: [Float], _ o: SGDOptions) -> (weights: [Double], momentum: [Double]) {
        let (lr, mu, wd) = (Double(o.learningRate), Double(o.momentum), Double(o.weightDecay))
        var newW = [Double](repeating: 0, count: w.count), newV = newW
        for k in w.indices {
            newV[k] = mu * Double(v[k]) + (Double(g[k]) + wd * Double(w[k]))
            newW[k] = Double(w[k]) - lr * newV[k]
        }
        return (newW, newV)
    }

    /// Rows `rows` of a row-major `C×D` matrix, concatenated.
    static func rows(_ m: Matrix, _ rows: [Int]) -> [Float] {
        rows.flatMap { m.values[$0 * m.columns..<($0 + 1) * m.columns] }
    }

    /// A checkpoint folder under the temporary directory (not created).
    static func temporaryFolder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("losskernels-head-\(UUID().uuidString)").path
    }
}
