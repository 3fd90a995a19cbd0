import Foundation

/// One call of a margin-softmax head, validated: `features X` (`B×D`), `classWeights W` (`C×D`),
/// labels, the head, the per-row gradient scale and the class tile width.
struct MarginSoftmaxProblem: Sendable {
    let rows: Int
    let dimension: Int
    let classes: Int
    let labels: [Int]
    let head: MarginHead
    let reduction: LossReduction
    /// ∂(reduced loss)/∂loss_i: 1/B (mean), 1 (sum), the upstream value or 1 (none).
    let rowScale: [Float]
    /// Classes per tile; `classes` when one tile covers them all.
    let tileColumns: Int

    /// A problem whose tile holds as many classes as `memoryBudget` bytes of logits allow.
    init(rows: Int, dimension: Int, classes: Int, labels: [Int], head: MarginHead, reduction: LossReduction, gradOutput: [Float]?, memoryBudget: Int) {
        self.rows = rows
        self.dimension = dimension
        self.classes = classes
        self.labels = labels
        self.head = head
        self.reduction = reduction
        rowScale = reduction.gradientScales(count: rows, meanDenominator: Double(rows), gradOutput: gradOutput).map { Float($0) }
        tileColumns = Self.tileColumns(rows: rows, classes: classes, budget: memoryBudget)
    }

    var tiles: Int { (classes + tileColumns - 1) / tileColumns }

    /// The amplitude α_i of row i's logits: s (normalized family), s·‖x_i‖ (sphereFace), ‖x_i‖ (largeMargin).
    func amplitude(rowNorm u: Float) -> Float {
        switch head.kind {
        case .sphereFace: return head.scale * u
        case .largeMargin: return u
        default: return head.scale
        }
    }

    /// Whether the logit amplitude depends on ‖x‖ (sphereFace, largeMargin) and on ‖w‖ (largeMargin).
    var amplitudeUsesFeatureNorm: Bool { head.kind == .sphereFace || head.kind == .largeMargin }
    var amplitudeUsesWeightNorm: Bool { head.kind == .largeMargin }

    /// The reduced loss from the per-row losses (mean over the `B` rows).
    func reduce(_ losses: [Double]) -> [Float] { reduction.reduce(losses, meanDenominator: Double(rows)) }

    /// The default memory budget of the logits tile: 128 MiB (B = 256 × C = 100,000 fits in one tile).
    static let defaultMemoryBudget = 128 << 20

    /// Classes per tile for `rows` rows within `budget` bytes (at least 1, at most `classes`).
    static func tileColumns(rows: Int, classes: Int, budget: Int) -> Int {
        min(classes, max(1, budget / max(1, rows * MemoryLayout<Float>.size)))
    }
}
