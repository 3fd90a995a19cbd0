/// A row-major float32 matrix on the host: `rows × columns` values, row `r` at
/// `values[r·columns ..< (r+1)·columns]`. Logits are `B×C`, features `B×D`, class weights `C×D`.
public struct Matrix: Sendable, Equatable {
    /// Number of rows (`B` for logits and features, `C` for class weights).
    public let rows: Int
    /// Number of columns (`C` for logits, `D` for features and class weights).
    public let columns: Int
    /// The `rows·columns` values in row-major order.
    public var values: [Float]

    /// Wraps `values` as a `rows × columns` matrix.
    /// - Throws: `LossKernelsError.shapeMismatch` when `values.count != rows·columns`, and
    ///   `.invalidOption` when a dimension is negative.
    public init(rows: Int, columns: Int, values: [Float], name: String = "matrix") throws {
        guard rows >= 0 else { throw LossKernelsError.invalidOption(name: "\(name).rows", value: "\(rows)", allowed: ">= 0") }
        guard columns >= 0 else { throw LossKernelsError.invalidOption(name: "\(name).columns", value: "\(columns)", allowed: ">= 0") }
        let (count, overflow) = rows.multipliedReportingOverflow(by: columns)
        guard !overflow, count == values.count else {
            throw LossKernelsError.shapeMismatch(
                tensor: name, expected: "[\(rows), \(columns)] (\(overflow ? "too many" : String(count)) values)", actual: "\(values.count) values")
        }
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// A `rows × columns` matrix with every value equal to `value`.
    public init(rows: Int, columns: Int, repeating value: Float) {
        precondition(rows >= 0 && columns >= 0, "Matrix dimensions must not be negative")
        self.rows = rows
        self.columns = columns
        self.values = [Float](repeating: value, count: rows * columns)
    }

    /// Total number of values, `rows·columns`.
    public var count: Int { rows * columns }

    /// The value at (`row`, `column`).
    public subscript(row: Int, column: Int) -> Float {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }
}
