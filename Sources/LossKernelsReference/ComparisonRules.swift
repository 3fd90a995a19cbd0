/// The rules by which a float32 result is compared with its float64 reference
/// (docs/OPERATIONS.md, "Accuracy"), shared by the tests and `losskernels verify` so that
/// both judge a backend the same way.
package enum ComparisonRules {
    /// Why `actual` does not match `reference` within `tolerance·max(1, |reference|)`, or nil when
    /// it does. NaN matches only NaN and an infinity only the same infinity; a finite reference
    /// beyond float32's range must be, correctly rounded, that infinity.
    package static func mismatch(_ actual: Float, _ reference: Double, tolerance: Double) -> String? {
        if reference.isNaN { return actual.isNaN ? nil : "NaN expected" }
        if actual.isNaN { return "unexpected NaN" }
        if reference.isInfinite { return Double(actual) == reference ? nil : "exact \(reference) expected" }
        let rounded = Float(reference)
        if rounded.isInfinite { return actual == rounded ? nil : "float32 overflow: exact \(rounded) expected" }
        if actual.isInfinite { return "unexpected infinity" }
        let error = abs(Double(actual) - reference), bound = tolerance * max(1, abs(reference))
        return error <= bound ? nil : "|error| \(error) > \(bound)"
    }

    /// The elementwise bound of results computed through a matrix product.
    package static let gemmElementTolerance = 1e-3
    /// The bound on `‖out − ref‖/‖ref‖` of results computed through a matrix product.
    package static let gemmRelativeTolerance = 1e-4

    /// Why a result computed through a matrix product does not match its reference, or nil when
    /// it does: every value finite, `‖out − ref‖/‖ref‖ ≤ 1e-4` (`‖out − ref‖ ≤ 1e-4` when
    /// `‖ref‖ = 0`) and every value within `1e-3·max(1, |ref|)`. Sizes must agree.
    package static func gemmMismatch(_ actual: [Float], _ reference: [Double]) -> String? {
        guard actual.count == reference.count else { return "\(actual.count) values, reference has \(reference.count)" }
        if let bad = actual.firstIndex(where: { !$0.isFinite }) { return "non-finite value \(actual[bad]) at index \(bad)" }
        var difference = 0.0, norm = 0.0
        for (a, r) in zip(actual, reference) {
            difference += (Double(a) - r) * (Double(a) - r)
            norm += r * r
        }
        let relative = norm > 0 ? (difference / norm).squareRoot() : difference.squareRoot()
        if !(relative <= gemmRelativeTolerance) { return "‖out − ref‖/‖ref‖ = \(relative) > \(gemmRelativeTolerance) (‖ref‖ = \(norm.squareRoot()))" }
        for (i, (a, r)) in zip(actual, reference).enumerated() {
            if let why = mismatch(a, r, tolerance: gemmElementTolerance) { return "index \(i): actual \(a), reference \(r) (\(why))" }
        }
        return nil
    }
}
