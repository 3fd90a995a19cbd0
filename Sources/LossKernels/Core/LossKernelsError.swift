/// Every error LossKernels throws. Each case carries what a person needs to fix the call: the
/// tensor, the row or index, the value and the allowed range; for OpenCL, the call, the error name
/// and, for build failures, the device's build log.
public enum LossKernelsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A tensor's shape does not fit the operation (`expected` and `actual` in words, e.g. "[256, 1000]").
    case shapeMismatch(tensor: String, expected: String, actual: String)
    /// An element of a tensor is outside its allowed range (labels, masks, finite checks).
    case invalidValue(tensor: String, index: Int, value: String, allowed: String)
    /// An option of an operation is outside its allowed range.
    case invalidOption(name: String, value: String, allowed: String)
    /// OpenCL cannot be used: no loader library, no platform, no device of the requested type.
    case openCLUnavailable(reason: String)
    /// An OpenCL call failed. `buildLog` is the device's compiler output for build failures.
    case openCLFailure(call: String, code: Int32, name: String, buildLog: String?)
    /// A `.npy` file was refused (`file` is its path).
    case unreadableFile(file: String, reason: String)
    /// A result could not be written (`path` is the file or folder).
    case unwritableOutput(path: String, reason: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(tensor, expected, actual):
            return "\(tensor): expected shape \(expected), got \(actual)"
        case let .invalidValue(tensor, index, value, allowed):
            return "\(tensor)[\(index)] = \(value) is out of range (allowed: \(allowed))"
        case let .invalidOption(name, value, allowed):
            return "option \(name) = \(value) is out of range (allowed: \(allowed))"
        case let .openCLUnavailable(reason):
            return "OpenCL is unavailable: \(reason)"
        case let .openCLFailure(call, code, name, buildLog):
            var text = "OpenCL call \(call) failed with \(name) (\(code))"
            if let log = buildLog, !log.isEmpty { text += "; build log:\n\(log)" }
            return text
        case let .unreadableFile(file, reason):
            return "\(file): \(reason)"
        case let .unwritableOutput(path, reason):
            return "cannot write \(path): \(reason)"
        }
    }
}
