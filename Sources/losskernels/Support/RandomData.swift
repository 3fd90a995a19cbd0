import LossKernels

/// SplitMix64: a small, fast, seedable generator for reproducible benchmark inputs.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Matrix {
    /// Values uniform in [−scale, scale).
    static func random(rows: Int, columns: Int, scale: Float, using random: inout SplitMix64) -> Matrix {
        var m = Matrix(rows: rows, columns: columns, repeating: 0)
        let step = 2 * scale / Float(1 << 24)
        for i in 0..<m.values.count { m.values[i] = Float(random.next() >> 40) * step - scale }
        return m
    }
}
