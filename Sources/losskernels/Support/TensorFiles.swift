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

    /// Writes the named results atomically into `directory` (all or none).
    static func write(_ outputs: [(name: String, values: [Float], shape: [Int])], to directory: String) throws {
        try NPYFile.writeAll(outputs.map { (name: $0.name, array: NPYArray(shape: $0.shape, float32: $0.values)) }, to: directory)
    }
}
