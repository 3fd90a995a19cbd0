import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// Shared pieces of the margin-head parity tests: the heads, inputs, one library call, and the
/// spec's GEMM tolerance against `HeadAnalyticReference`.
enum MarginParity {
    /// Every head kind, with the spec's defaults where the factory has them, plus variants
    /// (easy margin, m1 ≠ 1, other integer margins, λ > 0). The gradient mode is the caller's.
    static let heads: [(String, @Sendable (MarginGradient) -> MarginHead)] = [
        ("normalized s64", { MarginHead(kind: .normalized, scale: 64, gradient: $0) }),
        ("cosFace default", { .cosFace(gradient: $0) }),
        ("arcFace default", { .arcFace(gradient: $0) }),
        ("arcFace easy s32", { .arcFace(scale: 32, margin: 0.5, easyMargin: true, gradient: $0) }),
        ("combined default", { .combined(gradient: $0) }),
        ("combined m1 1.35", { .combined(scale: 30, m1: 1.35, m2: 0.25, m3: 0.1, gradient: $0) }),
        ("sphereFace default", { .sphereFace(gradient: $0) }),
        ("sphereFace m3 s2 λ5", { .sphereFace(margin: 3, scale: 2, lambda: 5, gradient: $0) }),
        ("largeMargin default", { .largeMargin(gradient: $0) }),
        ("largeMargin m2 λ3", { .largeMargin(margin: 2, lambda: 3, gradient: $0) }),
    ]

    static func head(_ name: String, _ mode: MarginGradient) -> MarginHead { heads.first { $0.0 == name }!.1(mode) }

    /// One problem's float32 inputs.
    struct Inputs {
        var b: Int, c: Int, d: Int
        var x: [Float], w: [Float], labels: [Int]

        var features: Matrix { try! Matrix(rows: b, columns: d, values: x) }
        var classWeights: Matrix { try! Matrix(rows: c, columns: d, values: w) }

        func problem(_ head: MarginHead, _ reduction: LossReduction, _ gradOutput: [Float]? = nil) -> HeadLossReference.Problem {
            HeadLossReference.Problem(
                x: x.map(Double.init), w: w.map(Double.init), labels: labels, b: b, c: c, d: d, head: head,
                reduction: reduction, gradOutput: gradOutput?.map(Double.init))
        }
    }

    /// Random features (normal), class weights (normal × 0.5) and labels; `labels[0]` is the last
    /// class so the last (partial) tile always holds a target.
    static func inputs(b: Int, c: Int, d: Int, seed: UInt64) -> Inputs {
        var rng = TestRNG(seed: seed)
        let x = TestData.normal(b * d, rng: &rng), w = TestData.normal(c * d, scale: 0.5, rng: &rng)
        var labels = (0..<b).map { _ in rng.index(c) }
        labels[0] = c - 1
        return Inputs(b: b, c: c, d: d, x: x, w: w, labels: labels)
    }

    static func call(
        _ engine: Engine, _ inputs: Inputs, _ head: MarginHead, _ reduction: LossReduction = .mean,
        gradOutput: [Float]? = nil, memoryBudget: Int? = nil
    ) throws -> Engine.MarginSoftmaxOutput {
        try engine.marginSoftmax(
            features: inputs.features, classWeights: inputs.classWeights, labels: inputs.labels, head: head,
            reduction: reduction, gradOutput: gradOutput, memoryBudget: memoryBudget)
    }

    /// docs/OPERATIONS.md's rule for results through a GEMM: `‖out − ref‖/‖ref‖ ≤ 1e-4` (when `ref ≠ 0`), no
    /// element off by more than `1e-3·max(1, |ref|)`, no NaN.
    static func expectGEMMClose(_ actual: [Float], _ reference: [Double], _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard actual.count == reference.count else {
            Issue.record("\(context): \(actual.count) values, reference has \(reference.count)", sourceLocation: sourceLocation)
            return
        }
        if let k = actual.firstIndex(where: { !$0.isFinite }) {
            Issue.record("\(context): non-finite value \(actual[k]) at index \(k) (reference \(reference[k]))", sourceLocation: sourceLocation)
            return
        }
        var errorSquares = 0.0, referenceSquares = 0.0
        for k in actual.indices {
            let e = Double(actual[k]) - reference[k]
            errorSquares += e * e
            referenceSquares += reference[k] * reference[k]
        }
        if referenceSquares > 0 {
            let relative = (errorSquares / referenceSquares).squareRoot()
            if !(relative <= 1e-4) {
                Issue.record("\(context): ‖out − ref‖/‖ref‖ = \(relative) > 1e-4", sourceLocation: sourceLocation)
            }
        }
        expectClose(actual, reference, tolerance: 1e-3, context, sourceLocation: sourceLocation)
    }

    /// The library's output against the analytic reference: loss, ∂L/∂X, ∂L/∂W, backend.
    static func expectMatches(
        _ out: Engine.MarginSoftmaxOutput, _ ref: HeadAnalyticReference.Result, backend: TestBackend, _ context: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(out.backend == backend.expected, "\(context): ran on \(out.backend)", sourceLocation: sourceLocation)
        expectGEMMClose(out.loss, ref.loss, "\(context) loss", sourceLocation: sourceLocation)
        expectGEMMClose(out.gradFeatures.values, ref.dx, "\(context) dX", sourceLocation: sourceLocation)
        expectGEMMClose(out.gradClassWeights.values, ref.dw, "\(context) dW", sourceLocation: sourceLocation)
    }

    /// A unit vector at angle `theta` from the unit vector `u`, in the plane of `u` and `v`
    /// (`v` is made orthogonal to `u`).
    static func rotated(_ u: [Double], towards v: [Double], by theta: Double) -> [Double] {
        let un = (u.reduce(0) { $0 + $1 * $1 }).squareRoot()
        let uh = u.map { $0 / un }
        let dot = zip(uh, v).reduce(0) { $0 + $1.0 * $1.1 }
        let perpendicular = zip(v, uh).map { $0 - dot * $1 }
        let pn = (perpendicular.reduce(0) { $0 + $1 * $1 }).squareRoot()
        return zip(uh, perpendicular).map { cos(theta) * $0 + sin(theta) * $1 / pn }
    }
}

/// Every head × gradient mode × reduction against the analytic reference, on both backends, at
/// shapes where the analytic reference replaces central differences.
@Suite struct MarginHeadParityTests {
    /// (B, C, D) per backend: PoCL runs OpenCL on these two CPU cores, so its shapes stay small
    /// (B = 4, C = 1,500 makes the logits kernels' work-items loop over more than 1,024 classes).
    static func shapes(_ backend: TestBackend) -> [(Int, Int, Int)] {
        backend == .cpu ? [(7, 300, 33), (64, 2_000, 48)] : [(7, 300, 33), (16, 500, 24), (4, 1_500, 16)]
    }

    @Test(
        arguments: MarginParity.heads.map(\.0),
        [(TestBackend.cpu, MarginGradient.exact), (.cpu, .detached), (.opencl, .exact), (.opencl, .detached)])
    func matchesAnalyticReference(name: String, run: (backend: TestBackend, mode: MarginGradient)) throws {
        let (backend, mode) = run
        let head = MarginParity.head(name, mode)
        let engine = try Backends.engine(for: backend)
        for (n, (b, c, d)) in Self.shapes(backend).enumerated() {
            let inputs = MarginParity.inputs(b: b, c: c, d: d, seed: 1_000 + UInt64(n))
            var rng = TestRNG(seed: 77 + UInt64(b))
            let gradOutput = TestData.normal(b, rng: &rng)
            // The reference for sum; mean's is sum's scaled by 1/B (the gradient is linear in the row scale).
            let sum = HeadAnalyticReference.evaluate(inputs.problem(head, .sum))
            let mean = HeadAnalyticReference.Result(
                rowLosses: sum.rowLosses, loss: sum.loss.map { $0 / Double(b) }, objective: sum.objective / Double(b),
                dx: sum.dx.map { $0 / Double(b) }, dw: sum.dw.map { $0 / Double(b) })
            let none = HeadAnalyticReference.evaluate(inputs.problem(head, .none, gradOutput))
            let context = "\(name) \(mode) \(backend) B=\(b) C=\(c) D=\(d)"
            MarginParity.expectMatches(try MarginParity.call(engine, inputs, head, .mean), mean, backend: backend, "\(context) mean")
            MarginParity.expectMatches(try MarginParity.call(engine, inputs, head, .sum), sum, backend: backend, "\(context) sum")
            MarginParity.expectMatches(
                try MarginParity.call(engine, inputs, head, .none, gradOutput: gradOutput), none, backend: backend,
                "\(context) none+gradOutput")
            // `.none` without an upstream gradient is the gradient of Σ loss_i: sum's gradient, per-row losses.
            let plain = try MarginParity.call(engine, inputs, head, .none)
            MarginParity.expectGEMMClose(plain.loss, sum.rowLosses, "\(context) none loss")
            MarginParity.expectGEMMClose(plain.gradFeatures.values, sum.dx, "\(context) none dX")
            MarginParity.expectGEMMClose(plain.gradClassWeights.values, sum.dw, "\(context) none dW")
        }
    }

    /// Class tiles (3 tiles with a partial last one; 43 tiles of 7; one class per tile) give the
    /// default single tile's results, and both match the reference.
    @Test(arguments: Backends.all, [MarginGradient.exact, .detached])
    func tiledMatchesUntiled(backend: TestBackend, mode: MarginGradient) throws {
        let engine = try Backends.engine(for: backend)
        let (b, c, d) = (7, 300, 33)
        let inputs = MarginParity.inputs(b: b, c: c, d: d, seed: 31)
        var rng = TestRNG(seed: 5)
        let gradOutput = TestData.normal(b, rng: &rng)
        // tileColumns = max(1, budget / (4·B)): 128 → 128+128+44; 7 → 42×7 + 6; 1 → 300 tiles.
        let budgets = [4 * b * 128, 4 * b * 7 + 3, 1]
        #expect(budgets.map { MarginSoftmaxProblem.tileColumns(rows: b, classes: c, budget: $0) } == [128, 7, 1])
        for (name, _) in MarginParity.heads {
            let head = MarginParity.head(name, mode)
            let reference = HeadAnalyticReference.evaluate(inputs.problem(head, .none, gradOutput))
            let untiled = try MarginParity.call(engine, inputs, head, .none, gradOutput: gradOutput)
            MarginParity.expectMatches(untiled, reference, backend: backend, "\(name) \(mode) \(backend) untiled")
            for budget in budgets {
                let context = "\(name) \(mode) \(backend) budget \(budget)"
                let tiled = try MarginParity.call(engine, inputs, head, .none, gradOutput: gradOutput, memoryBudget: budget)
                MarginParity.expectMatches(tiled, reference, backend: backend, context)
                // Tiled against untiled (the untiled float32 output as the reference).
                MarginParity.expectGEMMClose(tiled.loss, untiled.loss.map(Double.init), "\(context) loss vs untiled")
                MarginParity.expectGEMMClose(tiled.gradFeatures.values, untiled.gradFeatures.values.map(Double.init), "\(context) dX vs untiled")
                MarginParity.expectGEMMClose(tiled.gradClassWeights.values, untiled.gradClassWeights.values.map(Double.init), "\(context) dW vs untiled")
            }
            // The mean reduction, tiled into 3.
            let mean = HeadAnalyticReference.evaluate(inputs.problem(head, .mean))
            MarginParity.expectMatches(
                try MarginParity.call(engine, inputs, head, .mean, memoryBudget: budgets[0]), mean, backend: backend,
                "\(name) \(mode) \(backend) mean, 3 tiles")
        }
    }

    /// The buffer form writes what the matrix form returns, into caller-owned buffers (and
    /// overwrites whatever they held).
    @Test(arguments: Backends.all)
    func bufferFormMatchesMatrixForm(backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let inputs = MarginParity.inputs(b: 5, c: 40, d: 12, seed: 9)
        for (name, _) in MarginParity.heads {
            let head = MarginParity.head(name, .exact)
            let matrix = try MarginParity.call(engine, inputs, head, .sum)
            var dx = [Float](repeating: .nan, count: inputs.b * inputs.d), dw = [Float](repeating: 7, count: inputs.c * inputs.d)
            let (loss, used) = try inputs.x.withUnsafeBufferPointer { x in
                try inputs.w.withUnsafeBufferPointer { w in
                    try dx.withUnsafeMutableBufferPointer { gx in
                        try dw.withUnsafeMutableBufferPointer { gw in
                            try engine.marginSoftmax(
                                features: x, classWeights: w, rows: inputs.b, classes: inputs.c, dimension: inputs.d,
                                labels: inputs.labels, head: head, reduction: .sum, gradFeatures: gx, gradClassWeights: gw)
                        }
                    }
                }
            }
            #expect(used == backend.expected)
            expectBitwiseEqual(loss, matrix.loss, "\(name) \(backend) buffer-form loss")
            expectBitwiseEqual(dx, matrix.gradFeatures.values, "\(name) \(backend) buffer-form dX")
            expectBitwiseEqual(dw, matrix.gradClassWeights.values, "\(name) \(backend) buffer-form dW")
            let reference = HeadAnalyticReference.evaluate(inputs.problem(head, .sum))
            MarginParity.expectGEMMClose(dx, reference.dx, "\(name) \(backend) buffer-form dX vs reference")
        }
    }
}

/// Angles and shapes at the edges of the heads' definitions, against the analytic reference.
@Suite struct MarginHeadEdgeCaseTests {
    static let modes: [MarginGradient] = [.exact, .detached]

    /// Random inputs with chosen rows replaced: `setRow(i, x)` and `setClass(j, w)`.
    struct Builder {
        var inputs: MarginParity.Inputs
        mutating func setRow(_ i: Int, _ v: [Double], label: Int) {
            for k in 0..<inputs.d { inputs.x[i * inputs.d + k] = Float(v[k]) }
            inputs.labels[i] = label
        }
        mutating func setClass(_ j: Int, _ v: [Double]) {
            for k in 0..<inputs.d { inputs.w[j * inputs.d + k] = Float(v[k]) }
        }
        func classRow(_ j: Int) -> [Double] { (0..<inputs.d).map { Double(inputs.w[j * inputs.d + $0]) } }
        func row(_ i: Int) -> [Double] { (0..<inputs.d).map { Double(inputs.x[i * inputs.d + $0]) } }
    }

    static func check(
        _ engine: Engine, _ backend: TestBackend, _ inputs: MarginParity.Inputs, _ head: MarginHead, _ context: String,
        reduction: LossReduction = .mean, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let out = try MarginParity.call(engine, inputs, head, reduction)
        let reference = HeadAnalyticReference.evaluate(inputs.problem(head, reduction))
        MarginParity.expectMatches(out, reference, backend: backend, "\(context) \(backend) \(reduction)", sourceLocation: sourceLocation)
        // Row by row: `.none` gives each row's loss (so one wrong row cannot hide in the mean).
        let rows = try MarginParity.call(engine, inputs, head, .none)
        MarginParity.expectGEMMClose(rows.loss, reference.rowLosses, "\(context) \(backend) per-row losses", sourceLocation: sourceLocation)
    }

    /// The exact cosine of row i with its target class, as the float64 reference sees it.
    static func targetCosine(_ inputs: MarginParity.Inputs, row i: Int) -> Double {
        let p = inputs.problem(.normalized(), .mean)
        let xi = Array(p.x[(i * p.d)..<((i + 1) * p.d)]), w = Array(p.w[(p.labels[i] * p.d)..<((p.labels[i] + 1) * p.d)])
        let dot = zip(xi, w).reduce(0) { $0 + $1.0 * $1.1 }
        return dot / (HeadLossReference.norm(xi[...]) * HeadLossReference.norm(w[...]))
    }

    /// Target angle ≈ 0: x parallel to w_y. Row 0: x = e_3 exactly, w_y = 0.75·e_3 (c = 1 exactly, and
    /// every step exact in float32); row 1: x = 2·w_y for a random w_y (x̂ = ŵ bitwise); row 2: θ = 1e-3.
    /// At c = 1, arcFace/combined's F' is the clamp-limited `sin(m)/1e-6`; nothing may be NaN.
    @Test(arguments: Backends.all)
    func targetAngleNearZero(backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        var builder = Builder(inputs: MarginParity.inputs(b: 6, c: 40, d: 16, seed: 11))
        var e3 = [Double](repeating: 0, count: 16); e3[3] = 1
        builder.setClass(5, e3.map { 0.75 * $0 })
        builder.setRow(0, e3, label: 5)
        builder.setRow(1, builder.classRow(9).map { 2 * $0 }, label: 9)
        builder.setRow(2, MarginParity.rotated(builder.classRow(20), towards: builder.row(3), by: 1e-3).map { 3 * $0 }, label: 20)
        #expect(Self.targetCosine(builder.inputs, row: 0) == 1)
        #expect(abs(Self.targetCosine(builder.inputs, row: 1) - 1) < 1e-15)
        #expect(abs(acos(Self.targetCosine(builder.inputs, row: 2)) - 1e-3) < 1e-5)
        for (name, _) in MarginParity.heads {
            for mode in Self.modes {
                try Self.check(engine, backend, builder.inputs, MarginParity.head(name, mode), "θ≈0 \(name) \(mode)")
            }
        }
    }

    /// sphereFace / largeMargin with m = 2, 3, 4 (λ = 0 and 2): target angles at kπ/m for k = 0…m
    /// (ψ's branch points: k switches there) and ±1e-3 around them.
    @Test(arguments: Backends.all)
    func psiBranchPoints(backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        for m in [2, 3, 4] {
            var angles: [Double] = []
            for k in 0...m {
                let a = Double(k) * Double.pi / Double(m)
                angles += [a - 1e-3, a, a + 1e-3].filter { $0 >= 0 && $0 <= Double.pi }
            }
            let b = angles.count, d = 12
            var builder = Builder(inputs: MarginParity.inputs(b: b, c: 25, d: d, seed: 40 + UInt64(m)))
            var rng = TestRNG(seed: 3)
            for (i, theta) in angles.enumerated() {
                let y = (i * 7) % 25
                let direction = MarginParity.rotated(builder.classRow(y), towards: (0..<d).map { _ in rng.normal() }, by: theta)
                builder.setRow(i, direction.map { (0.5 + Double(i % 3)) * $0 }, label: y)
            }
            for (i, theta) in angles.enumerated() {
                #expect(abs(acos(min(1, max(-1, Self.targetCosine(builder.inputs, row: i)))) - theta) < 1e-3, "row \(i): angle")
            }
            for lambda: Float in [0, 2] {
                for mode in Self.modes {
                    try Self.check(
                        engine, backend, builder.inputs, .sphereFace(margin: m, scale: 1.5, lambda: lambda, gradient: mode),
                        "kπ/m sphereFace m=\(m) λ=\(lambda) \(mode)")
                    try Self.check(
                        engine, backend, builder.inputs, .largeMargin(margin: m, lambda: lambda, gradient: mode),
                        "kπ/m largeMargin m=\(m) λ=\(lambda) \(mode)", reduction: .sum)
                }
            }
        }
    }

    /// arcFace beyond θ + m > π (the fallback `c − m·sin m`, derivative 1), next to rows inside,
    /// for m = 0.5 and 1.2; row 5 is antiparallel (θ = π, c = −1).
    @Test(arguments: Backends.all)
    func arcFaceFallbackBranch(backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        for margin: Float in [0.5, 1.2] {
            let m = Double(margin)
            let angles = [Double.pi - m - 0.3, Double.pi - m - 0.02, Double.pi - m + 0.02, Double.pi - m + 0.3, Double.pi - 0.01]
            var builder = Builder(inputs: MarginParity.inputs(b: 8, c: 30, d: 10, seed: 60))
            for (i, theta) in angles.enumerated() {
                builder.setRow(i, MarginParity.rotated(builder.classRow(i + 2), towards: builder.row(7), by: theta).map { 2 * $0 }, label: i + 2)
            }
            builder.setRow(5, builder.classRow(17).map { -2 * $0 }, label: 17)
            let fallbackRows = (0..<6).filter { acos(max(-1, Self.targetCosine(builder.inputs, row: $0))) + m > Double.pi }
            #expect(fallbackRows == [2, 3, 4, 5], "m \(m): rows on the fallback branch")
            for mode in Self.modes {
                try Self.check(engine, backend, builder.inputs, .arcFace(scale: 32, margin: margin, gradient: mode), "fallback m=\(m) \(mode)")
                try Self.check(engine, backend, builder.inputs, .arcFace(scale: 32, margin: margin, gradient: mode), "fallback m=\(m) \(mode)", reduction: .sum)
            }
        }
    }

    /// Easy margin at its sign change: row 0's target cosine is exactly 0 (x = 1.5·e_0, w_y = 0.5·e_1:
    /// exact in float32, so it takes the `c ≤ 0` branch `s·c` everywhere), rows 1 and 2 have
    /// c = ±2^-12/√(1+2^-24) (exactly representable inputs), on either side.
    @Test(arguments: Backends.all)
    func easyMarginSignBoundary(backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let d = 8
        var builder = Builder(inputs: MarginParity.inputs(b: 5, c: 20, d: d, seed: 70))
        func vector(_ entries: [Int: Double]) -> [Double] { (0..<d).map { entries[$0] ?? 0 } }
        builder.setClass(4, vector([1: 0.5]))
        builder.setClass(6, vector([0: 0x1p-12, 1: 1]))
        builder.setClass(8, vector([0: -0x1p-12, 1: 1]))
        builder.setRow(0, vector([0: 1.5]), label: 4)
        builder.setRow(1, vector([0: 1]), label: 6)
        builder.setRow(2, vector([0: 1]), label: 8)
        #expect(Self.targetCosine(builder.inputs, row: 0) == 0)
        #expect(Self.targetCosine(builder.inputs, row: 1) > 0 && Self.targetCosine(builder.inputs, row: 2) < 0)
        for mode in Self.modes {
            for head in [MarginHead.arcFace(scale: 64, margin: 0.5, easyMargin: true, gradient: mode), .arcFace(scale: 64, margin: 0.5, gradient: mode)] {
                try Self.check(engine, backend, builder.inputs, head, "easy-margin boundary easy=\(head.easyMargin) \(mode)")
            }
        }
    }

    /// A zero feature row and a zero class-weight row (one row's target): the norms clamp at 1e-12,
    /// every result is finite (no NaN) and matches the reference (which uses the clamp's Jacobian I/ε).
    @Test(arguments: Backends.all)
    func zeroRowsStayFinite(backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let d = 9
        var builder = Builder(inputs: MarginParity.inputs(b: 6, c: 15, d: d, seed: 80))
        builder.setRow(2, [Double](repeating: 0, count: d), label: 1)
        builder.setClass(3, [Double](repeating: 0, count: d))
        builder.inputs.labels[4] = 3
        for (name, _) in MarginParity.heads {
            for mode in Self.modes {
                try Self.check(engine, backend, builder.inputs, MarginParity.head(name, mode), "zero rows \(name) \(mode)")
            }
        }
    }

    /// C = 1 (loss 0, gradients 0), B = 1, D = 1 (every cosine exactly ±1; inputs are signed
    /// powers of two so that x̂, ŵ and c are exact in float32 — at c = ±1 arcFace/combined's F' is
    /// ~1e6 and would amplify any rounding of x/‖x‖), and every row with the same target class.
    @Test(arguments: Backends.all)
    func degenerateShapes(backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        var rng = TestRNG(seed: 90)
        var oneDimension = MarginParity.inputs(b: 6, c: 7, d: 1, seed: 91)
        oneDimension.x = (0..<6).map { _ in Float(rng.index(2) == 0 ? -1 : 1) * Float(sign: .plus, exponent: rng.index(5) - 2, significand: 1) }
        oneDimension.w = (0..<7).map { _ in Float(rng.index(2) == 0 ? -1 : 1) * Float(sign: .plus, exponent: rng.index(5) - 2, significand: 1) }
        var oneLabel = MarginParity.inputs(b: 12, c: 20, d: 8, seed: 94)
        oneLabel.labels = [Int](repeating: 3, count: 12)
        let cases: [(String, MarginParity.Inputs)] = [
            ("C=1", MarginParity.inputs(b: 5, c: 1, d: 8, seed: 92)),
            ("B=1", MarginParity.inputs(b: 1, c: 50, d: 8, seed: 93)),
            ("D=1", oneDimension),
            ("every row class 3", oneLabel),
        ]
        for (shape, inputs) in cases {
            for (name, _) in MarginParity.heads {
                for mode in Self.modes {
                    let head = MarginParity.head(name, mode)
                    try Self.check(engine, backend, inputs, head, "\(shape) \(name) \(mode)")
                    if shape == "C=1" {
                        let out = try MarginParity.call(engine, inputs, head, .none)
                        #expect(out.loss.allSatisfy { abs($0) <= 1e-6 }, "\(shape) \(name): a single class has loss 0, got \(out.loss)")
                    }
                }
            }
        }
    }
}

/// The head options' defaults and the λ schedule.
@Suite struct MarginHeadOptionTests {
    @Test func factoriesCarryTheSpecDefaults() {
        let normalized = MarginHead.normalized()
        #expect(normalized.kind == .normalized && normalized.scale == 64)
        let cosFace = MarginHead.cosFace()
        #expect(cosFace.kind == .cosFace && cosFace.scale == 64 && cosFace.margin == 0.35 && cosFace.gradient == .exact)
        let arcFace = MarginHead.arcFace()
        #expect(arcFace.kind == .arcFace && arcFace.scale == 64 && arcFace.margin == 0.5 && !arcFace.easyMargin && arcFace.gradient == .exact)
        let combined = MarginHead.combined()
        #expect(
            combined.kind == .combined && combined.scale == 64 && combined.m1 == 1 && combined.m2 == 0.3 && combined.m3 == 0.2 && combined.gradient == .exact)
        let sphereFace = MarginHead.sphereFace()
        #expect(sphereFace.kind == .sphereFace && sphereFace.margin == 4 && sphereFace.scale == 1 && sphereFace.lambda == 0 && sphereFace.gradient == .exact)
        let largeMargin = MarginHead.largeMargin()
        #expect(largeMargin.kind == .largeMargin && largeMargin.margin == 4 && largeMargin.lambda == 0 && largeMargin.gradient == .exact)
        for head in [normalized, cosFace, arcFace, combined, sphereFace, largeMargin] {
            #expect(throws: Never.self) { try head.validate() }
        }
    }

    /// The defaults also drive the computation: the default arcFace's loss is the reference's for
    /// s = 64, m = 0.5 (and not the s = 64, m = 0.35 of cosFace).
    @Test func defaultHeadsComputeTheSpecsHeads() throws {
        let inputs = MarginParity.inputs(b: 4, c: 10, d: 6, seed: 12)
        let explicit: [(MarginHead, MarginHead)] = [
            (.cosFace(), MarginHead(kind: .cosFace, scale: 64, margin: 0.35)),
            (.arcFace(), MarginHead(kind: .arcFace, scale: 64, margin: 0.5)),
            (.combined(), MarginHead(kind: .combined, scale: 64, m1: 1, m2: 0.3, m3: 0.2)),
            (.sphereFace(), MarginHead(kind: .sphereFace, scale: 1, margin: 4)),
            (.largeMargin(), MarginHead(kind: .largeMargin, scale: 1, margin: 4)),
        ]
        for (factory, spelledOut) in explicit {
            let out = try MarginParity.call(Backends.cpuEngine, inputs, factory)
            let reference = HeadAnalyticReference.evaluate(inputs.problem(spelledOut, .mean))
            MarginParity.expectMatches(out, reference, backend: .cpu, "default \(factory.kind)")
        }
    }

    @Test func lambdaScheduleFollowsTheFormula() {
        func formula(_ s: LambdaSchedule, _ iteration: Int) -> Double {
            max(Double(s.minimum), Double(s.base) * pow(1 + Double(s.gamma) * Double(iteration), -Double(s.power)))
        }
        let published = LambdaSchedule()
        #expect(published.base == 1000 && published.gamma == 0.12 && published.power == 1 && published.minimum == 5)
        let schedules = [
            published, LambdaSchedule(base: 1500, gamma: 0.2, power: 2, minimum: 0), LambdaSchedule(base: 10, gamma: 1e-3, power: 0.5, minimum: 1),
        ]
        for s in schedules {
            for iteration in [0, 1, 2, 10, 100, 1_000, 1_650, 10_000, 1_000_000] {
                let expected = formula(s, iteration), actual = Double(s.lambda(at: iteration))
                #expect(abs(actual - expected) <= 1e-6 * max(1, abs(expected)), "\(s) at \(iteration): \(actual), formula \(expected)")
            }
        }
        // Spot values of SphereFace's schedule: λ(0) = base, decreasing, floored at the minimum.
        #expect(published.lambda(at: 0) == 1000)
        #expect(abs(published.lambda(at: 100) - Float(1000 / 13.0)) <= 1e-3)
        #expect(published.lambda(at: 1_000_000) == 5)
    }
}
