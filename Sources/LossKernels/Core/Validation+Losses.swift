/// Checks shared by the loss entry points.
extension Validation {
    /// A loss needs at least one row and one class.
    static func requireNonEmpty(_ tensor: String, rows: Int, columns: Int) throws {
        guard rows > 0 else { throw LossKernelsError.shapeMismatch(tensor: tensor, expected: "at least one row", actual: shape(rows, columns)) }
        guard columns > 0 else { throw LossKernelsError.shapeMismatch(tensor: tensor, expected: "at least one class (column)", actual: shape(rows, columns)) }
    }

    /// Every label is a class index in 0..<classes (or `ignoreIndex`, when given).
    static func requireLabels(_ labels: [Int], rows: Int, classes: Int, ignoreIndex: Int? = nil) throws {
        try requireRowVector("labels", labels.count, rows: rows)
        for (n, label) in labels.enumerated() where !(0..<classes).contains(label) && label != ignoreIndex {
            let allowed = ignoreIndex.map { "0..<\(classes) or the ignore index \($0)" } ?? "0..<\(classes)"
            throw LossKernelsError.invalidValue(tensor: "labels", index: n, value: "\(label)", allowed: allowed)
        }
    }

    /// A per-class vector has one value per class, each finite.
    static func requirePerClass(_ tensor: String, _ values: [Float], classes: Int, nonNegative: Bool = false) throws {
        guard values.count == classes else {
            throw LossKernelsError.shapeMismatch(tensor: tensor, expected: "[\(classes)] (one value per class)", actual: "[\(values.count)]")
        }
        for (j, v) in values.enumerated() where !v.isFinite || (nonNegative && v < 0) {
            throw LossKernelsError.invalidValue(tensor: tensor, index: j, value: "\(v)", allowed: nonNegative ? "finite and >= 0" : "finite")
        }
    }

    /// An option must lie in a closed range.
    static func requireOption(_ name: String, _ value: Float, in range: ClosedRange<Float>) throws {
        guard range.contains(value) else {
            throw LossKernelsError.invalidOption(name: name, value: "\(value)", allowed: "[\(range.lowerBound), \(range.upperBound)]")
        }
    }

    /// The upstream gradient of a `.none` reduction: one value per row (or element); refused otherwise.
    static func requireGradOutput(_ gradOutput: [Float]?, count: Int, reduction: LossReduction, per: String) throws {
        try requireGradOutput(count: gradOutput?.count, expected: count, reduction: reduction.rawValue, allowsUpstream: reduction == .none, per: per)
    }

    /// The same rule from the upstream gradient's count (nil: not given) and the reduction's name.
    static func requireGradOutput(count given: Int?, expected count: Int, reduction: String, allowsUpstream: Bool, per: String) throws {
        guard let given else { return }
        guard allowsUpstream else {
            throw LossKernelsError.invalidOption(name: "gradOutput", value: "given with reduction \(reduction)", allowed: "only with reduction none")
        }
        guard given == count else {
            throw LossKernelsError.shapeMismatch(tensor: "gradOutput", expected: "[\(count)] (one value per \(per))", actual: "[\(given)]")
        }
    }

    /// With `checkFinite`, every value must be finite (−∞ also allowed when `allowNegativeInfinity`,
    /// as for logits, where it is a mask). Throws `.invalidValue` naming the first bad index.
    static func requireFinite(_ tensor: String, _ values: UnsafeBufferPointer<Float>, allowNegativeInfinity: Bool = false) throws {
        for (i, v) in values.enumerated() where !v.isFinite && !(allowNegativeInfinity && v == -.infinity) {
            throw LossKernelsError.invalidValue(
                tensor: tensor, index: i, value: "\(v)", allowed: allowNegativeInfinity ? "finite or −∞ (checkFinite)" : "finite (checkFinite)")
        }
    }

    /// `requireFinite` for an array.
    static func requireFinite(_ tensor: String, _ values: [Float]?, allowNegativeInfinity: Bool = false) throws {
        guard let values else { return }
        try values.withUnsafeBufferPointer { try requireFinite(tensor, $0, allowNegativeInfinity: allowNegativeInfinity) }
    }
}
