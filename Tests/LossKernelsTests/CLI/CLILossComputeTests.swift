import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// `losskernels compute` for the losses (cross-entropy, focal, sigmoid-focal, bce-with-logits,
/// margin-softmax) end to end on tiny arrays: the files, their shapes and dtypes, values against the
/// library called in-process (itself checked against the float64 reference by the loss suites) or,
/// for the margin heads, against `HeadLossReference`; refused inputs (exit 1 or 2, no files).
@Suite struct CLILossComputeTests {
    // MARK: Files

    /// A folder of input files and an output folder inside it; removed by `deinit`-less callers via `defer`.
    struct Workspace {
        let folder: URL
        init() throws { folder = try CLIRunner.temporaryFolder() }
        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

        /// Writes `values` as a float32 .npy of `shape`.
        func floats(_ name: String, _ shape: [Int], _ values: [Float]) throws -> String {
            try Data(NPYFile.encode(NPYArray(shape: shape, float32: values))).write(to: folder.appendingPathComponent(name))
            return path(name)
        }

        /// Writes `values` as an int64 (`<i8`) .npy of `shape`.
        func labels(_ name: String, _ shape: [Int], _ values: [Int]) throws -> String {
            try Data(NPYFile.encode(NPYArray(shape: shape, int64: values.map(Int64.init)))).write(to: folder.appendingPathComponent(name))
            return path(name)
        }

        /// Writes `values` as an int32 (`<i4`) .npy, 1-d (NPYFile only writes `<i8`, so the header is built here).
        func int32Labels(_ name: String, _ values: [Int32]) throws -> String {
            var dict = Array("{'descr': '<i4', 'fortran_order': False, 'shape': (\(values.count),), }".utf8)
            let padding = 64 - ((10 + dict.count + 1) % 64)
            dict += Array(repeating: UInt8(ascii: " "), count: padding) + [UInt8(ascii: "\n")]
            var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(dict.count & 0xff), UInt8(dict.count >> 8)] + dict
            for v in values { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
            try Data(bytes).write(to: folder.appendingPathComponent(name))
            return path(name)
        }

        /// The float32 array written at `name` under `out`; fails the test for another dtype.
        func read(_ out: String, _ name: String) throws -> (shape: [Int], values: [Float]) {
            let array = try NPYFile.read(path: (out as NSString).appendingPathComponent(name))
            guard case .float32(let values) = array.elements else {
                Issue.record("\(name) is not float32")
                return (array.shape, [])
            }
            return (array.shape, values)
        }

        func files(_ out: String) -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).sorted()
        }

        func remove() { try? FileManager.default.removeItem(at: folder) }
    }

    /// Runs `compute` and expects success.
    private func compute(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try CLIRunner.run(["compute"] + arguments)
        #expect(result.status == 0, "\(arguments): stderr: \(result.stderr)", sourceLocation: sourceLocation)
    }

    private static func requireBackend(_ backend: String) throws {
        if backend == "opencl" { try Backends.requireOpenCL() }
    }

    private static func widen(_ x: [Float]) -> [Double] { x.map(Double.init) }

    // MARK: Softmax losses

    @Test(arguments: ["cpu", "opencl"])
    func crossEntropyMatchesLibrary(backend: String) throws {
        try Self.requireBackend(backend)
        let ws = try Workspace()
        defer { ws.remove() }
        var rng = TestRNG(seed: 11)
        let (b, c) = (4, 5)
        let z = TestData.normal(b * c, scale: 3, rng: &rng)
        let y = [3, -100, 0, 4]
        let w: [Float] = [1, 0.5, 2, 1.5, 0.25]
        let g: [Float] = [0.5, -1, 2, 1]
        let logits = try ws.floats("z.npy", [b, c], z)
        let labels = try ws.labels("y.npy", [b], y)
        let weights = try ws.floats("w.npy", [c], w)
        let grad = try ws.floats("g.npy", [b], g)
        let engine = Backends.cpuEngine
        let matrix = try Matrix(rows: b, columns: c, values: z)

        let mean = ws.path("mean")
        try compute([
            "cross-entropy", "--logits", logits, "--labels", labels, "--class-weights", weights, "--label-smoothing", "0.1",
            "--output-dir", mean, "--backend", backend,
        ])
        #expect(ws.files(mean) == ["grad_logits.npy", "loss.npy"])
        let expected = try engine.crossEntropy(logits: matrix, labels: y, classWeights: w, labelSmoothing: 0.1)
        let loss = try ws.read(mean, "loss.npy"), dz = try ws.read(mean, "grad_logits.npy")
        #expect(loss.shape == [])
        #expect(dz.shape == [b, c])
        expectClose(loss.values, Self.widen(expected.loss), "cross-entropy mean on \(backend)")
        expectClose(dz.values, Self.widen(expected.gradient.values), "cross-entropy mean gradient on \(backend)")

        let none = ws.path("none")
        try compute([
            "cross-entropy", "--logits", logits, "--labels", labels, "--ignore-index", "-100", "--reduction", "none",
            "--grad-output", grad, "--output-dir", none, "--backend", backend,
        ])
        let each = try engine.crossEntropy(logits: matrix, labels: y, reduction: .none, gradOutput: g)
        let lossNone = try ws.read(none, "loss.npy"), dzNone = try ws.read(none, "grad_logits.npy")
        #expect(lossNone.shape == [b])
        #expect(dzNone.shape == [b, c])
        expectClose(lossNone.values, Self.widen(each.loss), "cross-entropy none on \(backend)")
        expectClose(dzNone.values, Self.widen(each.gradient.values), "cross-entropy none gradient on \(backend)")
        #expect(lossNone.values[1] == 0, "the ignored row has no loss")
    }

    @Test(arguments: ["cpu", "opencl"])
    func focalMatchesLibrary(backend: String) throws {
        try Self.requireBackend(backend)
        let ws = try Workspace()
        defer { ws.remove() }
        var rng = TestRNG(seed: 12)
        let (b, c) = (3, 4)
        let z = TestData.normal(b * c, scale: 2, rng: &rng)
        let y: [Int32] = [1, 3, 0]
        let logits = try ws.floats("z.npy", [b, c], z)
        let labels = try ws.int32Labels("y.npy", y)
        let matrix = try Matrix(rows: b, columns: c, values: z)
        for reduction in LossReduction.allCases {
            let out = ws.path("out-\(reduction.rawValue)")
            try compute([
                "focal", "--logits", logits, "--labels", labels, "--gamma", "1.5", "--alpha", "0.5", "--reduction", reduction.rawValue,
                "--output-dir", out, "--backend", backend,
            ])
            #expect(ws.files(out) == ["grad_logits.npy", "loss.npy"])
            let expected = try Backends.cpuEngine.focalLoss(logits: matrix, labels: y.map(Int.init), gamma: 1.5, alpha: .scalar(0.5), reduction: reduction)
            let loss = try ws.read(out, "loss.npy"), dz = try ws.read(out, "grad_logits.npy")
            #expect(loss.shape == (reduction == .none ? [b] : []))
            #expect(dz.shape == [b, c])
            expectClose(loss.values, Self.widen(expected.loss), "focal \(reduction) on \(backend)")
            expectClose(dz.values, Self.widen(expected.gradient.values), "focal \(reduction) gradient on \(backend)")
        }
    }

    // MARK: Binary losses

    @Test(arguments: ["sigmoid-focal", "bce-with-logits"], ["cpu", "opencl"])
    func binaryLossesMatchLibrary(operation: String, backend: String) throws {
        try Self.requireBackend(backend)
        let ws = try Workspace()
        defer { ws.remove() }
        var rng = TestRNG(seed: 13)
        let shape = [2, 3, 2]
        let z = TestData.normal(12, scale: 2, rng: &rng)
        let t: [Float] = (0..<12).map { $0 % 3 == 0 ? 0.5 : Float($0 % 2) }
        let g = TestData.normal(12, rng: &rng)
        let logits = try ws.floats("z.npy", shape, z)
        let targets = try ws.floats("t.npy", shape, t)
        let grad = try ws.floats("g.npy", shape, g)
        let (zm, tm, gm) = (try Matrix(rows: 6, columns: 2, values: z), try Matrix(rows: 6, columns: 2, values: t), try Matrix(rows: 6, columns: 2, values: g))
        let focal = operation == "sigmoid-focal"
        let options = focal ? ["--gamma", "1", "--alpha", "0.3"] : []
        func expected(_ reduction: LossReduction, _ gradOutput: Matrix?) throws -> LossOutput {
            focal
                ? try Backends.cpuEngine.sigmoidFocalLoss(logits: zm, targets: tm, gamma: 1, alpha: 0.3, reduction: reduction, gradOutput: gradOutput)
                : try Backends.cpuEngine.binaryCrossEntropyWithLogits(logits: zm, targets: tm, reduction: reduction, gradOutput: gradOutput)
        }

        let sum = ws.path("sum")
        try compute([operation, "--logits", logits, "--targets", targets, "--reduction", "sum", "--output-dir", sum, "--backend", backend] + options)
        #expect(ws.files(sum) == ["grad_logits.npy", "loss.npy"])
        let reference = try expected(.sum, nil)
        let loss = try ws.read(sum, "loss.npy"), dz = try ws.read(sum, "grad_logits.npy")
        #expect(loss.shape == [])
        #expect(dz.shape == shape)
        expectClose(loss.values, Self.widen(reference.loss), "\(operation) sum on \(backend)")
        expectClose(dz.values, Self.widen(reference.gradient.values), "\(operation) sum gradient on \(backend)")

        let none = ws.path("none")
        try compute(
            [
                operation, "--logits", logits, "--targets", targets, "--reduction", "none", "--grad-output", grad,
                "--output-dir", none, "--backend", backend,
            ] + options)
        let each = try expected(.none, gm)
        let lossNone = try ws.read(none, "loss.npy"), dzNone = try ws.read(none, "grad_logits.npy")
        #expect(lossNone.shape == shape)
        #expect(dzNone.shape == shape)
        expectClose(lossNone.values, Self.widen(each.loss), "\(operation) none on \(backend)")
        expectClose(dzNone.values, Self.widen(each.gradient.values), "\(operation) none gradient on \(backend)")
    }

    // MARK: Regression losses

    /// Each regression loss through compute against the library called in-process (itself checked
    /// against the float64 reference by RegressionLossTests), with its option and both backends.
    @Test(arguments: [["mse"], ["l1"], ["smooth-l1", "--beta", "0.5"], ["huber", "--delta", "2"], ["msle"], ["mape"]], ["cpu", "opencl"])
    func regressionMatchesLibrary(operation: [String], backend: String) throws {
        try Self.requireBackend(backend)
        let ws = try Workspace()
        defer { ws.remove() }
        var rng = TestRNG(seed: 31)
        let shape = [2, 3, 4]
        let p = TestData.normal(24, scale: 2, rng: &rng), t = TestData.normal(24, scale: 2, rng: &rng)
        let predictions = try ws.floats("p.npy", shape, p), targets = try ws.floats("t.npy", shape, t)
        let out = ws.path("out")
        try compute(operation + ["--predictions", predictions, "--targets", targets, "--reduction", "none", "--output-dir", out, "--backend", backend])
        let loss = try ws.read(out, "loss.npy"), grad = try ws.read(out, "grad_predictions.npy")
        #expect(loss.shape == shape && grad.shape == shape)
        let regression: RegressionLoss
        switch operation[0] {
        case "mse": regression = .mse
        case "l1": regression = .l1
        case "smooth-l1": regression = .smoothL1(beta: 0.5)
        case "huber": regression = .huber(delta: 2)
        case "msle": regression = .msle
        default: regression = .mape
        }
        let expected = try Engine(policy: .cpu).regressionLoss(
            regression, predictions: Matrix(rows: 1, columns: 24, values: p),
            targets: Matrix(rows: 1, columns: 24, values: t), reduction: .none)
        expectClose(loss.values, expected.loss.map(Double.init), "\(operation[0]) loss through compute on \(backend)")
        expectClose(grad.values, expected.gradient.values.map(Double.init), "\(operation[0]) gradient through compute on \(backend)")
        // The default reduction writes a 0-d loss.
        try compute(operation + ["--predictions", predictions, "--targets", targets, "--output-dir", ws.path("mean"), "--backend", backend])
        #expect(try ws.read(ws.path("mean"), "loss.npy").shape == [])
    }

    @Test func regressionRefusals() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let p = try ws.floats("p.npy", [2, 3], [1, 2, 3, 4, 5, 6]), t = try ws.floats("t.npy", [3, 2], [1, 2, 3, 4, 5, 6])
        let out = ws.path("out")
        let cases: [([String], Int32, String)] = [
            (["mse", "--predictions", p, "--targets", t], 1, "targets"),
            (["huber", "--predictions", p, "--targets", p, "--delta", "0"], 1, "delta"),
            (["smooth-l1", "--predictions", p, "--targets", p, "--beta", "-1"], 1, "beta"),
            (["mse", "--predictions", p, "--targets", p, "--beta", "1"], 2, "--beta"),
            (["mse", "--logits", p, "--targets", p], 2, "--predictions"),
            (["l1", "--predictions", p], 2, "--targets"),
        ]
        for (arguments, status, word) in cases {
            let result = try CLIRunner.run(["compute"] + arguments + ["--output-dir", out, "--backend", "cpu"])
            #expect(result.status == status, "\(arguments): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains(word), "\(arguments): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "\(arguments) left files")
        }
    }

    // MARK: Metric losses

    /// contrastive, triplet, triplet-mined and center through compute against the library called
    /// in-process (itself checked against the float64 references by the MetricLosses suites).
    @Test(arguments: ["cpu", "opencl"])
    func metricLossesMatchLibrary(backend: String) throws {
        try Self.requireBackend(backend)
        let ws = try Workspace()
        defer { ws.remove() }
        var rng = TestRNG(seed: 41)
        let (b, d) = (6, 5)
        let x = TestData.normal(b * d, rng: &rng), y = TestData.normal(b * d, rng: &rng), z = TestData.normal(b * d, rng: &rng)
        let mx = try Matrix(rows: b, columns: d, values: x), my = try Matrix(rows: b, columns: d, values: y), mz = try Matrix(rows: b, columns: d, values: z)
        let fx = try ws.floats("x.npy", [b, d], x), fy = try ws.floats("y.npy", [b, d], y), fz = try ws.floats("z.npy", [b, d], z)
        let similar = [true, false, true, false, false, true]
        let fs = try ws.labels("s.npy", [b], similar.map { $0 ? 1 : 0 })
        let labels = [0, 1, 0, 2, 1, 0]
        let fl = try ws.labels("l.npy", [b], labels)
        let centers = TestData.normal(3 * d, rng: &rng)
        let fc = try ws.floats("c.npy", [3, d], centers)
        let library = try Engine(policy: .cpu)

        try compute(["contrastive", "--left", fx, "--right", fy, "--similar", fs, "--margin", "2", "--output-dir", ws.path("c"), "--backend", backend])
        let contrastive = try library.contrastiveLoss(left: mx, right: my, similar: similar, margin: 2)
        expectClose(try ws.read(ws.path("c"), "loss.npy").values, contrastive.loss.map(Double.init), "contrastive loss on \(backend)")
        expectClose(try ws.read(ws.path("c"), "grad_left.npy").values, contrastive.gradLeft.values.map(Double.init), "contrastive grad_left")
        expectClose(try ws.read(ws.path("c"), "grad_right.npy").values, contrastive.gradRight.values.map(Double.init), "contrastive grad_right")

        try compute([
            "triplet", "--anchors", fx, "--positives", fy, "--negatives", fz, "--p", "1", "--swap", "--reduction", "none",
            "--output-dir", ws.path("t"), "--backend", backend,
        ])
        let triplet = try library.tripletMarginLoss(anchors: mx, positives: my, negatives: mz, p: 1, swap: true, reduction: .none)
        #expect(try ws.read(ws.path("t"), "loss.npy").shape == [b])
        expectClose(try ws.read(ws.path("t"), "loss.npy").values, triplet.loss.map(Double.init), "triplet loss on \(backend)")
        for (file, values) in [
            ("grad_anchors.npy", triplet.gradAnchors), ("grad_positives.npy", triplet.gradPositives), ("grad_negatives.npy", triplet.gradNegatives),
        ] {
            expectClose(try ws.read(ws.path("t"), file).values, values.values.map(Double.init), "triplet \(file)")
        }

        for mining in [TripletMining.batchAll, .batchHard] {
            let out = ws.path("m-\(mining.rawValue)")
            try compute(["triplet-mined", "--embeddings", fx, "--labels", fl, "--mining", mining.rawValue, "--output-dir", out, "--backend", backend])
            let mined = try library.minedTripletLoss(embeddings: mx, labels: labels, mining: mining)
            expectClose(try ws.read(out, "loss.npy").values, [Double(mined.loss)], tolerance: 1e-4, "mined \(mining) loss")
            expectClose(try ws.read(out, "grad_embeddings.npy").values, mined.gradEmbeddings.values.map(Double.init), tolerance: 1e-4, "mined \(mining) grad")
        }

        try compute(["center", "--features", fx, "--labels", fl, "--centers", fc, "--alpha", "0.3", "--output-dir", ws.path("n"), "--backend", backend])
        let center = try library.centerLoss(features: mx, labels: labels, centers: Matrix(rows: 3, columns: d, values: centers), alpha: 0.3)
        expectClose(try ws.read(ws.path("n"), "loss.npy").values, [Double(center.loss)], "center loss")
        expectClose(try ws.read(ws.path("n"), "grad_features.npy").values, center.gradFeatures.values.map(Double.init), "center grad")
        expectClose(try ws.read(ws.path("n"), "centers.npy").values, center.updatedCenters.values.map(Double.init), "center update")
    }

    @Test func metricLossRefusals() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let x = try ws.floats("x.npy", [2, 3], [1, 2, 3, 4, 5, 6]), other = try ws.floats("o.npy", [3, 2], [1, 2, 3, 4, 5, 6])
        let similarBad = try ws.labels("s.npy", [2], [1, 2]), similar = try ws.labels("s2.npy", [2], [1, 0])
        let labels = try ws.labels("l.npy", [2], [0, 1]), labelsOut = try ws.labels("lo.npy", [2], [0, 5])
        let centers = try ws.floats("c.npy", [2, 3], [0, 0, 0, 1, 1, 1])
        let out = ws.path("out")
        let cases: [([String], Int32, String)] = [
            (["contrastive", "--left", x, "--right", other, "--similar", similar], 1, "right"),
            (["contrastive", "--left", x, "--right", x, "--similar", similarBad], 1, "similar"),
            (["triplet", "--anchors", x, "--positives", x, "--negatives", x, "--p", "3"], 1, "p"),
            (["triplet", "--anchors", x, "--positives", x, "--negatives", other], 1, "negatives"),
            (["triplet-mined", "--embeddings", x, "--labels", labels, "--mining", "medium"], 2, "mining"),
            (["center", "--features", x, "--labels", labelsOut, "--centers", centers], 1, "labels"),
            (["center", "--features", x, "--labels", labels, "--centers", centers, "--alpha", "2"], 1, "alpha"),
            (["center", "--features", x, "--labels", labels], 2, "--centers"),
            (["triplet-mined", "--embeddings", x, "--labels", labels, "--swap"], 2, "--swap"),
        ]
        for (arguments, status, word) in cases {
            let result = try CLIRunner.run(["compute"] + arguments + ["--output-dir", out, "--backend", "cpu"])
            #expect(result.status == status, "\(arguments): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains(word), "\(arguments): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "\(arguments) left files")
        }
    }

    // MARK: Margin heads

    /// margin-softmax on each backend (auto: the CPU here, as PoCL is not a GPU) against the
    /// float64 head reference and its central differences.
    @Test(arguments: ["cpu", "opencl", "auto"])
    func marginSoftmaxMatchesReference(backend: String) throws {
        if backend == "opencl" { try Backends.requireOpenCL() }
        let ws = try Workspace()
        defer { ws.remove() }
        var rng = TestRNG(seed: 14)
        let (b, c, d) = (3, 5, 4)
        let x = TestData.normal(b * d, rng: &rng)
        let w = TestData.normal(c * d, scale: 0.7, rng: &rng)
        let y = [4, 0, 2]
        let features = try ws.floats("x.npy", [b, d], x)
        let weights = try ws.floats("w.npy", [c, d], w)
        let labels = try ws.labels("y.npy", [b], y)
        var problem = HeadLossReference.Problem(
            x: Self.widen(x), w: Self.widen(w), labels: y, b: b, c: c, d: d,
            head: .arcFace(scale: 8, margin: 0.3), reduction: .sum)

        let sum = ws.path("sum")
        try compute([
            "margin-softmax", "--features", features, "--weights", weights, "--labels", labels, "--head", "arcface",
            "--scale", "8", "--margin", "0.3", "--reduction", "sum", "--memory-budget-mb", "1", "--output-dir", sum, "--backend", backend,
        ])
        #expect(ws.files(sum) == ["grad_features.npy", "grad_weights.npy", "loss.npy"])
        let loss = try ws.read(sum, "loss.npy"), dx = try ws.read(sum, "grad_features.npy"), dw = try ws.read(sum, "grad_weights.npy")
        #expect(loss.shape == [])
        #expect(dx.shape == [b, d])
        #expect(dw.shape == [c, d])
        expectClose(loss.values, [HeadLossReference.loss(problem)], tolerance: 1e-4, "arcface sum loss on \(backend)")
        var (refDx, refDw) = HeadLossReference.numericalGradients(problem)
        expectClose(dx.values, refDx, tolerance: 2e-4, "arcface dX on \(backend)")
        expectClose(dw.values, refDw, tolerance: 2e-4, "arcface dW on \(backend)")

        let g: [Float] = [1, -0.5, 2]
        let grad = try ws.floats("g.npy", [b], g)
        problem.head = .sphereFace(margin: 3, scale: 1.5, lambda: 1)
        problem.reduction = .none
        problem.gradOutput = Self.widen(g)
        let none = ws.path("none")
        try compute([
            "margin-softmax", "--features", features, "--weights", weights, "--labels", labels, "--head", "sphereface",
            "--margin", "3", "--scale", "1.5", "--lambda", "1", "--reduction", "none", "--grad-output", grad,
            "--output-dir", none, "--backend", backend,
        ])
        let lossNone = try ws.read(none, "loss.npy")
        #expect(lossNone.shape == [b])
        expectClose(lossNone.values, HeadLossReference.rowLosses(problem), tolerance: 1e-4, "sphereface per-row losses on \(backend)")
        (refDx, refDw) = HeadLossReference.numericalGradients(problem)
        expectClose(try ws.read(none, "grad_features.npy").values, refDx, tolerance: 2e-4, "sphereface dX on \(backend)")
        expectClose(try ws.read(none, "grad_weights.npy").values, refDw, tolerance: 2e-4, "sphereface dW on \(backend)")
    }

    // MARK: Refusals

    /// Each refused input: the exit status, words the message must contain, and no output folder.
    @Test func refusedInputsLeaveNothingBehind() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let z = try ws.floats("z.npy", [2, 3], [1, 2, 3, 4, 5, 6])
        let z3 = try ws.floats("z3.npy", [2, 3, 1], [1, 2, 3, 4, 5, 6])
        let y = try ws.labels("y.npy", [2], [2, 0])
        let yOut = try ws.labels("y-out.npy", [2], [2, 7])
        let yLong = try ws.labels("y-long.npy", [3], [2, 0, 1])
        let y2d = try ws.labels("y-2d.npy", [2, 1], [2, 0])
        let yFloat = try ws.floats("y-float.npy", [2], [2, 0])
        let t = try ws.floats("t.npy", [2, 3], [0, 1, 0, 1, 0.5, 1])
        let tBad = try ws.floats("t-bad.npy", [3, 2], [0, 1, 0, 1, 0.5, 1])
        let tRange = try ws.floats("t-range.npy", [2, 3], [0, 1, 0, 1, 1.5, 1])
        let g2 = try ws.floats("g2.npy", [2], [1, 1])
        let g3 = try ws.floats("g3.npy", [3], [1, 1, 1])
        let w2 = try ws.floats("w2.npy", [2], [1, 1])
        let x = try ws.floats("x.npy", [2, 3], [1, 0, 0, 0, 1, 0])
        let w = try ws.floats("w.npy", [4, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1])
        let wBad = try ws.floats("w-bad.npy", [4, 2], [1, 0, 0, 1, 1, 1, 0, 1])
        let out = ws.path("out")
        let ce = ["cross-entropy", "--logits", z, "--labels", y]
        let margin = ["margin-softmax", "--features", x, "--weights", w, "--labels", y]
        let cases: [(arguments: [String], status: Int32, words: [String])] = [
            // Bad input: exit 1.
            (["cross-entropy", "--logits", z, "--labels", yOut], 1, ["labels", "[1]", "7"]),
            (["focal", "--logits", z, "--labels", yOut], 1, ["labels", "[1]"]),
            (["cross-entropy", "--logits", z, "--labels", yFloat], 1, ["y-float.npy", "integers"]),
            (["cross-entropy", "--logits", z, "--labels", yLong], 1, ["y-long.npy", "labels", "3"]),
            (["cross-entropy", "--logits", z, "--labels", y2d], 1, ["y-2d.npy", "1-d"]),
            (["cross-entropy", "--logits", z3, "--labels", y], 1, ["z3.npy", "logits"]),
            (ce + ["--label-smoothing", "2"], 1, ["labelSmoothing"]),
            (ce + ["--class-weights", w2], 1, ["class-weights"]),
            (ce + ["--reduction", "none", "--grad-output", g3], 1, ["grad-output", "[2]"]),
            (["focal", "--logits", z, "--labels", y, "--gamma", "-1"], 1, ["gamma"]),
            (["sigmoid-focal", "--logits", z, "--targets", t, "--gamma", "-1"], 1, ["gamma"]),
            (["sigmoid-focal", "--logits", z, "--targets", tBad], 1, ["t-bad.npy", "targets"]),
            (["bce-with-logits", "--logits", z, "--targets", tBad], 1, ["targets"]),
            (["bce-with-logits", "--logits", z, "--targets", tRange], 1, ["targets", "1.5"]),
            (["bce-with-logits", "--logits", z, "--targets", t, "--reduction", "none", "--grad-output", g2], 1, ["grad-output"]),
            (margin + ["--head", "sphereface", "--margin", "2.5"], 1, ["margin", "2.5"]),
            (margin + ["--scale", "0"], 1, ["scale"]),
            (margin + ["--memory-budget-mb", "0"], 1, ["memory-budget-mb"]),
            (["margin-softmax", "--features", x, "--weights", wBad, "--labels", y], 1, ["w-bad.npy", "weights"]),
            (["margin-softmax", "--features", x, "--weights", w, "--labels", yOut], 1, ["labels", "[1]"]),
            (["margin-softmax", "--features", x, "--weights", w, "--labels", yLong], 1, ["labels"]),
            // Malformed command lines: exit 2.
            (margin + ["--head", "unknown"], 2, ["head"]),
            (margin + ["--head", "cosface", "--m1", "2"], 2, ["--m1", "cosface"]),
            (["softmax", "--logits", z, "--labels", y], 2, ["--labels", "softmax"]),
            (ce + ["--targets", t], 2, ["--targets", "cross-entropy"]),
            (ce + ["--gamma", "1"], 2, ["--gamma", "cross-entropy"]),
            (["bce-with-logits", "--logits", z, "--targets", t, "--alpha", "0.5"], 2, ["--alpha", "bce-with-logits"]),
            (ce + ["--head", "arcface"], 2, ["--head", "cross-entropy"]),
            (["softmax", "--logits", z, "--reduction", "sum"], 2, ["--reduction", "softmax"]),
            (ce + ["--grad-output", g2], 2, ["grad-output", "none"]),
            (ce + ["--reduction", "sum", "--grad-output", g2], 2, ["grad-output", "none"]),
            (["cross-entropy", "--logits", z], 2, ["--labels"]),
            (["sigmoid-focal", "--logits", z], 2, ["--targets"]),
            (["margin-softmax", "--features", x, "--labels", y], 2, ["--weights"]),
            (ce + ["--reduction", "average"], 2, ["reduction"]),
        ]
        for c in cases {
            let result = try CLIRunner.run(["compute"] + c.arguments + ["--output-dir", out, "--backend", "cpu"])
            #expect(result.status == c.status, "\(c.arguments): status \(result.status), stderr: \(result.stderr)")
            for word in c.words {
                #expect(result.stderr.contains(word), "\(c.arguments): message lacks '\(word)': \(result.stderr)")
            }
            #expect(!result.stderr.contains("Fatal error"), "\(c.arguments) crashed: \(result.stderr)")
            if c.status == 1 {
                #expect(result.stderr.split(separator: "\n").count == 1, "\(c.arguments): one line: \(result.stderr)")
            }
            #expect(!FileManager.default.fileExists(atPath: out), "\(c.arguments) left an output folder")
        }
    }

    /// A failure after some outputs exist in the folder leaves the earlier files untouched and adds none.
    @Test func failedRunAddsNoFilesToAnExistingFolder() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let z = try ws.floats("z.npy", [2, 3], [1, 2, 3, 4, 5, 6])
        let y = try ws.labels("y.npy", [2], [2, 0])
        let yOut = try ws.labels("y-out.npy", [2], [2, 9])
        let out = ws.path("out")
        try compute(["cross-entropy", "--logits", z, "--labels", y, "--output-dir", out, "--backend", "cpu"])
        let before = try Data(contentsOf: URL(fileURLWithPath: (out as NSString).appendingPathComponent("loss.npy")))
        let result = try CLIRunner.run(["compute", "focal", "--logits", z, "--labels", yOut, "--output-dir", out, "--backend", "cpu"])
        #expect(result.status == 1)
        #expect(ws.files(out) == ["grad_logits.npy", "loss.npy"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: (out as NSString).appendingPathComponent("loss.npy"))) == before)
    }
}
