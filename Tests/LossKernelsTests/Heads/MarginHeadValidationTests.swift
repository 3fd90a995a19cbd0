import Foundation
import Testing

@testable import LossKernels

/// Bad input to `marginSoftmax` throws the right `LossKernelsError`, whose description names the
/// tensor or option (and the row for a label), on the cpu and opencl policies. Nothing is computed
/// for a refused call: the buffer form leaves the caller's gradient buffers untouched.
@Suite struct MarginHeadValidationTests {
    /// A valid call's inputs: B = 4, C = 6, D = 5.
    static let (b, c, d) = (4, 6, 5)
    static let features: Matrix = {
        var rng = TestRNG(seed: 1)
        return try! Matrix(rows: b, columns: d, values: TestData.normal(b * d, rng: &rng))
    }()
    static let classWeights: Matrix = {
        var rng = TestRNG(seed: 2)
        return try! Matrix(rows: c, columns: d, values: TestData.normal(c * d, rng: &rng))
    }()
    static let labels = [0, 5, 2, 3]

    /// What the error must be: its case and the field that names the tensor/option (and index).
    enum Expected: CustomStringConvertible {
        case shape(tensor: String)
        case value(tensor: String, index: Int, value: String)
        case option(name: String)

        var description: String {
            switch self {
            case .shape(let tensor): return "shapeMismatch(\(tensor))"
            case .value(let tensor, let index, let value): return "invalidValue(\(tensor)[\(index)] = \(value))"
            case .option(let name): return "invalidOption(\(name))"
            }
        }

        func matches(_ error: LossKernelsError) -> Bool {
            switch (self, error) {
            case let (.shape(tensor), .shapeMismatch(actual, _, _)): return tensor == actual
            case let (.value(tensor, index, value), .invalidValue(t, i, v, _)): return tensor == t && index == i && value == v
            case let (.option(name), .invalidOption(n, _, _)): return name == n
            default: return false
            }
        }

        /// What the description must contain.
        var named: [String] {
            switch self {
            case .shape(let tensor): return [tensor]
            case .value(let tensor, let index, let value): return ["\(tensor)[\(index)]", value]
            case .option(let name): return [name]
            }
        }
    }

    static func expectError(
        _ expected: Expected, _ context: String, sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () throws -> Void
    ) {
        do {
            try body()
            Issue.record("\(context): no error thrown, expected \(expected)", sourceLocation: sourceLocation)
        } catch let error as LossKernelsError {
            #expect(expected.matches(error), "\(context): threw \(error), expected \(expected)", sourceLocation: sourceLocation)
            for text in expected.named {
                #expect(
                    error.description.contains(text), "\(context): description \"\(error.description)\" does not name \(text)",
                    sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("\(context): threw \(type(of: error)) \(error), expected a LossKernelsError \(expected)", sourceLocation: sourceLocation)
        }
    }

    static func call(
        _ engine: Engine, features: Matrix = features, classWeights: Matrix = classWeights, labels: [Int] = labels,
        head: MarginHead = .cosFace(), reduction: LossReduction = .mean, gradOutput: [Float]? = nil, memoryBudget: Int? = nil
    ) throws {
        _ = try engine.marginSoftmax(
            features: features, classWeights: classWeights, labels: labels, head: head,
            reduction: reduction, gradOutput: gradOutput, memoryBudget: memoryBudget)
    }

    /// The valid call succeeds (so each refusal below is caused by its one bad input).
    @Test(arguments: Backends.all)
    func validCallSucceeds(backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let out = try engine.marginSoftmax(features: Self.features, classWeights: Self.classWeights, labels: Self.labels, head: .cosFace())
        #expect(out.backend == backend.expected)
        #expect(out.loss.count == 1 && out.loss[0].isFinite)
    }

    @Test(arguments: Backends.all)
    func labelsAndShapes(backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        Self.expectError(.value(tensor: "labels", index: 2, value: "6"), "label = C in row 2") {
            try Self.call(engine, labels: [0, 1, 6, 3])
        }
        Self.expectError(.value(tensor: "labels", index: 3, value: "-1"), "label −1 in row 3") {
            try Self.call(engine, labels: [0, 1, 2, -1])
        }
        Self.expectError(.shape(tensor: "labels"), "3 labels for 4 rows") { try Self.call(engine, labels: [0, 1, 2]) }
        Self.expectError(.shape(tensor: "labels"), "5 labels for 4 rows") { try Self.call(engine, labels: [0, 1, 2, 3, 4]) }
        let wideWeights = try Matrix(rows: Self.c, columns: Self.d + 1, values: [Float](repeating: 0.5, count: Self.c * (Self.d + 1)))
        Self.expectError(.shape(tensor: "classWeights"), "classWeights D = 6, features D = 5") { try Self.call(engine, classWeights: wideWeights) }
        let noClasses = try Matrix(rows: 0, columns: Self.d, values: [])
        Self.expectError(.shape(tensor: "classWeights"), "zero classes") { try Self.call(engine, classWeights: noClasses, labels: [0, 0, 0, 0]) }
        let emptyBatch = try Matrix(rows: 0, columns: Self.d, values: [])
        Self.expectError(.shape(tensor: "features"), "empty batch") { try Self.call(engine, features: emptyBatch, labels: []) }
    }

    @Test(arguments: Backends.all)
    func headOptions(backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        Self.expectError(.option(name: "margin"), "sphereFace margin 2.5") {
            try Self.call(engine, head: MarginHead(kind: .sphereFace, scale: 1, margin: 2.5))
        }
        Self.expectError(.option(name: "margin"), "largeMargin margin 2.5") {
            try Self.call(engine, head: MarginHead(kind: .largeMargin, scale: 1, margin: 2.5))
        }
        Self.expectError(.option(name: "margin"), "sphereFace margin 0") { try Self.call(engine, head: .sphereFace(margin: 0)) }
        Self.expectError(.option(name: "margin"), "largeMargin margin 0") { try Self.call(engine, head: .largeMargin(margin: 0)) }
        for scale: Float in [0, -1, .nan] {
            let heads: [MarginHead] = [
                .normalized(scale: scale), .cosFace(scale: scale), .arcFace(scale: scale), .combined(scale: scale),
                .sphereFace(scale: scale),
            ]
            for head in heads {
                Self.expectError(.option(name: "scale"), "\(head.kind) scale \(scale)") { try Self.call(engine, head: head) }
            }
        }
        // π as float32 rounded to nearest (3.1415927 > π). Swift's `Float.pi` is rounded toward zero
        // (3.1415925 < π), so it lies inside [0, π) and is accepted (checked below).
        for margin: Float in [-0.1, Float(Double.pi), 4, .nan, .infinity] {
            Self.expectError(.option(name: "margin"), "arcFace margin \(margin)") { try Self.call(engine, head: .arcFace(margin: margin)) }
            Self.expectError(.option(name: "margin"), "easy arcFace margin \(margin)") {
                try Self.call(engine, head: .arcFace(margin: margin, easyMargin: true))
            }
        }
        Self.expectError(.option(name: "lambda"), "sphereFace λ −0.5") { try Self.call(engine, head: .sphereFace(lambda: -0.5)) }
        Self.expectError(.option(name: "lambda"), "largeMargin λ −1") { try Self.call(engine, head: .largeMargin(lambda: -1)) }
        // The edges that are allowed: arcFace margin 0 and the largest float below π, λ = 0, integer margin 1.
        for head in [MarginHead.arcFace(margin: 0), .arcFace(margin: .pi), .sphereFace(margin: 1, lambda: 0), .largeMargin(margin: 1)] {
            #expect(throws: Never.self, "\(head) must be accepted") { try Self.call(engine, head: head) }
        }
    }

    @Test(arguments: Backends.all)
    func callOptions(backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        Self.expectError(.option(name: "memoryBudget"), "memoryBudget 0") { try Self.call(engine, memoryBudget: 0) }
        Self.expectError(.option(name: "memoryBudget"), "memoryBudget −4") { try Self.call(engine, memoryBudget: -4) }
        Self.expectError(.option(name: "gradOutput"), "gradOutput with mean") {
            try Self.call(engine, reduction: .mean, gradOutput: [1, 1, 1, 1])
        }
        Self.expectError(.option(name: "gradOutput"), "gradOutput with sum") {
            try Self.call(engine, reduction: .sum, gradOutput: [1, 1, 1, 1])
        }
        Self.expectError(.shape(tensor: "gradOutput"), "3 upstream values for 4 rows") {
            try Self.call(engine, reduction: .none, gradOutput: [1, 1, 1])
        }
        Self.expectError(.shape(tensor: "gradOutput"), "5 upstream values for 4 rows") {
            try Self.call(engine, reduction: .none, gradOutput: [1, 1, 1, 1, 1])
        }
    }

    /// The buffer form refuses gradient buffers of the wrong size, and a refused call leaves the
    /// caller's buffers as they were.
    @Test(arguments: Backends.all)
    func bufferForm(backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        func run(dxCount: Int, dwCount: Int, labels: [Int]) throws {
            var dx = [Float](repeating: 42, count: dxCount), dw = [Float](repeating: 42, count: dwCount)
            _ = try Self.features.values.withUnsafeBufferPointer { x in
                try Self.classWeights.values.withUnsafeBufferPointer { w in
                    try dx.withUnsafeMutableBufferPointer { gx in
                        try dw.withUnsafeMutableBufferPointer { gw in
                            try engine.marginSoftmax(
                                features: x, classWeights: w, rows: Self.b, classes: Self.c, dimension: Self.d,
                                labels: labels, head: .arcFace(), gradFeatures: gx, gradClassWeights: gw)
                        }
                    }
                }
            }
        }
        Self.expectError(.shape(tensor: "gradFeatures"), "gradFeatures of 19 values") {
            try run(dxCount: Self.b * Self.d - 1, dwCount: Self.c * Self.d, labels: Self.labels)
        }
        Self.expectError(.shape(tensor: "gradClassWeights"), "gradClassWeights of 31 values") {
            try run(dxCount: Self.b * Self.d, dwCount: Self.c * Self.d + 1, labels: Self.labels)
        }
        // A refused call writes nothing.
        var dx = [Float](repeating: 42, count: Self.b * Self.d), dw = [Float](repeating: 42, count: Self.c * Self.d)
        Self.expectError(.value(tensor: "labels", index: 1, value: "9"), "buffer form, label 9 in row 1") {
            _ = try Self.features.values.withUnsafeBufferPointer { x in
                try Self.classWeights.values.withUnsafeBufferPointer { w in
                    try dx.withUnsafeMutableBufferPointer { gx in
                        try dw.withUnsafeMutableBufferPointer { gw in
                            try engine.marginSoftmax(
                                features: x, classWeights: w, rows: Self.b, classes: Self.c, dimension: Self.d,
                                labels: [0, 9, 1, 2], head: .arcFace(), gradFeatures: gx, gradClassWeights: gw)
                        }
                    }
                }
            }
        }
        #expect(dx.allSatisfy { $0 == 42 } && dw.allSatisfy { $0 == 42 }, "a refused call wrote into the gradient buffers")
    }
}
