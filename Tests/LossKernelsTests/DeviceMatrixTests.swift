import LossKernelsReference
import Testing

@testable import LossKernels

/// Device-resident matrices: upload once, chain operations on the device, read back once.
@Suite struct DeviceMatrixTests {
    @Test func chainedOperationsStayOnTheDeviceAndMatchTheReference() throws {
        try Backends.requireOpenCL()
        let engine = Backends.openCLEngine
        var rng = TestRNG(seed: 11)
        let (rows, columns) = (6, 1001)
        let logits = try Matrix(
            rows: rows, columns: columns, values: TestData.logits(rows: rows, columns: columns, scale: 20, maskProbability: 0.05, rng: &rng))
        let upstream = try Matrix(rows: rows, columns: columns, values: TestData.normal(rows * columns, rng: &rng))
        let z = try engine.upload(logits)
        let g = try engine.upload(upstream)
        #expect(z.rows == rows && z.columns == columns && z.device.name == g.device.name)

        let probabilities = try engine.softmax(z)
        let logProbabilities = try engine.logSoftmax(z)
        let lse = try engine.logSumExp(z)
        let gradFromSoftmax = try engine.softmaxBackward(probabilities: probabilities, gradOutput: g)
        let gradFromLogSoftmax = try engine.logSoftmaxBackward(logProbabilities: logProbabilities, gradOutput: g)

        let p = try engine.download(probabilities)
        expectClose(p.values, Reference.softmax(logits.values, rows: rows, columns: columns), "device softmax")
        let y = try engine.download(logProbabilities)
        expectClose(y.values, Reference.logSoftmax(logits.values, rows: rows, columns: columns), "device logSoftmax")
        let l = try engine.download(lse)
        #expect(l.rows == rows && l.columns == 1)
        expectClose(l.values, Reference.logSumExp(logits.values, rows: rows, columns: columns), "device logSumExp")
        expectClose(
            try engine.download(gradFromSoftmax).values,
            Reference.softmaxBackward(probabilities: p.values, gradOutput: upstream.values, rows: rows, columns: columns), "device softmax backward")
        expectClose(
            try engine.download(gradFromLogSoftmax).values,
            Reference.logSoftmaxBackward(logProbabilities: y.values, gradOutput: upstream.values, rows: rows, columns: columns), "device logSoftmax backward")
    }

    @Test func roundTripIsExact() throws {
        try Backends.requireOpenCL()
        let m = try Matrix(rows: 3, columns: 4, values: (0..<12).map { Float($0) * 0.37 - 2 })
        #expect(try Backends.openCLEngine.download(Backends.openCLEngine.upload(m)) == m)
    }

    @Test func cpuPolicyRefusesDeviceData() throws {
        #expect(throws: LossKernelsError.self) { try Backends.cpuEngine.upload(Matrix(rows: 1, columns: 1, repeating: 0)) }
    }

    @Test func mismatchedShapesAreRefused() throws {
        try Backends.requireOpenCL()
        let engine = Backends.openCLEngine
        let a = try engine.upload(Matrix(rows: 2, columns: 3, repeating: 0.5))
        let b = try engine.upload(Matrix(rows: 3, columns: 2, repeating: 0.5))
        do {
            _ = try engine.softmaxBackward(probabilities: a, gradOutput: b)
            Issue.record("a shape mismatch was accepted")
        } catch let error as LossKernelsError {
            #expect(error.description.contains("gradOutput"))
        }
    }
}
