import Testing

@testable import LossKernels

/// Partial-FC class sampling (docs/OPERATIONS.md, "Training head").
@Suite struct ClassSamplerTests {
    @Test(arguments: [(1000, 0.1, 100), (10_000, 0.1, 1000), (7, 0.5, 4), (10, 0.01, 1), (3, 1.0, 3), (100, 0.333, 34)])
    func targetIsTheCeilingOfRC(classes: Int, rate: Double, expected: Int) throws {
        #expect(try ClassSampler(classes: classes, rate: rate, seed: 0).targetCount == expected)
    }

    /// Every positive is kept; the count is max(⌈rC⌉, #positives); classes are sorted and unique;
    /// labels map to the positives' positions.
    @Test(arguments: [0.05, 0.3, 0.9])
    func positivesKeptAndCountExact(rate: Double) throws {
        var rng = TestRNG(seed: 91)
        var sampler = try ClassSampler(classes: 500, rate: rate, seed: 4)
        for rows in [1, 20, 200] {
            let labels = (0..<rows).map { _ in rng.index(500) }
            let sample = sampler.sample(labels: labels)
            let positives = Set(labels)
            #expect(sample.classes.count == max(sampler.targetCount, positives.count))
            #expect(sample.classes == Array(Set(sample.classes)).sorted())
            #expect(positives.isSubset(of: sample.classes))
            #expect(sample.classes.allSatisfy { (0..<500).contains($0) })
            for (i, y) in labels.enumerated() { #expect(sample.classes[sample.labels[i]] == y) }
        }
    }

    /// The same seed gives the same draws; another seed or the next step gives others; rate 1
    /// takes every class without advancing the generator.
    @Test func seededAndReproducible() throws {
        let labels = [3, 3, 17, 250]
        var a = try ClassSampler(classes: 300, rate: 0.1, seed: 8), b = try ClassSampler(classes: 300, rate: 0.1, seed: 8)
        var c = try ClassSampler(classes: 300, rate: 0.1, seed: 9)
        let first = a.sample(labels: labels)
        #expect(first == b.sample(labels: labels))
        #expect(first != c.sample(labels: labels))
        #expect(first != a.sample(labels: labels))
        var full = try ClassSampler(classes: 40, rate: 1, seed: 1)
        let state = full.generator
        let all = full.sample(labels: [39, 0])
        #expect(all.classes == Array(0..<40) && all.labels == [39, 0])
        #expect(full.generator == state)
    }

    /// Over many draws every non-positive class is drawn about r of the time (a loose check: each
    /// class's count within 5 standard deviations of the binomial mean).
    @Test func drawsAreUniform() throws {
        var sampler = try ClassSampler(classes: 50, rate: 0.2, seed: 12)
        var counts = [Int](repeating: 0, count: 50)
        let draws = 4000
        for _ in 0..<draws { for j in sampler.sample(labels: [0]).classes { counts[j] += 1 } }
        #expect(counts[0] == draws)
        let p = 9.0 / 49.0, mean = Double(draws) * p, sd = (Double(draws) * p * (1 - p)).squareRoot()
        for j in 1..<50 { #expect(abs(Double(counts[j]) - mean) < 5 * sd, "class \(j): \(counts[j]) vs \(mean)") }
    }

    @Test(arguments: [0.0, -0.1, 1.0000001, Double.nan, Double.infinity])
    func rateOutsideTheUnitIntervalIsRefused(rate: Double) {
        expectError(.option(name: "sampleRate", value: nil), "rate \(rate)") { try ClassSampler(classes: 10, rate: rate, seed: 0) }
    }
}
