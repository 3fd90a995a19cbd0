import ArgumentParser

/// The input files of `compute`, one flag per tensor of the table (`TensorSpec.flag`); which ones
/// an operation reads is the table's to say.
struct TensorFlags: ParsableArguments {
    @Option(
        name: .long,
        help:
            "Logits, float .npy: [B, C] for the softmax losses; any rank for softmax, log-softmax, logsumexp (last dimension: classes), sigmoid-focal and bce-with-logits."
    )
    var logits: String?
    @Option(name: .long, help: "Class indices, integer .npy of shape [B] (cross-entropy, focal, nll, margin-softmax, triplet-mined, center).") var labels:
        String?
    @Option(name: .long, help: "Probability targets instead of --labels, [B, C], every value finite and >= 0 (cross-entropy).") var targetProbs: String?
    @Option(
        name: .long,
        help:
            "Targets: in [0, 1] with the shape of --logits (sigmoid-focal, bce-with-logits); the shape of --predictions (regression losses); of --log-probs (kl-div)."
    )
    var targets: String?
    @Option(name: .long, help: "Log-probabilities: [B, C] (nll); any rank ≥ 1, B the first dimension (kl-div).") var logProbs: String?
    @Option(name: .long, help: "Predictions, float .npy of any rank (mse, l1, smooth-l1, huber, msle, mape).") var predictions: String?
    @Option(name: .long, help: "Per-element weights of bce-with-logits: the shape of --logits, or [C] broadcast over rows.") var elementWeights: String?
    @Option(name: .long, help: "Weights of the positive term per class, [C] (bce-with-logits).") var posWeight: String?
    @Option(name: .long, help: "Per-class weights, shape [C] (cross-entropy, nll).") var classWeights: String?
    @Option(name: .long, help: "Features X, [B, D] (margin-softmax, center).") var features: String?
    @Option(name: .long, help: "Class weights W, shape [C, D], one row per class (margin-softmax).") var weights: String?
    @Option(name: .long, help: "First vectors of the pairs, [B, D] (contrastive).") var left: String?
    @Option(name: .long, help: "Second vectors of the pairs, [B, D] (contrastive).") var right: String?
    @Option(name: .long, help: "1 for a similar pair, 0 for a dissimilar one, shape [B] (contrastive).") var similar: String?
    @Option(name: .long, help: "Anchors, [B, D] (triplet).") var anchors: String?
    @Option(name: .long, help: "Positives, [B, D] (triplet).") var positives: String?
    @Option(name: .long, help: "Negatives, [B, D] (triplet).") var negatives: String?
    @Option(name: .long, help: "Embeddings, [B, D] (triplet-mined).") var embeddings: String?
    @Option(name: .long, help: "Class centers, [C, D] (center); the updated centers are written to centers.npy.") var centers: String?
    @Option(
        name: .long,
        help: """
            Upstream gradient. softmax, log-softmax: the output's shape, adds grad_logits.npy; logsumexp: one value per row. Losses: \
            only with --reduction none (else exit 2); one value per row, or the input's shape for the elementwise losses.
            """)
    var gradOutput: String?

    /// Every tensor flag this command parses, without `--`.
    static let flags = [
        "logits", "labels", "target-probs", "targets", "log-probs", "predictions", "element-weights", "pos-weight", "class-weights",
        "features", "weights", "left", "right", "similar", "anchors", "positives", "negatives", "embeddings", "centers", "grad-output",
    ]

    /// The files given, by flag.
    var given: [String: String] {
        let all: [(String, String?)] = [
            ("logits", logits), ("labels", labels), ("target-probs", targetProbs), ("targets", targets), ("log-probs", logProbs), ("predictions", predictions),
            ("element-weights", elementWeights), ("pos-weight", posWeight), ("class-weights", classWeights), ("features", features), ("weights", weights),
            ("left", left), ("right", right), ("similar", similar), ("anchors", anchors), ("positives", positives), ("negatives", negatives),
            ("embeddings", embeddings), ("centers", centers), ("grad-output", gradOutput),
        ]
        return Dictionary(uniqueKeysWithValues: all.compactMap { flag, path in path.map { (flag, $0) } })
    }
}
