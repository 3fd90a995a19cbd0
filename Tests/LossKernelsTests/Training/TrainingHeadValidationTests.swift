import Testing

@testable import LossKernels

/// Bad input to the training head: clear errors, and a refused step changes nothing.
@Suite struct TrainingHeadValidationTests {
    @Test func badOptionsAreRefused() {
        let engine = Backends.cpuEngine
        func make(
            classes: Int = 10, dimension: Int = 4, head: MarginHead = .cosFace(), optimizer: SGDOptions = SGDOptions(),
            rate: Double = 1, initial: Matrix? = nil
        ) throws -> MarginSoftmaxHead {
            try MarginSoftmaxHead(
                engine: engine, classes: classes, dimension: dimension, head: head, optimizer: optimizer, sampleRate: rate, initialWeights: initial)
        }
        expectError(.option(name: "classes", value: "0"), "no classes") { try make(classes: 0) }
        expectError(.option(name: "dimension", value: "0"), "no dimension") { try make(dimension: 0) }
        expectError(.option(name: "sampleRate", value: "0.0"), "rate 0") { try make(rate: 0) }
        expectError(.option(name: "sampleRate", value: "1.5"), "rate 1.5") { try make(rate: 1.5) }
        expectError(.option(name: "learningRate", value: "-0.1"), "lr < 0") { try make(optimizer: SGDOptions(learningRate: -0.1)) }
        expectError(.option(name: "momentum", value: "1.0"), "momentum 1") { try make(optimizer: SGDOptions(momentum: 1)) }
        expectError(.option(name: "weightDecay", value: "-1.0"), "wd < 0") { try make(optimizer: SGDOptions(weightDecay: -1)) }
        expectError(.option(name: "scale", value: "0.0"), "scale 0") { try make(head: .cosFace(scale: 0)) }
        expectError(.shape(tensor: "initialWeights"), "initial weights shape") { try make(initial: Matrix(rows: 10, columns: 3, repeating: 0)) }
    }

    @Test(arguments: Backends.all)
    func badStepsAreRefusedAndChangeNothing(backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let head = try MarginSoftmaxHead(engine: engine, classes: 10, dimension: 4, head: .cosFace(), sampleRate: 0.5, seed: 1)
        let weights = try head.weights(), sampler = head.sampler
        let x = Matrix(rows: 2, columns: 4, repeating: 0.5)
        expectError(.value(tensor: "labels", index: 1, value: "10"), "label out of range") { try head.step(features: x, labels: [0, 10]) }
        expectError(.value(tensor: "labels", index: 0, value: "-1"), "negative label") { try head.step(features: x, labels: [-1, 0]) }
        expectError(.shape(tensor: "labels"), "label count") { try head.step(features: x, labels: [0]) }
        expectError(.shape(tensor: "features"), "feature width") { try head.step(features: Matrix(rows: 2, columns: 5, repeating: 0), labels: [0, 1]) }
        expectError(.shape(tensor: "features"), "empty batch") { try head.step(features: Matrix(rows: 0, columns: 4, repeating: 0), labels: []) }
        expectError(.option(name: "learningRate", value: "-1.0"), "negative learning rate") { try head.step(features: x, labels: [0, 1], learningRate: -1) }
        expectError(.shape(tensor: "features"), "predict width") { try head.predict(features: Matrix(rows: 1, columns: 3, repeating: 0)) }
        head.optimizer = SGDOptions(momentum: 1.5)
        expectError(.option(name: "momentum", value: "1.5"), "momentum set after creation") { try head.step(features: x, labels: [0, 1]) }
        head.optimizer = SGDOptions(weightDecay: -0.5)
        expectError(.option(name: "weightDecay", value: "-0.5"), "weight decay set after creation") { try head.step(features: x, labels: [0, 1]) }
        #expect(head.iteration == 0)
        #expect(head.sampler == sampler)
        expectBitwiseEqual(try head.weights().values, weights.values, "\(backend) W after refused steps")
    }

    /// Under auto a device that cannot allocate W leaves the head on the CPU with the same initial
    /// weights; under opencl the failure is an error.
    @Test func failedDeviceAllocationFallsBackUnderAutoOnly() throws {
        try Backends.requireOpenCL()
        let auto = try AutoCeilings.offloadingEngine(fault: .alloc)
        let head = try MarginSoftmaxHead(engine: auto, classes: 20, dimension: 3, head: .cosFace(), seed: 6)
        #expect(head.backend == .cpu)
        let reference = try MarginSoftmaxHead(engine: Backends.cpuEngine, classes: 20, dimension: 3, head: .cosFace(), seed: 6)
        expectBitwiseEqual(try head.weights().values, try reference.weights().values, "initial weights after the fallback")
        let explicit = try Engine(policy: .opencl, openCLDeviceTypes: .any, openCLFault: .alloc)
        #expect(throws: LossKernelsError.self) { try MarginSoftmaxHead(engine: explicit, classes: 20, dimension: 3, head: .cosFace()) }
    }

    @Test func nonFiniteFeaturesAreRefusedUnderCheckFinite() throws {
        let engine = try Engine(policy: .cpu, checkFinite: true)
        let head = try MarginSoftmaxHead(engine: engine, classes: 3, dimension: 2, head: .cosFace())
        expectError(.value(tensor: "features", index: 1, value: "nan"), "NaN feature") {
            try head.step(features: Matrix(rows: 1, columns: 2, values: [0, .nan]), labels: [0])
        }
    }
}
