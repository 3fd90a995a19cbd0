import Foundation

/// A trainable margin-softmax head for large-class training: it owns the class weights `W`
/// (`C×D`, one row per class like `Linear(D, C).weight`) and their SGD momentum `V` (`C×D`), on the
/// backend the engine's policy picks (an OpenCL device under `.opencl`; under `.auto` the automatic
/// device when its measured rates make a step faster there, see `BackendPolicy.auto`; else the
/// CPU), and never moves them per step.
///
/// Each `step(features:labels:)`:
/// 1. sets λ from `lambdaSchedule` at the head's iteration (sphereFace / largeMargin);
/// 2. samples the classes (Partial FC, `ClassSampler`): the positives plus uniform others, `⌈r·C⌉` in all;
/// 3. computes the mean margin-softmax loss over the sampled classes, `∂L/∂X` (`B×D`) and
///    `∂L/∂W_S` of the sampled rows (the tiled head of `Engine.marginSoftmax`);
/// 4. updates the sampled rows of `W` and `V` in place with `SGDOptions` (torch.optim.SGD);
/// 5. advances the iteration.
///
/// With `sampleRate = 1` a step equals `Engine.marginSoftmax` over all classes followed by the SGD
/// update of every row. Not thread-safe: one caller at a time.
///
/// ```swift
/// let head = try MarginSoftmaxHead(engine: engine, classes: 1_000_000, dimension: 512, head: .arcFace(), sampleRate: 0.1)
/// let out = try head.step(features: x, labels: y)   // out.loss, out.gradFeatures
/// ```
public final class MarginSoftmaxHead {
    /// The number of classes `C`.
    public let classes: Int
    /// The embedding width `D`.
    public let dimension: Int
    /// The head and its options; `lambda` follows `lambdaSchedule` when one is set.
    public private(set) var head: MarginHead
    /// The λ schedule of sphereFace / largeMargin, advanced by `iteration`; `nil` keeps `head.lambda`.
    public let lambdaSchedule: LambdaSchedule?
    /// Learning rate, momentum and weight decay (the learning rate may change between steps).
    public var optimizer: SGDOptions
    /// The Partial-FC sampler (its generator state is part of a checkpoint).
    public private(set) var sampler: ClassSampler
    /// Steps taken so far.
    public private(set) var iteration: Int
    /// Bytes the logits tile may use per step (default 128 MiB, 64 MiB on an OpenCL CPU device).
    public let memoryBudget: Int
    /// The seed given at creation (initial weights and the sampler's first state derive from it).
    public let seed: UInt64

    let engine: Engine
    let parameters: HeadParameters

    /// The backend that holds the parameters and runs the steps.
    public var backend: Backend { parameters.backend }
    /// The Partial-FC sample rate `r`.
    public var sampleRate: Double { sampler.rate }

    /// The result of one step.
    public struct Step: Sendable, Equatable {
        /// The mean loss over the batch (softmax over the sampled classes).
        public var loss: Float
        /// `∂L/∂features`, `B×D`.
        public var gradFeatures: Matrix
        /// How many classes the step used.
        public var sampledClasses: Int
        /// The λ the step used (sphereFace / largeMargin).
        public var lambda: Float
        /// The backend that ran it.
        public var backend: Backend
    }

    /// A new head.
    ///
    /// - Parameters:
    ///   - engine: picks the backend (see the type's description).
    ///   - classes: `C ≥ 1`.
    ///   - dimension: `D ≥ 1`.
    ///   - head: the margin head and its options (`MarginHead.arcFace()`, …).
    ///   - optimizer: SGD options (default lr 0.1, momentum 0.9, weight decay 5e-4).
    ///   - sampleRate: Partial-FC rate `r ∈ (0, 1]` (1: every class each step).
    ///   - seed: initial weights `U(−1/√D, 1/√D)` (as `torch.nn.Linear`), row-major from
    ///     `SplitMix64(seed)`, each value `(2·(next() >> 40)/2^24 − 1)/√D`; the sampler starts from
    ///     `SplitMix64(seed ^ 0x5EED_5A4D_91E5_0000)`.
    ///   - initialWeights: a `C×D` matrix to start from instead.
    ///   - lambdaSchedule: λ annealing of sphereFace / largeMargin.
    ///   - memoryBudget: bytes of the logits tile (default 128 MiB; 64 MiB on an OpenCL CPU device,
    ///     see `defaultMemoryBudget`).
    /// - Throws: `.invalidOption` for options out of range, `.shapeMismatch` for initial weights of
    ///   another shape, `.openCLUnavailable` / `.openCLFailure` under `.opencl` without a usable device.
    public convenience init(
        engine: Engine, classes: Int, dimension: Int, head: MarginHead, optimizer: SGDOptions = SGDOptions(),
        sampleRate: Double = 1, seed: UInt64 = 0, initialWeights: Matrix? = nil,
        lambdaSchedule: LambdaSchedule? = nil, memoryBudget: Int? = nil
    ) throws {
        guard classes >= 1 else { throw LossKernelsError.invalidOption(name: "classes", value: "\(classes)", allowed: ">= 1") }
        guard dimension >= 1 else { throw LossKernelsError.invalidOption(name: "dimension", value: "\(dimension)", allowed: ">= 1") }
        if let initialWeights {
            try Validation.requireSameShape(
                "initialWeights", rows: initialWeights.rows, columns: initialWeights.columns, as: "classes × dimension", classes, dimension)
            if engine.checkFinite { try Validation.requireFinite("initialWeights", initialWeights.values) }
        }
        let state = State(iteration: 0, sampler: try ClassSampler(classes: classes, rate: sampleRate, seed: seed ^ Self.samplerSeedMask))
        let bound = 1 / Float(dimension).squareRoot()
        var generator = SplitMix64(seed: seed)
        try self.init(
            engine: engine, classes: classes, dimension: dimension, head: head, optimizer: optimizer, seed: seed, state: state,
            lambdaSchedule: lambdaSchedule, memoryBudget: memoryBudget, hasMomentum: false
        ) { tensor, rows, out in
            // Called for rows in ascending order from 0 (again from 0 after a device fallback): the
            // generator runs through W row-major once.
            if rows.lowerBound == 0 { generator = SplitMix64(seed: seed) }
            if let initialWeights {
                initialWeights.values.withUnsafeBufferPointer { out.baseAddress!.update(from: $0.baseAddress! + rows.lowerBound * dimension, count: out.count) }
            } else {
                for k in 0..<out.count { out[k] = (2 * Float(generator.next() >> 40) / Float(1 << 24) - 1) * bound }
            }
        }
    }

    /// The sampler's seed is the head's seed with these bits flipped (a stream apart from the weights').
    static let samplerSeedMask: UInt64 = 0x5EED_5A4D_91E5_0000

    /// What a checkpoint restores besides the tensors.
    struct State {
        var iteration: Int
        var sampler: ClassSampler
    }

    /// The designated initialiser: validates, places the parameters, fills them chunk by chunk.
    init(
        engine: Engine, classes: Int, dimension: Int, head: MarginHead, optimizer: SGDOptions, seed: UInt64, state: State,
        lambdaSchedule: LambdaSchedule?, memoryBudget: Int?, hasMomentum: Bool,
        fill: (HeadTensor, Range<Int>, UnsafeMutableBufferPointer<Float>) throws -> Void
    ) throws {
        try head.validate()
        try optimizer.validate()
        if let memoryBudget, memoryBudget <= 0 {
            throw LossKernelsError.invalidOption(name: "memoryBudget", value: "\(memoryBudget)", allowed: "> 0 bytes")
        }
        let (count, overflow) = classes.multipliedReportingOverflow(by: dimension)
        guard !overflow, count <= Int.max / 8 else {
            throw LossKernelsError.invalidOption(name: "classes × dimension", value: "\(classes) × \(dimension)", allowed: "an addressable number of values")
        }
        self.engine = engine
        self.classes = classes
        self.dimension = dimension
        self.head = head
        self.optimizer = optimizer
        self.seed = seed
        self.sampler = state.sampler
        self.iteration = state.iteration
        self.lambdaSchedule = lambdaSchedule
        let parameters = try Self.makeParameters(
            engine: engine, classes: classes, dimension: dimension, sampleRate: state.sampler.rate, hasMomentum: hasMomentum, fill: fill)
        self.parameters = parameters
        self.memoryBudget = memoryBudget ?? Self.defaultMemoryBudget(parameters)
        applySchedule()
    }

    /// The logits tile when none is given: the plain head's 128 MiB, or 64 MiB on an OpenCL CPU
    /// device (PoCL), whose "device" buffers — W, V, the gathered rows and the tile — all live in
    /// the process's own memory. Measured at C = 2,000,000, D = 64, B = 256, r = 0.1 on PoCL: peak
    /// RSS 1,555 MB with 128 MiB (over W + V + 512 MB = 1,536 MB), 1,497 MB with 64 MiB.
    static func defaultMemoryBudget(_ parameters: HeadParameters) -> Int {
        if let device = (parameters as? DeviceHeadParameters)?.device, device.info.kind == .cpu {
            return MarginSoftmaxProblem.defaultMemoryBudget / 2
        }
        return MarginSoftmaxProblem.defaultMemoryBudget
    }

    /// The batch `auto` assumes when it places a head's parameters (the batch is not known before
    /// the first step): the cost of a step of this many rows decides.
    static let nominalBatch = 256

    /// Places W and V where the engine's scheduler puts them (an OpenCL device under `.opencl`;
    /// under `.auto` the automatic device when the cost model finds a step of `nominalBatch` rows
    /// with W and V resident faster there than on the CPU; else the host) and fills them. Under
    /// `.auto`, a device that cannot hold them or fails leaves them on the CPU, as any call falls
    /// back (`fill` is then called again from row 0).
    private static func makeParameters(
        engine: Engine, classes: Int, dimension: Int, sampleRate: Double, hasMomentum: Bool,
        fill: (HeadTensor, Range<Int>, UnsafeMutableBufferPointer<Float>) throws -> Void
    ) throws -> HeadParameters {
        let scheduler = engine.scheduler
        return try scheduler.run(
            cost: .trainingStep(rows: nominalBatch, dimension: dimension, classes: classes, sampleRate: sampleRate),
            cpu: {
                let count = classes * dimension
                func filled(_ tensor: HeadTensor) throws -> [Float] {
                    var values = [Float](repeating: 0, count: count)
                    let chunk = DeviceHeadParameters.chunkRows
                    for start in stride(from: 0, to: classes, by: chunk) {
                        let rows = start..<min(classes, start + chunk)
                        try values.withUnsafeMutableBufferPointer {
                            try fill(tensor, rows, UnsafeMutableBufferPointer(rebasing: $0[rows.lowerBound * dimension..<rows.upperBound * dimension]))
                        }
                    }
                    return values
                }
                return HostHeadParameters(
                    cpu: scheduler.cpu, classes: classes, dimension: dimension, weights: try filled(.weights),
                    momentum: hasMomentum ? try filled(.momentum) : nil)
            },
            opencl: { device in
                try DeviceHeadParameters(device: device, classes: classes, dimension: dimension, hasMomentum: hasMomentum, fill: fill)
            }
        ).0
    }

    private func applySchedule() {
        if let lambdaSchedule, head.kind == .sphereFace || head.kind == .largeMargin {
            head.lambda = lambdaSchedule.lambda(at: iteration)
        }
    }

    /// `features` must have D columns.
    private func requireWidth(_ features: Matrix) throws {
        guard features.columns == dimension else {
            throw LossKernelsError.shapeMismatch(
                tensor: "features", expected: "[\(features.rows), \(dimension)] (D = \(dimension) columns)",
                actual: Validation.shape(features.rows, features.columns))
        }
    }

    /// One training step on a batch (see the type's description).
    ///
    /// - Parameters:
    ///   - features: `X`, `B×D`.
    ///   - labels: `B` class indices in `0..<C`.
    ///   - learningRate: this step's learning rate (and later steps'), for schedules; `nil` keeps it.
    /// - Returns: the mean loss, `∂L/∂X`, the number of sampled classes, λ and the backend.
    /// - Throws: `.shapeMismatch` for an empty batch or a feature width ≠ D, `.invalidValue` for a
    ///   label out of range, `.invalidOption` for a bad learning rate or `optimizer`; OpenCL errors. A failed step
    ///   leaves the weights, momentum, iteration and sampler unchanged (OpenCL: unless the device
    ///   failed during the update itself).
    public func step(features: Matrix, labels: [Int], learningRate: Float? = nil) throws -> Step {
        try Validation.requireNonEmpty("features", rows: features.rows, columns: features.columns)
        try requireWidth(features)
        try Validation.requireLabels(labels, rows: features.rows, classes: classes)
        if let learningRate { try SGDOptions.requireLearningRate(learningRate) }
        if engine.checkFinite { try Validation.requireFinite("features", features.values) }
        var options = optimizer
        if let learningRate { options.learningRate = learningRate }
        try options.validate()   // `optimizer` is settable: check what this step will use

        let rows = features.rows
        var nextSampler = sampler
        let sample = nextSampler.sample(labels: labels)
        let all = sample.classes.count == classes
        let problem = MarginSoftmaxProblem(
            rows: rows, dimension: dimension, classes: sample.classes.count, labels: sample.labels, head: head,
            reduction: .mean, gradOutput: nil, memoryBudget: memoryBudget)
        WorkRecorder.current?.add(Self.stepWork(rows: rows, sampledClasses: sample.classes.count, dimension: dimension))
        var gradFeatures = Matrix(rows: rows, columns: dimension, repeating: 0)
        let losses = try features.values.withUnsafeBufferPointer { x in
            try gradFeatures.values.withUnsafeMutableBufferPointer { dx in
                try parameters.step(problem, features: x, classes: all ? nil : sample.classes, optimizer: options, gradFeatures: dx)
            }
        }
        let result = Step(
            loss: problem.reduce(losses)[0], gradFeatures: gradFeatures, sampledClasses: sample.classes.count, lambda: head.lambda, backend: backend)
        optimizer = options
        sampler = nextSampler
        iteration += 1
        applySchedule()
        return result
    }

    /// The work of one step over `n` sampled classes: X read and ∂L/∂X written, the sampled rows of
    /// W and V read and written and their gradient written, labels read, the loss written; the three GEMMs of the
    /// head over the sampled classes, `3·2·B·n·D`.
    static func stepWork(rows b: Int, sampledClasses n: Int, dimension d: Int) -> OperationWork {
        OperationWork(bytes: OperationWork.floats(2 * b * d + 5 * n * d + 1) + OperationWork.labels(b), flops: 3 * 2 * b * n * d)
    }

    /// The class weights `W` (`C×D`), copied to the host.
    public func weights() throws -> Matrix { try copyToHost(.weights) }

    /// The momentum buffers `V` (`C×D`), copied to the host.
    public func momentum() throws -> Matrix { try copyToHost(.momentum) }

    /// `tensor` (`C×D`) copied to the host.
    func copyToHost(_ tensor: HeadTensor) throws -> Matrix {
        var out = Matrix(rows: classes, columns: dimension, repeating: 0)
        try out.values.withUnsafeMutableBufferPointer { target in
            try forEachChunk(tensor) { rows, values in
                (target.baseAddress! + rows.lowerBound * dimension).update(from: values.baseAddress!, count: values.count)
            }
        }
        return out
    }

    /// Calls `body` with consecutive chunks of rows of `tensor` (bounded host memory on OpenCL).
    func forEachChunk(_ tensor: HeadTensor, rows chunk: Int = DeviceHeadParameters.chunkRows, _ body: (Range<Int>, UnsafeBufferPointer<Float>) throws -> Void)
        throws
    {
        for start in stride(from: 0, to: classes, by: chunk) {
            let rows = start..<min(classes, start + chunk)
            try parameters.withRows(tensor, rows) { try body(rows, $0) }
        }
    }

    /// The predicted class of each row of `features` (`B×D`): `argmax_j cos(x, w_j)` (largeMargin:
    /// `argmax_j w_j·x`, its logits without margin), lowest index on ties, over every class. Runs
    /// on the host over chunks of `W`.
    /// - Throws: `.shapeMismatch` when the width is not D.
    public func predict(features: Matrix) throws -> [Int] {
        try requireWidth(features)
        let (b, d) = (features.rows, dimension)
        guard b > 0 else { return [] }
        let cosine = head.kind != .largeMargin
        var best = [Float](repeating: -.infinity, count: b), bestIndex = [Int](repeating: 0, count: b)
        // Chunks of classes small enough that the B×chunk products stay a few MiB.
        let chunk = max(1, min(classes, DeviceHeadParameters.chunkRows, (4 << 20) / b))
        var products = [Float](repeating: 0, count: b * chunk)
        try features.values.withUnsafeBufferPointer { x in
            try forEachChunk(.weights, rows: chunk) { rows, w in
                let n = rows.count
                products.withUnsafeMutableBufferPointer { out in
                    BLAS.gemm(
                        transposeA: false, transposeB: true, m: b, n: n, k: d, a: x.baseAddress!, lda: d, b: w.baseAddress!, ldb: d, beta: 0,
                        c: out.baseAddress!, ldc: n)
                }
                var scale = [Float](repeating: 1, count: n)
                if cosine {
                    for j in 0..<n { scale[j] = 1 / max(Float(RowLoops.sumOfSquares(w.baseAddress! + j * d, d).squareRoot()), 1e-12) }
                }
                for i in 0..<b {
                    for j in 0..<n {
                        let value = products[i * n + j] * scale[j]
                        if value > best[i] {   // NaN never wins; all −∞ or NaN leaves class 0
                            best[i] = value
                            bestIndex[i] = rows.lowerBound + j
                        }
                    }
                }
            }
        }
        return bestIndex
    }
}
