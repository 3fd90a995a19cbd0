import Foundation

/// An n-dimensional array read from or written to a NumPy `.npy` file, stored row-major (C order).
///
/// `shape` lists the dimensions, outermost first; `[]` is a 0-d scalar holding one element.
/// `elements` holds exactly `count` values (the product of `shape`) in row-major order.
/// Floating-point files (`<f4`, `<f8`) are held as `.float32`, integer files (`<i4`, `<i8`) as `.int64`.
///
/// Package access, like ``NPYFile``: the CLI and the tests use it; library users do not need it.
package struct NPYArray: Sendable, Equatable {
    /// The element storage: 32-bit floats or 64-bit signed integers, row-major.
    package enum Elements: Sendable, Equatable {
        /// Float elements (read from `<f4`, or from `<f8` rounded to Float; written as `<f4`).
        case float32([Float])
        /// Integer elements (read from `<i4` or `<i8`; written as `<i8`).
        case int64([Int64])

        /// The number of stored elements.
        package var count: Int {
            switch self {
            case let .float32(values): return values.count
            case let .int64(values): return values.count
            }
        }
    }

    /// The dimensions, outermost first. `[]` is a 0-d scalar (one element).
    package var shape: [Int]
    /// The elements in row-major (C) order; their count must equal `count`.
    package var elements: Elements

    /// Creates a float32 array of the given shape.
    ///
    /// - Precondition: every dimension is non-negative and `float32.count` equals the product of
    ///   `shape` (1 for `[]`). Violating it is a programming error and traps.
    package init(shape: [Int], float32: [Float]) {
        let expected = NPYArray.checkedCount(of: shape)
        precondition(
            expected == float32.count,
            "NPYArray: \(float32.count) elements do not fill shape \(shape) (needs \(expected.map(String.init) ?? "an overflowing count"))")
        self.shape = shape
        self.elements = .float32(float32)
    }

    /// Creates an int64 array of the given shape.
    ///
    /// - Precondition: every dimension is non-negative and `int64.count` equals the product of
    ///   `shape` (1 for `[]`). Violating it is a programming error and traps.
    package init(shape: [Int], int64: [Int64]) {
        let expected = NPYArray.checkedCount(of: shape)
        precondition(
            expected == int64.count,
            "NPYArray: \(int64.count) elements do not fill shape \(shape) (needs \(expected.map(String.init) ?? "an overflowing count"))")
        self.shape = shape
        self.elements = .int64(int64)
    }

    /// The number of elements the shape describes: the product of `shape`, 1 for a 0-d scalar.
    /// Saturates at `Int.max` for a (malformed) shape whose product overflows; never traps.
    package var count: Int {
        NPYArray.checkedCount(of: shape) ?? Int.max
    }

    /// Wraps a shape and elements that the caller has already checked against each other.
    init(validatedShape shape: [Int], elements: Elements) {
        self.shape = shape
        self.elements = elements
    }

    /// Product of `shape`, or nil when a dimension is negative or the product overflows.
    static func checkedCount(of shape: [Int]) -> Int? {
        var product = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            product = next
        }
        return product
    }
}
