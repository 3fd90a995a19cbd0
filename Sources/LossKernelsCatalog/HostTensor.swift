import LossKernels

/// A tensor on the host: its shape and values, as `compute` reads it from a `.npy` file or a
/// benchmark makes it. Float tensors are float32; labels and flags are integers.
public struct HostTensor: Sendable, Equatable {
    /// The values, row-major.
    public enum Values: Sendable, Equatable {
        case floats([Float])
        case integers([Int])
    }

    public var shape: [Int]
    public var values: Values

    /// A float tensor; `values.count` must be the product of `shape`.
    public init(shape: [Int], floats: [Float]) {
        precondition(shape.reduce(1, *) == floats.count, "\(floats.count) values for shape \(shape)")
        self.shape = shape
        self.values = .floats(floats)
    }

    /// An integer tensor (labels, flags).
    public init(shape: [Int], integers: [Int]) {
        precondition(shape.reduce(1, *) == integers.count, "\(integers.count) values for shape \(shape)")
        self.shape = shape
        self.values = .integers(integers)
    }

    /// Number of values.
    public var count: Int { shape.reduce(1, *) }

    /// The values as floats (integers converted).
    public var floats: [Float] {
        switch values {
        case .floats(let v): return v
        case .integers(let v): return v.map { Float($0) }
        }
    }

    /// The values as integers (floats truncated; only labels and flags are read this way).
    public var integers: [Int] {
        switch values {
        case .floats(let v): return v.map { Int($0) }
        case .integers(let v): return v
        }
    }

    /// The tensor as a matrix: rows = the product of every dimension but the last, columns = the
    /// last (a 1-d tensor is one row, a 0-d one is 1×1).
    public var matrix: Matrix {
        let columns = shape.last ?? 1
        let rows = shape.dropLast().reduce(1, *)
        return try! Matrix(rows: rows, columns: columns, values: floats)
    }

    /// The shape without its last dimension (one value per row).
    public var rowShape: [Int] { Array(shape.dropLast()) }

    /// The tensor as a matrix of `shape[0]` rows (1 for a 0-d tensor) and the rest as columns.
    public var leadingRowsMatrix: Matrix {
        let rows = shape.first ?? 1
        return try! Matrix(rows: rows, columns: rows == 0 ? 0 : count / rows, values: floats)
    }
}

/// One result of a call: its name (`compute` writes `<name>.npy`), values and shape.
public struct NamedResult: Sendable, Equatable {
    public var name: String
    public var values: [Float]
    public var shape: [Int]

    public init(_ name: String, _ values: [Float], shape: [Int]) {
        self.name = name
        self.values = values
        self.shape = shape
    }
}
