import ArgumentParser
import LossKernels

extension LossReduction: ExpressibleByArgument {}

/// A flag of `losskernels compute` that only some operations use: the inputs named after their
/// tensors and the operations' options (shared/spec/CLI.md). `rawValue` is the flag without `--`.
enum ComputeFlag: String, CaseIterable {
    case logits, labels, targets, features, weights, predictions
    case left, right, similar, anchors, positives, negatives, embeddings, centers
    case classWeights = "class-weights"
    case gradOutput = "grad-output"
    case reduction
    case ignoreIndex = "ignore-index"
    case labelSmoothing = "label-smoothing"
    case gamma, alpha, beta, delta
    case p, eps, swap, mining
    case head, scale, margin, m1, m2, m3, lambda
    case easyMargin = "easy-margin"
    case gradient
    case memoryBudgetMb = "memory-budget-mb"

    /// `--name`, as the user types it.
    var flag: String { "--" + rawValue }

    /// The margin-head flags of `HeadOptions`.
    static let headFlags: [ComputeFlag] = [.head, .scale, .margin, .m1, .m2, .m3, .lambda, .easyMargin, .gradient, .memoryBudgetMb]
}

/// The operations of `losskernels compute`: which input flags each requires, which flags it
/// accepts besides, and the files it writes (shared/spec/CLI.md's table). `ComputeCommand.validate()`
/// refuses a missing required input and any flag an operation does not accept (exit 2).
enum ComputeOperation: String, ExpressibleByArgument, CaseIterable {
    case softmax
    case logSoftmax = "log-softmax"
    case crossEntropy = "cross-entropy"
    case focal
    case sigmoidFocal = "sigmoid-focal"
    case bceWithLogits = "bce-with-logits"
    case marginSoftmax = "margin-softmax"
    case mse, l1
    case smoothL1 = "smooth-l1"
    case huber, msle, mape
    case contrastive, triplet
    case tripletMined = "triplet-mined"
    case center

    /// Inputs the operation cannot run without.
    var requiredInputs: [ComputeFlag] {
        switch self {
        case .softmax, .logSoftmax: return [.logits]
        case .crossEntropy, .focal: return [.logits, .labels]
        case .sigmoidFocal, .bceWithLogits: return [.logits, .targets]
        case .marginSoftmax: return [.features, .weights, .labels]
        case .mse, .l1, .smoothL1, .huber, .msle, .mape: return [.predictions, .targets]
        case .contrastive: return [.left, .right, .similar]
        case .triplet: return [.anchors, .positives, .negatives]
        case .tripletMined: return [.embeddings, .labels]
        case .center: return [.features, .labels, .centers]
        }
    }

    /// Optional inputs and options the operation uses.
    var optionalFlags: [ComputeFlag] {
        switch self {
        case .softmax, .logSoftmax: return [.gradOutput]
        case .crossEntropy: return [.classWeights, .reduction, .ignoreIndex, .labelSmoothing, .gradOutput]
        case .focal, .sigmoidFocal: return [.gamma, .alpha, .reduction, .gradOutput]
        case .bceWithLogits: return [.reduction, .gradOutput]
        case .marginSoftmax: return ComputeFlag.headFlags + [.reduction, .gradOutput]
        case .smoothL1: return [.beta, .reduction, .gradOutput]
        case .huber: return [.delta, .reduction, .gradOutput]
        case .mse, .l1, .msle, .mape: return [.reduction, .gradOutput]
        case .contrastive: return [.margin, .reduction, .gradOutput]
        case .triplet: return [.margin, .p, .eps, .swap, .reduction, .gradOutput]
        case .tripletMined: return [.margin, .mining]
        case .center: return [.alpha]
        }
    }

    /// Whether the operation is a loss (takes `--reduction`; `--grad-output` only with `none`).
    var isLoss: Bool { optionalFlags.contains(.reduction) }

    /// The files it writes; the bracketed one only with `--grad-output`.
    var outputs: String {
        switch self {
        case .softmax: return "probs.npy [grad_logits.npy]"
        case .logSoftmax: return "log_probs.npy [grad_logits.npy]"
        case .crossEntropy, .focal, .sigmoidFocal, .bceWithLogits: return "loss.npy grad_logits.npy"
        case .marginSoftmax: return "loss.npy grad_features.npy grad_weights.npy"
        case .mse, .l1, .smoothL1, .huber, .msle, .mape: return "loss.npy grad_predictions.npy"
        case .contrastive: return "loss.npy grad_left.npy grad_right.npy"
        case .triplet: return "loss.npy grad_anchors.npy grad_positives.npy grad_negatives.npy"
        case .tripletMined: return "loss.npy grad_embeddings.npy"
        case .center: return "loss.npy grad_features.npy centers.npy"
        }
    }

    /// The operation's lines of the help: its input files ([optional]), options and result files.
    var usage: [String] {
        let tensors: Set<ComputeFlag> = [.logits, .labels, .targets, .features, .weights, .classWeights, .gradOutput, .predictions,
                                         .left, .right, .similar, .anchors, .positives, .negatives, .embeddings, .centers]
        let inputs = requiredInputs.map(\.flag) + optionalFlags.filter(tensors.contains).map { "[\($0.flag)]" }
        let options = optionalFlags.filter { !tensors.contains($0) && (!ComputeFlag.headFlags.contains($0) || $0 == .head) }
            .map { $0 == .head ? "the head flags" : $0.flag }
        let indent = String(repeating: " ", count: 18)
        var lines = ["  " + rawValue.padding(toLength: 16, withPad: " ", startingAt: 0) + inputs.joined(separator: " ")]
        if !options.isEmpty { lines.append(indent + "options: " + options.joined(separator: " ")) }
        lines.append(indent + "writes: " + outputs)
        return lines
    }
}
