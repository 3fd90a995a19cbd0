/// Partial-FC class sampling (docs/OPERATIONS.md, "Training head"): each step keeps every
/// class that occurs in the batch (the positives) and draws other classes uniformly without
/// replacement until `⌈r·C⌉` classes are sampled in all (more when the batch alone has more).
///
/// The draw is selection sampling (Knuth's Algorithm S) over the non-positive classes, one
/// `SplitMix64` value per candidate, so the sampled classes come out sorted and the result depends
/// only on the generator's state and the labels. With `r = 1` every class is used and the generator
/// is not advanced.
public struct ClassSampler: Sendable, Equatable {
    /// The number of classes `C`.
    public let classes: Int
    /// The sample rate `r ∈ (0, 1]`.
    public let rate: Double
    /// The generator; saving its state and restoring it resumes the same draws.
    public var generator: SplitMix64

    /// - Throws: `.invalidOption` when `classes < 1` or `rate ∉ (0, 1]`.
    public init(classes: Int, rate: Double, seed: UInt64) throws {
        guard classes >= 1 else { throw LossKernelsError.invalidOption(name: "classes", value: "\(classes)", allowed: ">= 1") }
        guard rate > 0, rate <= 1 else { throw LossKernelsError.invalidOption(name: "sampleRate", value: "\(rate)", allowed: "(0, 1]") }
        self.classes = classes
        self.rate = rate
        self.generator = SplitMix64(seed: seed)
    }

    /// `⌈r·C⌉` (at least 1; a relative slack of 1e-12 absorbs the rounding of `r`, so 0.1·10000 is 1000).
    public var targetCount: Int {
        let exact = rate * Double(classes)
        return Swift.min(classes, Swift.max(1, Int((exact - exact * 1e-12).rounded(.up))))
    }

    /// One step's classes.
    public struct Sample: Sendable, Equatable {
        /// The sampled class indices, ascending.
        public var classes: [Int]
        /// Each row's label as a position in `classes`.
        public var labels: [Int]
    }

    /// Samples this step's classes for `labels` (each in `0..<classes`; checked by the caller).
    public mutating func sample(labels: [Int]) -> Sample {
        let target = targetCount
        if target >= classes {
            return Sample(classes: Array(0..<classes), labels: labels)
        }
        var isPositive = [Bool](repeating: false, count: classes)
        var positives = 0
        for y in labels where !isPositive[y] {
            isPositive[y] = true
            positives += 1
        }
        var needed = Swift.max(0, target - positives)
        var candidates = classes - positives
        var chosen: [Int] = []
        chosen.reserveCapacity(positives + needed)
        for j in 0..<classes {
            if isPositive[j] {
                chosen.append(j)
                continue
            }
            guard needed > 0 else { continue }
            // Select j with probability needed / candidates.
            let u = Double(generator.next() >> 11) * 0x1p-53
            if u * Double(candidates) < Double(needed) {
                chosen.append(j)
                needed -= 1
            }
            candidates -= 1
        }
        var position = [Int: Int](minimumCapacity: positives)
        for (index, j) in chosen.enumerated() where isPositive[j] { position[j] = index }
        return Sample(classes: chosen, labels: labels.map { position[$0]! })
    }
}
