import LossKernels
import LossKernelsReference

/// Host storage a prepared call writes into, allocated once and reused by every run, so a
/// benchmark times the call and not an allocation.
final class Buffer {
    var values: [Float]

    init(count: Int) { values = [Float](repeating: 0, count: count) }
    init(_ values: [Float]) { self.values = values }

    /// `body` with read access to `self` and write access to `output`.
    func read<R>(into output: Buffer, _ body: (UnsafeBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try values.withUnsafeBufferPointer { x in try output.values.withUnsafeMutableBufferPointer { try body(x, $0) } }
    }
}

/// Option specs several operations share.
enum Flags {
    static let reduction = OptionSpec("reduction", words: LossReduction.allCases.map(\.rawValue))
    static let klReduction = OptionSpec("reduction", words: KLDivReduction.allCases.map(\.rawValue))
    static let headNames = ["normalized", "cosface", "arcface", "combined", "sphereface", "large-margin"]
    /// The margin-head flags (`HeadFlags`).
    static let head: [OptionSpec] = [
        OptionSpec("head", words: headNames), OptionSpec("scale"), OptionSpec("margin"), OptionSpec("m1"), OptionSpec("m2"), OptionSpec("m3"),
        OptionSpec("lambda"), OptionSpec("easy-margin"), OptionSpec("gradient", words: MarginGradient.allCases.map(\.rawValue)), OptionSpec("memory-budget-mb"),
    ]
    /// The optimizer and sampling flags of a training step.
    static let training: [OptionSpec] = [OptionSpec("sample-rate"), OptionSpec("learning-rate"), OptionSpec("momentum"), OptionSpec("weight-decay")]
}

/// Reference results share their names with the operation's results.
extension ReferenceResult {
    /// A loss: one value (mean, sum) or one per row/element (none).
    static func loss(_ values: [Double], _ rule: Rule = .elementwise(1e-4)) -> ReferenceResult { ReferenceResult("loss", values, rule) }
}

extension Matrix {
    /// The shape of a result with this matrix's values: `shape` when given, else `[rows, columns]`.
    func result(_ name: String, shape: [Int]) -> NamedResult { NamedResult(name, values, shape: shape) }
}

/// The loss result's shape: a scalar for mean and sum, `perRow` for none.
func lossShape(_ reduction: String?, perRow: [Int]) -> [Int] { reduction == "none" ? perRow : [] }
