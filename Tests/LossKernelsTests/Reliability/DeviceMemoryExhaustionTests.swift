import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// A real problem larger than the OpenCL device can allocate (PoCL here allows 2 GiB per buffer):
/// under `auto` it is computed on the CPU instead, under `opencl` it is a clear error, and the
/// device keeps working afterwards.
@Suite struct DeviceMemoryExhaustionTests {
    @Test func oversizedProblemFallsBackOrFailsCleanly() throws {
        try Backends.requireOpenCL()
        guard case .success(let devices) = Engine.openCLDevices(), let limit = devices.map(\.maxAllocationBytes).max(), limit > 0,
            limit <= 4 << 30
        else {
            // A device that allocates more than 4 GiB per buffer would need a larger problem than
            // this machine should hold for a unit test.
            return
        }
        let columns = limit / MemoryLayout<Float>.size + 1024
        let logits = [Float](repeating: 0.25, count: columns)
        var probabilities = [Float](repeating: .nan, count: columns)

        let auto = try AutoCeilings.offloadingEngine()
        let backend = try logits.withUnsafeBufferPointer { x in
            try probabilities.withUnsafeMutableBufferPointer { try auto.softmax(logits: x, rows: 1, columns: columns, into: $0) }
        }
        #expect(backend == .cpu)
        let expected = 1 / Double(columns)
        for i in [0, 1, columns / 2, columns - 1] {
            #expect(abs(Double(probabilities[i]) - expected) <= 1e-5 * expected, "probability \(i): \(probabilities[i]) vs \(expected)")
        }

        let explicit = Backends.openCLEngine
        do {
            _ = try logits.withUnsafeBufferPointer { x in
                try probabilities.withUnsafeMutableBufferPointer { try explicit.softmax(logits: x, rows: 1, columns: columns, into: $0) }
            }
            Issue.record("a buffer larger than the device allows was accepted")
        } catch let error as LossKernelsError {
            #expect(error.description.contains("clCreateBuffer"), "\(error)")
        }
        // The device still computes.
        let small = try explicit.softmax(Matrix(rows: 1, columns: 3, values: [1, 2, 3]))
        expectClose(small.values, Reference.softmax([1, 2, 3], rows: 1, columns: 3), "softmax after the refused allocation")
    }
}
