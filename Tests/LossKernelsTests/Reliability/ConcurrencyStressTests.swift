import Foundation
import Testing

@testable import LossKernels

/// "An engine is safe to use from many threads at once" (`Engine`). Eight callers share one `.cpu`
/// engine and one `.opencl` engine and run mixed sequences of operations at the same time; every
/// result must have the bits of the same call made alone beforehand. And engines created, and
/// OpenCL devices discovered and opened, from many threads at once behave as when done alone.
///
/// The callers are eight OS threads (`Thread`), not tasks: on a 2-core machine Swift's cooperative
/// pool has two threads, so eight blocking callers in a task group would only ever run two at a
/// time. The threads start together from a start line (a condition variable, no sleeps) and the
/// test awaits their end without blocking the pool.
@Suite struct ConcurrencyStressTests {
    typealias Outputs = DeterminismAllOperationsTests.Outputs
    typealias Call = DeterminismAllOperationsTests.Call

    static let callerCount = 8
    static let stepsPerCaller = 12
    /// Callers stop starting iterations after this (wall clock, from the common start)…
    static let timeBudget: Duration = .seconds(5)
    /// …or after this many iterations, whichever comes first; but each caller first completes one
    /// whole pass over its sequence, so every call is checked under contention at least once.
    static let maxIterationsPerCaller = 30 * stepsPerCaller

    // MARK: Threads

    /// Releases every party at once when the last one arrives.
    final class StartLine: @unchecked Sendable {
        private let condition = NSCondition()
        private var arrived = 0
        private let parties: Int

        init(parties: Int) { self.parties = parties }

        func arriveAndWait() {
            condition.lock()
            arrived += 1
            if arrived == parties { condition.broadcast() }
            while arrived < parties { condition.wait() }
            condition.unlock()
        }
    }

    /// A value shared by the threads, behind a lock.
    final class Locked<Value>: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Value

        init(_ value: Value) { self.value = value }

        func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
            lock.lock()
            defer { lock.unlock() }
            return try body(&value)
        }
    }

    /// Runs `body(0..<count)` on `count` new threads that start together; returns when all have ended.
    static func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) async {
        let start = StartLine(parties: count)
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let group = DispatchGroup()
            for index in 0..<count {
                group.enter()
                let thread = Thread {
                    start.arriveAndWait()
                    body(index)
                    group.leave()
                }
                thread.stackSize = 8 << 20
                thread.start()
            }
            group.notify(queue: .global()) { done.resume() }
        }
    }

    // MARK: Workload

    /// One call of a caller's sequence and the backend it must run on.
    struct Step: Sendable {
        let call: Call
        let backend: TestBackend
    }

    enum Kind: CaseIterable {
        case softmax, crossEntropy, mse, arcFace, triplet, minedTriplet, center, reduction
    }

    /// The engines under test: one of each, shared by every caller.
    static func engine(_ backend: TestBackend) -> Engine {
        backend == .cpu ? Backends.cpuEngine : Backends.openCLEngine
    }

    static func matrix(_ rows: Int, _ columns: Int, scale: Double = 1, _ rng: inout TestRNG) -> Matrix {
        try! Matrix(rows: rows, columns: columns, values: TestData.normal(rows * columns, scale: scale, rng: &rng))
    }

    static func uniform(_ count: Int, _ range: ClosedRange<Double>, _ rng: inout TestRNG) -> [Float] {
        (0..<count).map { _ in Float(range.lowerBound + (range.upperBound - range.lowerBound) * rng.unit()) }
    }

    /// A call of `kind` on inputs drawn from `rng`; CPU shapes are large enough to split over
    /// threads, OpenCL shapes small (PoCL is slow).
    static func makeCall(_ kind: Kind, _ backend: TestBackend, _ rng: inout TestRNG) -> Call {
        let cpu = backend == .cpu
        func pick(_ cpuRange: ClosedRange<Int>, _ openCLRange: ClosedRange<Int>, _ rng: inout TestRNG) -> Int {
            Int.random(in: cpu ? cpuRange : openCLRange, using: &rng)
        }
        switch kind {
        case .softmax:
            let rows = pick(1...6, 1...4, &rng), columns = pick(2_000...40_000, 50...400, &rng)
            let z = matrix(rows, columns, scale: 4, &rng)
            let resident = !cpu && rng.index(2) == 0
            return Call("softmax \(rows)×\(columns)\(resident ? " device-resident" : "")") { e in
                if resident {
                    // upload → softmax, logSoftmax, logSumExp on the device → download.
                    let x = try e.upload(z)
                    var out = Outputs(backend: .opencl)
                    out.add("softmax", try e.download(e.softmax(x)).values)
                    out.add("logSoftmax", try e.download(e.logSoftmax(x)).values)
                    out.add("logSumExp", try e.download(e.logSumExp(x)).values)
                    return out
                }
                var probabilities = [Float](repeating: 0, count: z.count), logProbabilities = probabilities
                let backend = try z.values.withUnsafeBufferPointer { x in
                    try probabilities.withUnsafeMutableBufferPointer { try e.softmax(logits: x, rows: rows, columns: columns, into: $0) }
                }
                _ = try z.values.withUnsafeBufferPointer { x in
                    try logProbabilities.withUnsafeMutableBufferPointer { try e.logSoftmax(logits: x, rows: rows, columns: columns, into: $0) }
                }
                var out = Outputs(backend: backend)
                out.add("softmax", probabilities)
                out.add("logSoftmax", logProbabilities)
                return out
            }
        case .crossEntropy:
            let rows = pick(2...24, 2...6, &rng), columns = pick(500...20_000, 20...300, &rng)
            let z = matrix(rows, columns, scale: 3, &rng)
            let labels = (0..<rows).map { _ in rng.index(columns) }
            let weights: [Float]? = rng.index(2) == 0 ? uniform(columns, 0.25...2, &rng) : nil
            let smoothing = Float(0.05 + 0.2 * rng.unit())
            return Call("crossEntropy \(rows)×\(columns) ε=\(smoothing)\(weights == nil ? "" : " classWeights")") { e in
                Outputs(try e.crossEntropy(logits: z, labels: labels, classWeights: weights, labelSmoothing: smoothing))
            }
        case .mse:
            let count = pick(20_000...300_000, 100...3_000, &rng)
            let p = matrix(1, count, scale: 2, &rng), t = matrix(1, count, scale: 2, &rng)
            let reduction = LossReduction.allCases[rng.index(3)]
            let grad = reduction == .none ? try! Matrix(rows: 1, columns: count, values: uniform(count, -1...2, &rng)) : nil
            return Call("mse \(count) \(reduction)") { e in
                Outputs(try e.mseLoss(predictions: p, targets: t, reduction: reduction, gradOutput: grad))
            }
        case .arcFace:
            let b = pick(8...32, 4...8, &rng), c = pick(200...1_200, 20...64, &rng), d = pick(16...48, 8...16, &rng)
            let x = matrix(b, d, &rng), w = matrix(c, d, &rng)
            let labels = (0..<b).map { _ in rng.index(c) }
            let tiles = 2 + rng.index(3)   // 2…4 tiles
            let budget = 4 * b * ((c + tiles - 1) / tiles)
            return Call("marginSoftmax arcFace \(b)×\(c)×\(d) in \(tiles) tiles") { e in
                Outputs(try e.marginSoftmax(features: x, classWeights: w, labels: labels, head: .arcFace(scale: 16), memoryBudget: budget))
            }
        case .triplet:
            let b = pick(64...1_100, 8...32, &rng), d = cpu ? 32 : 8   // up to 35,200 values: past the metric losses' parallel threshold
            let a = matrix(b, d, &rng), n = matrix(b, d, &rng), noise = matrix(b, d, scale: 1.35, &rng)
            let p = try! Matrix(rows: b, columns: d, values: zip(a.values, noise.values).map { $0 + $1 })
            let norm = 1 + rng.index(2), swap = rng.index(2) == 0
            return Call("tripletMarginLoss \(b)×\(d) p=\(norm)\(swap ? " swap" : "")") { e in
                Outputs(try e.tripletMarginLoss(anchors: a, positives: p, negatives: n, margin: norm == 1 ? 2 : 1, p: norm, swap: swap))
            }
        case .minedTriplet:
            let b = pick(32...200, 8...24, &rng), d = pick(8...24, 4...8, &rng), classes = pick(3...8, 2...3, &rng)
            let embeddings = matrix(b, d, &rng)
            let labels = (0..<b).map { $0 < classes ? $0 : rng.index(classes) }
            let mining = TripletMining.allCases[rng.index(2)]
            return Call("minedTripletLoss \(mining) \(b)×\(d), \(classes) classes") { e in
                Outputs(try e.minedTripletLoss(embeddings: embeddings, labels: labels, mining: mining))
            }
        case .center:
            let b = pick(64...1_100, 8...32, &rng), d = cpu ? 32 : 8, c = pick(5...100, 3...6, &rng)
            let x = matrix(b, d, &rng), centers = matrix(c, d, scale: 0.5, &rng)
            let labels = (0..<b).map { _ in rng.index(c) }
            let alpha = Float(rng.unit())
            return Call("centerLoss \(b)×\(d), \(c) classes, α=\(alpha)") { e in
                Outputs(try e.centerLoss(features: x, labels: labels, centers: centers, alpha: alpha))
            }
        case .reduction:
            let rows = pick(16...64, 4...16, &rng), columns = pick(100...4_000, 10...100, &rng)
            let x = matrix(rows, columns, scale: 2, &rng)
            let op = ReductionOperation.allCases[rng.index(ReductionOperation.allCases.count)]
            let axis = ReductionAxis.allCases[rng.index(ReductionAxis.allCases.count)]
            let groups = axis == .all ? 1 : (axis == .rows ? rows : columns)
            let grad = uniform(groups, -1...2, &rng)
            return Call("reduce \(op) over \(axis) \(rows)×\(columns)") { e in
                let (result, backend) = try x.values.withUnsafeBufferPointer { try e.reduce(op, input: $0, rows: rows, columns: columns, over: axis) }
                var out = Outputs(backend: backend)
                out.add("values", result.values)
                if [.max, .min, .argmax].contains(op) { out.add("indices", result.indices) }
                if op != .argmax {
                    out.add("backward", try e.reduceBackward(op, x, over: axis, result: result, gradOutput: grad).values)
                }
                return out
            }
        }
    }

    /// Caller `caller`'s sequence: every kind in turn (starting at a caller-dependent kind), every
    /// third step on OpenCL, inputs from the caller's own seed.
    static func steps(caller: Int, openCL: Bool) -> [Step] {
        var rng = TestRNG(seed: 0xC0FFEE + UInt64(caller))
        return (0..<stepsPerCaller).map { s in
            let kind = Kind.allCases[(s + caller) % Kind.allCases.count]
            let backend: TestBackend = openCL && s % 3 == 2 ? .opencl : .cpu
            return Step(call: makeCall(kind, backend, &rng), backend: backend)
        }
    }

    /// What one caller saw.
    struct Report: Sendable {
        var iterations = 0
        var mismatches = 0
        var firstMismatches: [String] = []
        var errors: [String] = []
    }

    // MARK: Tests

    @Test("8 callers share one CPU and one OpenCL engine: every result has the sequential bits")
    func sharedEnginesUnderConcurrentMixedLoad() async throws {
        if Backends.openCLRequired { try Backends.requireOpenCL() }
        // Without a device (and not required), the OpenCL steps run on the CPU engine instead.
        let openCL = Backends.openCLAvailable
        let sequences = (0..<Self.callerCount).map { Self.steps(caller: $0, openCL: openCL) }

        // The expected results: every call made alone, one after the other.
        var expected: [[Outputs]] = []
        for (caller, steps) in sequences.enumerated() {
            var results: [Outputs] = []
            for step in steps {
                let out = try step.call.run(Self.engine(step.backend))
                #expect(out.backend == step.backend.expected, "caller \(caller), \(step.call.name): ran on \(out.backend)")
                if let why = out.vacuity { Issue.record("caller \(caller), \(step.call.name): outputs cannot show a difference: \(why)") }
                results.append(out)
            }
            expected.append(results)
        }
        #expect(!openCL || sequences.joined().contains { $0.backend == .opencl })

        let reports = Locked([Report](repeating: Report(), count: Self.callerCount))
        let expectedResults = expected
        let clock = ContinuousClock()
        let started = clock.now
        await Self.onThreads(Self.callerCount) { caller in
            let steps = sequences[caller]
            let deadline = clock.now + Self.timeBudget
            var report = Report()
            var i = 0
            while i < Self.maxIterationsPerCaller && (i < steps.count || clock.now < deadline) {
                let step = steps[i % steps.count], want = expectedResults[caller][i % steps.count]
                i += 1
                do {
                    let got = try step.call.run(Self.engine(step.backend))
                    var why = got.firstDifference(from: want)
                    if got.backend != want.backend { why = "ran on \(got.backend), expected \(want.backend)" + (why.map { "; \($0)" } ?? "") }
                    if let why {
                        report.mismatches += 1
                        if report.firstMismatches.count < 3 { report.firstMismatches.append("iteration \(i), \(step.call.name): \(why)") }
                    }
                } catch {
                    if report.errors.count < 3 { report.errors.append("iteration \(i), \(step.call.name): \(error)") }
                }
            }
            report.iterations = i
            reports.withLock { $0[caller] = report }
        }
        let elapsed = clock.now - started

        let all = reports.withLock { $0 }
        for (caller, report) in all.enumerated() {
            #expect(report.errors.isEmpty, "caller \(caller) threw: \(report.errors.joined(separator: " | "))")
            #expect(
                report.mismatches == 0,
                """
                caller \(caller): \(report.mismatches) of \(report.iterations) concurrent results differ from the sequential ones: \
                \(report.firstMismatches.joined(separator: " | "))
                """)
            #expect(report.iterations >= Self.stepsPerCaller, "caller \(caller) ran \(report.iterations) iterations, fewer than one pass")
            #expect(report.iterations <= Self.maxIterationsPerCaller)
        }
        let total = all.reduce(0) { $0 + $1.iterations }
        print("ConcurrencyStressTests: \(total) concurrent calls by \(Self.callerCount) callers in \(elapsed)")
    }

    /// Engines created from eight threads at once, each discovering the OpenCL devices repeatedly,
    /// reading its choices, opening its device (`plannedDevice`), and computing on it; plus one
    /// fresh `.opencl` engine whose first use (device opening, program build) happens from eight
    /// threads at once. Every answer matches the one given alone, every result the shared engines'
    /// bits.
    @Test func enginesAndDeviceDiscoveryFromManyThreadsAtOnce() async throws {
        if Backends.openCLRequired { try Backends.requireOpenCL() }
        let openCL = Backends.openCLAvailable

        // Answers and results computed alone, first.
        let devices = Engine.openCLDevices()
        let choices = Backends.openCLEngine.openCLChoices()
        let explicitDevice: OpenCLDeviceInfo? = choices.explicit.flatMap { i in (try? devices.get()).map { $0[i] } }
        #expect(!openCL || explicitDevice != nil, "OpenCL is available but no explicit device was chosen")
        var rng = TestRNG(seed: 77)
        let logits = try Matrix(rows: 6, columns: 257, values: TestData.normal(6 * 257, scale: 3, rng: &rng))
        let labels = (0..<6).map { _ in rng.index(257) }
        let ceCall = Call("crossEntropy 6×257 ε=0.1") { e in Outputs(try e.crossEntropy(logits: logits, labels: labels, labelSmoothing: 0.1)) }
        let cpuExpected = try ceCall.run(Backends.cpuEngine)
        let openCLExpected = openCL ? try ceCall.run(Backends.openCLEngine) : nil
        if let openCLExpected { #expect(openCLExpected.backend == .opencl) }

        // Never used before the threads start: its device is opened and its program built under contention.
        let fresh = try Engine(policy: .opencl, offloadMinimumElements: 0, openCLDeviceTypes: .any)

        let problems = Locked([String]())
        await Self.onThreads(Self.callerCount) { index in
            func fail(_ message: String) { problems.withLock { $0.append("thread \(index): \(message)") } }
            func check(_ out: Outputs, _ expected: Outputs, _ what: String) {
                if out.backend != expected.backend { fail("\(what) ran on \(out.backend), expected \(expected.backend)") }
                if let why = out.firstDifference(from: expected) { fail("\(what): \(why)") }
            }
            do {
                for _ in 0..<20 {
                    let found = Engine.openCLDevices()
                    switch (found, devices) {
                    case (.success(let a), .success(let b)) where a == b: break
                    case (.failure(let a), .failure(let b)) where a.description == b.description: break
                    default: fail("openCLDevices() gave \(found), alone \(devices)")
                    }
                }
                let threads = 1 + index % 5
                let cpu = try Engine(policy: .cpu, cpuThreads: threads, openCLDeviceTypes: .any)
                let explicit = try Engine(policy: .opencl, offloadMinimumElements: 0, openCLDeviceTypes: .any)
                let auto = try AutoCeilings.offloadingEngine()
                if cpu.cpuThreads != threads || cpu.policy != .cpu || explicit.policy != .opencl || auto.policy != .auto {
                    fail("engine settings: cpu \(cpu.policy)/\(cpu.cpuThreads), explicit \(explicit.policy), auto \(auto.policy)")
                }
                for engine in [cpu, explicit, auto] {
                    let c = engine.openCLChoices()
                    if c.explicit != choices.explicit || c.automatic != choices.automatic { fail("openCLChoices() \(c), alone \(choices)") }
                }
                if cpu.plannedDevice(elements: 1) != nil { fail("a .cpu engine plans a device") }
                if explicit.plannedDevice(elements: 1) != explicitDevice {
                    fail("explicit plannedDevice \(String(describing: explicit.plannedDevice(elements: 1)))")
                }
                if auto.plannedDevice(elements: 1) != explicitDevice {
                    fail("auto (any device) plannedDevice \(String(describing: auto.plannedDevice(elements: 1)))")
                }

                check(try ceCall.run(cpu), cpuExpected, "a new \(threads)-thread CPU engine")
                if let openCLExpected {
                    check(try ceCall.run(fresh), openCLExpected, "the fresh shared OpenCL engine's first use")
                    // Two threads also build a program in an engine of their own, concurrently with the others.
                    if index < 2 { check(try ceCall.run(index == 0 ? explicit : auto), openCLExpected, "a new \(index == 0 ? "opencl" : "auto") engine") }
                }
            } catch {
                fail("threw \(error)")
            }
        }
        let found = problems.withLock { $0 }
        #expect(found.isEmpty, "\(found.count) problems: \(found.prefix(5).joined(separator: " | "))")
    }
}
