/// Lane-wise math on `SIMD8<Float>` written out by hand: the generic SIMD helpers compile to scalar
/// code through memory at the default optimisation level (see DESIGN.md).
enum VectorMath {
    typealias V = SIMD8<Float>

    /// exp(x) per lane, Cephes expf polynomial (≈1 ulp); lanes below −87.34 give 0, NaN stays NaN.
    @inline(__always)
    static func exp(_ input: V) -> V {
        let tooSmall = input .< V(repeating: -87.3365447505531)
        let isNaN = input .!= input
        var x = input
        x.replace(with: V(repeating: 0), where: isNaN)
        x.replace(with: V(repeating: 88.3762626647949), where: x .> 88.3762626647949)
        x.replace(with: V(repeating: -87.3365447505531), where: tooSmall)
        let n = (x * 1.44269504088896341).rounded(.toNearestOrEven)
        x = x - n * 0.693359375
        x = x - n * -2.12194440e-4
        var y = V(repeating: 1.9875691500e-4)
        y = y * x + 1.3981999507e-3
        y = y * x + 8.3334519073e-3
        y = y * x + 4.1665795894e-2
        y = y * x + 1.6666665459e-1
        y = y * x + 5.0000001201e-1
        y = y * (x * x) + (x + 1)
        let exponent = (SIMD8<Int32>(truncatingIfNeeded: SIMD8<Int32>(n, rounding: .toNearestOrEven)) &+ 127) &<< 23
        y = y * unsafeBitCast(exponent, to: V.self)
        y.replace(with: V(repeating: 0), where: tooSmall)
        y.replace(with: input, where: isNaN)
        return y
    }

    @inline(__always)
    static func horizontalSum(_ v: V) -> Float {
        let a = v.lowHalf + v.highHalf
        let b = a.lowHalf + a.highHalf
        return b[0] + b[1]
    }

    @inline(__always)
    static func horizontalMax(_ v: V) -> Float {
        var m = v[0]
        for lane in 1..<8 where v[lane] > m { m = v[lane] }
        return m
    }

    /// Loads `count` (< 8) floats from `p`, the other lanes set to `fill`.
    @inline(__always)
    static func loadPartial(_ p: UnsafePointer<Float>, _ count: Int, fill: Float) -> V {
        var v = V(repeating: fill)
        for lane in 0..<count { v[lane] = p[lane] }
        return v
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }
}
