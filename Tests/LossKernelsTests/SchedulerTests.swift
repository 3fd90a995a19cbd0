import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// Which backend each policy runs on (asserted through the `Backend` the buffer API returns), and
/// argument validation on every policy.
@Suite struct SchedulerTests {
    // MARK: Inputs

    static let rows = 3, columns = 5
    static let logits: [Float] = {
        var rng = TestRNG(seed: 99)
        return TestData.logits(rows: rows, columns: columns, scale: 4, rng: &rng)
    }()

    /// Runs softmax through the buffer API and checks the result against the reference; returns
    /// the backend that ran.
    static func softmaxBackend(_ engine: Engine, sourceLocation: SourceLocation = #_sourceLocation) throws -> Backend {
        var out = [Float](repeating: 0, count: logits.count)
        let backend = try logits.withUnsafeBufferPointer { x in
            try out.withUnsafeMutableBufferPointer { try engine.softmax(logits: x, rows: rows, columns: columns, into: $0) }
        }
        expectClose(
            out, Reference.softmax(logits, rows: rows, columns: columns), "softmax under \(engine.policy) on \(backend)", sourceLocation: sourceLocation)
        return backend
    }

    /// The backend a reduction over `logits` ran on, its values checked against the reference.
    static func reductionBackend(_ engine: Engine, sourceLocation: SourceLocation = #_sourceLocation) throws -> Backend {
        let (result, backend) = try logits.withUnsafeBufferPointer { try engine.reduce(.sum, input: $0, rows: rows, columns: columns, over: .rows) }
        expectClose(
            result.values, try Reference.reduce(.sum, logits, rows: rows, columns: columns, over: .rows).values, "sum under \(engine.policy) on \(backend)",
            sourceLocation: sourceLocation)
        return backend
    }

    // MARK: Policies

    @Test func cpuPolicyRunsOnTheCPU() throws {
        let engine = try Engine(policy: .cpu, offloadMinimumElements: 0, openCLDeviceTypes: .any)
        #expect(engine.policy == .cpu)
        #expect(try Self.softmaxBackend(engine) == .cpu)
        #expect(try Self.reductionBackend(engine) == .cpu)
        #expect(engine.plannedDevice(elements: 1 << 30) == nil)
    }

    @Test func openCLPolicyRunsOnOpenCL() throws {
        try Backends.requireOpenCL()
        let engine = try Engine(policy: .opencl, offloadMinimumElements: 1 << 30, openCLDeviceTypes: .gpu)
        #expect(engine.policy == .opencl)
        // Explicit OpenCL ignores the offload threshold and the auto device filter.
        #expect(try Self.softmaxBackend(engine) == .opencl)
        #expect(try Self.reductionBackend(engine) == .opencl)
        #expect(engine.plannedDevice(elements: 1) != nil)
    }

    /// `openCLDevice:` pins the device of the `opencl` policy to a position of `openCLDevices()`;
    /// a position with no device fails the call with `.openCLUnavailable`; a negative one is refused.
    @Test func openCLDevicePositionPinsTheDevice() throws {
        try Backends.requireOpenCL()
        let devices = try Backends.openCLDevices.get()
        for position in devices.indices {
            let engine = try Engine(policy: .opencl, openCLDevice: position)
            #expect(engine.plannedDevice(elements: 1) == devices[position])
            #expect(try Self.softmaxBackend(engine) == .opencl)
        }
        let missing = try Engine(policy: .opencl, openCLDevice: devices.count)
        let error = #expect(throws: LossKernelsError.self) { try Self.softmaxBackend(missing) }
        guard case .openCLUnavailable(let reason)? = error else {
            Issue.record("position \(devices.count): expected .openCLUnavailable, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("position \(devices.count)"))
        let negative = #expect(throws: LossKernelsError.self) { try Engine(policy: .opencl, openCLDevice: -1) }
        guard case .invalidOption(let name, _, _)? = negative else {
            Issue.record("position −1: expected .invalidOption, got \(String(describing: negative))")
            return
        }
        #expect(name == "openCLDevice")
    }

    /// `auto` with the default device types (GPUs and accelerators only) never picks a CPU OpenCL
    /// device such as PoCL. Asserted only where no GPU/accelerator is present.
    @Test(.enabled(if: !Backends.hasGPUOrAccelerator, "a GPU or accelerator is present: auto may legitimately offload"))
    func autoWithDefaultDeviceTypesStaysOnTheCPU() throws {
        // `.gpu` explicitly, and the engine default (nil) when LOSSKERNELS_OPENCL_DEVICE_TYPE is unset.
        var filters: [OpenCLDeviceTypeFilter?] = [.gpu]
        if (ProcessInfo.processInfo.environment["LOSSKERNELS_OPENCL_DEVICE_TYPE"] ?? "").isEmpty { filters.append(nil) }
        for filter in filters {
            let engine = try Engine(policy: .auto, offloadMinimumElements: 0, openCLDeviceTypes: filter)
            #expect(try Self.softmaxBackend(engine) == .cpu)
            #expect(try Self.reductionBackend(engine) == .cpu)
            #expect(engine.plannedDevice(elements: 1 << 30) == nil)
            #expect(engine.openCLChoices().automatic == nil)
        }
    }

    /// `auto` allowed to use any device, with no threshold, offloads when a device exists and the
    /// cost model says it wins, and stays on the CPU when it says it loses.
    @Test func autoWithAnyDeviceFollowsTheCostModel() throws {
        try Backends.requireOpenCL()
        let engine = try Engine(
            policy: .auto, offloadMinimumElements: 0, openCLDeviceTypes: .any, openCLFault: nil, autoCeilings: .fixed(AutoCeilings.deviceAlwaysWins))
        #expect(try Self.softmaxBackend(engine) == .opencl)
        #expect(try Self.reductionBackend(engine) == .opencl)
        #expect(engine.plannedDevice(elements: 1) != nil)
        let losing = try Engine(
            policy: .auto, offloadMinimumElements: 0, openCLDeviceTypes: .any, openCLFault: nil, autoCeilings: .fixed(AutoCeilings.deviceNeverWins))
        #expect(try Self.softmaxBackend(losing) == .cpu)
        #expect(try Self.reductionBackend(losing) == .cpu)
        #expect(losing.plannedDevice(elements: 1) == nil)
        #expect(losing.selectedOpenCLDevice != nil, "the device auto may use is still known")
    }

    /// `auto` allowed to use CPU devices picks a CPU OpenCL device when there is one.
    @Test func autoWithCPUDeviceTypeUsesACPUDevice() throws {
        try Backends.requireOpenCL()
        guard case .success(let devices) = Backends.openCLDevices, devices.contains(where: { $0.kind == .cpu }) else {
            try Test.cancel("no CPU OpenCL device")
        }
        let engine = try Engine(
            policy: .auto, offloadMinimumElements: 0, openCLDeviceTypes: .cpu, openCLFault: nil, autoCeilings: .fixed(AutoCeilings.deviceAlwaysWins))
        #expect(try Self.softmaxBackend(engine) == .opencl)
        #expect(engine.plannedDevice(elements: 1)?.kind == .cpu)
    }

    /// A call smaller than `offloadMinimumElements` stays on the CPU even when a device may be used.
    @Test func smallCallsStayOnTheCPU() throws {
        let engine = try Engine(
            policy: .auto, offloadMinimumElements: 1 << 30, openCLDeviceTypes: .any, openCLFault: nil, autoCeilings: .fixed(AutoCeilings.deviceAlwaysWins))
        #expect(engine.offloadMinimumElements == 1 << 30)
        #expect(try Self.softmaxBackend(engine) == .cpu)
        #expect(try Self.reductionBackend(engine) == .cpu)
        #expect(engine.plannedDevice(elements: 1000) == nil)
    }

    @Test func nonPositiveThreadCountIsRejected() {
        for threads in [0, -3] {
            let error = #expect(throws: LossKernelsError.self) { try Engine(policy: .cpu, cpuThreads: threads) }
            guard case let .invalidOption(name, _, _)? = error else {
                Issue.record("cpuThreads \(threads): expected .invalidOption, got \(String(describing: error))")
                continue
            }
            #expect(name == "cpuThreads")
        }
    }

    // MARK: Validation on every policy

    /// Engines of every policy; validation happens before any backend is chosen, so this needs no
    /// OpenCL device.
    static let policies: [BackendPolicy] = BackendPolicy.allCases

    static func engine(_ policy: BackendPolicy) throws -> Engine {
        try Engine(policy: policy, offloadMinimumElements: 0, openCLDeviceTypes: .any)
    }

    /// Expects `body` to throw `.shapeMismatch` (or `.invalidOption` when `option` is true) whose
    /// description names `tensor`.
    static func expectRejected(
        _ tensor: String, option: Bool = false, _ context: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
    ) {
        let error = #expect(throws: LossKernelsError.self, "\(context) must throw", sourceLocation: sourceLocation) { try body() }
        guard let error else { return }
        switch (error, option) {
        case (.shapeMismatch, false), (.invalidOption, true): break
        default: Issue.record("\(context): expected \(option ? ".invalidOption" : ".shapeMismatch"), got \(error)", sourceLocation: sourceLocation)
        }
        #expect(
            error.description.contains(tensor), "\(context): the description \"\(error.description)\" does not name \(tensor)", sourceLocation: sourceLocation)
    }

    @Test(arguments: policies)
    func matrixShapesAreValidated(_ policy: BackendPolicy) throws {
        let engine = try Self.engine(policy)
        let a = Matrix(rows: 2, columns: 3, repeating: 0.25), b = Matrix(rows: 3, columns: 2, repeating: 1)
        Self.expectRejected("gradOutput", "\(policy) softmaxBackward 2×3 vs 3×2") { _ = try engine.softmaxBackward(probabilities: a, gradOutput: b) }
        Self.expectRejected("probabilities", "\(policy) softmaxBackward names the reference shape") {
            _ = try engine.softmaxBackward(probabilities: a, gradOutput: b)
        }
        Self.expectRejected("gradOutput", "\(policy) logSoftmaxBackward 2×3 vs 3×2") { _ = try engine.logSoftmaxBackward(logProbabilities: a, gradOutput: b) }
        Self.expectRejected("logSumExp", "\(policy) logSumExpBackward with 3 lse values for 2 rows") {
            _ = try engine.logSumExpBackward(logits: a, logSumExp: [0, 0, 0], gradOutput: [1, 1])
        }
        Self.expectRejected("gradOutput", "\(policy) logSumExpBackward with 1 gradient for 2 rows") {
            _ = try engine.logSumExpBackward(logits: a, logSumExp: [0, 0], gradOutput: [1])
        }
        // Reductions: one upstream value and one result value per group.
        // The forward result comes from the reference: under `.opencl` without a device the engine could not run it.
        let ref = try Reference.reduce(.max, a.values, rows: a.rows, columns: a.columns, over: .rows)
        let result = ReductionResult(values: ref.values.asFloat, indices: ref.indices)
        Self.expectRejected("gradOutput", "\(policy) reduceBackward with 3 gradients for 2 groups") {
            _ = try engine.reduceBackward(.max, a, over: .rows, result: result, gradOutput: [1, 1, 1])
        }
        Self.expectRejected("result.values", "\(policy) reduceBackward with a result of another axis") {
            _ = try engine.reduceBackward(.sum, a, over: .columns, result: ReductionResult(values: [1, 2]), gradOutput: [1, 1, 1])
        }
        Self.expectRejected("result.indices", "\(policy) max backward without indices") {
            _ = try engine.reduceBackward(.max, a, over: .rows, result: ReductionResult(values: result.values), gradOutput: [1, 1])
        }
        Self.expectRejected("input", "\(policy) max over the rows of a 2×0 matrix") {
            _ = try engine.reduce(.max, Matrix(rows: 2, columns: 0, repeating: 0), over: .rows)
        }
    }

    @Test(arguments: policies)
    func bufferSizesAreValidated(_ policy: BackendPolicy) throws {
        let engine = try Self.engine(policy)
        let x = [Float](repeating: 0.5, count: 6), g = [Float](repeating: 1, count: 6)
        var short = [Float](repeating: 0, count: 5), rowsOut = [Float](repeating: 0, count: 3)
        x.withUnsafeBufferPointer { xb in
            g.withUnsafeBufferPointer { gb in
                short.withUnsafeMutableBufferPointer { s in
                    Self.expectRejected("probabilities", "\(policy) softmax into 5 values for 2×3") {
                        _ = try engine.softmax(logits: xb, rows: 2, columns: 3, into: s)
                    }
                    Self.expectRejected("logProbabilities", "\(policy) logSoftmax into 5 values for 2×3") {
                        _ = try engine.logSoftmax(logits: xb, rows: 2, columns: 3, into: s)
                    }
                    Self.expectRejected("gradLogits", "\(policy) softmaxBackward into 5 values") {
                        _ = try engine.softmaxBackward(probabilities: xb, gradOutput: gb, rows: 2, columns: 3, into: s)
                    }
                    Self.expectRejected("gradLogits", "\(policy) logSumExpBackward into 5 values") {
                        _ = try engine.logSumExpBackward(
                            logits: xb, logSumExp: UnsafeBufferPointer(rebasing: gb[0..<2]), gradOutput: UnsafeBufferPointer(rebasing: gb[0..<2]), rows: 2,
                            columns: 3, into: s)
                    }
                }
                rowsOut.withUnsafeMutableBufferPointer { out in
                    Self.expectRejected("logSumExp output", "\(policy) logSumExp into 3 values for 2 rows") {
                        _ = try engine.logSumExp(logits: xb, rows: 2, columns: 3, into: out)
                    }
                    Self.expectRejected("logits", "\(policy) softmax of 6 values as 4×2") {
                        _ = try engine.softmax(logits: xb, rows: 4, columns: 2, into: UnsafeMutableBufferPointer(rebasing: out[0..<3]))
                    }
                    Self.expectRejected("gradOutput", "\(policy) logSoftmaxBackward with 3 gradients for 2×3") {
                        _ = try engine.logSoftmaxBackward(
                            logProbabilities: xb, gradOutput: UnsafeBufferPointer(rebasing: gb[0..<3]), rows: 2, columns: 3,
                            into: UnsafeMutableBufferPointer(rebasing: out[0..<3]))
                    }
                }
                Self.expectRejected("input", "\(policy) reduce of 6 values as 2×4") { _ = try engine.reduce(.sum, input: xb, rows: 2, columns: 4, over: .all) }
                Self.expectRejected("logits", option: true, "\(policy) softmax with −2 rows") {
                    var none = [Float]()
                    _ = try none.withUnsafeMutableBufferPointer { try engine.softmax(logits: xb, rows: -2, columns: 3, into: $0) }
                }
            }
        }
    }

    @Test func matrixInitRejectsNegativeAndMismatchedShapes() {
        Self.expectRejected("logits.rows", option: true, "Matrix with −1 rows") { _ = try Matrix(rows: -1, columns: 3, values: [], name: "logits") }
        Self.expectRejected("weights.columns", option: true, "Matrix with −4 columns") { _ = try Matrix(rows: 2, columns: -4, values: [], name: "weights") }
        Self.expectRejected("features", "Matrix 2×3 from 5 values") { _ = try Matrix(rows: 2, columns: 3, values: [1, 2, 3, 4, 5], name: "features") }
        Self.expectRejected("matrix", "Matrix 2×3 from 7 values, default name") { _ = try Matrix(rows: 2, columns: 3, values: [Float](repeating: 0, count: 7)) }
    }
}
