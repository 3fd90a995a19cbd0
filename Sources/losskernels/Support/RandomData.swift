import LossKernels

extension Matrix {
    /// Values uniform in [−scale, scale).
    static func random(rows: Int, columns: Int, scale: Float, using random: inout SplitMix64) -> Matrix {
        var m = Matrix(rows: rows, columns: columns, repeating: 0)
        let step = 2 * scale / Float(1 << 24)
        for i in 0..<m.values.count { m.values[i] = Float(random.next() >> 40) * step - scale }
        return m
    }
}
