import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

// MARK: - Comparison against the float64 reference

/// Checks `actual` (a backend's float32 output) against `reference` (the float64 reference) with the
/// rule of docs/OPERATIONS.md, "Accuracy":
///
/// - a finite reference value `r` passes when `|actual − r| ≤ tolerance·max(1, |r|)` (so
///   `tolerance` is absolute below 1 and relative above);
/// - a NaN reference requires a NaN, and a NaN is accepted nowhere else ("no NaN ever passes");
/// - a `±∞` reference requires exactly the same infinity, and an infinity is accepted nowhere else;
///   a finite reference too large for float32 (it rounds to `±∞`) requires that infinity.
///
/// The counts must agree. On failure one issue is recorded that names `context`, the number of bad
/// elements, and the first bad index with its actual and reference values.
func expectClose(
    _ actual: [Float], _ reference: [Double], tolerance: Double = 1e-5, _ context: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.count == reference.count else {
        Issue.record("\(context): \(actual.count) values, reference has \(reference.count)", sourceLocation: sourceLocation)
        return
    }
    var bad = 0
    var first: (index: Int, actual: Float, reference: Double, why: String)?
    actual.withUnsafeBufferPointer { a in
        reference.withUnsafeBufferPointer { r in
            for i in 0..<a.count {
                // Fast path for the common case (finite and within the bound); `mismatch` decides the rest.
                let ai = Double(a[i]), ri = r[i]
                if ri.isFinite && ai.isFinite && Swift.abs(ai - ri) <= tolerance * Swift.max(1, Swift.abs(ri)) && Float(ri).isFinite { continue }
                if let why = ComparisonRules.mismatch(a[i], ri, tolerance: tolerance) {
                    bad += 1
                    if first == nil { first = (i, a[i], ri, why) }
                }
            }
        }
    }
    if let first {
        Issue.record(
            """
            \(context): \(bad) of \(actual.count) values off; first at index \(first.index): \
            actual \(first.actual), reference \(first.reference) (\(first.why))
            """, sourceLocation: sourceLocation)
    }
}

/// Expects two float arrays to be bitwise identical (compares `bitPattern`s, so NaN payloads and
/// the sign of zero count); reports the first differing index.
func expectBitwiseEqual(_ a: [Float], _ b: [Float], _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard a.count == b.count else {
        Issue.record("\(context): \(a.count) values vs \(b.count)", sourceLocation: sourceLocation)
        return
    }
    // memcmp first: bitwise equality of the whole buffers is the common, fast case.
    let same = a.withUnsafeBytes { x in b.withUnsafeBytes { y in x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 } }
    if same { return }
    if let i = a.indices.first(where: { a[$0].bitPattern != b[$0].bitPattern }) {
        let bad = a.indices.reduce(0) { $0 + (a[$1].bitPattern != b[$1].bitPattern ? 1 : 0) }
        Issue.record(
            """
            \(context): \(bad) of \(a.count) values differ bitwise; first at index \(i): \
            \(a[i]) (0x\(String(a[i].bitPattern, radix: 16))) vs \(b[i]) (0x\(String(b[i].bitPattern, radix: 16)))
            """, sourceLocation: sourceLocation)
    }
}

// MARK: - Seeded random data

/// The tests' seeded generator: the library's SplitMix64, so every test input is reproducible
/// from its seed.
typealias TestRNG = SplitMix64

extension SplitMix64 {
    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// A standard normal value (Box–Muller).
    mutating func normal() -> Double {
        let u = max(unit(), 0x1p-60), v = unit()
        return (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * Double.pi * v)
    }

    /// An integer in `0..<bound`.
    mutating func index(_ bound: Int) -> Int { Int.random(in: 0..<bound, using: &self) }
}

/// Random test matrices.
enum TestData {
    /// `count` normal values times `scale`, as float32.
    static func normal(_ count: Int, scale: Double = 1, rng: inout TestRNG) -> [Float] {
        (0..<count).map { _ in Float(rng.normal() * scale) }
    }

    /// `rows × columns` logits: normal values times `scale`; each entry is replaced by `−∞` (a mask)
    /// with probability `maskProbability`, but every row keeps at least one finite entry.
    static func logits(rows: Int, columns: Int, scale: Double, maskProbability: Double = 0, rng: inout TestRNG) -> [Float] {
        var z = normal(rows * columns, scale: scale, rng: &rng)
        guard maskProbability > 0, columns > 0 else { return z }
        for r in 0..<rows {
            for j in 0..<columns where rng.unit() < maskProbability { z[r * columns + j] = -.infinity }
            if !z[(r * columns)..<((r + 1) * columns)].contains(where: { $0.isFinite }) {
                z[r * columns + rng.index(columns)] = Float(rng.normal() * scale)
            }
        }
        return z
    }

    /// Overwrites row `r`: `.fullyMasked` sets every entry to `−∞`; `.nan`, `.positiveInfinity` put
    /// one such value at a random column; `.nanAndInfinity` puts both (NaN after the +∞).
    enum SpecialRow: String, CaseIterable, Sendable {
        case fullyMasked, nan, positiveInfinity, nanAndInfinity
    }

    static func makeSpecial(_ kind: SpecialRow, row r: Int, columns: Int, in z: inout [Float], rng: inout TestRNG) {
        let base = r * columns
        switch kind {
        case .fullyMasked:
            for j in 0..<columns { z[base + j] = -.infinity }
        case .nan:
            z[base + rng.index(columns)] = .nan
        case .positiveInfinity:
            z[base + rng.index(columns)] = .infinity
        case .nanAndInfinity:
            let a = rng.index(columns), b = rng.index(columns)
            z[base + min(a, b)] = .infinity
            z[base + max(a, b)] = .nan
        }
    }
}

extension Array where Element == Double {
    /// Rounds the reference to float32 (to hand it to the library as an input).
    var asFloat: [Float] { map { Float($0) } }
}

/// Expects equal index lists (reduction winners); reports the first difference, not whole arrays.
func expectEqualIndices(_ actual: [Int], _ expected: [Int], _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard actual.count == expected.count else {
        Issue.record("\(context): \(actual.count) indices, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    if let i = actual.indices.first(where: { actual[$0] != expected[$0] }) {
        let bad = zip(actual, expected).reduce(0) { $0 + ($1.0 != $1.1 ? 1 : 0) }
        Issue.record(
            "\(context): \(bad) of \(actual.count) indices differ; first at group \(i): \(actual[i]), expected \(expected[i])", sourceLocation: sourceLocation)
    }
}
