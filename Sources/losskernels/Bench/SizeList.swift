import ArgumentParser
import Foundation

/// A list of sizes for `bench sweep`: comma-separated items, each an integer (`4096`), a
/// power-of-ten shorthand (`1e6`), or a range `A...B` (decades: A, 10A, 100A, … up to B) or
/// `A...B*F` (A, F·A, F²·A, … up to B; F ≥ 2). Example: `1e3...1e7` = 1000, 10000, …, 10000000;
/// `1...4096*4` = 1, 4, 16, 64, 256, 1024, 4096; `1,16,256,4096`.
struct SizeList: ExpressibleByArgument {
    var values: [Int]

    init(values: [Int]) { self.values = values }

    init?(argument: String) {
        var values: [Int] = []
        for item in argument.split(separator: ",", omittingEmptySubsequences: false) {
            let item = item.trimmingCharacters(in: .whitespaces)
            if let range = item.range(of: "...") {
                var upper = String(item[range.upperBound...])
                var factor = 10
                if let star = upper.firstIndex(of: "*") {
                    guard let f = Int(upper[upper.index(after: star)...]), f >= 2 else { return nil }
                    factor = f
                    upper = String(upper[..<star])
                }
                guard let low = Self.number(String(item[..<range.lowerBound])), let high = Self.number(upper), low <= high else { return nil }
                var v = low
                while v <= high {
                    values.append(v)
                    let (next, overflow) = v.multipliedReportingOverflow(by: factor)
                    if overflow { break }
                    v = next
                }
            } else {
                guard let v = Self.number(item) else { return nil }
                values.append(v)
            }
        }
        guard !values.isEmpty, values.count <= 1000 else { return nil }
        self.values = values
    }

    /// A positive integer: digits, or `MeE` (mantissa times a power of ten, exact).
    static func number(_ text: String) -> Int? {
        if let v = Int(text) { return v >= 1 ? v : nil }
        let parts = text.lowercased().split(separator: "e", omittingEmptySubsequences: false)
        guard parts.count == 2, let mantissa = Int(parts[0]), let exponent = Int(parts[1]), mantissa >= 1, (0...18).contains(exponent) else { return nil }
        var v = mantissa
        for _ in 0..<exponent {
            let (next, overflow) = v.multipliedReportingOverflow(by: 10)
            if overflow { return nil }
            v = next
        }
        return v
    }

    static var defaultValueDescription: String { "" }
}
