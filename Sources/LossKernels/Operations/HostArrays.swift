/// A host output array written through a pointer. One object per output, so that a call can write
/// several outputs without nesting a closure per array (`withHostBuffers`).
final class OutputArray {
    var values: [Float]

    init(count: Int) { values = [Float](repeating: 0, count: count) }

    /// The values as a `rows × columns` matrix (the array's storage is shared, not copied).
    func matrix(rows: Int, columns: Int) -> Matrix {
        // The count is the product by construction.
        try! Matrix(rows: rows, columns: columns, values: values)
    }
}

/// Runs `body` with read pointers to every array of `inputs` and write pointers to every array of
/// `outputs`, in order; the pointers are valid only inside `body`. This is how the matrix forms of
/// the API hand their arrays to an `Operation` without a closure per array.
func withHostBuffers<R>(
    _ inputs: [[Float]], _ outputs: [OutputArray] = [],
    _ body: ([UnsafeBufferPointer<Float>], [UnsafeMutableBufferPointer<Float>]) throws -> R
) rethrows -> R {
    try withInputs(inputs[...], []) { read in
        try withOutputs(outputs[...], []) { written in try body(read, written) }
    }
}

private func withInputs<R>(_ rest: ArraySlice<[Float]>, _ done: [UnsafeBufferPointer<Float>], _ body: ([UnsafeBufferPointer<Float>]) throws -> R) rethrows -> R
{
    guard let first = rest.first else { return try body(done) }
    return try first.withUnsafeBufferPointer { try withInputs(rest.dropFirst(), done + [$0], body) }
}

private func withOutputs<R>(
    _ rest: ArraySlice<OutputArray>, _ done: [UnsafeMutableBufferPointer<Float>],
    _ body: ([UnsafeMutableBufferPointer<Float>]) throws -> R
) rethrows -> R {
    guard let first = rest.first else { return try body(done) }
    return try first.values.withUnsafeMutableBufferPointer { try withOutputs(rest.dropFirst(), done + [$0], body) }
}

extension OperationInput.Storage {
    /// The host values (nil on a device): the CPU implementations read these.
    var host: UnsafeBufferPointer<Float>? {
        if case .host(let values) = self { return values }
        return nil
    }
}

extension OperationOutput.Storage {
    /// The host destination (nil on a device).
    var host: UnsafeMutableBufferPointer<Float>? {
        if case .host(let values) = self { return values }
        return nil
    }
}
