/// The class weights of per-row class targets, shared by the losses whose mean divides by the
/// weight of the rows that count (cross-entropy, NLL: PyTorch's rule).
enum TargetWeights {
    /// `Σ_{n: y_n ≠ ignoreIndex} w_{y_n}` (`w` = 1 without weights), in double, in row order. Labels
    /// are checked by the loss's `validate`; an out-of-range one adds 0 here, a value then unused.
    static func total(labels: [Int], classWeights: [Float]?, ignoreIndex: Int) -> Double {
        var total = 0.0
        for label in labels where label != ignoreIndex {
            total += classWeights.map { $0.indices.contains(label) ? Double($0[label]) : 0 } ?? 1
        }
        return total
    }
}
