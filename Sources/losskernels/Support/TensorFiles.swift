import LossKernels
import LossKernelsCatalog

/// Reading the CLI's input tensors from .npy files and writing its results.
enum TensorFiles {
    /// Reads `path` as the float tensor `--tensor` (any rank, a 0-d scalar included).
    static func readFloats(_ path: String, tensor: String) throws -> HostTensor {
        let array = try NPYFile.read(path: path)
        guard case .float32(let values) = array.elements else {
            throw CommandFailure(message: "\(path): --\(tensor) must hold floats (<f4 or <f8), got integers")
        }
        return HostTensor(shape: array.shape, floats: values)
    }

    /// Writes the named results atomically into `directory` (all or none), each as `<name>.npy`.
    static func write(_ results: [NamedResult], to directory: String) throws {
        for result in results where result.shape.reduce(1, *) != result.values.count {
            throw CommandFailure(message: "internal error: \(result.name) has \(result.values.count) values for shape \(result.shape)")
        }
        try NPYFile.writeAll(results.map { (name: $0.name + ".npy", array: NPYArray(shape: $0.shape, float32: $0.values)) }, to: directory)
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

    /// Reads `path` as 0/1 flags (integer or float .npy), 1-d.
    static func readFlags(_ path: String, tensor: String) throws -> [Int] {
        let array = try NPYFile.read(path: path)
        let values: [Double]
        switch array.elements {
        case .int64(let v): values = v.map(Double.init)
        case .float32(let v): values = v.map(Double.init)
        }
        guard array.shape.count == 1 else {
            throw CommandFailure(message: "\(path): --\(tensor) must be 1-d (one flag per row), got shape \(array.shape)")
        }
        return try values.enumerated().map { i, v in
            guard v == 0 || v == 1 else { throw CommandFailure(message: "\(path): --\(tensor)[\(i)] = \(v) is out of range (allowed: 0 or 1)") }
            return Int(v)
        }
    }
}
