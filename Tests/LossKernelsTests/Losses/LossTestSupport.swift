import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// Shared checks of the loss parity suites.
enum LossCheck {
    /// The library's output against the float64 reference: the backend that ran, the loss and the
    /// gradient (docs/OPERATIONS.md tolerance `1e-5·max(1,|ref|)`, NaN exactly where the reference has NaN),
    /// and the gradient's shape.
    static func expectMatches(
        _ output: LossOutput, _ reference: LossReference.Result, backend: TestBackend, rows: Int, columns: Int,
        _ context: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(output.backend == backend.expected, "\(context): ran on \(output.backend)", sourceLocation: sourceLocation)
        #expect(
            output.gradient.rows == rows && output.gradient.columns == columns,
            "\(context): gradient shape [\(output.gradient.rows), \(output.gradient.columns)]", sourceLocation: sourceLocation)
        expectClose(output.loss, reference.loss, "\(context) loss", sourceLocation: sourceLocation)
        expectClose(output.gradient.values, reference.gradient, "\(context) gradient", sourceLocation: sourceLocation)
    }

    /// The reductions each parity case runs: mean, sum, none, and none with an upstream gradient.
    static let variants: [(reduction: LossReduction, withGradOutput: Bool)] = [(.mean, false), (.sum, false), (.none, false), (.none, true)]

    static func describe(_ reduction: LossReduction, _ withGradOutput: Bool) -> String {
        reduction.rawValue + (withGradOutput ? " + gradOutput" : "")
    }
}
