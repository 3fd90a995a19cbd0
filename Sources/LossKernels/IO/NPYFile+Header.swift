import Foundation

// MARK: - Header parsing

extension NPYFile {
    /// The three entries of a `.npy` header dict, as read (not yet checked against the data).
    struct Header {
        /// The dtype string, e.g. `<f4` (the `descr` entry).
        var descr: String
        /// Whether the data is in Fortran (column-major) order (the `fortran_order` entry).
        var fortranOrder: Bool
        /// The dimensions, outermost first, each non-negative (the `shape` entry; `[]` for 0-d).
        var shape: [Int]
    }

    /// Why a header cannot be used; `decode` turns `reason` into `LossKernelsError.unreadableFile`.
    struct HeaderError: Error {
        /// The error message, e.g. `malformed header: missing key 'shape'`.
        var reason: String
    }

    /// A Python literal as found in a `.npy` header.
    indirect enum Literal {
        /// A quoted string, escapes resolved.
        case string(String)
        /// `True` or `False`.
        case bool(Bool)
        /// `None`.
        case noneValue
        /// An integer as written, leading zeros removed (it may not fit in `Int`).
        case integer(String)
        /// A parenthesised tuple: `()`, `(3,)`, `(2, 3)`.
        case tuple([Literal])
        /// A bracketed list (a structured dtype's fields, which `decode` refuses).
        case list([Literal])
        /// A braced dict, its pairs in the order written (duplicates kept).
        case dict([(key: Literal, value: Literal)])

        /// The literal written back as Python would print it, for error messages.
        var summary: String {
            switch self {
            case let .string(text): return "'\(text)'"
            case let .bool(value): return value ? "True" : "False"
            case .noneValue: return "None"
            case let .integer(text): return text
            case let .tuple(items):
                return "(" + items.map(\.summary).joined(separator: ", ") + (items.count == 1 ? ",)" : ")")
            case let .list(items): return "[" + items.map(\.summary).joined(separator: ", ") + "]"
            case let .dict(pairs): return "{" + pairs.map { "\($0.key.summary): \($0.value.summary)" }.joined(separator: ", ") + "}"
            }
        }
    }

    /// Parses a header's text into its three entries.
    ///
    /// - Parameter scalars: the header text (after the length field), decoded from latin-1 or UTF-8.
    /// - Returns: the `descr`, `fortran_order` and `shape` entries.
    /// - Throws: `HeaderError` when the text is not one Python dict, has keys other than exactly
    ///   `descr`, `fortran_order` and `shape`, or an entry of the wrong kind (a structured dtype,
    ///   a non-boolean order, a shape that is not a tuple of non-negative integers that fit in `Int`).
    static func parseHeader(_ scalars: [Unicode.Scalar]) throws -> Header {
        var parser = LiteralParser(scalars: scalars)
        parser.skipWhitespace()
        guard parser.peek() == "{" else {
            throw HeaderError(reason: "malformed header: expected a dict starting with '{'")
        }
        let literal = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.atEnd else {
            throw HeaderError(reason: "malformed header: unexpected text after the dict at offset \(parser.position)")
        }
        guard case let .dict(pairs) = literal else {
            throw HeaderError(reason: "malformed header: expected a dict")
        }

        var values: [String: Literal] = [:]
        for pair in pairs {
            guard case let .string(key) = pair.key else {
                throw HeaderError(reason: "malformed header: dict key \(pair.key.summary) is not a string")
            }
            guard ["descr", "fortran_order", "shape"].contains(key) else {
                throw HeaderError(reason: "malformed header: unexpected key '\(key)' (expected 'descr', 'fortran_order' and 'shape')")
            }
            guard values[key] == nil else {
                throw HeaderError(reason: "malformed header: key '\(key)' appears more than once")
            }
            values[key] = pair.value
        }
        for key in ["descr", "fortran_order", "shape"] where values[key] == nil {
            throw HeaderError(reason: "malformed header: missing key '\(key)'")
        }

        let descr: String
        switch values["descr"] {
        case let .string(text)?:
            descr = text
        case .list?:
            throw HeaderError(reason: "structured dtype (descr is a list of fields) is not supported; use a plain array of \(supportedList)")
        case let other?:
            throw HeaderError(reason: "malformed header: 'descr' must be a dtype string, got \(other.summary)")
        case nil:
            throw HeaderError(reason: "malformed header: missing key 'descr'")
        }

        guard case let .bool(fortranOrder)? = values["fortran_order"] else {
            throw HeaderError(reason: "malformed header: 'fortran_order' must be True or False, got \(values["fortran_order"]?.summary ?? "nothing")")
        }

        guard case let .tuple(items)? = values["shape"] else {
            throw HeaderError(reason: "malformed header: 'shape' must be a tuple of non-negative integers, got \(values["shape"]?.summary ?? "nothing")")
        }
        var shape: [Int] = []
        for item in items {
            guard case let .integer(text) = item else {
                throw HeaderError(
                    reason: "malformed header: 'shape' must be a tuple of non-negative integers, got \(item.summary) in \(Literal.tuple(items).summary)")
            }
            if text.hasPrefix("-") {
                throw HeaderError(reason: "negative dimension \(text) in shape \(Literal.tuple(items).summary)")
            }
            guard let dimension = Int(text) else {
                throw HeaderError(reason: "shape \(Literal.tuple(items).summary) is too large: dimension \(text) overflows")
            }
            shape.append(dimension)
        }
        return Header(descr: descr, fortranOrder: fortranOrder, shape: shape)
    }

    /// Recursive-descent parser for the Python literals NumPy writes in headers.
    struct LiteralParser {
        /// The header text being parsed.
        let scalars: [Unicode.Scalar]
        /// The index in `scalars` of the next scalar to read; error messages report it as the offset.
        var position = 0

        /// A parser at the start of `scalars`.
        init(scalars: [Unicode.Scalar]) { self.scalars = scalars }

        /// Whether every scalar has been read.
        var atEnd: Bool { position >= scalars.count }

        /// The next scalar, without consuming it; nil at the end.
        func peek() -> Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

        /// Skips the whitespace Python allows between tokens (space, tab, newlines, VT, FF).
        mutating func skipWhitespace() {
            while let scalar = peek(), [" ", "\t", "\n", "\r", "\u{0B}", "\u{0C}"].contains(scalar) {
                position += 1
            }
        }

        /// The error for finding something other than `expected` at the current position.
        func failure(_ expected: String) -> HeaderError {
            if let scalar = peek() {
                return HeaderError(reason: "malformed header: expected \(expected) at offset \(position), found '\(Character(scalar))'")
            }
            return HeaderError(reason: "malformed header: expected \(expected) at offset \(position), found the end of the header")
        }

        /// Parses one literal (string, tuple, list, dict, integer, `True`, `False` or `None`).
        ///
        /// - Parameter depth: how many brackets enclose it; refused at `NPYFile.maxHeaderNesting`.
        /// - Returns: the literal; `(x)` without a comma is `x` itself, as in Python.
        /// - Throws: `HeaderError` for anything else, naming the offset.
        mutating func parseValue(depth: Int) throws -> Literal {
            guard depth < NPYFile.maxHeaderNesting else {
                throw HeaderError(reason: "malformed header: brackets nest more than \(NPYFile.maxHeaderNesting) deep")
            }
            skipWhitespace()
            guard let scalar = peek() else { throw failure("a value") }
            switch scalar {
            case "'", "\"":
                return .string(try parseString())
            case "(":
                position += 1
                let (items, trailingComma) = try parseItems(closing: ")", depth: depth)
                // "(5)" is just a parenthesised 5; a tuple needs a comma unless empty.
                if items.count == 1 && !trailingComma { return items[0] }
                return .tuple(items)
            case "[":
                position += 1
                return .list(try parseItems(closing: "]", depth: depth).items)
            case "{":
                position += 1
                return try parseDict(depth: depth)
            case "-", "0"..."9":
                return .integer(try parseInteger())
            default:
                if scalar.properties.isAlphabetic {
                    var word = ""
                    while let next = peek(), next.properties.isAlphabetic || next == "_" || ("0"..."9").contains(next) {
                        word.unicodeScalars.append(next)
                        position += 1
                    }
                    switch word {
                    case "True": return .bool(true)
                    case "False": return .bool(false)
                    case "None": return .noneValue
                    default:
                        throw HeaderError(reason: "malformed header: unknown name '\(word)' at offset \(position - word.unicodeScalars.count)")
                    }
                }
                throw failure("a value")
            }
        }

        /// Parses a string quoted with `'` or `"`, resolving the escapes `\n`, `\t`, `\r` and `\0`;
        /// a backslash before any other character stands for that character.
        ///
        /// - Returns: the text between the quotes.
        /// - Throws: `HeaderError` when the string is not closed before the end of the line or header.
        mutating func parseString() throws -> String {
            guard let quote = peek() else { throw failure("a string") }
            position += 1
            var text = ""
            while true {
                guard let scalar = peek() else { throw failure("a closing \(quote)") }
                position += 1
                if scalar == quote { return text }
                if scalar == "\\" {
                    guard let escaped = peek() else { throw failure("an escaped character") }
                    position += 1
                    switch escaped {
                    case "n": text.unicodeScalars.append("\n")
                    case "t": text.unicodeScalars.append("\t")
                    case "r": text.unicodeScalars.append("\r")
                    case "0": text.unicodeScalars.append("\u{0}")
                    default: text.unicodeScalars.append(escaped)
                    }
                } else if scalar == "\n" {
                    throw HeaderError(reason: "malformed header: string not closed before the end of the line at offset \(position - 1)")
                } else {
                    text.unicodeScalars.append(scalar)
                }
            }
        }

        /// Parses an integer: an optional `-`, digits and an optional Python 2 `L` suffix.
        ///
        /// - Returns: the digits with leading zeros removed (`-0` becomes `0`), as text so that
        ///   the caller can report a value too large for `Int`.
        /// - Throws: `HeaderError` when no digit follows.
        mutating func parseInteger() throws -> String {
            var text = ""
            if peek() == "-" {
                text = "-"
                position += 1
                skipWhitespace()
            }
            var digits = 0
            while let scalar = peek(), ("0"..."9").contains(scalar) {
                text.unicodeScalars.append(scalar)
                position += 1
                digits += 1
            }
            guard digits > 0 else { throw failure("digits") }
            if peek() == "L" || peek() == "l" { position += 1 }   // Python 2 long suffix
            // Strip leading zeros so Int() sees the value (Python 3 forbids them, but be lenient).
            let negative = text.hasPrefix("-")
            var magnitude = Substring(negative ? String(text.dropFirst()) : text)
            while magnitude.count > 1 && magnitude.first == "0" { magnitude = magnitude.dropFirst() }
            return (negative && magnitude != "0" ? "-" : "") + magnitude
        }

        /// Parses comma-separated values up to `closing`; reports whether the last item had a trailing comma.
        mutating func parseItems(closing: Unicode.Scalar, depth: Int) throws -> (items: [Literal], trailingComma: Bool) {
            var items: [Literal] = []
            var trailingComma = false
            while true {
                skipWhitespace()
                if peek() == closing {
                    position += 1
                    return (items, trailingComma)
                }
                if !items.isEmpty && !trailingComma {
                    throw failure("',' or '\(Character(closing))'")
                }
                items.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                trailingComma = false
                if peek() == "," {
                    position += 1
                    trailingComma = true
                }
            }
        }

        /// Parses the `key: value` pairs of a dict up to its `}` (the `{` already consumed).
        ///
        /// - Parameter depth: how many brackets enclose the dict.
        /// - Returns: `.dict` with the pairs in the order written.
        /// - Throws: `HeaderError` for a missing `:`, `,` or `}`, or a malformed key or value.
        mutating func parseDict(depth: Int) throws -> Literal {
            var pairs: [(key: Literal, value: Literal)] = []
            var trailingComma = false
            while true {
                skipWhitespace()
                if peek() == "}" {
                    position += 1
                    return .dict(pairs)
                }
                if !pairs.isEmpty && !trailingComma {
                    throw failure("',' or '}'")
                }
                let key = try parseValue(depth: depth + 1)
                skipWhitespace()
                guard peek() == ":" else { throw failure("':'") }
                position += 1
                let value = try parseValue(depth: depth + 1)
                pairs.append((key, value))
                skipWhitespace()
                trailingComma = false
                if peek() == "," {
                    position += 1
                    trailingComma = true
                }
            }
        }
    }
}
