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

    func reduce(_ losses: [Double]) -> [Float] {
        switch reduction {
        case .none: return losses.map { Float($0) }
        case .sum: return [Float(losses.reduce(0, +))]
        case .mean: return [Float(losses.reduce(0, +) / Double(losses.count))]
        }
    }

    /// The default memory budget of the logits tile: 128 MiB (B = 256 × C = 100,000 fits in one tile).
    static let defaultMemoryBudget = 128 << 20

    /// Classes per tile for `rows` rows within `budget` bytes (at least 1, at most `classes`).
    static func tileColumns(rows: Int, classes: Int, budget: Int) -> Int {
        min(classes, max(1, budget / max(1, rows * MemoryLayout<Float>.size)))
    }
}
