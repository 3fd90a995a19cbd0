import Foundation
import LossKernelsReference
import Testing
import _CMicrokernels
import _COpenCLShim

@testable import LossKernels

/// The executor and what every description shares: the work a call states (and how a sequence of
/// calls is counted), the reduction rules of `LossReduction`, the codes shared with the kernels.
@Suite struct OperationExecutorTests {
    /// Softmax then its backward moves x, y (written, then read again), g and dz: 5 values per
    /// element; logSumExp then its backward x, lse (written, read again), g and dz: 2N + 3B.
    @Test func recordedWorkCountsEachTensorOnce() throws {
        let engine = try Backends.engine(for: .cpu)
        let (b, c) = (3, 50)
        let z = Matrix(rows: b, columns: c, repeating: 0.5), g = Matrix(rows: b, columns: c, repeating: 1)
        let (_, softmax) = try Engine.recordingWork { () throws -> Void in
            _ = try engine.softmaxBackward(probabilities: try engine.softmax(z), gradOutput: g)
        }
        #expect(softmax == OperationWork(bytes: 5 * b * c * 4))
        let (_, lse) = try Engine.recordingWork { () throws -> Void in
            let values = Array(z.values), x = OutputArray(count: b), dz = OutputArray(count: b * c)
            try withHostBuffers([values, [Float](repeating: 1, count: b)], [x, dz]) { input, output in
                try engine.logSumExp(logits: input[0], rows: b, columns: c, into: output[0])
                try engine.logSumExpBackward(
                    logits: input[0], logSumExp: UnsafeBufferPointer(output[0]), gradOutput: input[1], rows: b, columns: c, into: output[1])
            }
        }
        #expect(lse == OperationWork(bytes: (2 * b * c + 3 * b) * 4))
        let (_, head) = try Engine.recordingWork {
            try engine.marginSoftmax(
                features: Matrix(rows: 2, columns: 4, repeating: 1), classWeights: Matrix(rows: 5, columns: 4, repeating: 0.5),
                labels: [1, 3], head: .cosFace())
        }
        #expect(head.flops == 3 * 2 * 2 * 5 * 4)
        #expect(head.bytes == (2 * (2 * 4 + 5 * 4) + 1) * 4 + 2 * 8)
    }

    /// The reduction rules every loss goes through.
    @Test func lossReductionScalesAndReduces() {
        #expect(LossReduction.mean.gradientScales(count: 2, meanDenominator: 4, gradOutput: nil) == [0.25, 0.25])
        #expect(LossReduction.sum.gradientScales(count: 2, meanDenominator: 4, gradOutput: nil) == [1, 1])
        #expect(LossReduction.none.gradientScales(count: 2, meanDenominator: 4, gradOutput: [3, -1]) == [3, -1])
        #expect(LossReduction.none.gradientScales(count: 2, meanDenominator: 4, gradOutput: nil) == [1, 1])
        #expect(LossReduction.mean.reduce([1, 2, 3], meanDenominator: 2) == [3])
        #expect(LossReduction.sum.reduce([1, 2, 3], meanDenominator: 2) == [6])
        #expect(LossReduction.none.reduce([1, 2, 3], meanDenominator: 2) == [1, 2, 3])
        #expect(LossReduction.mean.reduce([1], meanDenominator: 0)[0].isInfinite)
        #expect(LossReduction.mean.reduce([0], meanDenominator: 0)[0].isNaN, "0/0: an all-ignored batch's mean is NaN, as PyTorch")
        #expect(LossReduction.mean.gradientScale(meanDenominator: 8) == 0.125 && LossReduction.none.gradientScale(meanDenominator: 8) == 1)
    }

    /// The codes come from lk_codes.h, which the OpenCL program is built from first; no two kinds
    /// share a code.
    @Test func codesComeFromOneHeader() {
        #expect(String(cString: lk_kernel_file_name(0)) == "lk_codes.h")
        let elementwise: [ElementwiseLoss.Kind] = [
            .binaryCrossEntropyWithLogits, .sigmoidFocal, .mse, .l1, .smoothL1, .huber, .msle, .mape,
            .weightedBinaryCrossEntropyWithLogits, .klDivergence, .klDivergenceLogTarget,
        ]
        #expect(Set(elementwise.map(\.code)).count == elementwise.count)
        #expect(Set(MarginHead.Kind.allCases.map(\.code)).count == MarginHead.Kind.allCases.count)
        #expect(Set(ReductionAxis.allCases.map(\.code)).count == 3)
        #expect(MarginHead.Kind.sphereFace.code == Int32(LK_HEAD_SPHEREFACE.rawValue))
        #expect(ReductionOperation.max.forwardCode > ReductionOperation.l2Norm.forwardCode, "kernels test op <= LK_REDUCE_SUM_OF_SQUARES for sums")
    }

    /// Device-resident operands on different devices are refused, naming both.
    @Test func residentOperandsMustShareADevice() throws {
        let first = try Backends.engine(for: .opencl)
        let second = try Engine(policy: .opencl, openCLDeviceTypes: .any)
        let a = try first.upload(Matrix(rows: 2, columns: 3, repeating: 0.25)), b = try second.upload(Matrix(rows: 2, columns: 3, repeating: 1))
        #expect(throws: LossKernelsError.self) { try first.softmaxBackward(probabilities: a, gradOutput: b) }
    }
}
