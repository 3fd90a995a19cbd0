import _CMicrokernels

/// PyTorch's `weight` and `pos_weight` of `binary_cross_entropy_with_logits` over row-major
/// `rows × columns` logits (docs/OPERATIONS.md, "Binary cross-entropy with logits"):
///
/// - `weight` (ew): one value per element (`rows × columns`), or one row of `columns` values
///   applied to every row (`1 × columns`, `layout` `.perColumn`); absent means 1;
/// - `posWeight` (pw): one value per column; absent means 1.
///
/// Both must be finite and ≥ 0. Element `i` (column `c = i mod columns`) weighs `ew[i]` or
/// `ew[c]`, and its positive term `pw[c]`.
struct ElementWeights {
    /// How `weight` is laid out.
    enum Layout: Sendable {
        /// The logits' shape.
        case perElement
        /// One row, broadcast over the rows.
        case perColumn
    }

    /// The element weights and their shape as given, or nil.
    let weight: (values: UnsafeBufferPointer<Float>, rows: Int, columns: Int)?
    /// The positive-class weights, one per column, or nil.
    let posWeight: UnsafeBufferPointer<Float>?
    /// The logits' shape.
    let rows: Int
    let columns: Int

    /// `.perColumn` for a single row of weights when the logits have more than one row.
    var layout: Layout? {
        guard let weight else { return nil }
        return weight.rows == rows ? .perElement : .perColumn
    }

    /// The kernel's `lk_weight_layout` code.
    var layoutCode: Int32 {
        let code: lk_weight_layout
        switch layout {
        case nil: code = LK_WEIGHT_NONE
        case .perElement: code = LK_WEIGHT_PER_ELEMENT
        case .perColumn: code = LK_WEIGHT_PER_COLUMN
        }
        return Int32(code.rawValue)
    }

    /// `weight` must be `rows × columns` or `1 × columns`, `posWeight` hold `columns` values, every
    /// value finite and ≥ 0. Throws `.shapeMismatch` or `.invalidValue` naming "weight" or
    /// "posWeight" (a weight's flat index, row and column).
    func validate() throws {
        if let weight {
            guard weight.columns == columns, weight.rows == rows || weight.rows == 1 else {
                throw LossKernelsError.shapeMismatch(
                    tensor: "weight",
                    expected: "\(Validation.shape(rows, columns)) (the shape of logits) or \(Validation.shape(1, columns)) (one row for every row)",
                    actual: Validation.shape(weight.rows, weight.columns))
            }
            for (i, v) in weight.values.enumerated() where !(v.isFinite && v >= 0) {
                let (r, c) = i.quotientAndRemainder(dividingBy: columns)
                throw LossKernelsError.invalidValue(tensor: "weight", index: i, value: "\(v)", allowed: "finite and >= 0 (row \(r), column \(c))")
            }
        }
        if let posWeight {
            guard posWeight.count == columns else {
                throw LossKernelsError.shapeMismatch(
                    tensor: "posWeight", expected: "[\(columns)] (one value per column of logits)", actual: "[\(posWeight.count)]")
            }
            for (c, v) in posWeight.enumerated() where !(v.isFinite && v >= 0) {
                throw LossKernelsError.invalidValue(tensor: "posWeight", index: c, value: "\(v)", allowed: "finite and >= 0")
            }
        }
    }
}
