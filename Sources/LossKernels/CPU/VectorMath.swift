/// Lane-wise math on `SIMD8<Float>` written out by hand: the generic SIMD helpers compile to scalar
/// code through memory at the default optimisation level (see DESIGN.md).
enum VectorMath {
    typealias V = SIMD8<Float>

    /// exp(x) per lane as 2^(x·log2 e) over the whole float range: the same degree-5 polynomial as
    /// the C microkernel (relative error ≈ 1e-7), 2^n applied as two factors so that results
    /// overflow to +∞ and underflow through subnormals to 0; NaN stays NaN. Written with bit
    /// operations only: the generic SIMD helpers (`replace(with:where:)`, `rounded`, integer
    /// conversions) compile to scalar code at the default optimisation level.
    @inline(__always)
    static func exp(_ x: V) -> V {
        typealias U = SIMD8<UInt32>
        typealias I = SIMD8<Int32>
        let t0 = x * 1.44269504088896341
        let notNaN = unsafeBitCast(t0 .== t0, to: U.self)
        let high = unsafeBitCast(t0 .> V(repeating: 250), to: U.self)
        let low = unsafeBitCast(t0 .< V(repeating: -250), to: U.self)
        let keep = notNaN & ~high & ~low
        let t = unsafeBitCast(
            (unsafeBitCast(t0, to: U.self) & keep) | (unsafeBitCast(V(repeating: 250), to: U.self) & high)
                | (unsafeBitCast(V(repeating: -250), to: U.self) & low), to: V.self)
        // Round to nearest with the 1.5·2^23 trick; the low bits of `shifted` hold n.
        let shifted = t + 12_582_912
        let n = shifted - 12_582_912
        let f = t - n
        var p = V(repeating: 1.3266970386325856e-3)
        p = p * f + 9.67545974551767e-3
        p = p * f + 5.55074261600255e-2
        p = p * f + 2.4022121753561645e-1
        p = p * f + 6.931469491610631e-1
        p = p * f + 1.0000000710296983
        let ni = unsafeBitCast(shifted, to: I.self) &- 0x4B40_0000
        let n1 = ni &>> 1, n2 = ni &- n1
        let e1 = unsafeBitCast((n1 &+ 127) &<< 23, to: V.self), e2 = unsafeBitCast((n2 &+ 127) &<< 23, to: V.self)
        let r = p * e1 * e2
        return unsafeBitCast((unsafeBitCast(r, to: U.self) & notNaN) | (unsafeBitCast(x, to: U.self) & ~notNaN), to: V.self)
    }

    /// Lane-wise max of two vectors without NaN (a blend through a comparison mask).
    @inline(__always)
    static func maximum(_ a: V, _ b: V) -> V {
        let takeB = unsafeBitCast(b .> a, to: SIMD8<UInt32>.self)
        return unsafeBitCast((unsafeBitCast(a, to: SIMD8<UInt32>.self) & ~takeB) | (unsafeBitCast(b, to: SIMD8<UInt32>.self) & takeB), to: V.self)
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
