import Foundation
import Testing

@testable import LossKernels

/// A training step against the plain head (`Engine.marginSoftmax`) followed by the float64 SGD
/// reference, on both backends: with sample rate 1 over every class, with Partial FC over the
/// sampled rows (others bit-unchanged).
@Suite struct TrainingHeadStepTests {
    static let heads: [MarginHead] = [.cosFace(), .arcFace(), .sphereFace(lambda: 2), .largeMargin(lambda: 1)]

    /// Two steps with r = 1 (the second exercises the momentum): loss and ∂L/∂X equal the plain
    /// head's on the same weights, and W, V follow the reference SGD update of its ∂L/∂W.
    @Test(arguments: Backends.all, heads)
    func fullRateStepIsPlainHeadPlusSGD(backend: TestBackend, head: MarginHead) throws {
        let engine = try Backends.engine(for: backend)
        var rng = TestRNG(seed: 71)
        let (b, c, d) = (12, 37, 9)
        let options = SGDOptions(learningRate: 0.05, momentum: 0.9, weightDecay: 1e-3)
        let trainer = try MarginSoftmaxHead(engine: engine, classes: c, dimension: d, head: head, optimizer: options, sampleRate: 1, seed: 5)
        #expect(trainer.backend == backend.expected)
        var momentum = [Float](repeating: 0, count: c * d)
        for stepIndex in 0..<2 {
            let batch = TrainingTestSupport.batch(rows: b, d: d, classes: c, rng: &rng)
            let before = try trainer.weights()
            let plain = try engine.marginSoftmax(features: batch.features, classWeights: before, labels: batch.labels, head: head)
            let step = try trainer.step(features: batch.features, labels: batch.labels)
            let context = "\(backend) \(head.kind) step \(stepIndex)"
            #expect(step.sampledClasses == c)
            expectClose([step.loss], plain.loss.map(Double.init), tolerance: 1e-6, "\(context) loss")
            expectClose(step.gradFeatures.values, plain.gradFeatures.values.map(Double.init), tolerance: 1e-6, "\(context) ∂L/∂X")
            let reference = TrainingTestSupport.sgd(weights: before.values, momentum: momentum, gradient: plain.gradClassWeights.values, options)
            let after = try trainer.weights(), v = try trainer.momentum()
            expectClose(after.values, reference.weights, tolerance: 1e-6, "\(context) W")
            expectClose(v.values, reference.momentum, tolerance: 1e-5, "\(context) V")
            momentum = v.values
        }
        #expect(trainer.iteration == 2)
    }

    /// Partial FC: the step equals the plain head on the sampled rows (labels remapped), the
    /// sampled rows follow the SGD reference, and every other row of W and V is bit-unchanged.
    @Test(arguments: Backends.all)
    func partialStepTouchesOnlySampledRows(backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        var rng = TestRNG(seed: 72)
        let (b, c, d) = (10, 200, 8)
        let options = SGDOptions(learningRate: 0.1, momentum: 0.5, weightDecay: 1e-2)
        let head = MarginHead.arcFace(scale: 16)
        let trainer = try MarginSoftmaxHead(engine: engine, classes: c, dimension: d, head: head, optimizer: options, sampleRate: 0.2, seed: 9)
        // Warm up the momentum, then check the next step.
        _ = try trainer.step(features: TrainingTestSupport.batch(rows: b, d: d, classes: c, rng: &rng).features, labels: (0..<b).map { $0 * 7 })
        let batch = TrainingTestSupport.batch(rows: b, d: d, classes: c, rng: &rng)
        var sampler = trainer.sampler
        let sample = sampler.sample(labels: batch.labels)
        #expect(sample.classes.count == 40)
        let w0 = try trainer.weights(), v0 = try trainer.momentum()
        let gathered = try Matrix(rows: sample.classes.count, columns: d, values: TrainingTestSupport.rows(w0, sample.classes))
        let plain = try engine.marginSoftmax(features: batch.features, classWeights: gathered, labels: sample.labels, head: head)
        let step = try trainer.step(features: batch.features, labels: batch.labels)
        #expect(step.sampledClasses == sample.classes.count)
        expectClose([step.loss], plain.loss.map(Double.init), tolerance: 1e-6, "\(backend) partial loss")
        expectClose(step.gradFeatures.values, plain.gradFeatures.values.map(Double.init), tolerance: 1e-6, "\(backend) partial ∂L/∂X")
        let w1 = try trainer.weights(), v1 = try trainer.momentum()
        let reference = TrainingTestSupport.sgd(
            weights: gathered.values, momentum: TrainingTestSupport.rows(v0, sample.classes), gradient: plain.gradClassWeights.values, options)
        expectClose(TrainingTestSupport.rows(w1, sample.classes), reference.weights, tolerance: 1e-6, "\(backend) sampled W rows")
        expectClose(TrainingTestSupport.rows(v1, sample.classes), reference.momentum, tolerance: 1e-5, "\(backend) sampled V rows")
        let untouched = Set(0..<c).subtracting(sample.classes).sorted()
        #expect(!untouched.isEmpty)
        expectBitwiseEqual(TrainingTestSupport.rows(w1, untouched), TrainingTestSupport.rows(w0, untouched), "\(backend) unsampled W rows")
        expectBitwiseEqual(TrainingTestSupport.rows(v1, untouched), TrainingTestSupport.rows(v0, untouched), "\(backend) unsampled V rows")
    }

    /// λ follows the schedule at the head's own iteration, and each step's loss is the plain head's
    /// with that λ.
    @Test(arguments: Backends.all)
    func lambdaAnnealsWithTheIteration(backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        var rng = TestRNG(seed: 73)
        let (b, c, d) = (6, 15, 5)
        let schedule = LambdaSchedule(base: 100, gamma: 0.5, power: 1, minimum: 5)
        let trainer = try MarginSoftmaxHead(engine: engine, classes: c, dimension: d, head: .sphereFace(), seed: 3, lambdaSchedule: schedule)
        for i in 0..<4 {
            let batch = TrainingTestSupport.batch(rows: b, d: d, classes: c, rng: &rng)
            let expected = schedule.lambda(at: i)
            #expect(trainer.head.lambda == expected)
            let plain = try engine.marginSoftmax(
                features: batch.features, classWeights: try trainer.weights(), labels: batch.labels, head: .sphereFace(lambda: expected))
            let step = try trainer.step(features: batch.features, labels: batch.labels)
            #expect(step.lambda == expected)
            expectClose([step.loss], plain.loss.map(Double.init), tolerance: 1e-6, "\(backend) step \(i) λ \(expected)")
        }
        #expect(trainer.head.lambda == schedule.lambda(at: 4))
    }

    /// Linear-style initialisation: values in [−1/√D, 1/√D), fixed by the seed, identical on both
    /// backends; an initial matrix is taken as given.
    @Test(arguments: Backends.all)
    func initialisation(backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let (c, d) = (70_000, 4)   // more rows than one transfer chunk
        let a = try MarginSoftmaxHead(engine: engine, classes: c, dimension: d, head: .cosFace(), seed: 11).weights()
        let cpu = try MarginSoftmaxHead(engine: Backends.cpuEngine, classes: c, dimension: d, head: .cosFace(), seed: 11).weights()
        expectBitwiseEqual(a.values, cpu.values, "\(backend) initial weights vs CPU")
        #expect(a.values.allSatisfy { abs($0) <= 0.5 })
        #expect(a.values.max()! > 0.49 && a.values.min()! < -0.49)
        let other = try MarginSoftmaxHead(engine: engine, classes: c, dimension: d, head: .cosFace(), seed: 12).weights()
        #expect(other.values != a.values)
        var rng = TestRNG(seed: 74)
        let given = try Matrix(rows: 3, columns: 2, values: TestData.normal(6, rng: &rng))
        let head = try MarginSoftmaxHead(engine: engine, classes: 3, dimension: 2, head: .cosFace(), initialWeights: given)
        expectBitwiseEqual(try head.weights().values, given.values, "\(backend) given weights")
        expectBitwiseEqual(try head.momentum().values, [Float](repeating: 0, count: 6), "\(backend) initial momentum")
    }

    /// OpenCL: W and V stay on the device — over several steps the bytes copied host → device are
    /// those of the features, labels and sampled indices, far below one upload of W.
    @Test func openCLWeightsStayOnTheDevice() throws {
        let engine = try Backends.engine(for: .opencl)
        var rng = TestRNG(seed: 75)
        let (b, c, d) = (8, 4096, 32)
        let trainer = try MarginSoftmaxHead(engine: engine, classes: c, dimension: d, head: .cosFace(), sampleRate: 0.25, seed: 1)
        let parameters = try #require(trainer.parameters as? DeviceHeadParameters)
        let initial = try trainer.weights()
        let before = parameters.hostToDeviceBytes
        let steps = 5
        for _ in 0..<steps {
            let batch = TrainingTestSupport.batch(rows: b, d: d, classes: c, rng: &rng)
            _ = try trainer.step(features: batch.features, labels: batch.labels)
        }
        let perStep = Double(parameters.hostToDeviceBytes - before) / Double(steps)
        let weightBytes = Double(c * d * 4)
        // Features (B·D·4), labels and indices (8 bytes each, ⌈rC⌉ = 1024), plus a few kilobytes
        // of per-row scalars and kernel arguments: nothing that grows with C·D.
        let expectedAtMost = Double(b * d * 4 + 8 * b + 8 * 1024 + 4096)
        #expect(perStep <= expectedAtMost, "\(perStep) bytes per step uploaded")
        #expect(perStep < weightBytes / 10)
        #expect(try trainer.weights().values != initial.values, "the steps changed W on the device")
    }
}
