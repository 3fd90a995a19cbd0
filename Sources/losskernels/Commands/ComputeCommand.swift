import ArgumentParser
import LossKernels

/// `losskernels compute <operation> [inputs] [options] --output-dir DIR [--backend B]`: runs one
/// operation of shared/spec/LOSSES.md on .npy files and writes its results as .npy files.
///
/// The command parses and checks the flags (`validate()`: a missing input or a flag the operation
/// does not use is a command-line error, exit 2); the work is done by one type per operation family
/// under Compute/, which reads the inputs and returns the results; they are written only when all
/// of them are computed, so a failed run leaves no files.
struct ComputeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compute",
        abstract: "Run one operation on .npy inputs and write its results as .npy files into --output-dir.",
        discussion: """
            Operations, their inputs ([optional]) and the files they write:

            \(ComputeOperation.allCases.flatMap(\.usage).joined(separator: "\n"))

            Head flags (margin-softmax only): --head, --scale, --margin, --m1, --m2, --m3, --lambda, \
            --easy-margin, --gradient, --memory-budget-mb.

            Labels are integer .npy files (<i4 or <i8), 1-d, one class index per row. loss.npy is a \
            0-d array for --reduction mean or sum, one value per row (per element for sigmoid-focal, \
            bce-with-logits and the regression losses) for none. Gradients have the shape of their input.

            A flag the operation does not use, a missing input, and --grad-output with a loss \
            whose --reduction is not none are command-line errors. Files are written whole or not \
            at all. Exit 1 for bad input, 2 for a malformed command line.
            """)

    @Argument(help: "The operation (listed above).")
    var operation: ComputeOperation

    // MARK: Inputs

    @Option(name: .long, help: "Logits, float32/float64 .npy: [B, C] for the softmax losses; any rank for softmax, log-softmax (last dimension: classes), sigmoid-focal and bce-with-logits.")
    var logits: String?

    @Option(name: .long, help: "Class indices, integer .npy of shape [B] (cross-entropy, focal, margin-softmax).")
    var labels: String?

    @Option(name: .long, help: "Targets: in [0, 1] with the shape of --logits (sigmoid-focal, bce-with-logits); the shape of --predictions (regression losses).")
    var targets: String?

    @Option(name: .long, help: "Predictions, float .npy of any rank (mse, l1, smooth-l1, huber, msle, mape).")
    var predictions: String?

    @Option(name: .long, help: "First vectors of the pairs, [B, D] (contrastive).") var left: String?
    @Option(name: .long, help: "Second vectors of the pairs, [B, D] (contrastive).") var right: String?
    @Option(name: .long, help: "1 for a similar pair, 0 for a dissimilar one, shape [B] (contrastive).") var similar: String?
    @Option(name: .long, help: "Anchors, [B, D] (triplet).") var anchors: String?
    @Option(name: .long, help: "Positives, [B, D] (triplet).") var positives: String?
    @Option(name: .long, help: "Negatives, [B, D] (triplet).") var negatives: String?
    @Option(name: .long, help: "Embeddings, [B, D] (triplet-mined).") var embeddings: String?
    @Option(name: .long, help: "Class centers, [C, D] (center); the updated centers are written to centers.npy.") var centers: String?

    @Option(name: .long, help: "Per-class weights, shape [C] (cross-entropy).")
    var classWeights: String?

    @Option(name: .long, help: "Features X, shape [B, D] (margin-softmax).")
    var features: String?

    @Option(name: .long, help: "Class weights W, shape [C, D], one row per class (margin-softmax).")
    var weights: String?

    @Option(name: .long, help: """
        Upstream gradient. softmax, log-softmax: the output's shape, adds grad_logits.npy. Losses: \
        only with --reduction none (else exit 2); shape [B], or the logits' shape for sigmoid-focal \
        and bce-with-logits.
        """)
    var gradOutput: String?

    // MARK: Loss options

    @Option(name: .long, help: "mean, sum or none (losses; default mean).")
    var reduction: LossReduction?

    @Option(name: .long, parsing: .unconditional, help: "Label of rows that count for nothing (cross-entropy; default -100).")
    var ignoreIndex: Int?

    @Option(name: .long, parsing: .unconditional, help: "Label smoothing in [0, 1] (cross-entropy; default 0).")
    var labelSmoothing: Float?

    @Option(name: .long, parsing: .unconditional, help: "Focusing parameter γ ≥ 0 (focal, sigmoid-focal; default 2).")
    var gamma: Float?

    @Option(name: .long, parsing: .unconditional, help: "Scalar α: focal class weighting (default 1); sigmoid-focal (default 0.25, negative for none); center update rate in [0, 1] (default 0.5).")
    var alpha: Float?

    @Option(name: .long, parsing: .unconditional, help: "Smooth-L1 threshold β ≥ 0 (smooth-l1; default 1; 0 is l1).")
    var beta: Float?

    @Option(name: .long, parsing: .unconditional, help: "Huber threshold δ > 0 (huber; default 1).")
    var delta: Float?

    @Option(name: .long, help: "Norm of the triplet distance: 1 or 2 (triplet; default 2).") var p: Int?
    @Option(name: .long, parsing: .unconditional, help: "Added to every component of x − y before the norm (triplet; default 1e-6).") var eps: Float?
    @Flag(name: .long, help: "Use min(d(a,n), d(p,n)) as the negative distance (triplet).") var swap = false
    @Option(name: .long, help: "In-batch mining: all or hard (triplet-mined; default all).") var mining: TripletMining?

    @OptionGroup(title: "Margin head (margin-softmax; --margin also for contrastive, triplet, triplet-mined)") var headOptions: HeadOptions

    // MARK: Output and backend

    @Option(name: .long, help: "Folder for the results (created if missing).")
    var outputDir: String

    @OptionGroup var backendOptions: BackendOptions

    /// The operation-specific flags present on the command line. `--head` and `--gradient` count
    /// when they differ from their defaults (`HeadOptions` does not record whether they were typed).
    var givenFlags: [ComputeFlag] {
        let given: [(ComputeFlag, Bool)] = [
            (.logits, logits != nil), (.labels, labels != nil), (.targets, targets != nil),
            (.classWeights, classWeights != nil), (.features, features != nil), (.weights, weights != nil),
            (.gradOutput, gradOutput != nil), (.reduction, reduction != nil), (.ignoreIndex, ignoreIndex != nil),
            (.labelSmoothing, labelSmoothing != nil), (.gamma, gamma != nil), (.alpha, alpha != nil),
            (.predictions, predictions != nil), (.beta, beta != nil), (.delta, delta != nil),
            (.left, left != nil), (.right, right != nil), (.similar, similar != nil), (.anchors, anchors != nil),
            (.positives, positives != nil), (.negatives, negatives != nil), (.embeddings, embeddings != nil), (.centers, centers != nil),
            (.p, p != nil), (.eps, eps != nil), (.swap, swap), (.mining, mining != nil),
            (.head, headOptions.head != nil), (.scale, headOptions.scale != nil), (.margin, headOptions.margin != nil),
            (.m1, headOptions.m1 != nil), (.m2, headOptions.m2 != nil), (.m3, headOptions.m3 != nil),
            (.lambda, headOptions.lambda != nil), (.easyMargin, headOptions.easyMargin),
            (.gradient, headOptions.gradient != nil), (.memoryBudgetMb, headOptions.memoryBudgetMb != nil),
        ]
        return given.filter(\.1).map(\.0)
    }

    func validate() throws {
        let name = operation.rawValue
        for input in operation.requiredInputs where !givenFlags.contains(input) {
            throw ValidationError("\(name) needs \(input.flag)")
        }
        let accepted = Set(operation.requiredInputs + operation.optionalFlags)
        if let unused = givenFlags.first(where: { !accepted.contains($0) }) {
            throw ValidationError("\(name) does not use \(unused.flag)")
        }
        if operation.isLoss, gradOutput != nil, (reduction ?? .mean) != .none {
            throw ValidationError("\(name): --grad-output needs --reduction none (with \((reduction ?? .mean).rawValue) the loss is one value and its gradient is written as is)")
        }
        if operation == .marginSoftmax { try validateHeadFlags() }
    }

    /// Refuses head flags that the chosen `--head` does not use (exit 2).
    private func validateHeadFlags() throws {
        let head = headOptions.head ?? .cosface
        let unused: [(ComputeFlag, Bool)] = [
            (.scale, headOptions.scale != nil && head == .largeMargin),
            (.margin, headOptions.margin != nil && [.normalized, .combined].contains(head)),
            (.m1, headOptions.m1 != nil && head != .combined),
            (.m2, headOptions.m2 != nil && head != .combined),
            (.m3, headOptions.m3 != nil && head != .combined),
            (.lambda, headOptions.lambda != nil && ![.sphereface, .largeMargin].contains(head)),
            (.easyMargin, headOptions.easyMargin && head != .arcface),
        ]
        if let hit = unused.first(where: { $0.1 }) {
            throw ValidationError("margin-softmax with --head \(head.rawValue) does not use \(hit.0.flag)")
        }
    }

    func run() throws {
        let engine = try backendOptions.makeEngine()
        let reduction = self.reduction ?? .mean
        let outputs: [TensorFiles.Output]
        switch operation {
        case .softmax, .logSoftmax:
            outputs = try SoftmaxCompute(logarithm: operation == .logSoftmax, logits: logits!, gradOutput: gradOutput).run(engine)
        case .crossEntropy:
            let loss = SoftmaxLossCompute.Loss.crossEntropy(classWeights: classWeights, ignoreIndex: ignoreIndex ?? -100, labelSmoothing: labelSmoothing ?? 0)
            outputs = try SoftmaxLossCompute(loss: loss, logits: logits!, labels: labels!, reduction: reduction, gradOutput: gradOutput).run(engine)
        case .focal:
            let loss = SoftmaxLossCompute.Loss.focal(gamma: gamma ?? 2, alpha: alpha ?? 1)
            outputs = try SoftmaxLossCompute(loss: loss, logits: logits!, labels: labels!, reduction: reduction, gradOutput: gradOutput).run(engine)
        case .bceWithLogits:
            outputs = try ElementwiseLossCompute(loss: .binaryCrossEntropy, logits: logits!, targets: targets!, reduction: reduction, gradOutput: gradOutput).run(engine)
        case .sigmoidFocal:
            let loss = ElementwiseLossCompute.Loss.sigmoidFocal(gamma: gamma ?? 2, alpha: alpha ?? 0.25)
            outputs = try ElementwiseLossCompute(loss: loss, logits: logits!, targets: targets!, reduction: reduction, gradOutput: gradOutput).run(engine)
        case .marginSoftmax:
            outputs = try MarginSoftmaxCompute(features: features!, weights: weights!, labels: labels!, head: headOptions.makeHead(),
                                               memoryBudget: try headOptions.memoryBudgetBytes(), reduction: reduction, gradOutput: gradOutput).run(engine)
        case .mse, .l1, .smoothL1, .huber, .msle, .mape:
            let regression: RegressionLoss
            switch operation {
            case .mse: regression = .mse
            case .l1: regression = .l1
            case .smoothL1: regression = .smoothL1(beta: beta ?? 1)
            case .huber: regression = .huber(delta: delta ?? 1)
            case .msle: regression = .msle
            default: regression = .mape
            }
            outputs = try ElementwiseLossCompute(loss: .regression(regression), logits: predictions!, targets: targets!, reduction: reduction, gradOutput: gradOutput).run(engine)
        case .contrastive, .triplet, .tripletMined, .center:
            let margin = headOptions.margin ?? 1
            let loss: MetricLossCompute.Loss
            switch operation {
            case .contrastive: loss = .contrastive(left: left!, right: right!, similar: similar!, margin: margin)
            case .triplet: loss = .triplet(anchors: anchors!, positives: positives!, negatives: negatives!, margin: margin, p: p ?? 2, eps: eps ?? 1e-6, swap: swap)
            case .tripletMined: loss = .mined(embeddings: embeddings!, labels: labels!, mining: mining ?? .batchAll, margin: margin)
            default: loss = .center(features: features!, labels: labels!, centers: centers!, alpha: alpha ?? 0.5)
            }
            outputs = try MetricLossCompute(loss: loss, reduction: reduction, gradOutput: gradOutput).run(engine)
        }
        try TensorFiles.write(outputs, to: outputDir)
    }
}
