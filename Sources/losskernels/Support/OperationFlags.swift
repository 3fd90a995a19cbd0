import ArgumentParser
import LossKernelsCatalog

/// The options of the operations (`compute` and `bench`): the flags of the table's option specs.
/// Every value is optional, so that what was given can be told from what was not; the table then
/// refuses a flag the operation does not use (`OperationUsage`).
struct OperationFlags: ParsableArguments {
    @Option(name: .long, help: "mean, sum or none (losses; default mean); kl-div also batchmean (its default is mean).") var reduction: String?
    @Option(name: .long, parsing: .unconditional, help: "Label of rows that count for nothing (cross-entropy, nll; default -100).") var ignoreIndex: Int?
    @Option(name: .long, parsing: .unconditional, help: "Label smoothing in [0, 1] (cross-entropy; default 0).") var labelSmoothing: Float?
    @Option(name: .long, parsing: .unconditional, help: "Focusing parameter γ ≥ 0 (focal, sigmoid-focal; default 2).") var gamma: Float?
    @Option(
        name: .long, parsing: .unconditional,
        help: "Scalar α: focal class weighting (default 1); sigmoid-focal (default 0.25, negative for none); center update rate in [0, 1] (default 0.5).")
    var alpha: Float?
    @Option(name: .long, parsing: .unconditional, help: "Smooth-L1 threshold β ≥ 0 (smooth-l1; default 1; 0 is l1).") var beta: Float?
    @Option(name: .long, parsing: .unconditional, help: "Huber threshold δ > 0 (huber; default 1).") var delta: Float?
    @Option(name: .long, help: "Norm of the triplet distance: 1 or 2 (triplet; default 2).") var p: Int?
    @Option(name: .long, parsing: .unconditional, help: "Added to every component of x − y before the norm (triplet; default 1e-6).") var eps: Float?
    @Flag(name: .long, help: "Use min(d(a,n), d(p,n)) as the negative distance (triplet).") var swap = false
    @Option(name: .long, help: "In-batch mining: all or hard (triplet-mined; default all).") var mining: String?
    @Flag(name: .long, help: "kl-div: --targets holds log-probabilities.") var logTarget = false
    @OptionGroup(title: "Margin head (margin-softmax, train-step; --margin also for contrastive, triplet, triplet-mined)") var head: HeadFlags

    /// The flags given, as the table reads them.
    var given: OperationOptions {
        var values: [String: OperationOptions.Value] = head.given.values
        if let reduction { values["reduction"] = .word(reduction) }
        if let ignoreIndex { values["ignore-index"] = .integer(ignoreIndex) }
        if let labelSmoothing { values["label-smoothing"] = .number(Double(labelSmoothing)) }
        if let gamma { values["gamma"] = .number(Double(gamma)) }
        if let alpha { values["alpha"] = .number(Double(alpha)) }
        if let beta { values["beta"] = .number(Double(beta)) }
        if let delta { values["delta"] = .number(Double(delta)) }
        if let p { values["p"] = .integer(p) }
        if let eps { values["eps"] = .number(Double(eps)) }
        if swap { values["swap"] = .on }
        if let mining { values["mining"] = .word(mining) }
        if logTarget { values["log-target"] = .on }
        return OperationOptions(values)
    }
}

/// The margin-head flags (`compute margin-softmax`, `bench margin-softmax`, `bench train-step`,
/// `train`).
struct HeadFlags: ParsableArguments {
    @Option(name: .long, help: "Head: normalized, cosface, arcface, combined, sphereface, large-margin (default cosface).") var head: String?
    @Option(name: .long, parsing: .unconditional, help: "Scale s (default: the head's, 64; sphereface 1).") var scale: Float?
    @Option(
        name: .long, parsing: .unconditional,
        help: "Margin m (cosface 0.35, arcface 0.5; sphereface/large-margin: integer, 4; contrastive, triplet, triplet-mined: 1).")
    var margin: Float?
    @Option(name: .long, parsing: .unconditional, help: "Combined margin m1 (1).") var m1: Float?
    @Option(name: .long, parsing: .unconditional, help: "Combined margin m2 (0.3).") var m2: Float?
    @Option(name: .long, parsing: .unconditional, help: "Combined margin m3 (0.2).") var m3: Float?
    @Option(name: .customLong("lambda"), parsing: .unconditional, help: "sphereface/large-margin annealing weight λ (0).") var lambda: Float?
    @Flag(name: .long, help: "arcface: apply the margin only where cos θ > 0.") var easyMargin = false
    @Option(name: .long, help: "Target gradient: exact or detached (default exact).") var gradient: String?
    @Option(name: .long, help: "Memory budget of the logits tile in MiB, 1…1048576 (default 128).") var memoryBudgetMb: Int?

    var given: OperationOptions {
        var values: [String: OperationOptions.Value] = [:]
        if let head { values["head"] = .word(head) }
        if let scale { values["scale"] = .number(Double(scale)) }
        if let margin { values["margin"] = .number(Double(margin)) }
        if let m1 { values["m1"] = .number(Double(m1)) }
        if let m2 { values["m2"] = .number(Double(m2)) }
        if let m3 { values["m3"] = .number(Double(m3)) }
        if let lambda { values["lambda"] = .number(Double(lambda)) }
        if easyMargin { values["easy-margin"] = .on }
        if let gradient { values["gradient"] = .word(gradient) }
        if let memoryBudgetMb { values["memory-budget-mb"] = .integer(memoryBudgetMb) }
        return OperationOptions(values)
    }
}

/// The optimizer and class-sampling flags of `train` and `bench train-step`.
struct TrainingFlags: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "Partial-FC sample rate r in (0, 1] (default 1: every class each step).") var sampleRate: Double?
    @Option(name: .long, parsing: .unconditional, help: "SGD learning rate (default 0.1).") var learningRate: Float?
    @Option(name: .long, parsing: .unconditional, help: "SGD momentum in [0, 1) (default 0.9).") var momentum: Float?
    @Option(name: .long, parsing: .unconditional, help: "SGD weight decay (default 5e-4).") var weightDecay: Float?

    var given: OperationOptions {
        var values: [String: OperationOptions.Value] = [:]
        if let sampleRate { values["sample-rate"] = .number(sampleRate) }
        if let learningRate { values["learning-rate"] = .number(Double(learningRate)) }
        if let momentum { values["momentum"] = .number(Double(momentum)) }
        if let weightDecay { values["weight-decay"] = .number(Double(weightDecay)) }
        return OperationOptions(values)
    }
}

extension OperationOptions {
    /// These options and `other`'s (flags are distinct).
    func merging(_ other: OperationOptions) -> OperationOptions {
        OperationOptions(values.merging(other.values) { a, _ in a })
    }
}
