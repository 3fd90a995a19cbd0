import LossKernels

/// One operation as the command line, the benchmarks and `verify` see it — the row of the table
/// they all read (`Catalog.operations`): its tensors and options, what it writes, how it is
/// benchmarked and compared with the machine's ceilings, where it may run device-resident, the
/// cases `verify` checks, how to call the library, and its float64 reference.
public struct CatalogOperation: Sendable {
    /// What bounds the operation's speed, and so which ceiling `--vs-ceiling` compares it with.
    public enum Bound: String, Sendable {
        /// Memory bandwidth: compared with a copy rate (GB/s).
        case bandwidth
        /// Matrix products: compared with an SGEMM rate (GFLOP/s).
        case gemm
    }

    /// What a benchmark times.
    public enum Pass: String, Sendable, CaseIterable {
        /// The forward pass alone (softmax, log-softmax, logsumexp).
        case forward
        /// Forward and backward (the losses compute both in one call).
        case both
    }

    /// The name on the command line ("cross-entropy").
    public let name: String
    /// One line: what it computes.
    public let summary: String
    /// The tensors it reads (`compute`'s input flags).
    public let tensors: [TensorSpec]
    /// Its options (flags besides the tensors).
    public let options: [OptionSpec]
    /// The results it writes, in order (`compute` writes `<name>.npy`); a bracketed name only in
    /// some cases ("[grad_logits]").
    public let results: [String]
    /// Whether `compute` runs it (train-step is a benchmark only).
    public let computable: Bool
    /// How `bench` runs it.
    public let bench: BenchSpec
    public let bound: Bound
    /// The passes `bench --device-resident` can time with the data on the device (empty: refused).
    public let deviceResidentPasses: Set<Pass>
    /// The cases `verify` checks against the reference (empty: not checked).
    public let verification: [VerifyCase]
    /// Pairs of flags (tensors or options) the operation refuses together.
    public let exclusions: [(String, String)]

    let prepare: @Sendable (CallSetup) throws -> PreparedCall
    let reference: (@Sendable (CallSetup) throws -> [ReferenceResult])?

    init(
        name: String, summary: String, tensors: [TensorSpec], options: [OptionSpec], results: [String], computable: Bool = true, bench: BenchSpec,
        bound: Bound = .bandwidth, deviceResidentPasses: Set<Pass> = [], verification: [VerifyCase] = [], exclusions: [(String, String)] = [],
        prepare: @escaping @Sendable (CallSetup) throws -> PreparedCall, reference: (@Sendable (CallSetup) throws -> [ReferenceResult])? = nil
    ) {
        self.name = name
        self.summary = summary
        self.tensors = tensors
        self.options = options
        self.results = results
        self.computable = computable
        self.bench = bench
        self.bound = bound
        self.deviceResidentPasses = deviceResidentPasses
        self.verification = verification
        self.exclusions = exclusions
        self.prepare = prepare
        self.reference = reference
    }

    /// The tensor spec of `flag`, if the operation reads it.
    public func tensor(_ flag: String) -> TensorSpec? { tensors.first { $0.flag == flag } }
    /// The option spec of `flag`, if the operation has it.
    public func option(_ flag: String) -> OptionSpec? { options.first { $0.flag == flag } }

    /// Prepares calls of the operation on `engine` with these inputs (by flag) and options: the
    /// library is called by `PreparedCall.run`, its outputs allocated once and reused.
    /// - Throws: a `LossKernelsError` for an option value the operation refuses.
    /// `shape` and `seed` are the benchmark's (train-step makes its head of `shape.classes`
    /// classes from `seed`).
    public func prepare(
        engine: Engine, inputs: [String: HostTensor], options: OperationOptions, deviceResident: Bool = false,
        shape: BenchShape? = nil, seed: UInt64 = 42
    ) throws -> PreparedCall {
        try prepare(CallSetup(engine: engine, inputs: inputs, options: options, deviceResident: deviceResident, shape: shape, seed: seed))
    }

    /// The float64 reference results of the operation on these inputs (nil when it has none).
    public func referenceResults(inputs: [String: HostTensor], options: OperationOptions) throws -> [ReferenceResult]? {
        guard let reference else { return nil }
        return try reference(CallSetup(engine: nil, inputs: inputs, options: options, deviceResident: false, shape: nil, seed: 0))
    }
}

/// An option flag of an operation.
public struct OptionSpec: Sendable {
    /// The flag without `--`.
    public let flag: String
    /// The words it accepts, when it takes a word (`--reduction`, `--head`); nil otherwise.
    public let words: [String]?

    public init(_ flag: String, words: [String]? = nil) {
        self.flag = flag
        self.words = words
    }
}

/// How `bench` makes an operation's inputs and reads its size flags.
public struct BenchSpec: Sendable {
    /// A size flag of `bench`.
    public enum SizeFlag: String, Sendable, CaseIterable {
        case batch, classes, dim, elements
    }

    /// The size flags the operation uses (others are refused).
    public let sizes: Set<SizeFlag>
    /// `--dim` when not given (0: the operation has no D).
    public let defaultDim: Int
    /// `--elements` when not given, for elementwise operations (nil: `--batch` × `--classes`).
    public let defaultElements: Int?
    /// The passes it can time and the default one.
    public let passes: [CatalogOperation.Pass]
    /// The size C of its tensors and the range of its labels, from `--batch` and `--classes`
    /// (default: `--classes`).
    public let classes: @Sendable (_ batch: Int, _ classes: Int) -> Int

    init(
        sizes: Set<SizeFlag>, defaultDim: Int = 0, defaultElements: Int? = nil, passes: [CatalogOperation.Pass] = [.both],
        classes: @escaping @Sendable (Int, Int) -> Int = { _, classes in classes }
    ) {
        self.sizes = sizes
        self.defaultDim = defaultDim
        self.defaultElements = defaultElements
        self.passes = passes
        self.classes = classes
    }

    /// The pass timed when `--pass` is not given: the first of `passes`.
    public var defaultPass: CatalogOperation.Pass { passes[0] }
}

/// The problem size of a benchmark or a `verify` case: `--batch`, `--classes`, `--dim`,
/// `--elements` (0: the operation's default).
public struct BenchShape: Sendable, Equatable {
    public var batch: Int
    public var classes: Int
    public var dim: Int
    public var elements: Int

    public init(batch: Int, classes: Int, dim: Int = 0, elements: Int = 0) {
        self.batch = batch
        self.classes = classes
        self.dim = dim
        self.elements = elements
    }
}

/// What an operation's preparation sees.
struct CallSetup {
    /// nil for the reference.
    let engine: Engine?
    let inputs: [String: HostTensor]
    let options: OperationOptions
    let deviceResident: Bool
    /// The benchmark's shape, when a benchmark prepares the call.
    let shape: BenchShape?
    let seed: UInt64

    /// The tensor given for `flag`; the command line guarantees required ones are there.
    func tensor(_ flag: String) -> HostTensor {
        guard let tensor = inputs[flag] else { preconditionFailure("no input --\(flag)") }
        return tensor
    }

    func optional(_ flag: String) -> HostTensor? { inputs[flag] }

    func requireEngine() -> Engine {
        guard let engine else { preconditionFailure("a call needs an engine") }
        return engine
    }
}

/// A call prepared once and run many times: inputs made, outputs allocated.
public final class PreparedCall {
    /// Runs one call; returns the backend that ran it.
    public let run: () throws -> Backend
    /// The results of the last run, named as `compute` writes them.
    public let results: () throws -> [NamedResult]
    /// The matrix products' shape for an SGEMM ceiling (B rows, D inner, C columns), for the
    /// GEMM-bound operations.
    public let gemmShape: (batch: Int, dim: Int, classes: Int)?

    init(gemmShape: (batch: Int, dim: Int, classes: Int)? = nil, run: @escaping () throws -> Backend, results: @escaping () throws -> [NamedResult]) {
        self.run = run
        self.results = results
        self.gemmShape = gemmShape
    }

    /// A call whose library method returns all its outputs as one value: `run` makes the call and
    /// keeps the value, `results` names the outputs of the last run (none before the first).
    convenience init<Output>(
        gemmShape: (batch: Int, dim: Int, classes: Int)? = nil, keepingLast call: @escaping () throws -> Output, backend: KeyPath<Output, Backend>,
        results: @escaping (Output) -> [NamedResult]
    ) {
        var last: Output?
        self.init(
            gemmShape: gemmShape,
            run: {
                let output = try call()
                last = output
                return output[keyPath: backend]
            },
            results: { last.map(results) ?? [] })
    }

    /// Runs one call and returns, with the backend that ran, the bytes and FLOPs the library's
    /// descriptions state for the calls it made (each tensor read once and written once; a tensor
    /// one call writes and the next reads counts again; matrix products `2·M·N·K`).
    public func runRecordingWork() throws -> (backend: Backend, bytes: Int, flops: Int) {
        let (backend, work) = try Engine.recordingWork { try run() }
        return (backend, work.bytes, work.flops)
    }
}

/// A float64 reference result and the rule it is compared with (`ComparisonRules`).
public struct ReferenceResult: Sendable {
    public enum Rule: Sendable, Equatable {
        /// Every value within `tolerance·max(1, |ref|)`.
        case elementwise(Double)
        /// Through a matrix product: relative norm 1e-4, every value within 1e-3·max(1, |ref|).
        case gemm
    }

    public let name: String
    public let values: [Double]
    public let rule: Rule

    init(_ name: String, _ values: [Double], _ rule: Rule = .elementwise(1e-4)) {
        self.name = name
        self.values = values
        self.rule = rule
    }
}

/// One case `verify` checks: options, optional tensors to give, and a modest shape.
public struct VerifyCase: Sendable {
    /// How the case is named in the report ("margin-softmax --head cosface").
    public let label: String
    public let options: OperationOptions
    /// Optional tensors (or the alternative of a group) to give besides the required ones.
    public let tensors: Set<String>
    public let shape: BenchShape

    init(_ label: String, _ options: OperationOptions = OperationOptions(), tensors: Set<String> = [], shape: BenchShape) {
        self.label = label
        self.options = options
        self.tensors = tensors
        self.shape = shape
    }
}
