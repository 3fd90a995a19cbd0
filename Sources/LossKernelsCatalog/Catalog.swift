/// The table of operations that every front end reads: `losskernels compute`, `bench`,
/// `bench sweep`, `verify`, `--vs-ceiling` and `operations`, the package-benchmark suites in
/// Benchmarks/, and (through `losskernels operations --json`) the peer comparison. Adding an
/// operation to the CLI is adding its `CatalogOperation` here (docs/ARCHITECTURE.md).
public enum Catalog {
    /// Every operation, in the order the help lists them.
    public static let operations: [CatalogOperation] =
        softmaxFamily + [crossEntropy, nll, klDivergence, focal, sigmoidFocal, bceWithLogits, marginSoftmax] + regression
        + [contrastive, triplet, tripletMined, center, trainStep]

    /// The operation named `name`, if any.
    public static func operation(named name: String) -> CatalogOperation? { operations.first { $0.name == name } }

    /// The names, for help texts.
    public static var names: [String] { operations.map(\.name) }
}
