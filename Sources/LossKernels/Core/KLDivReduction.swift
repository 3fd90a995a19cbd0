/// How the elementwise KL-divergence losses are combined, as PyTorch's `kl_div(reduction=)`.
///
/// `batchMean` divides the sum by the number of rows `B` (the true KL divergence per sample);
/// `mean` divides by the number of elements, as PyTorch's default does.
public enum KLDivReduction: String, Sendable, CaseIterable, Equatable {
    /// `Σ ℓ / B`.
    case batchMean = "batchmean"
    /// `Σ ℓ`.
    case sum
    /// `Σ ℓ / (B·C)`, the number of elements (PyTorch's default).
    case mean
    /// One loss per element.
    case none
}
