import Foundation
import Testing

@testable import LossKernels

// The validation suites' check: a call must throw one `LossKernelsError` of the expected case,
// whose fields and description name the tensor, option, row and value.

/// The error a call must throw.
enum ExpectedError: CustomStringConvertible {
    case shape(tensor: String)
    case value(tensor: String, index: Int, value: String)
    /// `value` nil: the value's wording is not checked.
    case option(name: String, value: String?)

    var description: String {
        switch self {
        case let .shape(tensor): return "shapeMismatch(\(tensor))"
        case let .value(tensor, index, value): return "invalidValue(\(tensor)[\(index)] = \(value))"
        case let .option(name, value): return "invalidOption(\(name) = \(value ?? "…"))"
        }
    }

    /// What the description must contain.
    var mentions: [String] {
        switch self {
        case let .shape(tensor): return [tensor]
        case let .value(tensor, index, value): return ["\(tensor)[\(index)]", value]
        case let .option(name, value): return [name] + (value.map { [$0] } ?? [])
        }
    }
}

func expectError(_ expected: ExpectedError, _ context: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Any) {
    let error: LossKernelsError
    do {
        let result = try body()
        Issue.record("\(context): expected \(expected), but the call returned \(result)", sourceLocation: sourceLocation)
        return
    } catch let e as LossKernelsError {
        error = e
    } catch {
        Issue.record("\(context): expected \(expected), got a non-LossKernelsError \(error)", sourceLocation: sourceLocation)
        return
    }
    switch (expected, error) {
    case let (.shape(t), .shapeMismatch(tensor, _, _)):
        #expect(tensor == t, "\(context): \(error)", sourceLocation: sourceLocation)
    case let (.value(t, i, v), .invalidValue(tensor, index, value, _)):
        #expect(tensor == t && index == i && value == v, "\(context): \(error)", sourceLocation: sourceLocation)
    case let (.option(n, v), .invalidOption(name, value, _)):
        #expect(name == n && (v == nil || value == v), "\(context): \(error)", sourceLocation: sourceLocation)
    default:
        Issue.record("\(context): expected \(expected), got \(error)", sourceLocation: sourceLocation)
    }
    let text = error.description
    for m in expected.mentions where !text.contains(m) {
        Issue.record("\(context): description \"\(text)\" does not mention \"\(m)\"", sourceLocation: sourceLocation)
    }
}
