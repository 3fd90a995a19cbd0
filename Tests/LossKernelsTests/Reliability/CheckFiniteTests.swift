import Foundation
import Testing

@testable import LossKernels

/// `checkFinite`: off by default (NaN propagates as in PyTorch); on, every operation refuses NaN and
/// ±∞ in its inputs (−∞ stays legal in logits, where it is a mask) with an error naming the tensor
/// and the first bad index, before anything is computed.
@Suite struct CheckFiniteTests {
    /// One call per operation family whose input `tensor` holds `bad` at flat index 2.
    static let calls: [(String, String, @Sendable (Engine, Float) throws -> Void)] = [
        ("softmax", "logits", { e, bad in _ = try e.softmax(Matrix(rows: 2, columns: 3, values: [0, 1, bad, 3, 4, 5])) }),
        ("logSumExp", "logits", { e, bad in _ = try e.logSumExp(Matrix(rows: 2, columns: 3, values: [0, 1, bad, 3, 4, 5])) }),
        (
            "softmaxBackward", "gradOutput",
            { e, bad in
                _ = try e.softmaxBackward(
                    probabilities: Matrix(rows: 1, columns: 3, repeating: 1.0 / 3), gradOutput: Matrix(rows: 1, columns: 3, values: [0, 1, bad]))
            }
        ),
        ("reduce", "input", { e, bad in _ = try e.reduce(.sum, Matrix(rows: 1, columns: 4, values: [0, 1, bad, 3]), over: .all) }),
        ("crossEntropy", "logits", { e, bad in _ = try e.crossEntropy(logits: Matrix(rows: 2, columns: 3, values: [0, 1, bad, 3, 4, 5]), labels: [0, 1]) }),
        ("focal", "logits", { e, bad in _ = try e.focalLoss(logits: Matrix(rows: 2, columns: 3, values: [0, 1, bad, 3, 4, 5]), labels: [0, 1]) }),
        (
            "bce", "logits",
            { e, bad in
                _ = try e.binaryCrossEntropyWithLogits(
                    logits: Matrix(rows: 1, columns: 3, values: [0, 1, bad]), targets: Matrix(rows: 1, columns: 3, repeating: 0.5))
            }
        ),
        (
            "mse", "predictions",
            { e, bad in
                _ = try e.mseLoss(predictions: Matrix(rows: 1, columns: 3, values: [0, 1, bad]), targets: Matrix(rows: 1, columns: 3, repeating: 0))
            }
        ),
        (
            "marginSoftmax", "features",
            { e, bad in
                _ = try e.marginSoftmax(
                    features: Matrix(rows: 2, columns: 2, values: [0, 1, bad, 1]), classWeights: Matrix(rows: 3, columns: 2, repeating: 1),
                    labels: [0, 1], head: .cosFace())
            }
        ),
        (
            "contrastive", "left",
            { e, bad in
                _ = try e.contrastiveLoss(
                    left: Matrix(rows: 2, columns: 2, values: [0, 1, bad, 1]), right: Matrix(rows: 2, columns: 2, repeating: 0), similar: [true, false])
            }
        ),
        (
            "triplet", "anchors",
            { e, bad in
                let m = Matrix(rows: 2, columns: 2, repeating: 0)
                _ = try e.tripletMarginLoss(anchors: Matrix(rows: 2, columns: 2, values: [0, 1, bad, 1]), positives: m, negatives: m)
            }
        ),
        (
            "center", "features",
            { e, bad in
                _ = try e.centerLoss(
                    features: Matrix(rows: 2, columns: 2, values: [0, 1, bad, 1]), labels: [0, 1], centers: Matrix(rows: 2, columns: 2, repeating: 0))
            }
        ),
    ]

    @Test(arguments: calls.map(\.0), [TestBackend.cpu, .opencl])
    func nonFiniteInputsAreRefusedWhenAsked(_ name: String, _ backend: TestBackend) throws {
        if backend == .opencl { try Backends.requireOpenCL() }
        let (_, tensor, call) = Self.calls.first { $0.0 == name }!
        let engine = try Engine(policy: backend == .cpu ? .cpu : .opencl, checkFinite: true)
        for bad in [Float.nan, .infinity] {
            do {
                try call(engine, bad)
                Issue.record("\(name): \(bad) in \(tensor) was accepted with checkFinite")
            } catch let error as LossKernelsError {
                guard case let .invalidValue(named, index, _, _) = error else {
                    Issue.record("\(name): expected invalidValue, got \(error)")
                    continue
                }
                #expect(named == tensor && index == 2, "\(name): \(error)")
            }
        }
        // Without checkFinite the same call computes (NaN propagates as in PyTorch).
        try call(try Engine(policy: backend == .cpu ? .cpu : .opencl), .nan)
    }

    @Test func maskedLogitsStayLegal() throws {
        let engine = try Engine(policy: .cpu, checkFinite: true)
        let p = try engine.softmax(Matrix(rows: 1, columns: 3, values: [0, -.infinity, 1]))
        #expect(p.values[1] == 0)
        let ce = try engine.crossEntropy(logits: Matrix(rows: 1, columns: 3, values: [0, -.infinity, 1]), labels: [2])
        #expect(ce.loss[0].isFinite)
    }
}
