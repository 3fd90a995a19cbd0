/// A tensor an operation reads, as the command line and the benchmarks know it: its flag, what
/// its values are, its shape in the operation's dimensions, whether it must be given, and the
/// values a benchmark or `verify` makes for it.
public struct TensorSpec: Sendable {
    /// What the values are.
    public enum Kind: String, Sendable {
        /// Float values (`<f4` or `<f8` files).
        case floats
        /// Class indices (integer files).
        case labels
        /// 0/1 flags, one per row (integer or float files).
        case flags
    }

    /// A named dimension of an operation.
    public enum Dimension: String, Sendable, CaseIterable {
        /// Rows: samples, pairs, tokens (`--batch`).
        case batch = "B"
        /// Classes (`--classes`).
        case classes = "C"
        /// Embedding width (`--dim`).
        case dim = "D"
    }

    /// The shape a tensor must have.
    public enum Shape: Sendable, Equatable {
        /// Exactly these dimensions (rank and sizes; a dimension's size is fixed by the first tensor
        /// that has it).
        case dims([Dimension])
        /// Any rank ≥ 1, the last dimension holding the classes (the softmax family).
        case rowsOfClasses
        /// Any rank, a 0-d scalar included (elementwise operations).
        case anyRank
        /// The shape of the named tensor.
        case sameAs(String)
        /// The shape of the named tensor, or one row of its last dimension, broadcast over rows.
        case sameAsOrRow(String)
        /// The named tensor's shape without its last dimension: one value per row.
        case rowsOf(String)
        /// One value per entry of the named tensor's last dimension (per class).
        case lastDimensionOf(String)
    }

    /// Whether the tensor must be given.
    public enum Need: Sendable, Equatable {
        case required
        case optional
        /// One of the tensors of this group must be given, and only one (e.g. `labels` or
        /// `target-probs` for cross-entropy).
        case oneOf(String)
        /// Optional; when given, the backward pass runs too (the upstream gradient of softmax,
        /// log-softmax and logsumexp; `bench --pass both` makes it).
        case backward
    }

    /// The values a benchmark or `verify` makes.
    public enum Values: Sendable, Equatable {
        /// Uniform in `[offset − scale, offset + scale)`.
        case uniform(scale: Float, offset: Float = 0)
        /// Uniform class indices in `0..<C`.
        case classIndices
        /// Uniform 0/1.
        case binary
        /// Each row a log-softmax of uniform logits of this scale.
        case logProbabilities(scale: Float)
    }

    /// The command-line flag without `--` ("logits", "class-weights").
    public let flag: String
    public let kind: Kind
    public let shape: Shape
    public let need: Need
    /// The values of benchmarks and `verify`.
    public let values: Values
    /// One line for the help and for errors: what the tensor is.
    public let help: String

    public init(_ flag: String, _ kind: Kind = .floats, _ shape: Shape, _ need: Need = .required, values: Values, help: String) {
        self.flag = flag
        self.kind = kind
        self.shape = shape
        self.need = need
        self.values = values
        self.help = help
    }

    /// The shape in words, e.g. "[B, C]", "any shape", "the shape of --logits".
    public var shapeDescription: String {
        switch shape {
        case .dims(let dims): return "[" + dims.map(\.rawValue).joined(separator: ", ") + "]"
        case .rowsOfClasses: return "any rank ≥ 1, classes last"
        case .anyRank: return "any shape"
        case .sameAs(let other): return "the shape of --\(other)"
        case .sameAsOrRow(let other): return "the shape of --\(other), or [C] broadcast over its rows"
        case .rowsOf(let other): return "one value per row of --\(other)"
        case .lastDimensionOf(let other): return "one value per class (last dimension) of --\(other)"
        }
    }
}
