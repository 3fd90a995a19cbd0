import Foundation
import Testing

@testable import LossKernels

/// Bitwise determinism of every loss and head that `DeterminismTests` (softmax family, reductions)
/// does not cover: cross-entropy, focal, BCE with logits, sigmoid focal, the six regression losses
/// (matrix and buffer forms), the margin heads (every kind, one tile and several), contrastive,
/// triplet margin, mined triplet (batchAll, batchHard) and center loss.
///
/// "Results do not depend on the thread count" (`Engine.init`, `CPUThreads`), and the same input on
/// the same backend gives the same bits every run. Every output of a call is compared by
/// `bitPattern`: the loss values, every gradient, the updated centers, the mined triplet count.
///
/// - CPU, shapes that split work over threads (cross-entropy and focal 2×100,000 and 64×3,000,
///   elementwise losses over 401×499 values, mse over 1,000,003 and 2,200,001 (non-temporal
///   stores), margin heads 64×3,000×32 in one tile and in 4, contrastive/triplet/center over
///   1,024×64, mined triplets over 300 rows): identical bits with `cpuThreads` 1, 2, 3 and 5, and
///   across three runs on one engine.
/// - Every baseline is checked to carry information (no empty or all-zero output, finite values,
///   a positive triplet count), so a comparison cannot pass vacuously; and every call must report
///   the backend it was meant to run on.
/// - OpenCL (PoCL here), small shapes (tiled heads in 4 tiles too): identical bits across three runs
///   on one engine.
/// - Buffer forms whose output buffers are reused and hold stale values give the matrix form's bits.
@Suite struct DeterminismAllOperationsTests {
    // MARK: Outputs

    /// Every output of one call, by name, and the backend that ran it.
    struct Outputs: Sendable {
        var floats: [(name: String, values: [Float])] = []
        /// Exact integer outputs: the mined triplet count, a reduction's winning indices.
        var counts: [(name: String, values: [Int])] = []
        var backend: Backend

        init(backend: Backend) { self.backend = backend }

        mutating func add(_ name: String, _ values: [Float]) { floats.append((name, values)) }
        mutating func add(_ name: String, _ values: [Int]) { counts.append((name, values)) }

        init(_ o: LossOutput) {
            backend = o.backend
            add("loss", o.loss)
            add("gradient", o.gradient.values)
        }

        init(_ o: Engine.MarginSoftmaxOutput) {
            backend = o.backend
            add("loss", o.loss)
            add("gradFeatures", o.gradFeatures.values)
            add("gradClassWeights", o.gradClassWeights.values)
        }

        init(_ o: Engine.PairLossOutput) {
            backend = o.backend
            add("loss", o.loss)
            add("gradLeft", o.gradLeft.values)
            add("gradRight", o.gradRight.values)
        }

        init(_ o: Engine.TripletLossOutput) {
            backend = o.backend
            add("loss", o.loss)
            add("gradAnchors", o.gradAnchors.values)
            add("gradPositives", o.gradPositives.values)
            add("gradNegatives", o.gradNegatives.values)
        }

        init(_ o: Engine.MinedTripletOutput) {
            backend = o.backend
            add("loss", [o.loss])
            add("gradEmbeddings", o.gradEmbeddings.values)
            add("tripletCount", [o.tripletCount])
        }

        init(_ o: Engine.CenterLossOutput) {
            backend = o.backend
            add("loss", [o.loss])
            add("gradFeatures", o.gradFeatures.values)
            add("updatedCenters", o.updatedCenters.values)
        }

        /// The first way `self` differs from `expected` (names, counts, or any value's bits), or nil
        /// when they are identical. Usable off the test's task (it records nothing).
        func firstDifference(from expected: Outputs) -> String? {
            guard floats.map(\.name) == expected.floats.map(\.name) else {
                return "outputs \(floats.map(\.name)) vs expected \(expected.floats.map(\.name))"
            }
            for (x, y) in zip(floats, expected.floats) {
                guard x.values.count == y.values.count else { return "\(x.name): \(x.values.count) values vs \(y.values.count)" }
                let same = x.values.withUnsafeBytes { a in
                    y.values.withUnsafeBytes { b in a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 }
                }
                if same { continue }
                let i = x.values.indices.first { x.values[$0].bitPattern != y.values[$0].bitPattern }!
                let bad = zip(x.values, y.values).reduce(0) { $0 + ($1.0.bitPattern != $1.1.bitPattern ? 1 : 0) }
                return "\(x.name): \(bad) of \(x.values.count) values differ bitwise; first at \(i): \(x.values[i]) "
                    + "(0x\(String(x.values[i].bitPattern, radix: 16))) vs expected \(y.values[i]) (0x\(String(y.values[i].bitPattern, radix: 16)))"
            }
            guard counts.map(\.name) == expected.counts.map(\.name) else {
                return "integer outputs \(counts.map(\.name)) vs expected \(expected.counts.map(\.name))"
            }
            for (x, y) in zip(counts, expected.counts) where x.values != y.values {
                guard x.values.count == y.values.count else { return "\(x.name): \(x.values.count) values vs \(y.values.count)" }
                let i = x.values.indices.first { x.values[$0] != y.values[$0] }!
                return "\(x.name): first difference at \(i): \(x.values[i]) vs expected \(y.values[i])"
            }
            return nil
        }

        /// Why these outputs cannot show a difference (an empty or all-zero output, a non-finite
        /// loss, nothing mined), or nil when every output carries information.
        var vacuity: String? {
            if floats.isEmpty { return "no outputs" }
            for (name, values) in floats {
                if values.isEmpty { return "\(name) is empty" }
                if !values.contains(where: { $0 != 0 }) { return "\(name) is all zero" }
                if let bad = values.firstIndex(where: { !$0.isFinite }) { return "\(name)[\(bad)] = \(values[bad])" }
            }
            for (name, values) in counts where values.isEmpty || (name == "tripletCount" && values[0] <= 0) { return "\(name) = \(values)" }
            return nil
        }
    }

    /// One operation with fixed inputs, runnable on any engine.
    struct Call: Sendable, CustomTestStringConvertible {
        let name: String
        let run: @Sendable (Engine) throws -> Outputs

        init(_ name: String, _ run: @escaping @Sendable (Engine) throws -> Outputs) {
            self.name = name
            self.run = run
        }

        var testDescription: String { name }
    }

    // MARK: Inputs

    /// Seeded input data.
    enum Make {
        static func normal(_ rows: Int, _ columns: Int, seed: UInt64, scale: Double = 1) -> Matrix {
            var rng = TestRNG(seed: seed)
            return try! Matrix(rows: rows, columns: columns, values: TestData.normal(rows * columns, scale: scale, rng: &rng))
        }

        static func uniform(_ rows: Int, _ columns: Int, seed: UInt64, in range: ClosedRange<Double>) -> Matrix {
            var rng = TestRNG(seed: seed)
            let values = (0..<rows * columns).map { _ in Float(range.lowerBound + (range.upperBound - range.lowerBound) * rng.unit()) }
            return try! Matrix(rows: rows, columns: columns, values: values)
        }

        static func values(_ count: Int, seed: UInt64, in range: ClosedRange<Double>) -> [Float] {
            uniform(1, count, seed: seed, in: range).values
        }

        static func labels(_ count: Int, classes: Int, seed: UInt64) -> [Int] {
            var rng = TestRNG(seed: seed)
            return (0..<count).map { _ in rng.index(classes) }
        }

        /// `b` normal embeddings of `d` values in which every 7th row repeats the previous one
        /// exactly (ties and zero distances for the miner).
        static func embeddings(_ b: Int, _ d: Int, seed: UInt64) -> Matrix {
            var e = normal(b, d, seed: seed)
            for r in stride(from: 7, to: b, by: 7) {
                for j in 0..<d { e[r, j] = e[r - 1, j] }
            }
            return e
        }
    }

    /// Shapes of one input set: `large` splits every operation over threads on the CPU, `small`
    /// keeps PoCL fast.
    enum Profile: String, Sendable {
        case large, small
    }

    /// Every input of every call of one profile, built once per process, on first use.
    struct Workload: Sendable {
        let profile: Profile
        // Softmax losses: `wide` has few rows and many classes, `tall` many rows.
        let wide: Matrix, wideLabels: [Int], wideWeights: [Float], wideGrad: [Float], wideAlpha: [Float]
        let tall: Matrix, tallLabels: [Int], tallGrad: [Float]
        // Elementwise losses.
        let logits: Matrix, binaryTargets: Matrix, softTargets: Matrix
        let predictions: Matrix, targets: Matrix, positivePredictions: Matrix, positiveTargets: Matrix, elementGrad: Matrix
        let msePredictions: Matrix, mseTargets: Matrix
        let streamingPredictions: Matrix?, streamingTargets: Matrix?
        // Margin heads.
        let features: Matrix, classWeights: Matrix, headLabels: [Int], headGrad: [Float], tileBudget: Int, expectedTiles: Int
        // Metric losses.
        let left: Matrix, right: Matrix, similar: [Bool], pairGrad: [Float], pairMargin: Float
        let anchors: Matrix, positives: Matrix, negatives: Matrix
        let embeddings: Matrix, embeddingLabels: [Int]
        let centerFeatures: Matrix, centerLabels: [Int], centers: Matrix, fewCenters: Matrix, fewCenterLabels: [Int]

        init(_ profile: Profile) {
            self.profile = profile
            let large = profile == .large
            // Softmax losses.
            let (wb, wc) = large ? (2, 100_000) : (5, 300)
            wide = Make.normal(wb, wc, seed: 101, scale: 4)
            wideLabels = Make.labels(wb, classes: wc, seed: 102)
            wideWeights = Make.values(wc, seed: 103, in: 0.25...2)
            wideGrad = Make.values(wb, seed: 104, in: -1...2)
            wideAlpha = Make.values(wc, seed: 105, in: 0.1...1)
            let (tb, tc) = large ? (64, 3_000) : (7, 64)
            tall = Make.normal(tb, tc, seed: 111, scale: 3)
            var labels = Make.labels(tb, classes: tc, seed: 112)
            labels[1] = -100   // ignored with the default ignoreIndex
            tallLabels = labels
            tallGrad = Make.values(tb, seed: 113, in: -1...2)
            // Elementwise losses: 401×499 = 200,099 values, 13 blocks of CPUSoftmax.blockLength (the last
            // one ragged), split over every thread count; mse also over 1,000,003 values (a prime).
            let (er, ec) = large ? (401, 499) : (17, 59)
            logits = Make.normal(er, ec, seed: 121, scale: 3)
            binaryTargets = try! Matrix(rows: er, columns: ec, values: Make.values(er * ec, seed: 122, in: 0...1).map { $0 < 0.3 ? 1 : 0 })
            softTargets = Make.uniform(er, ec, seed: 123, in: 0...1)
            predictions = Make.normal(er, ec, seed: 124, scale: 2)
            targets = Make.normal(er, ec, seed: 125, scale: 2)
            positivePredictions = Make.uniform(er, ec, seed: 126, in: 0.01...5)
            positiveTargets = Make.uniform(er, ec, seed: 127, in: 0.5...5)
            elementGrad = Make.uniform(er, ec, seed: 128, in: -1...2)
            let mseCount = large ? 1_000_003 : 1_003
            msePredictions = Make.uniform(1, mseCount, seed: 135, in: -3...3)
            mseTargets = Make.uniform(1, mseCount, seed: 136, in: -3...3)
            // Past CPUSoftmax.streamingThreshold (8 MiB of floats): the non-temporal store path.
            streamingPredictions = large ? Make.uniform(1, 2_200_001, seed: 129, in: -3...3) : nil
            streamingTargets = large ? Make.uniform(1, 2_200_001, seed: 130, in: -3...3) : nil
            // Margin heads.
            let (hb, hc, hd) = large ? (64, 3_000, 32) : (8, 50, 16)
            features = Make.normal(hb, hd, seed: 131)
            classWeights = Make.normal(hc, hd, seed: 132)
            headLabels = Make.labels(hb, classes: hc, seed: 133)
            headGrad = Make.values(hb, seed: 134, in: -1...2)
            // Tiles of max(1, budget / (4·B)) classes: 900 of 3,000 (4 tiles, the last 300), 16 of 50 (4, the last 2).
            let tileColumns = large ? 900 : 16
            tileBudget = 4 * hb * tileColumns
            expectedTiles = (hc + tileColumns - 1) / tileColumns
            // Metric losses: 1,024×64 = 65,536 values, past CPUMetricLosses.parallelMinimumElements.
            let (mb, md) = large ? (1_024, 64) : (16, 8)
            left = Make.normal(mb, md, seed: 141)
            right = Make.normal(mb, md, seed: 142)
            similar = Make.labels(mb, classes: 2, seed: 143).map { $0 == 1 }
            pairGrad = Make.values(mb, seed: 144, in: -1...2)
            pairMargin = Float((2.0 * Double(md)).squareRoot())   // near the typical distance: the hinge is active for some pairs only
            anchors = Make.normal(mb, md, seed: 151)
            let noise = Make.normal(mb, md, seed: 152, scale: 1.35)   // d(a,p) near d(a,n): some hinges active, some not
            positives = try! Matrix(rows: mb, columns: md, values: zip(anchors.values, noise.values).map { $0 + $1 })
            negatives = Make.normal(mb, md, seed: 153)
            let (eb, ed, classes) = large ? (300, 16, 12) : (24, 8, 4)
            embeddings = Make.embeddings(eb, ed, seed: 161)
            embeddingLabels = Make.labels(eb, classes: classes, seed: 162)
            let centerClasses = large ? 600 : 6   // 600×64 = 38,400: the center update is split over threads too
            centerFeatures = Make.normal(mb, md, seed: 171)
            centerLabels = Make.labels(mb, classes: centerClasses, seed: 172)
            centers = Make.normal(centerClasses, md, seed: 173, scale: 0.5)
            fewCenters = Make.normal(10, md, seed: 174, scale: 0.5)
            fewCenterLabels = Make.labels(mb, classes: 10, seed: 175)
        }

        static let large = Workload(.large)
        static let small = Workload(.small)
    }

    static func workload(_ profile: Profile) -> Workload {
        switch profile {
        case .large: return Workload.large
        case .small: return Workload.small
        }
    }

    static let heads: [(String, MarginHead)] = [
        ("normalized", .normalized(scale: 16)),
        ("cosFace", .cosFace(scale: 16)),
        ("cosFace detached", .cosFace(scale: 16, gradient: .detached)),
        ("arcFace", .arcFace(scale: 16)),
        ("arcFace easy", .arcFace(scale: 16, easyMargin: true)),
        ("combined", .combined(scale: 16)),
        ("sphereFace λ=5", .sphereFace(margin: 4, scale: 1, lambda: 5)),
        ("largeMargin λ=5", .largeMargin(margin: 3, lambda: 5)),
    ]

    /// Every call of one profile. Inputs are read (and built, once) when a call runs.
    static func calls(_ profile: Profile) -> [Call] {
        let p = profile
        @Sendable func w() -> Workload { workload(p) }
        let size = p == .large ? "large" : "small"
        var calls: [Call] = [
            // Softmax losses.
            Call("crossEntropy wide ε=0.1 classWeights mean (\(size))") { e in
                Outputs(try e.crossEntropy(logits: w().wide, labels: w().wideLabels, classWeights: w().wideWeights, labelSmoothing: 0.1))
            },
            Call("crossEntropy wide none gradOutput (\(size))") { e in
                Outputs(try e.crossEntropy(logits: w().wide, labels: w().wideLabels, reduction: .none, gradOutput: w().wideGrad))
            },
            Call("crossEntropy tall ε=0.2 ignoreIndex sum (\(size))") { e in
                Outputs(try e.crossEntropy(logits: w().tall, labels: w().tallLabels, labelSmoothing: 0.2, reduction: .sum))
            },
            Call("focalLoss wide γ=2 α per class mean (\(size))") { e in
                Outputs(try e.focalLoss(logits: w().wide, labels: w().wideLabels, gamma: 2, alpha: .perClass(w().wideAlpha)))
            },
            Call("focalLoss tall γ=1.5 α=0.25 none gradOutput (\(size))") { e in
                let labels = w().tallLabels.map { max($0, 0) }   // focal has no ignoreIndex
                return Outputs(try e.focalLoss(logits: w().tall, labels: labels, gamma: 1.5, alpha: .scalar(0.25), reduction: .none, gradOutput: w().tallGrad))
            },
            // Binary losses.
            Call("binaryCrossEntropyWithLogits soft targets mean (\(size))") { e in
                Outputs(try e.binaryCrossEntropyWithLogits(logits: w().logits, targets: w().softTargets))
            },
            Call("binaryCrossEntropyWithLogits none gradOutput (\(size))") { e in
                Outputs(try e.binaryCrossEntropyWithLogits(logits: w().logits, targets: w().binaryTargets, reduction: .none, gradOutput: w().elementGrad))
            },
            Call("sigmoidFocalLoss γ=2 α=0.25 mean (\(size))") { e in
                Outputs(try e.sigmoidFocalLoss(logits: w().logits, targets: w().binaryTargets, gamma: 2, alpha: 0.25))
            },
            Call("sigmoidFocalLoss γ=0.5 no α sum, soft targets (\(size))") { e in
                Outputs(try e.sigmoidFocalLoss(logits: w().logits, targets: w().softTargets, gamma: 0.5, alpha: -1, reduction: .sum))
            },
            // Regression losses.
            Call("regression mse mean, \(p == .large ? "1,000,003" : "1,003") values") { e in
                Outputs(try e.regressionLoss(.mse, predictions: w().msePredictions, targets: w().mseTargets))
            },
            Call("regression mse sum (\(size))") { e in
                Outputs(try e.mseLoss(predictions: w().predictions, targets: w().targets, reduction: .sum))
            },
            Call("regression l1 mean (\(size))") { e in
                Outputs(try e.regressionLoss(.l1, predictions: w().predictions, targets: w().targets))
            },
            Call("regression smoothL1 β=0.5 mean (\(size))") { e in
                Outputs(try e.regressionLoss(.smoothL1(beta: 0.5), predictions: w().predictions, targets: w().targets))
            },
            Call("regression huber δ=0.7 none gradOutput (\(size))") { e in
                Outputs(
                    try e.regressionLoss(.huber(delta: 0.7), predictions: w().predictions, targets: w().targets, reduction: .none, gradOutput: w().elementGrad))
            },
            Call("regression msle mean (\(size))") { e in
                Outputs(try e.regressionLoss(.msle, predictions: w().positivePredictions, targets: w().positiveTargets))
            },
            Call("regression mape sum (\(size))") { e in
                Outputs(try e.regressionLoss(.mape, predictions: w().positivePredictions, targets: w().positiveTargets, reduction: .sum))
            },
            Call("regression buffer form huber δ=1.5 mean (\(size))") { e in
                let input = w()
                var gradient = [Float](repeating: 0, count: input.predictions.count)
                let (loss, backend) = try input.predictions.values.withUnsafeBufferPointer { x in
                    try input.targets.values.withUnsafeBufferPointer { t in
                        try gradient.withUnsafeMutableBufferPointer { try e.regressionLoss(.huber(delta: 1.5), predictions: x, targets: t, gradient: $0) }
                    }
                }
                var out = Outputs(backend: backend)
                out.add("loss", loss)
                out.add("gradient", gradient)
                return out
            },
        ]
        if p == .large {
            calls.append(
                Call("regression mse mean, 2,200,001 values (streaming stores)") { e in
                    Outputs(try e.regressionLoss(.mse, predictions: w().streamingPredictions!, targets: w().streamingTargets!))
                })
        }
        // Margin heads: every kind in one tile and in several.
        for (name, head) in heads {
            calls.append(
                Call("marginSoftmax \(name) one tile mean (\(size))") { e in
                    Outputs(try e.marginSoftmax(features: w().features, classWeights: w().classWeights, labels: w().headLabels, head: head))
                })
            calls.append(
                Call("marginSoftmax \(name) tiled mean (\(size))") { e in
                    Outputs(
                        try e.marginSoftmax(
                            features: w().features, classWeights: w().classWeights, labels: w().headLabels, head: head, memoryBudget: w().tileBudget))
                })
        }
        calls += [
            Call("marginSoftmax arcFace tiled none gradOutput (\(size))") { e in
                Outputs(
                    try e.marginSoftmax(
                        features: w().features, classWeights: w().classWeights, labels: w().headLabels, head: .arcFace(scale: 16),
                        reduction: .none, gradOutput: w().headGrad, memoryBudget: w().tileBudget))
            },
            Call("marginSoftmax sphereFace tiled sum (\(size))") { e in
                Outputs(
                    try e.marginSoftmax(
                        features: w().features, classWeights: w().classWeights, labels: w().headLabels, head: .sphereFace(lambda: 5),
                        reduction: .sum, memoryBudget: w().tileBudget))
            },
            // Metric losses.
            Call("contrastiveLoss mean (\(size))") { e in
                Outputs(try e.contrastiveLoss(left: w().left, right: w().right, similar: w().similar, margin: w().pairMargin))
            },
            Call("contrastiveLoss none gradOutput (\(size))") { e in
                Outputs(
                    try e.contrastiveLoss(
                        left: w().left, right: w().right, similar: w().similar, margin: w().pairMargin, reduction: .none, gradOutput: w().pairGrad))
            },
            Call("tripletMarginLoss p=2 mean (\(size))") { e in
                Outputs(try e.tripletMarginLoss(anchors: w().anchors, positives: w().positives, negatives: w().negatives))
            },
            Call("tripletMarginLoss p=1 swap sum (\(size))") { e in
                Outputs(
                    try e.tripletMarginLoss(
                        anchors: w().anchors, positives: w().positives, negatives: w().negatives, margin: 2, p: 1, swap: true, reduction: .sum))
            },
            Call("tripletMarginLoss p=2 swap none gradOutput (\(size))") { e in
                Outputs(
                    try e.tripletMarginLoss(
                        anchors: w().anchors, positives: w().positives, negatives: w().negatives, swap: true,
                        reduction: .none, gradOutput: w().pairGrad))
            },
            Call("minedTripletLoss batchAll (\(size))") { e in
                Outputs(try e.minedTripletLoss(embeddings: w().embeddings, labels: w().embeddingLabels, mining: .batchAll))
            },
            Call("minedTripletLoss batchAll margin 0.2 (\(size))") { e in
                Outputs(try e.minedTripletLoss(embeddings: w().embeddings, labels: w().embeddingLabels, mining: .batchAll, margin: 0.2))
            },
            Call("minedTripletLoss batchHard (\(size))") { e in
                Outputs(try e.minedTripletLoss(embeddings: w().embeddings, labels: w().embeddingLabels, mining: .batchHard))
            },
            Call("centerLoss α=0.5 many classes (\(size))") { e in
                Outputs(try e.centerLoss(features: w().centerFeatures, labels: w().centerLabels, centers: w().centers))
            },
            Call("centerLoss α=0.3 10 classes (\(size))") { e in
                Outputs(try e.centerLoss(features: w().centerFeatures, labels: w().fewCenterLabels, centers: w().fewCenters, alpha: 0.3))
            },
        ]
        return calls
    }

    static let largeCalls = calls(.large)
    static let smallCalls = calls(.small)

    // MARK: Engines

    static let threadCounts = [1, 2, 3, 5]
    /// One `.cpu` engine per thread count, shared by the cases.
    static let cpuEngines: [Int: Engine] = Dictionary(uniqueKeysWithValues: threadCounts.map { ($0, try! Engine(policy: .cpu, cpuThreads: $0)) })

    /// Runs `call` on `engine`, expecting it to run on `backend` and to give outputs that can show a
    /// difference.
    /// `baseline`: also check that the outputs can show a difference (the others are compared with it).
    static func run(
        _ call: Call, on engine: Engine, _ backend: TestBackend, _ context: String, baseline: Bool = false,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Outputs {
        let out = try call.run(engine)
        #expect(out.backend == backend.expected, "\(call.name) \(context): ran on \(out.backend)", sourceLocation: sourceLocation)
        if baseline, let why = out.vacuity { Issue.record("\(call.name) \(context): outputs cannot show a difference: \(why)", sourceLocation: sourceLocation) }
        return out
    }

    static func expectIdentical(_ actual: Outputs, _ expected: Outputs, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(actual.floats.map(\.name) == expected.floats.map(\.name), "\(context)", sourceLocation: sourceLocation)
        for (x, y) in zip(actual.floats, expected.floats) {
            expectBitwiseEqual(x.values, y.values, "\(x.name): \(context)", sourceLocation: sourceLocation)
        }
        #expect(actual.counts.map(\.name) == expected.counts.map(\.name), "\(context)", sourceLocation: sourceLocation)
        for (x, y) in zip(actual.counts, expected.counts) {
            #expect(x.values == y.values, "\(x.name): \(context)", sourceLocation: sourceLocation)
        }
    }

    // MARK: Tests

    @Test("CPU: cpuThreads 1, 2, 3 and 5 give the same bits", arguments: largeCalls)
    func cpuThreadCountsGiveIdenticalBits(_ call: Call) throws {
        let baseline = try Self.run(call, on: Self.cpuEngines[1]!, .cpu, "1 thread", baseline: true)
        for threads in Self.threadCounts.dropFirst() {
            let engine = Self.cpuEngines[threads]!
            #expect(engine.cpuThreads == threads)
            Self.expectIdentical(try Self.run(call, on: engine, .cpu, "\(threads) threads"), baseline, "\(call.name): \(threads) threads vs 1")
        }
    }

    @Test("CPU: repeated runs on one engine give the same bits", arguments: largeCalls)
    func cpuRepeatedRunsGiveIdenticalBits(_ call: Call) throws {
        let engine = Self.cpuEngines[3]!
        let first = try Self.run(call, on: engine, .cpu, "run 1", baseline: true)
        for run in 2...3 {
            Self.expectIdentical(try Self.run(call, on: engine, .cpu, "run \(run)"), first, "\(call.name): 3 threads, run \(run) vs run 1")
        }
    }

    @Test("OpenCL: repeated runs on one engine give the same bits", arguments: smallCalls)
    func openCLRepeatedRunsGiveIdenticalBits(_ call: Call) throws {
        let engine = try Backends.engine(for: .opencl)
        let first = try Self.run(call, on: engine, .opencl, "run 1", baseline: true)
        for run in 2...3 {
            Self.expectIdentical(try Self.run(call, on: engine, .opencl, "run \(run)"), first, "\(call.name): OpenCL run \(run) vs run 1")
        }
    }

    /// The tiled inputs really are tiled: the budget gives the tile count the cases claim.
    @Test(arguments: [Profile.large, .small])
    func tiledCasesUseSeveralTiles(_ profile: Profile) {
        let w = Self.workload(profile)
        let columns = MarginSoftmaxProblem.tileColumns(rows: w.features.rows, classes: w.classWeights.rows, budget: w.tileBudget)
        #expect((w.classWeights.rows + columns - 1) / columns == w.expectedTiles)
        #expect(w.expectedTiles >= 3)
    }

    /// The buffer forms (`crossEntropy`, `focalLoss`, `regressionLoss`, `marginSoftmax`) write
    /// every value of their output buffers: reused buffers holding stale values (NaN, then the
    /// previous call's results) give the matrix form's bits.
    @Test(arguments: [(TestBackend.cpu, Profile.large), (.cpu, .small), (.opencl, .small)])
    func bufferFormsOverwriteStaleOutputs(_ backend: TestBackend, _ profile: Profile) throws {
        let engine = try Backends.engine(for: backend)
        let w = Self.workload(profile)
        let context = "\(backend) \(profile)"

        // Cross-entropy and focal loss into one gradient buffer, filled with NaN first.
        let ce = try engine.crossEntropy(logits: w.wide, labels: w.wideLabels, classWeights: w.wideWeights, labelSmoothing: 0.1)
        let focal = try engine.focalLoss(logits: w.wide, labels: w.wideLabels, gamma: 2, alpha: .perClass(w.wideAlpha))
        var gradient = [Float](repeating: .nan, count: w.wide.count)
        for round in 1...2 {
            let (loss, ran) = try w.wide.values.withUnsafeBufferPointer { z in
                try gradient.withUnsafeMutableBufferPointer {
                    try engine.crossEntropy(
                        logits: z, rows: w.wide.rows, columns: w.wide.columns, labels: w.wideLabels, classWeights: w.wideWeights,
                        labelSmoothing: 0.1, gradient: $0)
                }
            }
            #expect(ran == backend.expected)
            expectBitwiseEqual(loss, ce.loss, "crossEntropy buffer form loss, round \(round), \(context)")
            expectBitwiseEqual(gradient, ce.gradient.values, "crossEntropy buffer form gradient, round \(round), \(context)")
            let (focalLoss, _) = try w.wide.values.withUnsafeBufferPointer { z in
                try gradient.withUnsafeMutableBufferPointer {
                    try engine.focalLoss(
                        logits: z, rows: w.wide.rows, columns: w.wide.columns, labels: w.wideLabels, gamma: 2, alpha: .perClass(w.wideAlpha), gradient: $0)
                }
            }
            expectBitwiseEqual(focalLoss, focal.loss, "focalLoss buffer form loss, round \(round), \(context)")
            expectBitwiseEqual(gradient, focal.gradient.values, "focalLoss buffer form gradient, round \(round), \(context)")
        }

        // Regression: the buffer form against the matrix form, stale gradient buffer.
        let smooth = try engine.regressionLoss(.smoothL1(beta: 0.5), predictions: w.predictions, targets: w.targets, reduction: .sum)
        var regressionGradient = [Float](repeating: .nan, count: w.predictions.count)
        for round in 1...2 {
            let (loss, _) = try w.predictions.values.withUnsafeBufferPointer { x in
                try w.targets.values.withUnsafeBufferPointer { t in
                    try regressionGradient.withUnsafeMutableBufferPointer {
                        try engine.regressionLoss(.smoothL1(beta: 0.5), predictions: x, targets: t, reduction: .sum, gradient: $0)
                    }
                }
            }
            expectBitwiseEqual(loss, smooth.loss, "smoothL1 buffer form loss, round \(round), \(context)")
            expectBitwiseEqual(regressionGradient, smooth.gradient.values, "smoothL1 buffer form gradient, round \(round), \(context)")
        }

        // Margin head, tiled: stale gradient buffers, an arcFace call then a cosFace call into the same buffers.
        var gradFeatures = [Float](repeating: .nan, count: w.features.count)
        var gradWeights = [Float](repeating: .nan, count: w.classWeights.count)
        for head in [MarginHead.arcFace(scale: 16), .cosFace(scale: 16)] {
            let expected = try engine.marginSoftmax(
                features: w.features, classWeights: w.classWeights, labels: w.headLabels, head: head, memoryBudget: w.tileBudget)
            let (loss, ran) = try w.features.values.withUnsafeBufferPointer { x in
                try w.classWeights.values.withUnsafeBufferPointer { cw in
                    try gradFeatures.withUnsafeMutableBufferPointer { dx in
                        try gradWeights.withUnsafeMutableBufferPointer { dw in
                            try engine.marginSoftmax(
                                features: x, classWeights: cw, rows: w.features.rows, classes: w.classWeights.rows, dimension: w.features.columns,
                                labels: w.headLabels, head: head, memoryBudget: w.tileBudget, gradFeatures: dx, gradClassWeights: dw)
                        }
                    }
                }
            }
            #expect(ran == backend.expected)
            expectBitwiseEqual(loss, expected.loss, "marginSoftmax \(head.kind) buffer form loss, \(context)")
            expectBitwiseEqual(gradFeatures, expected.gradFeatures.values, "marginSoftmax \(head.kind) buffer form gradFeatures, \(context)")
            expectBitwiseEqual(gradWeights, expected.gradClassWeights.values, "marginSoftmax \(head.kind) buffer form gradClassWeights, \(context)")
        }
    }
}
