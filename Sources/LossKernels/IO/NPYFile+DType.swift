import Foundation

// MARK: - Dtypes

extension NPYFile {
    /// The element types `decode` reads: little-endian float32, float64, int32 and int64.
    enum ElementKind { case f4, f8, i4, i8 }

    /// A supported dtype: its element type and the bytes each element takes in the file.
    struct DType {
        /// The element type.
        var kind: ElementKind
        /// Bytes per element: 4 or 8.
        var itemSize: Int
    }

    /// Resolves a header's `descr` to a supported dtype.
    ///
    /// - Parameters:
    ///   - descr: the dtype string, e.g. `<f4`; a byte-order mark (`<`, `>`, `=`, `|`) is optional.
    ///   - refuse: makes the error to throw from a reason (`decode` names the file in it).
    /// - Returns: the dtype of `<f4`, `<f8`, `<i4` or `<i8` (or `=` on a little-endian machine).
    /// - Throws: `refuse`'s error for a big-endian dtype or any other dtype, saying what it is.
    static func resolveDType(_ descr: String, refuse: (String) -> LossKernelsError) throws -> DType {
        let supported: [String: DType] = [
            "f4": DType(kind: .f4, itemSize: 4), "f8": DType(kind: .f8, itemSize: 8),
            "i4": DType(kind: .i4, itemSize: 4), "i8": DType(kind: .i8, itemSize: 8),
        ]
        let order = descr.first
        let code = order.map { ["<", ">", "=", "|"].contains($0) } == true ? String(descr.dropFirst()) : descr
        #if _endian(little)
        let nativeIsLittle = true
        #else
        let nativeIsLittle = false
        #endif
        if let dtype = supported[code] {
            if order == "<" || (order == "=" && nativeIsLittle) { return dtype }
            if order == ">" || order == "=" {
                throw refuse("big-endian dtype '\(descr)' is not supported; use little-endian \(supportedList)")
            }
        }
        throw refuse("unsupported dtype '\(descr)'\(describe(code)); supported: \(supportedList)")
    }

    /// A parenthesised description of a dtype code, e.g. " (half precision)", or "" when unknown.
    static func describe(_ code: String) -> String {
        guard let kind = code.first else { return " (empty)" }
        let size = code.dropFirst()
        let text: String?
        switch kind {
        case "f":
            switch size {
            case "2": text = "half precision"
            case "4", "8": text = "byte order must be '<' or '='"
            case "10", "12", "16": text = "extended precision"
            default: text = "floating point"
            }
        case "i": text = ["4", "8"].contains(size) ? "byte order must be '<' or '='" : "\(size.isEmpty ? "" : "\(size)-byte ")integer"
        case "u": text = "unsigned integer"
        case "b": text = "bool or byte"
        case "?": text = "bool"
        case "c": text = "complex"
        case "U": text = "unicode string"
        case "S", "a": text = "byte string"
        case "O": text = "Python objects"
        case "V": text = "raw or structured data"
        case "M": text = "datetime"
        case "m": text = "timedelta"
        default: text = nil
        }
        return text.map { " (\($0))" } ?? ""
    }
}
