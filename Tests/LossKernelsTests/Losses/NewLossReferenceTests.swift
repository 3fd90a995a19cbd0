import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// Proves the float64 references of the four losses added in ProbabilityCrossEntropyReference.swift,
/// WeightedBinaryCrossEntropyReference.swift, KLDivergenceReference.swift and NLLReference.swift,
/// independently of the library: analytic gradients against central differences of each
/// reference's own loss, identities with the existing (already proven) references and with each
/// other, spot values computed separately (NumPy, float64, from the textbook forms of the losses),
/// and the conventions for masks, non-finite inputs and ignored rows.
enum NewLossReferenceSupport {
    /// `|a − b| ≤ tolerance·max(1, |b|)`; equal infinities and two NaNs count as close.
    static func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-13) -> Bool {
        if a.isNaN || b.isNaN { return a.isNaN && b.isNaN }
        if a.isInfinite || b.isInfinite { return a == b }
        return Swift.abs(a - b) <= tolerance * Swift.max(1, Swift.abs(b))
    }

    static func expectClose(
        _ a: [Double], _ b: [Double], _ tolerance: Double = 1e-13, _ context: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard a.count == b.count else {
            Issue.record("\(context): \(a.count) values vs \(b.count)", sourceLocation: sourceLocation)
            return
        }
        for i in a.indices where !close(a[i], b[i], tolerance) {
            Issue.record("\(context): index \(i): \(a[i]) vs \(b[i])", sourceLocation: sourceLocation)
            return
        }
    }

    /// `rows` random probability rows of `columns` entries (each row sums to 1); the (row, column)
    /// entries in `zeros` are exactly 0.
    static func probabilities(rows: Int, columns: Int, zeros: [(Int, Int)] = [], seed: UInt64) -> [Double] {
        var t = FiniteDifferenceTests.uniforms(rows * columns, in: 0.05...1, seed: seed)
        for (r, c) in zeros { t[r * columns + c] = 0 }
        for r in 0..<rows {
            var s = 0.0
            for c in 0..<columns { s += t[r * columns + c] }
            for c in 0..<columns { t[r * columns + c] /= s }
        }
        return t
    }

    /// `log softmax` of each row, computed naively (`z − log Σ exp z`) for moderate logits — an
    /// implementation independent of `LossReference.logSoftmaxRow`.
    static func naiveLogSoftmax(_ z: [Double], rows: Int, columns: Int) -> [Double] {
        var out = z
        for r in 0..<rows {
            var s = 0.0
            for c in 0..<columns { s += Foundation.exp(z[r * columns + c]) }
            let logSum = Foundation.log(s)
            for c in 0..<columns { out[r * columns + c] = z[r * columns + c] - logSum }
        }
        return out
    }

    /// The scalar a KL reduction's gradient is the gradient of.
    static func klObjective(_ loss: [Double], _ reduction: KLDivReduction, _ gradOutput: [Double]?) -> Double {
        guard reduction == .none else { return loss[0] }
        var s = 0.0
        for (i, l) in loss.enumerated() { s += (gradOutput?[i] ?? 1) * l }
        return s
    }

    static func row(_ x: [Double], _ r: Int, _ columns: Int) -> ArraySlice<Double> { x[(r * columns)..<((r + 1) * columns)] }
}

// MARK: - Gradients against central differences

@Suite struct NewLossReferenceGradientTests {
    typealias FD = FiniteDifferenceTests

    // MARK: Cross-entropy with probability targets

    struct SoftCECase: Sendable, CustomTestStringConvertible {
        var weighted = false
        var smoothing = 0.0
        var reduction: LossReduction = .mean
        var withGradOutput = false
        /// −∞ logits exactly where the target is 0 (ε = 0 only: the loss stays finite).
        var masked = false
        /// Targets that are not distributions (rows summing to 0.3 … 2.5).
        var unnormalized = false
        var testDescription: String {
            var text = "\(weighted ? "weights" : "no weights") ε \(smoothing) \(LossCheck.describe(reduction, withGradOutput))"
            if masked { text += " masks" }
            if unnormalized { text += " unnormalized targets" }
            return text
        }
    }

    static let softCECases: [SoftCECase] =
        [false, true].flatMap { weighted in
            [0, 0.1, 1.0].flatMap { eps in
                LossCheck.variants.map { SoftCECase(weighted: weighted, smoothing: eps, reduction: $0.reduction, withGradOutput: $0.withGradOutput) }
            }
        } + [
            SoftCECase(weighted: true, reduction: .mean, masked: true),
            SoftCECase(weighted: false, reduction: .sum, masked: true),
            SoftCECase(weighted: true, reduction: .none, withGradOutput: true, masked: true),
            SoftCECase(weighted: true, smoothing: 0.2, reduction: .sum, unnormalized: true),
            SoftCECase(weighted: false, reduction: .none, withGradOutput: true, unnormalized: true),
        ]

    @Test(arguments: softCECases)
    func probabilityCrossEntropyGradient(_ c: SoftCECase) {
        let rows = 5, columns = 6
        let zeros = [(0, 1), (1, 0), (1, 5), (3, 2), (4, 4)]
        var z = FD.normals(rows * columns, scale: 2, seed: 101)
        var t = NewLossReferenceSupport.probabilities(rows: rows, columns: columns, zeros: zeros, seed: 102)
        // Row 2 is one-hot.
        for j in 0..<columns { t[2 * columns + j] = j == 3 ? 1 : 0 }
        if c.masked { for (r, j) in zeros { z[r * columns + j] = -.infinity } }
        if c.unnormalized {
            let factors = [0.3, 2.5, 1, 0.7, 1.6]
            for r in 0..<rows { for j in 0..<columns { t[r * columns + j] *= factors[r] } }
        }
        let w = c.weighted ? FD.uniforms(columns, in: 0.2...2, seed: 103) : nil
        let g = c.withGradOutput ? FD.normals(rows, scale: 2, seed: 104) : nil
        func run(_ x: [Double]) -> LossReference.Result {
            LossReference.crossEntropy(
                logits: x, rows: rows, columns: columns, probabilityTargets: t, classWeights: w, labelSmoothing: c.smoothing,
                reduction: c.reduction, gradOutput: g)
        }
        let reference = run(z)
        #expect(reference.loss.count == (c.reduction == .none ? rows : 1))
        #expect(reference.loss.allSatisfy { $0.isFinite } && reference.gradient.allSatisfy { $0.isFinite }, "\(c): \(reference.loss)")
        FD.expectMatchesFiniteDifferences(z, analytic: reference.gradient, "probability cross-entropy \(c.testDescription)") {
            FD.objective(run($0).loss, c.reduction, g)
        }
    }

    // MARK: BCE with element weights and pos_weight

    enum ElementWeights: String, Sendable, CaseIterable {
        case none, perElement = "per element", perColumn = "one row broadcast"
    }

    struct BCECase: Sendable, CustomTestStringConvertible {
        let weights: ElementWeights
        let posWeight: Bool
        let reduction: LossReduction
        let withGradOutput: Bool
        var testDescription: String {
            "weights \(weights.rawValue)\(posWeight ? " + pos_weight" : "") \(LossCheck.describe(reduction, withGradOutput))"
        }
    }

    static let bceCases: [BCECase] = ElementWeights.allCases.flatMap { weights in
        [false, true].flatMap { posWeight in
            LossCheck.variants.map { BCECase(weights: weights, posWeight: posWeight, reduction: $0.reduction, withGradOutput: $0.withGradOutput) }
        }
    }

    @Test(arguments: bceCases)
    func weightedBinaryCrossEntropyGradient(_ c: BCECase) {
        let rows = 3, columns = 5, count = rows * columns
        let z = FD.normals(count, scale: 3, seed: 201)
        var t = FD.uniforms(count, in: 0...1, seed: 202)
        t[0] = 0; t[4] = 1; t[7] = 1; t[11] = 0
        let ew: [Double]?
        switch c.weights {
        case .none: ew = nil
        case .perElement: ew = FD.uniforms(count, in: 0...2, seed: 203)
        case .perColumn: ew = FD.uniforms(columns, in: 0...2, seed: 204)
        }
        let pw = c.posWeight ? FD.uniforms(columns, in: 0.2...4, seed: 205) : nil
        let g = c.withGradOutput ? FD.normals(count, scale: 2, seed: 206) : nil
        func run(_ x: [Double]) -> LossReference.Result {
            LossReference.binaryCrossEntropyWithLogits(
                logits: x, targets: t, columns: columns, weights: ew, posWeight: pw, reduction: c.reduction, gradOutput: g)
        }
        let reference = run(z)
        #expect(reference.loss.count == (c.reduction == .none ? count : 1))
        #expect(reference.loss.allSatisfy { $0.isFinite })
        FD.expectMatchesFiniteDifferences(z, analytic: reference.gradient, "weighted BCE \(c.testDescription)") {
            FD.objective(run($0).loss, c.reduction, g)
        }
    }

    // MARK: KL divergence

    struct KLCase: Sendable, CustomTestStringConvertible {
        let logTarget: Bool
        let reduction: KLDivReduction
        let withGradOutput: Bool
        var testDescription: String { "\(logTarget ? "log target" : "target") \(reduction.rawValue)\(withGradOutput ? " + gradOutput" : "")" }
    }

    static let klCases: [KLCase] = [false, true].flatMap { logTarget in
        KLDivReduction.allCases.map { KLCase(logTarget: logTarget, reduction: $0, withGradOutput: false) }
            + [KLCase(logTarget: logTarget, reduction: .none, withGradOutput: true)]
    }

    @Test(arguments: klCases)
    func klDivergenceGradient(_ c: KLCase) {
        let rows = 4, columns = 5
        // x: log-probabilities of other distributions; t with zeros (ℓ = 0 there).
        let x = NewLossReferenceSupport.probabilities(rows: rows, columns: columns, seed: 301).map { Foundation.log($0) }
        let t = NewLossReferenceSupport.probabilities(rows: rows, columns: columns, zeros: [(0, 0), (2, 3), (2, 4)], seed: 302)
        let target = c.logTarget ? t.map { Foundation.log($0) } : t
        let g = c.withGradOutput ? FD.normals(rows * columns, scale: 2, seed: 303) : nil
        func run(_ input: [Double]) -> LossReference.Result {
            LossReference.klDivergence(
                input: input, targets: target, rows: rows, columns: columns, logTarget: c.logTarget, reduction: c.reduction, gradOutput: g)
        }
        let reference = run(x)
        #expect(reference.loss.count == (c.reduction == .none ? rows * columns : 1))
        #expect(reference.loss.allSatisfy { $0.isFinite })
        // Where t = 0 the gradient is exactly 0.
        for i in t.indices where t[i] == 0 { #expect(reference.gradient[i] == 0, "\(c): index \(i)") }
        FD.expectMatchesFiniteDifferences(x, analytic: reference.gradient, "KL \(c.testDescription)") {
            NewLossReferenceSupport.klObjective(run($0).loss, c.reduction, g)
        }
    }

    // MARK: NLL

    enum Ignore: String, Sendable, CaseIterable {
        case noRows = "no ignored rows", defaultIndex = "ignoreIndex −100", validClass = "ignoreIndex 3 (a valid class)"
    }

    struct NLLCase: Sendable, CustomTestStringConvertible {
        let weighted: Bool
        let ignore: Ignore
        let reduction: LossReduction
        let withGradOutput: Bool
        var testDescription: String { "\(weighted ? "weights" : "no weights") \(ignore.rawValue) \(LossCheck.describe(reduction, withGradOutput))" }
    }

    static let nllCases: [NLLCase] = [false, true].flatMap { weighted in
        Ignore.allCases.flatMap { ignore in
            LossCheck.variants.map { NLLCase(weighted: weighted, ignore: ignore, reduction: $0.reduction, withGradOutput: $0.withGradOutput) }
        }
    }

    @Test(arguments: nllCases)
    func nllGradient(_ c: NLLCase) {
        let rows = 6, columns = 5
        let x = FD.normals(rows * columns, scale: 2, seed: 401)
        let labels: [Int], ignoreIndex: Int
        switch c.ignore {
        case .noRows: (labels, ignoreIndex) = ([0, 3, 1, 4, 2, 3], -100)
        case .defaultIndex: (labels, ignoreIndex) = ([0, -100, 1, 4, -100, 3], -100)
        case .validClass: (labels, ignoreIndex) = ([0, 3, 1, 4, 2, 3], 3)
        }
        let w = c.weighted ? FD.uniforms(columns, in: 0.2...2, seed: 402) : nil
        let g = c.withGradOutput ? FD.normals(rows, scale: 2, seed: 403) : nil
        func run(_ input: [Double]) -> LossReference.Result {
            LossReference.nllLoss(
                logProbabilities: input, rows: rows, columns: columns, labels: labels, classWeights: w, ignoreIndex: ignoreIndex,
                reduction: c.reduction, gradOutput: g)
        }
        let reference = run(x)
        #expect(reference.loss.allSatisfy { $0.isFinite })
        for n in 0..<rows {
            for j in 0..<columns where labels[n] == ignoreIndex || j != labels[n] {
                #expect(reference.gradient[n * columns + j] == 0, "\(c): row \(n) column \(j) (ignored or not the label)")
            }
            if labels[n] == ignoreIndex, c.reduction == .none { #expect(reference.loss[n] == 0, "\(c): ignored row \(n)") }
        }
        FD.expectMatchesFiniteDifferences(x, analytic: reference.gradient, "NLL \(c.testDescription)") {
            FD.objective(run($0).loss, c.reduction, g)
        }
    }
}

// MARK: - Identities

@Suite struct NewLossReferenceIdentityTests {
    typealias FD = FiniteDifferenceTests
    typealias S = NewLossReferenceSupport

    /// One-hot probability targets give the class-index cross-entropy (also with smoothing: both are
    /// `(1−ε)·w_y·(−log p_y) + (ε/C)·Σ_c w_c·(−log p_c)`), per row and in gradient. The means
    /// differ in denominator (B against Σ_n w_{y_n}), so they are compared as `mean·denominator`.
    @Test(arguments: [0, 0.1, 1.0])
    func oneHotTargetsMatchClassIndexCrossEntropy(_ eps: Double) {
        let rows = 6, columns = 5, labels = [0, 3, 1, 4, 2, 3]
        for masked in [false, true] {
            var z = FD.normals(rows * columns, scale: 3, seed: 501)
            // A −∞ mask on a non-target class (finite without smoothing, +∞ with it, in both).
            if masked { z[2 * columns + 0] = -.infinity }
            var t = [Double](repeating: 0, count: rows * columns)
            for n in 0..<rows { t[n * columns + labels[n]] = 1 }
            for w in [nil, FD.uniforms(columns, in: 0.2...2, seed: 502)] {
                let context = "ε \(eps)\(w == nil ? "" : " weights")\(masked ? " mask" : "")"
                let g = FD.normals(rows, scale: 2, seed: 503)
                for gradOutput in [nil, g] {
                    let soft = LossReference.crossEntropy(
                        logits: z, rows: rows, columns: columns, probabilityTargets: t, classWeights: w,
                        labelSmoothing: eps, reduction: .none, gradOutput: gradOutput)
                    let hard = LossReference.crossEntropy(
                        logits: z, rows: rows, columns: columns, labels: labels, classWeights: w,
                        labelSmoothing: eps, reduction: .none, gradOutput: gradOutput)
                    S.expectClose(soft.loss, hard.loss, 1e-13, "\(context) none loss")
                    S.expectClose(soft.gradient, hard.gradient, 1e-13, "\(context) none gradient")
                    #expect(soft.loss[0].isFinite && (masked && eps > 0 ? soft.loss[2] == .infinity : soft.loss[2].isFinite), "\(context)")
                }
                let softSum = LossReference.crossEntropy(
                    logits: z, rows: rows, columns: columns, probabilityTargets: t, classWeights: w,
                    labelSmoothing: eps, reduction: .sum)
                let hardSum = LossReference.crossEntropy(
                    logits: z, rows: rows, columns: columns, labels: labels, classWeights: w,
                    labelSmoothing: eps, reduction: .sum)
                S.expectClose(softSum.loss, hardSum.loss, 1e-13, "\(context) sum loss")
                S.expectClose(softSum.gradient, hardSum.gradient, 1e-13, "\(context) sum gradient")
                let softMean = LossReference.crossEntropy(
                    logits: z, rows: rows, columns: columns, probabilityTargets: t, classWeights: w,
                    labelSmoothing: eps, reduction: .mean)
                let hardMean = LossReference.crossEntropy(
                    logits: z, rows: rows, columns: columns, labels: labels, classWeights: w,
                    labelSmoothing: eps, reduction: .mean)
                let b = Double(rows)
                let weightSum = labels.reduce(0.0) { $0 + (w?[$1] ?? 1) }
                S.expectClose(softMean.loss.map { $0 * b }, hardMean.loss.map { $0 * weightSum }, 1e-13, "\(context) mean·denominator loss")
                S.expectClose(softMean.gradient.map { $0 * b }, hardMean.gradient.map { $0 * weightSum }, 1e-12, "\(context) mean·denominator gradient")
                if w == nil {
                    S.expectClose(softMean.loss, hardMean.loss, 1e-13, "\(context) unweighted mean loss")
                }
            }
        }
    }

    /// Uniform logits: p = 1/C, so `loss_n = log C · Σ_c w_c·T'_nc` and `dz_nj = S_n/C − w_j·T'_nj`.
    @Test func probabilityCrossEntropyUniformLogits() {
        let rows = 2, columns = 4, eps = 0.2
        let t: [Double] = [0.1, 0.2, 0.3, 0.4, 0, 0, 1, 0]
        let w: [Double] = [0.5, 1, 2, 3]
        let r = LossReference.crossEntropy(
            logits: [Double](repeating: -3, count: 8), rows: rows, columns: columns, probabilityTargets: t,
            classWeights: w, labelSmoothing: eps, reduction: .none)
        for n in 0..<rows {
            var s = 0.0
            var smoothed = [Double](repeating: 0, count: columns)
            for c in 0..<columns {
                smoothed[c] = (1 - eps) * t[n * columns + c] + eps / Double(columns)
                s += w[c] * smoothed[c]
            }
            #expect(S.close(r.loss[n], Foundation.log(4.0) * s), "row \(n): \(r.loss[n])")
            for j in 0..<columns {
                #expect(S.close(r.gradient[n * columns + j], s / 4 - w[j] * smoothed[j]), "row \(n) column \(j)")
            }
        }
    }

    @Test func probabilityCrossEntropySpotValues() {
        // NumPy: z = [[1,2,3],[0.5,−1,2]], T = [[0.2,0.3,0.5],[0.6,0,0.4]], w = [0.2,1,3], ε = 0.1.
        let z: [Double] = [1, 2, 3, 0.5, -1, 2], t: [Double] = [0.2, 0.3, 0.5, 0.6, 0, 0.4], w: [Double] = [0.2, 1, 3]
        let none = LossReference.crossEntropy(logits: z, rows: 2, columns: 3, probabilityTargets: t, classWeights: w, labelSmoothing: 0.1, reduction: .none)
        S.expectClose(none.loss, [1.1207269788087735, 0.5924614019607046], 1e-14, "ε 0.1 weights none")
        S.expectClose(Array(none.gradient[0..<3]), [0.11902824274733666, 0.13619900068108332, -0.2552272434284195], 1e-14, "ε 0.1 weights gradient row 0")
        let mean = LossReference.crossEntropy(logits: z, rows: 2, columns: 3, probabilityTargets: t, classWeights: w, labelSmoothing: 0.1)
        S.expectClose(mean.loss, [0.856594190384739], 1e-14, "ε 0.1 weights mean (÷ B)")
        let plain = LossReference.crossEntropy(logits: z, rows: 2, columns: 3, probabilityTargets: t, reduction: .none)
        S.expectClose(plain.loss, [1.10760596444438, 1.1413112966571572], 1e-14, "plain none")
    }

    /// With `ew = pw = 1` (nil, or explicit ones) the weighted form is the existing BCE reference,
    /// loss and gradient, for every reduction, including logits of ±100.
    @Test func unitWeightsMatchBinaryCrossEntropy() {
        let rows = 4, columns = 6, count = rows * columns
        var z = FD.normals(count, scale: 4, seed: 601)
        var t = FD.uniforms(count, in: 0...1, seed: 602)
        let extremes: [Double] = [100, -100, 100, -100, 30, -30, 17, -17, 0, 1e-3, -1e-3]
        let extremeTargets: [Double] = [0, 0, 1, 1, 0.5, 0.5, 1, 0, 0.5, 1, 0]
        for i in extremes.indices { z[i] = extremes[i]; t[i] = extremeTargets[i] }
        let g = FD.normals(count, scale: 2, seed: 603)
        let setups: [(name: String, ew: [Double]?, pw: [Double]?)] = [
            ("nil", nil, nil),
            ("ones per element", [Double](repeating: 1, count: count), [Double](repeating: 1, count: columns)),
            ("ones row", [Double](repeating: 1, count: columns), nil),
        ]
        for setup in setups {
            for (reduction, withGradOutput) in LossCheck.variants {
                let gradOutput = withGradOutput ? g : nil
                let weighted = LossReference.binaryCrossEntropyWithLogits(
                    logits: z, targets: t, columns: columns, weights: setup.ew, posWeight: setup.pw,
                    reduction: reduction, gradOutput: gradOutput)
                let plain = LossReference.binaryCrossEntropyWithLogits(logits: z, targets: t, reduction: reduction, gradOutput: gradOutput)
                let context = "\(setup.name) \(LossCheck.describe(reduction, withGradOutput))"
                S.expectClose(weighted.loss, plain.loss, 1e-13, "\(context) loss")
                S.expectClose(weighted.gradient, plain.gradient, 1e-13, "\(context) gradient")
            }
        }
    }

    /// The weights scale the textbook terms: with hard targets `ℓ = ew·pw^t·BCE(z, t)`, and for
    /// any target `ℓ(ew) = ew·ℓ(1)`.
    @Test func weightsScaleBinaryCrossEntropy() {
        let rows = 3, columns = 4, count = rows * columns
        let z = FD.normals(count, scale: 3, seed: 611)
        let hard = FD.uniforms(count, in: 0...1, seed: 612).map { $0 < 0.5 ? 0.0 : 1.0 }
        let ew = FD.uniforms(count, in: 0.1...3, seed: 613), pw = FD.uniforms(columns, in: 0.1...5, seed: 614)
        let weighted = LossReference.binaryCrossEntropyWithLogits(logits: z, targets: hard, columns: columns, weights: ew, posWeight: pw, reduction: .none)
        let plain = LossReference.binaryCrossEntropyWithLogits(logits: z, targets: hard, reduction: .none)
        for i in 0..<count {
            let factor = ew[i] * (hard[i] == 1 ? pw[i % columns] : 1)
            #expect(
                S.close(weighted.loss[i], factor * plain.loss[i], 1e-13) && S.close(weighted.gradient[i], factor * plain.gradient[i], 1e-13),
                "element \(i): \(weighted.loss[i]) vs \(factor) · \(plain.loss[i])")
        }
        let soft = FD.uniforms(count, in: 0...1, seed: 615)
        let withPos = LossReference.binaryCrossEntropyWithLogits(logits: z, targets: soft, columns: columns, posWeight: pw, reduction: .none)
        let withBoth = LossReference.binaryCrossEntropyWithLogits(logits: z, targets: soft, columns: columns, weights: ew, posWeight: pw, reduction: .none)
        S.expectClose(withBoth.loss, zip(ew, withPos.loss).map { $0 * $1 }, 1e-13, "ew scales the loss")
        S.expectClose(withBoth.gradient, zip(ew, withPos.gradient).map { $0 * $1 }, 1e-13, "ew scales the gradient")
        // A row of weights broadcast is the same as those weights repeated on every row.
        let row = Array(ew[0..<columns])
        let broadcast = LossReference.binaryCrossEntropyWithLogits(logits: z, targets: soft, columns: columns, weights: row, posWeight: pw, reduction: .sum)
        let repeated = LossReference.binaryCrossEntropyWithLogits(
            logits: z, targets: soft, columns: columns, weights: (0..<count).map { row[$0 % columns] },
            posWeight: pw, reduction: .sum)
        #expect(broadcast.loss == repeated.loss && broadcast.gradient == repeated.gradient)
    }

    @Test func weightedBinaryCrossEntropySpotValues() {
        // NumPy, textbook form ℓ = −ew·[pw·t·log σ(z) + (1−t)·log(1−σ(z))], dℓ/dz = ew·[(1−t)·σ(z) − pw·t·(1−σ(z))].
        let z: [Double] = [-2, 0.5, 3, -0.1, 1.5, -4], t: [Double] = [0, 0.3, 1, 0.7, 1, 0.2]
        let ew: [Double] = [0.5, 1, 2, 1.5, 0.1, 1], pw: [Double] = [2, 0.5, 3]
        let r = LossReference.binaryCrossEntropyWithLogits(logits: z, targets: t, columns: 3, weights: ew, posWeight: pw, reduction: .none)
        S.expectClose(
            r.loss, [0.06346400552148626, 0.7529654365530907, 0.29152410944245144, 1.8532114831876059, 0.01007066389913762, 2.4254098990849338],
            1e-14, "loss")
        S.expectClose(
            r.gradient,
            [
                0.05960146101105877, 0.3790904315215764, -0.2845552390653998, -0.888696928071297, -0.009121276190317818,
                -0.5748193060530719,
            ], 1e-14, "gradient")
        let rowWeights = LossReference.binaryCrossEntropyWithLogits(logits: z, targets: t, columns: 3, weights: [0.5, 1, 2], posWeight: pw, reduction: .sum)
        S.expectClose(rowWeights.loss, [6.677217149740807], 1e-14, "row weights sum")
        let mean = LossReference.binaryCrossEntropyWithLogits(logits: z, targets: t, columns: 3, weights: ew, posWeight: pw, reduction: .mean)
        S.expectClose(
            mean.loss,
            [
                (0.06346400552148626 + 0.7529654365530907 + 0.29152410944245144 + 1.8532114831876059 + 0.01007066389913762
                    + 2.4254098990849338) / 6
            ], 1e-14, "mean over elements (not over weights)")
    }

    /// `nll_loss(log_softmax(z))` is cross-entropy: losses for every reduction (the same mean
    /// denominator Σ w_{y_n}), and by the chain rule `dCE/dz_nj = gx_nj − p_nj·Σ_k gx_nk` with
    /// `gx` the NLL gradient. The log-softmax is computed naively here, not by the reference.
    @Test func nllOfLogSoftmaxIsCrossEntropy() {
        let rows = 7, columns = 5
        let z = FD.normals(rows * columns, scale: 3, seed: 701)
        let x = S.naiveLogSoftmax(z, rows: rows, columns: columns)
        let g = FD.normals(rows, scale: 2, seed: 702)
        let setups: [(labels: [Int], ignoreIndex: Int)] = [([0, 3, 1, 4, 2, 3, 0], -100), ([0, -100, 1, 4, -100, 3, 2], -100), ([0, 3, 1, 4, 2, 3, 3], 3)]
        for setup in setups {
            for w in [nil, FD.uniforms(columns, in: 0.2...2, seed: 703)] {
                for (reduction, withGradOutput) in LossCheck.variants {
                    let gradOutput = withGradOutput ? g : nil
                    let nll = LossReference.nllLoss(
                        logProbabilities: x, rows: rows, columns: columns, labels: setup.labels, classWeights: w,
                        ignoreIndex: setup.ignoreIndex, reduction: reduction, gradOutput: gradOutput)
                    let ce = LossReference.crossEntropy(
                        logits: z, rows: rows, columns: columns, labels: setup.labels, classWeights: w,
                        ignoreIndex: setup.ignoreIndex, reduction: reduction, gradOutput: gradOutput)
                    let context =
                        "ignoreIndex \(setup.ignoreIndex) \(setup.labels)\(w == nil ? "" : " weights") \(LossCheck.describe(reduction, withGradOutput))"
                    S.expectClose(nll.loss, ce.loss, 1e-12, "\(context) loss")
                    var chained = nll.gradient
                    for n in 0..<rows {
                        var s = 0.0
                        for k in 0..<columns { s += nll.gradient[n * columns + k] }
                        for j in 0..<columns { chained[n * columns + j] -= Foundation.exp(x[n * columns + j]) * s }
                    }
                    S.expectClose(chained, ce.gradient, 1e-12, "\(context) chain rule")
                }
            }
        }
    }

    @Test func nllSpotValues() {
        // x = [[−1,−2,−3],[−0.5,−1.5,−2.5],[−7,−8,−9]], y = [2, 0, −100], w = [0.5, 1, 2]:
        // losses 2·3 = 6, 0.5·0.5 = 0.25, 0 (ignored); mean 6.25 / (2 + 0.5) = 2.5.
        let x: [Double] = [-1, -2, -3, -0.5, -1.5, -2.5, -7, -8, -9], y = [2, 0, -100], w: [Double] = [0.5, 1, 2]
        let none = LossReference.nllLoss(logProbabilities: x, rows: 3, columns: 3, labels: y, classWeights: w, reduction: .none)
        #expect(none.loss == [6, 0.25, 0])
        #expect(none.gradient == [0, 0, -2, -0.5, 0, 0, 0, 0, 0])
        let mean = LossReference.nllLoss(logProbabilities: x, rows: 3, columns: 3, labels: y, classWeights: w)
        #expect(mean.loss == [2.5] && mean.gradient == [0, 0, -0.8, -0.2, 0, 0, 0, 0, 0])
        let sum = LossReference.nllLoss(logProbabilities: x, rows: 3, columns: 3, labels: y, classWeights: w, reduction: .sum)
        #expect(sum.loss == [6.25] && sum.gradient == none.gradient)
        let upstream = LossReference.nllLoss(logProbabilities: x, rows: 3, columns: 3, labels: y, classWeights: w, reduction: .none, gradOutput: [2, -4, 8])
        #expect(upstream.loss == none.loss && upstream.gradient == [0, 0, -4, 2, 0, 0, 0, 0, 0])
        // Unweighted mean: (3 + 0.5) / 2.
        #expect(LossReference.nllLoss(logProbabilities: x, rows: 3, columns: 3, labels: y).loss == [1.75])
    }

    /// Every row ignored: mean NaN (0/0), sum 0, none all 0; the gradient is 0 — with and without
    /// weights, for the default ignore index and for one that is a valid class.
    @Test func nllAllRowsIgnored() {
        let rows = 4, columns = 5
        let x = FD.normals(rows * columns, scale: 2, seed: 711)
        for ignoreIndex in [-100, 3] {
            let labels = [Int](repeating: ignoreIndex, count: rows)
            for w in [nil, FD.uniforms(columns, in: 0.2...2, seed: 712)] {
                let context = "ignoreIndex \(ignoreIndex)\(w == nil ? "" : " weights")"
                let mean = LossReference.nllLoss(logProbabilities: x, rows: rows, columns: columns, labels: labels, classWeights: w, ignoreIndex: ignoreIndex)
                #expect(mean.loss.count == 1 && mean.loss[0].isNaN, "\(context) mean \(mean.loss)")
                #expect(mean.gradient == [Double](repeating: 0, count: rows * columns), "\(context) mean gradient")
                let sum = LossReference.nllLoss(
                    logProbabilities: x, rows: rows, columns: columns, labels: labels, classWeights: w, ignoreIndex: ignoreIndex,
                    reduction: .sum)
                #expect(sum.loss == [0] && sum.gradient == [Double](repeating: 0, count: rows * columns), "\(context) sum")
                let none = LossReference.nllLoss(
                    logProbabilities: x, rows: rows, columns: columns, labels: labels, classWeights: w, ignoreIndex: ignoreIndex,
                    reduction: .none, gradOutput: [1, 2, 3, 4])
                #expect(none.loss == [0, 0, 0, 0] && none.gradient == [Double](repeating: 0, count: rows * columns), "\(context) none")
            }
        }
    }

    /// `kl_div(x, log t, log_target: true)` is `kl_div(x, t)` (zeros of t becoming −∞), loss and
    /// gradient, for every reduction.
    @Test func klLogTargetMatchesProbabilityTarget() {
        let rows = 4, columns = 6
        let x = FD.normals(rows * columns, scale: 2, seed: 801)
        let t = S.probabilities(rows: rows, columns: columns, zeros: [(0, 2), (1, 0), (1, 1), (3, 5)], seed: 802)
        let lt = t.map { Foundation.log($0) }
        #expect(lt.contains(-.infinity))
        let g = FD.normals(rows * columns, scale: 2, seed: 803)
        for reduction in KLDivReduction.allCases {
            for gradOutput in reduction == .none ? [nil, g] : [nil] {
                let plain = LossReference.klDivergence(input: x, targets: t, rows: rows, columns: columns, reduction: reduction, gradOutput: gradOutput)
                let logForm = LossReference.klDivergence(
                    input: x, targets: lt, rows: rows, columns: columns, logTarget: true, reduction: reduction,
                    gradOutput: gradOutput)
                S.expectClose(logForm.loss, plain.loss, 1e-13, "\(reduction) loss")
                S.expectClose(logForm.gradient, plain.gradient, 1e-13, "\(reduction) gradient")
                #expect(plain.loss.allSatisfy { $0.isFinite })
            }
        }
    }

    /// batchMean = sum/B, mean = sum/(B·C), sum = Σ none, in loss and gradient; the sum's gradient
    /// is −t, and none with an upstream gradient is −t·g.
    @Test(arguments: [false, true])
    func klReductionsAreScaledSums(_ logTarget: Bool) {
        let rows = 5, columns = 3
        let x = FD.normals(rows * columns, scale: 2, seed: 811)
        let t = S.probabilities(rows: rows, columns: columns, zeros: [(2, 1)], seed: 812)
        let target = logTarget ? t.map { Foundation.log($0) } : t
        func run(_ reduction: KLDivReduction, _ g: [Double]? = nil) -> LossReference.Result {
            LossReference.klDivergence(input: x, targets: target, rows: rows, columns: columns, logTarget: logTarget, reduction: reduction, gradOutput: g)
        }
        let sum = run(.sum), batchMean = run(.batchMean), mean = run(.mean), none = run(.none)
        let b = Double(rows), bc = Double(rows * columns)
        #expect(S.close(batchMean.loss[0] * b, sum.loss[0]) && S.close(mean.loss[0] * bc, sum.loss[0]), "\(batchMean.loss) \(mean.loss) \(sum.loss)")
        #expect(S.close(none.loss.reduce(0, +), sum.loss[0]))
        S.expectClose(batchMean.gradient.map { $0 * b }, sum.gradient, 1e-14, "batchMean gradient")
        S.expectClose(mean.gradient.map { $0 * bc }, sum.gradient, 1e-14, "mean gradient")
        S.expectClose(none.gradient, sum.gradient, 0, "none gradient")
        S.expectClose(sum.gradient, t.map { -$0 }, 1e-15, "sum gradient is −t")
        let g = FD.normals(rows * columns, scale: 2, seed: 813)
        let upstream = run(.none, g)
        #expect(upstream.loss == none.loss)
        S.expectClose(upstream.gradient, zip(t, g).map { -$0 * $1 }, 1e-15, "none + gradOutput")
    }

    /// Gibbs: KL of distributions is ≥ 0, and 0 exactly when x = log t.
    @Test func klOfDistributions() {
        let rows = 6, columns = 7
        let t = S.probabilities(rows: rows, columns: columns, zeros: [(1, 3), (4, 0)], seed: 821)
        let q = S.probabilities(rows: rows, columns: columns, seed: 822)
        let none = LossReference.klDivergence(input: q.map { Foundation.log($0) }, targets: t, rows: rows, columns: columns, reduction: .none)
        for n in 0..<rows { #expect(S.row(none.loss, n, columns).reduce(0, +) >= 0, "row \(n)") }
        let tx = t.map { $0 == 0 ? -5.0 : Foundation.log($0) }   // any x where t = 0
        let same = LossReference.klDivergence(input: tx, targets: t, rows: rows, columns: columns, reduction: .none)
        #expect(same.loss.allSatisfy { Swift.abs($0) <= 1e-16 }, "\(same.loss)")
    }

    @Test func klSpotValues() {
        // NumPy: x = log([[0.1,0.2,0.7],[0.5,0.25,0.25]]), t = [[0.3,0,0.7],[0.2,0.3,0.5]].
        let x = [0.1, 0.2, 0.7, 0.5, 0.25, 0.25].map { Foundation.log($0) }, t: [Double] = [0.3, 0, 0.7, 0.2, 0.3, 0.5]
        let none = LossReference.klDivergence(input: x, targets: t, rows: 2, columns: 3, reduction: .none)
        S.expectClose(none.loss, [0.3295836866004328, 0, 0, -0.183258146374831, 0.054696467038186335, 0.34657359027997264], 1e-14, "none")
        S.expectClose(LossReference.klDivergence(input: x, targets: t, rows: 2, columns: 3, reduction: .sum).loss, [0.5475955975437607], 1e-14, "sum")
        S.expectClose(
            LossReference.klDivergence(input: x, targets: t, rows: 2, columns: 3, reduction: .batchMean).loss, [0.2737977987718804], 1e-14, "batchmean")
        S.expectClose(LossReference.klDivergence(input: x, targets: t, rows: 2, columns: 3).loss, [0.09126593292396012], 1e-14, "mean (the default)")
    }

    /// The float32 forms widen exactly and then agree bit for bit with the Double forms.
    @Test func floatFormsWidenExactly() {
        let rows = 3, columns = 4, count = rows * columns
        var rng = TestRNG(seed: 901)
        let z = TestData.normal(count, scale: 3, rng: &rng)
        let t = (0..<count).map { _ in Float(rng.unit()) }
        let w = (0..<columns).map { _ in Float(0.2 + rng.unit()) }
        let gRows = TestData.normal(rows, rng: &rng), gElements = TestData.normal(count, rng: &rng)
        let zd = LossReference.widen(z), td = LossReference.widen(t), wd = LossReference.widen(w)
        let ce32 = LossReference.crossEntropy(
            logits: z, rows: rows, columns: columns, probabilityTargets: t, classWeights: w, labelSmoothing: 0.25,
            reduction: .none, gradOutput: gRows)
        let ce64 = LossReference.crossEntropy(
            logits: zd, rows: rows, columns: columns, probabilityTargets: td, classWeights: wd, labelSmoothing: 0.25,
            reduction: .none, gradOutput: LossReference.widen(gRows))
        #expect(ce32.loss == ce64.loss && ce32.gradient == ce64.gradient)
        let bce32 = LossReference.binaryCrossEntropyWithLogits(
            logits: z, targets: t, columns: columns, weights: t, posWeight: w, reduction: .none,
            gradOutput: gElements)
        let bce64 = LossReference.binaryCrossEntropyWithLogits(
            logits: zd, targets: td, columns: columns, weights: td, posWeight: wd, reduction: .none,
            gradOutput: LossReference.widen(gElements))
        #expect(bce32.loss == bce64.loss && bce32.gradient == bce64.gradient)
        let kl32 = LossReference.klDivergence(input: z, targets: t, rows: rows, columns: columns, reduction: .batchMean)
        let kl64 = LossReference.klDivergence(input: zd, targets: td, rows: rows, columns: columns, reduction: .batchMean)
        #expect(kl32.loss == kl64.loss && kl32.gradient == kl64.gradient)
        let nll32 = LossReference.nllLoss(logProbabilities: z, rows: rows, columns: columns, labels: [1, -100, 3], classWeights: w)
        let nll64 = LossReference.nllLoss(logProbabilities: zd, rows: rows, columns: columns, labels: [1, -100, 3], classWeights: wd)
        #expect(nll32.loss == nll64.loss && nll32.gradient == nll64.gradient)
    }
}

// MARK: - Masks, non-finite inputs

@Suite struct NewLossReferenceEdgeCaseTests {
    typealias FD = FiniteDifferenceTests
    typealias S = NewLossReferenceSupport

    /// A −∞ mask where the (smoothed) target is 0 contributes nothing (finite loss, gradient 0 at the
    /// mask); where the target is positive the loss is +∞ with a finite gradient (`−w_j·T'_j` at
    /// the mask); any smoothing makes every mask +∞.
    @Test func probabilityCrossEntropyMasks() {
        let z: [Double] = [2, -.infinity, 0.5, -1]
        let w: [Double] = [1, 2, 0.5, 1.5]
        let zeroTarget: [Double] = [0.5, 0, 0.25, 0.25]
        let a = LossReference.crossEntropy(logits: z, rows: 1, columns: 4, probabilityTargets: zeroTarget, classWeights: w, reduction: .sum)
        // Independently: the masked class drops out of the softmax.
        let logSum = Foundation.log(Foundation.exp(2.0) + Foundation.exp(0.5) + Foundation.exp(-1.0))
        let expected = -(0.5 * (2 - logSum) + 0.5 * 0.25 * (0.5 - logSum) + 1.5 * 0.25 * (-1 - logSum))
        #expect(S.close(a.loss[0], expected), "\(a.loss) vs \(expected)")
        #expect(a.gradient[1] == 0 && a.gradient.allSatisfy { $0.isFinite })

        let positiveTarget: [Double] = [0.5, 0.1, 0.2, 0.2]
        let b = LossReference.crossEntropy(logits: z, rows: 1, columns: 4, probabilityTargets: positiveTarget, classWeights: w, reduction: .sum)
        #expect(b.loss == [.infinity] && b.gradient.allSatisfy { $0.isFinite }, "\(b)")
        #expect(S.close(b.gradient[1], -2 * 0.1), "\(b.gradient)")
        let c = LossReference.crossEntropy(
            logits: z, rows: 1, columns: 4, probabilityTargets: zeroTarget, classWeights: w, labelSmoothing: 0.1,
            reduction: .mean)
        #expect(c.loss == [.infinity] && c.gradient.allSatisfy { $0.isFinite }, "\(c)")
        #expect(S.close(c.gradient[1], -2 * 0.1 / 4), "\(c.gradient)")
    }

    /// A row holding NaN or +∞, or all −∞, has loss NaN and an all-NaN gradient row; the other rows
    /// are what they would be alone; mean and sum are NaN.
    @Test func probabilityCrossEntropyNonFiniteRows() {
        let columns = 4
        let clean: [Double] = [1, -0.5, 2, 0.3]
        let t: [Double] = [0.1, 0.2, 0.3, 0.4]
        let w: [Double] = [0.5, 1, 1.5, 2]
        let alone = LossReference.crossEntropy(
            logits: clean, rows: 1, columns: columns, probabilityTargets: t, classWeights: w, reduction: .none,
            gradOutput: [3])
        let specials: [(String, [Double])] = [
            ("NaN", [0.2, .nan, 1, 0]), ("+∞", [0.2, .infinity, 1, 0]), ("all −∞", [Double](repeating: -.infinity, count: columns)),
            ("+∞ where the target is 0", [.infinity, 0, 1, 2]),
        ]
        for (name, special) in specials {
            let z = clean + special
            var targets = t + t
            if name.contains("target is 0") { targets[columns] = 0 }
            let none = LossReference.crossEntropy(
                logits: z, rows: 2, columns: columns, probabilityTargets: targets, classWeights: w, reduction: .none,
                gradOutput: [3, 0])
            #expect(none.loss[0] == alone.loss[0] && Array(none.gradient[0..<columns]) == alone.gradient, "\(name): clean row")
            #expect(none.loss[1].isNaN && none.gradient[columns...].allSatisfy { $0.isNaN }, "\(name): \(none)")
            for reduction in [LossReduction.mean, .sum] {
                let r = LossReference.crossEntropy(logits: z, rows: 2, columns: columns, probabilityTargets: targets, classWeights: w, reduction: reduction)
                #expect(
                    r.loss[0].isNaN && r.gradient[columns...].allSatisfy { $0.isNaN } && r.gradient[..<columns].allSatisfy { $0.isFinite },
                    "\(name) \(reduction)")
            }
        }
    }

    /// ℓ = 0 (gradient 0) wherever t = 0 or lt = −∞, whatever x holds; t > 0 with x = −∞ is +∞.
    @Test func klZeroTargets() {
        let x: [Double] = [-.infinity, .infinity, .nan, 0.3, -.infinity]
        let t: [Double] = [0, 0, 0, 0, 0.5]
        let plain = LossReference.klDivergence(input: x, targets: t, rows: 1, columns: 5, reduction: .none)
        #expect(Array(plain.loss[0..<4]) == [0, 0, 0, 0] && plain.loss[4] == .infinity, "\(plain.loss)")
        #expect(plain.gradient == [0, 0, 0, 0, -0.5], "\(plain.gradient)")
        let logForm = LossReference.klDivergence(input: x, targets: t.map { Foundation.log($0) }, rows: 1, columns: 5, logTarget: true, reduction: .none)
        #expect(Array(logForm.loss[0..<4]) == [0, 0, 0, 0] && logForm.loss[4] == .infinity, "\(logForm.loss)")
        #expect(S.close(logForm.gradient[4], -0.5) && Array(logForm.gradient[0..<4]) == [0, 0, 0, 0])
        // The reductions of the finite part only.
        let finite = LossReference.klDivergence(input: Array(x[0..<4]), targets: Array(t[0..<4]), rows: 2, columns: 2, reduction: .batchMean)
        #expect(finite.loss == [0] && finite.gradient == [0, 0, 0, 0])
    }

    /// Only x_{n,y_n} of a counted row is read: ignored rows and other entries may hold anything.
    /// A −∞ at the label gives +∞. A zero-weight denominator gives NaN (mean) with NaN only at the
    /// targets.
    @Test func nllNonFiniteAndZeroWeights() {
        let x: [Double] = [-1, .nan, .infinity, .nan, .nan, .nan, -.infinity, -2, -3]
        let r = LossReference.nllLoss(logProbabilities: x, rows: 3, columns: 3, labels: [0, -100, 2], reduction: .none)
        #expect(r.loss == [1, 0, 3] && r.gradient == [-1, 0, 0, 0, 0, 0, 0, 0, -1], "\(r)")
        let s = LossReference.nllLoss(logProbabilities: x, rows: 3, columns: 3, labels: [0, -100, 0], reduction: .sum)
        #expect(s.loss == [.infinity] && s.gradient == [-1, 0, 0, 0, 0, 0, -1, 0, 0], "\(s)")
        let zeroWeights = LossReference.nllLoss(logProbabilities: [-1, -2, -3, -4] as [Double], rows: 2, columns: 2, labels: [1, 1], classWeights: [1, 0])
        #expect(zeroWeights.loss[0].isNaN, "\(zeroWeights.loss)")
        #expect(
            zeroWeights.gradient[0] == 0 && zeroWeights.gradient[2] == 0 && zeroWeights.gradient[1].isNaN && zeroWeights.gradient[3].isNaN,
            "\(zeroWeights.gradient)")
    }
}
