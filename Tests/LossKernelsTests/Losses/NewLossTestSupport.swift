import Foundation
import Testing

@testable import LossKernels

/// Shared checks of the suites of the four operations added together (cross-entropy with
/// probability targets, weighted BCE with logits, KL divergence, NLL): engines with fixed thread
/// counts and with `checkFinite`, bitwise and cross-backend comparisons, seeded targets.
enum NewLossCheck {
    /// CPU engines with 1, 2 and 3 threads: the same call must give the same bits on each.
    static let threadEngines: [Engine] = [1, 2, 3].map { try! Engine(policy: .cpu, cpuThreads: $0) }

    /// Engines that check finiteness, one per backend (built once: an OpenCL engine builds its program).
    static let checkingCPU: Engine = try! Engine(policy: .cpu, checkFinite: true)
    static let checkingOpenCL: Engine = try! Engine(policy: .opencl, offloadMinimumElements: 0, openCLDeviceTypes: .any, checkFinite: true)

    /// The `checkFinite` engine of `backend` (cancels or fails the OpenCL case without a device).
    static func checkingEngine(for backend: TestBackend) throws -> Engine {
        switch backend {
        case .cpu: return checkingCPU
        case .opencl:
            try Backends.requireOpenCL()
            return checkingOpenCL
        }
    }

    /// Two outputs of the same call: identical bits in the loss and the gradient.
    static func expectBitwise(_ a: LossOutput, _ b: LossOutput, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
        expectBitwiseEqual(a.loss, b.loss, "\(context) loss", sourceLocation: sourceLocation)
        expectBitwiseEqual(a.gradient.values, b.gradient.values, "\(context) gradient", sourceLocation: sourceLocation)
    }

    /// The OpenCL result against the CPU's: each is within `1e-5·max(1, |ref|)` of the float64
    /// reference, so they must agree within twice that (NaN and infinities exactly where the CPU has them).
    static func expectBackendsAgree(cpu: LossOutput, opencl: LossOutput, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(cpu.backend == .cpu && opencl.backend == .opencl, "\(context): ran on \(cpu.backend) and \(opencl.backend)", sourceLocation: sourceLocation)
        expectClose(opencl.loss, cpu.loss.map(Double.init), tolerance: 2e-5, "\(context) loss (OpenCL vs CPU)", sourceLocation: sourceLocation)
        expectClose(
            opencl.gradient.values, cpu.gradient.values.map(Double.init), tolerance: 2e-5, "\(context) gradient (OpenCL vs CPU)",
            sourceLocation: sourceLocation)
    }

    /// A call's output must carry information for a bitwise comparison to mean something: a
    /// non-empty loss, finite values, a gradient that is not all zero.
    static func expectInformative(_ o: LossOutput, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!o.loss.isEmpty && o.loss.allSatisfy { $0.isFinite }, "\(context): loss \(o.loss.prefix(4))", sourceLocation: sourceLocation)
        #expect(
            o.gradient.values.contains { $0 != 0 } && o.gradient.values.allSatisfy { $0.isFinite }, "\(context): gradient not informative",
            sourceLocation: sourceLocation)
    }

    /// `rows × columns` non-negative targets: uniform in (0, 1] with a fraction `zeros` of exact
    /// zeros; each row rescaled to sum to 1 when `normalized` (a row of zeros stays zero).
    static func probabilities(rows: Int, columns: Int, zeros: Double = 0, normalized: Bool = true, rng: inout TestRNG) -> [Float] {
        var t = [Float](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            var sum = 0.0
            for c in 0..<columns {
                let v = rng.unit() < zeros ? 0 : 0.001 + rng.unit()
                t[r * columns + c] = Float(v)
                sum += v
            }
            if normalized && sum > 0 {
                for c in 0..<columns { t[r * columns + c] = Float(Double(t[r * columns + c]) / sum) }
            }
        }
        return t
    }

    /// The indices of `values` that are not exactly 0.
    static func nonZeroIndices(_ values: [Float]) -> [Int] { values.indices.filter { values[$0] != 0 } }
}
