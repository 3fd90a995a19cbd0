/// Argument checks shared by the public entry points; each throws an error that names the tensor.
enum Validation {
    static func shape(_ rows: Int, _ columns: Int) -> String { "[\(rows), \(columns)]" }

    /// `count` values must make a `rows × columns` matrix.
    static func requireCount(_ tensor: String, _ count: Int, rows: Int, columns: Int) throws {
        guard rows >= 0 else { throw LossKernelsError.invalidOption(name: "\(tensor) rows", value: "\(rows)", allowed: ">= 0") }
        guard columns >= 0 else { throw LossKernelsError.invalidOption(name: "\(tensor) columns", value: "\(columns)", allowed: ">= 0") }
        let (product, overflow) = rows.multipliedReportingOverflow(by: columns)
        guard !overflow, product == count else {
            throw LossKernelsError.shapeMismatch(
                tensor: tensor, expected: "\(shape(rows, columns)) = \(overflow ? "too many" : String(product)) values", actual: "\(count) values")
        }
    }

    /// Two matrices must have the same shape.
    static func requireSameShape(_ tensor: String, rows: Int, columns: Int, as reference: String, _ referenceRows: Int, _ referenceColumns: Int) throws {
        guard rows == referenceRows, columns == referenceColumns else {
            throw LossKernelsError.shapeMismatch(
                tensor: tensor, expected: "\(shape(referenceRows, referenceColumns)) (the shape of \(reference))", actual: shape(rows, columns))
        }
    }

    /// A per-row vector must have `rows` values.
    static func requireRowVector(_ tensor: String, _ count: Int, rows: Int) throws {
        guard count == rows else {
            throw LossKernelsError.shapeMismatch(tensor: tensor, expected: "[\(rows)] (one value per row)", actual: "[\(count)]")
        }
    }
}
