import Foundation
import Testing

@testable import LossKernels

/// Bad input to the classification losses throws the right `LossKernelsError`, on both policies,
/// and its description names the tensor or option (and the row/index and value).
@Suite struct LossValidationTests {
    typealias Expected = ExpectedError

    static func logits(_ rows: Int, _ columns: Int) -> Matrix {
        var rng = TestRNG(seed: UInt64(rows * 100 + columns))
        return try! Matrix(rows: rows, columns: columns, values: TestData.normal(rows * columns, rng: &rng))
    }

    static func targets(_ rows: Int, _ columns: Int) -> Matrix {
        var rng = TestRNG(seed: UInt64(rows * 1000 + columns))
        return try! Matrix(rows: rows, columns: columns, values: (0..<rows * columns).map { _ in Float(rng.unit()) })
    }

    // MARK: Cross-entropy

    @Test(arguments: Backends.all)
    func crossEntropy(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let z = Self.logits(4, 5)
        let good = [0, 4, 2, 1]
        let b = "\(backend) crossEntropy"

        expectError(.value(tensor: "labels", index: 2, value: "5"), "\(b) label = C") { try engine.crossEntropy(logits: z, labels: [0, 1, 5, 2]) }
        expectError(.value(tensor: "labels", index: 3, value: "-1"), "\(b) label −1, ignoreIndex −100") {
            try engine.crossEntropy(logits: z, labels: [0, 1, 2, -1])
        }
        expectError(.value(tensor: "labels", index: 1, value: "-100"), "\(b) label −100 with ignoreIndex 3") {
            try engine.crossEntropy(logits: z, labels: [3, -100, 2, 1], ignoreIndex: 3)
        }
        expectError(.value(tensor: "labels", index: 0, value: "7"), "\(b) label 7, sum") {
            try engine.crossEntropy(logits: z, labels: [7, 1, 2, 1], reduction: .sum)
        }
        expectError(.shape(tensor: "labels"), "\(b) 3 labels for 4 rows") { try engine.crossEntropy(logits: z, labels: [0, 1, 2]) }
        expectError(.shape(tensor: "labels"), "\(b) 5 labels for 4 rows") { try engine.crossEntropy(logits: z, labels: [0, 1, 2, 3, 4]) }
        expectError(.shape(tensor: "classWeights"), "\(b) 4 class weights for C = 5") {
            try engine.crossEntropy(logits: z, labels: good, classWeights: [1, 1, 1, 1])
        }
        expectError(.value(tensor: "classWeights", index: 2, value: "nan"), "\(b) NaN class weight") {
            try engine.crossEntropy(logits: z, labels: good, classWeights: [1, 1, .nan, 1, 1])
        }
        expectError(.value(tensor: "classWeights", index: 4, value: "inf"), "\(b) infinite class weight") {
            try engine.crossEntropy(logits: z, labels: good, classWeights: [1, 1, 1, 1, .infinity])
        }
        for smoothing: Float in [-0.1, 1.5] {
            expectError(.option(name: "labelSmoothing", value: "\(smoothing)"), "\(b) labelSmoothing \(smoothing)") {
                try engine.crossEntropy(logits: z, labels: good, labelSmoothing: smoothing)
            }
        }
        expectError(.option(name: "labelSmoothing", value: "nan"), "\(b) labelSmoothing NaN") {
            try engine.crossEntropy(logits: z, labels: good, labelSmoothing: .nan)
        }
        expectError(.shape(tensor: "logits"), "\(b) zero classes") {
            try engine.crossEntropy(logits: Matrix(rows: 3, columns: 0, repeating: 0), labels: [0, 0, 0])
        }
        expectError(.shape(tensor: "logits"), "\(b) empty batch") {
            try engine.crossEntropy(logits: Matrix(rows: 0, columns: 5, repeating: 0), labels: [])
        }
        for reduction in [LossReduction.mean, .sum] {
            expectError(.option(name: "gradOutput", value: nil), "\(b) gradOutput with \(reduction)") {
                try engine.crossEntropy(logits: z, labels: good, reduction: reduction, gradOutput: [1, 1, 1, 1])
            }
        }
        expectError(.shape(tensor: "gradOutput"), "\(b) gradOutput of 3 for 4 rows") {
            try engine.crossEntropy(logits: z, labels: good, reduction: .none, gradOutput: [1, 1, 1])
        }
    }

    /// The buffer form checks its buffers' sizes too.
    @Test(arguments: Backends.all)
    func crossEntropyBuffers(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let z = [Float](repeating: 0.5, count: 20)
        var gradient = [Float](repeating: 0, count: 20)
        var short = [Float](repeating: 0, count: 19)
        let b = "\(backend) crossEntropy buffers"
        expectError(.shape(tensor: "gradient"), "\(b) gradient of 19 for 4×5") {
            try z.withUnsafeBufferPointer { zp in
                try short.withUnsafeMutableBufferPointer { try engine.crossEntropy(logits: zp, rows: 4, columns: 5, labels: [0, 1, 2, 3], gradient: $0) }
            }
        }
        expectError(.shape(tensor: "logits"), "\(b) 20 logits for 3×5") {
            try z.withUnsafeBufferPointer { zp in
                try gradient.withUnsafeMutableBufferPointer { try engine.crossEntropy(logits: zp, rows: 3, columns: 5, labels: [0, 1, 2], gradient: $0) }
            }
        }
        expectError(.value(tensor: "labels", index: 3, value: "5"), "\(backend) focalLoss buffers: label = C") {
            try z.withUnsafeBufferPointer { zp in
                try gradient.withUnsafeMutableBufferPointer { try engine.focalLoss(logits: zp, rows: 4, columns: 5, labels: [0, 1, 2, 5], gradient: $0) }
            }
        }
    }

    // MARK: Focal

    @Test(arguments: Backends.all)
    func focal(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let z = Self.logits(4, 5)
        let good = [0, 4, 2, 1]
        let b = "\(backend) focalLoss"

        expectError(.value(tensor: "labels", index: 1, value: "5"), "\(b) label = C") { try engine.focalLoss(logits: z, labels: [0, 5, 2, 1]) }
        expectError(.value(tensor: "labels", index: 2, value: "-1"), "\(b) label −1") { try engine.focalLoss(logits: z, labels: [0, 1, -1, 1]) }
        expectError(.value(tensor: "labels", index: 0, value: "-100"), "\(b) label −100 (no ignore index)") {
            try engine.focalLoss(logits: z, labels: [-100, 1, 2, 1])
        }
        expectError(.shape(tensor: "labels"), "\(b) 3 labels for 4 rows") { try engine.focalLoss(logits: z, labels: [0, 1, 2]) }
        for gamma: Float in [-0.5, -2] {
            expectError(.option(name: "gamma", value: "\(gamma)"), "\(b) γ \(gamma)") { try engine.focalLoss(logits: z, labels: good, gamma: gamma) }
        }
        expectError(.option(name: "gamma", value: "nan"), "\(b) γ NaN") { try engine.focalLoss(logits: z, labels: good, gamma: .nan) }
        expectError(.shape(tensor: "alpha"), "\(b) 4 per-class α for C = 5") {
            try engine.focalLoss(logits: z, labels: good, alpha: .perClass([0.25, 0.25, 0.25, 0.25]))
        }
        expectError(.shape(tensor: "alpha"), "\(b) 6 per-class α for C = 5") {
            try engine.focalLoss(logits: z, labels: good, alpha: .perClass([0.25, 0.25, 0.25, 0.25, 0.25, 0.25]))
        }
        expectError(.value(tensor: "alpha", index: 3, value: "nan"), "\(b) NaN per-class α") {
            try engine.focalLoss(logits: z, labels: good, alpha: .perClass([0.25, 0.25, 0.25, .nan, 0.25]))
        }
        expectError(.option(name: "alpha", value: "nan"), "\(b) NaN scalar α") { try engine.focalLoss(logits: z, labels: good, alpha: .scalar(.nan)) }
        expectError(.shape(tensor: "logits"), "\(b) zero classes") {
            try engine.focalLoss(logits: Matrix(rows: 2, columns: 0, repeating: 0), labels: [0, 0])
        }
        expectError(.shape(tensor: "logits"), "\(b) empty batch") { try engine.focalLoss(logits: Matrix(rows: 0, columns: 3, repeating: 0), labels: []) }
        for reduction in [LossReduction.mean, .sum] {
            expectError(.option(name: "gradOutput", value: nil), "\(b) gradOutput with \(reduction)") {
                try engine.focalLoss(logits: z, labels: good, reduction: reduction, gradOutput: [1, 1, 1, 1])
            }
        }
        expectError(.shape(tensor: "gradOutput"), "\(b) gradOutput of 5 for 4 rows") {
            try engine.focalLoss(logits: z, labels: good, reduction: .none, gradOutput: [1, 1, 1, 1, 1])
        }
    }

    // MARK: BCE with logits and sigmoid focal

    enum BinaryLoss: String, CaseIterable, Sendable { case bce, sigmoidFocal }

    static func call(
        _ loss: BinaryLoss, _ engine: Engine, _ z: Matrix, _ t: Matrix, gamma: Float = 2, alpha: Float = 0.25,
        reduction: LossReduction = .mean, gradOutput: Matrix? = nil
    ) throws -> LossOutput {
        switch loss {
        case .bce: return try engine.binaryCrossEntropyWithLogits(logits: z, targets: t, reduction: reduction, gradOutput: gradOutput)
        case .sigmoidFocal: return try engine.sigmoidFocalLoss(logits: z, targets: t, gamma: gamma, alpha: alpha, reduction: reduction, gradOutput: gradOutput)
        }
    }

    @Test(arguments: Backends.all, BinaryLoss.allCases)
    func binary(_ backend: TestBackend, _ loss: BinaryLoss) throws {
        let engine = try Backends.engine(for: backend)
        let z = Self.logits(4, 5), t = Self.targets(4, 5)
        let b = "\(backend) \(loss)"

        expectError(.shape(tensor: "targets"), "\(b) targets 5×4 for logits 4×5") { try Self.call(loss, engine, z, Self.targets(5, 4)) }
        expectError(.shape(tensor: "targets"), "\(b) targets 4×6 for logits 4×5") { try Self.call(loss, engine, z, Self.targets(4, 6)) }
        for (index, value): (Int, Float) in [(7, 1.5), (0, -0.25), (19, 1.0000001)] {
            var bad = t
            bad.values[index] = value
            expectError(.value(tensor: "targets", index: index, value: "\(value)"), "\(b) target \(value) at \(index)") { try Self.call(loss, engine, z, bad) }
        }
        var nanTarget = t
        nanTarget.values[3] = .nan
        expectError(.value(tensor: "targets", index: 3, value: "nan"), "\(b) NaN target") { try Self.call(loss, engine, z, nanTarget) }
        expectError(.shape(tensor: "logits"), "\(b) empty (0 rows)") {
            try Self.call(loss, engine, Matrix(rows: 0, columns: 5, repeating: 0), Matrix(rows: 0, columns: 5, repeating: 0))
        }
        expectError(.shape(tensor: "logits"), "\(b) empty (0 columns)") {
            try Self.call(loss, engine, Matrix(rows: 4, columns: 0, repeating: 0), Matrix(rows: 4, columns: 0, repeating: 0))
        }
        let g = Self.logits(4, 5)
        for reduction in [LossReduction.mean, .sum] {
            expectError(.option(name: "gradOutput", value: nil), "\(b) gradOutput with \(reduction)") {
                try Self.call(loss, engine, z, t, reduction: reduction, gradOutput: g)
            }
        }
        expectError(.shape(tensor: "gradOutput"), "\(b) gradOutput 3×5 for 4×5") {
            try Self.call(loss, engine, z, t, reduction: .none, gradOutput: Self.logits(3, 5))
        }
        expectError(.shape(tensor: "gradOutput"), "\(b) gradOutput 5×4 for 4×5") {
            try Self.call(loss, engine, z, t, reduction: .none, gradOutput: Self.logits(5, 4))
        }
        if loss == .sigmoidFocal {
            expectError(.option(name: "gamma", value: "-1.0"), "\(b) γ −1") { try Self.call(loss, engine, z, t, gamma: -1) }
            expectError(.option(name: "alpha", value: "1.5"), "\(b) α 1.5") { try Self.call(loss, engine, z, t, alpha: 1.5) }
        }
    }
}
