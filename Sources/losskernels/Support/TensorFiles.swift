import LossKernels

/// Reading the CLI's input tensors from .npy files and writing its results.
enum TensorFiles {
    /// A float tensor read as a matrix: rows = product of all dimensions but the last, columns =
    /// the last (a 1-d array is one row); `shape` is the file's shape, for writing results back.
    struct FloatTensor {
        var matrix: Matrix
        var shape: [Int]
    }

    /// Reads `path` as the float tensor `tensor` (the flag's name, for messages).
    static func readFloatMatrix(_ path: String, tensor: String) throws -> FloatTensor {
        let array = try NPYFile.read(path: path)
        guard case .float32(let values) = array.elements else {
            throw CommandFailure(message: "\(path): --\(tensor) must hold floats (<f4 or <f8), got integers")
        }
        guard !array.shape.isEmpty else {
            throw CommandFailure(message: "\(path): --\(tensor) must have at least one dimension, got a 0-d scalar")
        }
        let columns = array.shape.last!
        let rows = array.shape.dropLast().reduce(1, *)
        return FloatTensor(matrix: try Matrix(rows: rows, columns: columns, values: values, name: tensor), shape: array.shape)
    }

    /// Checks that `other` has exactly the shape of `reference`.
    static func requireSameShape(_ other: FloatTensor, _ otherName: String, as reference: FloatTensor, _ referenceName: String) throws {
        guard other.shape == reference.shape else {
            throw CommandFailure(message: "--\(otherName) has shape \(other.shape) but --\(referenceName) has shape \(reference.shape); they must match")
        }
    }

    /// A result file: its name in the output folder, its float32 values and its shape.
    typealias Output = (name: String, values: [Float], shape: [Int])

    /// Writes the named results atomically into `directory` (all or none).
    static func write(_ outputs: [Output], to directory: String) throws {
        for output in outputs where output.shape.reduce(1, *) != output.values.count {
            throw CommandFailure(message: "internal error: \(output.name) has \(output.values.count) values for shape \(output.shape)")
        }
        try NPYFile.writeAll(outputs.map { (name: $0.name, array: NPYArray(shape: $0.shape, float32: $0.values)) }, to: directory)
    }

    /// Reads `path` as a float tensor of any rank, a 0-d scalar included (one 1×1 matrix), for
    /// elementwise operations.
    static func readFloatElements(_ path: String, tensor: String) throws -> FloatTensor {
        let array = try NPYFile.read(path: path)
        guard case .float32(let values) = array.elements else {
            throw CommandFailure(message: "\(path): --\(tensor) must hold floats (<f4 or <f8), got integers")
        }
        let columns = array.shape.last ?? 1
        let rows = array.shape.dropLast().reduce(1, *)
        return FloatTensor(matrix: try Matrix(rows: rows, columns: columns, values: values, name: tensor), shape: array.shape)
    }

    /// Checks that the tensor read from `path` for `--tensor` has shape `expected`; `meaning` says
    /// what that shape is (e.g. "[B, C]: one row per sample").
    static func requireShape(_ value: FloatTensor, _ tensor: String, path: String, _ expected: [Int], meaning: String) throws {
        guard value.shape == expected else {
            throw CommandFailure(message: "\(path): --\(tensor) has shape \(value.shape) but must be \(expected) (\(meaning))")
        }
    }

    /// Checks that the tensor read from `path` for `--tensor` has `rank` dimensions.
    static func requireRank(_ value: FloatTensor, _ tensor: String, path: String, _ rank: Int, meaning: String) throws {
        guard value.shape.count == rank else {
            throw CommandFailure(message: "\(path): --\(tensor) must have \(rank) dimensions (\(meaning)), got shape \(value.shape)")
        }
    }

    /// Reads `path` as class-index labels: an integer .npy (<i4 or <i8), 1-d, one label per row.
    /// Float files are refused: labels are class indices, not probabilities.
    static func readLabels(_ path: String, tensor: String = "labels") throws -> [Int] {
        let array = try NPYFile.read(path: path)
        guard case .int64(let values) = array.elements else {
            throw CommandFailure(message: "\(path): --\(tensor) must hold integers (<i4 or <i8 class indices), got floats")
        }
        guard array.shape.count == 1 else {
            throw CommandFailure(message: "\(path): --\(tensor) must be 1-d (one class index per row), got shape \(array.shape)")
        }
        return values.map { Int(clamping: $0) }
    }

    /// Checks that `labels` (read from `path`) has one value per row.
    static func requireLabelCount(_ labels: [Int], path: String, tensor: String = "labels", rows: Int, of rowsTensor: String) throws {
        guard labels.count == rows else {
            throw CommandFailure(message: "\(path): --\(tensor) has \(labels.count) values but --\(rowsTensor) has \(rows) rows; give one label per row")
        }
    }

    /// Reads `path` as 0/1 flags (integer or float .npy), 1-d with one value per row of `rowsTensor`.
    static func readFlags(_ path: String, tensor: String, count: Int, of rowsTensor: String) throws -> [Bool] {
        let array = try NPYFile.read(path: path)
        let values: [Double]
        switch array.elements {
        case .int64(let v): values = v.map(Double.init)
        case .float32(let v): values = v.map(Double.init)
        }
        guard array.shape.count == 1, values.count == count else {
            throw CommandFailure(message: "\(path): --\(tensor) has shape \(array.shape) but must be [\(count)] (one flag per row of --\(rowsTensor))")
        }
        return try values.enumerated().map { i, v in
            guard v == 0 || v == 1 else { throw CommandFailure(message: "\(path): --\(tensor)[\(i)] = \(v) is out of range (allowed: 0 or 1)") }
            return v == 1
        }
    }
}
