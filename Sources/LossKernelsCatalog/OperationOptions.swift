import LossKernels

/// The options of one call as the command line gave them: flag name (without `--`) → value. Only
/// given flags are present; each operation reads the ones it uses, with its defaults.
public struct OperationOptions: Sendable, Equatable {
    /// A parsed value.
    public enum Value: Sendable, Equatable {
        case number(Double)
        case integer(Int)
        case word(String)
        /// A flag without value (`--swap`), present means on.
        case on
    }

    public var values: [String: Value]

    public init(_ values: [String: Value] = [:]) { self.values = values }

    /// The flags given.
    public var flags: Set<String> { Set(values.keys) }

    public func number(_ flag: String) -> Double? {
        switch values[flag] {
        case .number(let v): return v
        case .integer(let v): return Double(v)
        default: return nil
        }
    }

    public func float(_ flag: String, default value: Float) -> Float { number(flag).map { Float($0) } ?? value }
    public func float(_ flag: String) -> Float? { number(flag).map { Float($0) } }

    public func integer(_ flag: String) -> Int? {
        switch values[flag] {
        case .integer(let v): return v
        case .number(let v): return Int(exactly: v)
        default: return nil
        }
    }

    public func word(_ flag: String) -> String? {
        if case .word(let w) = values[flag] { return w }
        return nil
    }

    public func isOn(_ flag: String) -> Bool { values[flag] == .on }

    /// `--reduction` as a `LossReduction` (default mean); the command line has checked the word.
    public var reduction: LossReduction { word("reduction").flatMap(LossReduction.init(rawValue:)) ?? .mean }
}
