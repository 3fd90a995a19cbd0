import Foundation

/// Simple SIMD loops over contiguous floats used by the backward passes and the reductions.
/// Partial sums are kept in several float lanes and returned in double.
enum RowLoops {
    typealias V = VectorMath.V

    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Double {
        var acc0 = V(repeating: 0), acc1 = acc0
        var i = 0
        while i + 16 <= n {
            acc0 += VectorMath.load(a + i) * VectorMath.load(b + i)
            acc1 += VectorMath.load(a + i + 8) * VectorMath.load(b + i + 8)
            i += 16
        }
        var total = Double(VectorMath.horizontalSum(acc0 + acc1))
        while i < n { total += Double(a[i] * b[i]); i += 1 }
        return total
    }

    static func sum(_ a: UnsafePointer<Float>, _ n: Int) -> Double {
        var acc0 = V(repeating: 0), acc1 = acc0
        var i = 0
        while i + 16 <= n {
            acc0 += VectorMath.load(a + i)
            acc1 += VectorMath.load(a + i + 8)
            i += 16
        }
        var total = Double(VectorMath.horizontalSum(acc0 + acc1))
        while i < n { total += Double(a[i]); i += 1 }
        return total
    }

    static func sumOfSquares(_ a: UnsafePointer<Float>, _ n: Int) -> Double {
        var acc0 = V(repeating: 0), acc1 = acc0
        var i = 0
        while i + 16 <= n {
            let u = VectorMath.load(a + i), v = VectorMath.load(a + i + 8)
            acc0 += u * u
            acc1 += v * v
            i += 16
        }
        var total = Double(VectorMath.horizontalSum(acc0 + acc1))
        while i < n { total += Double(a[i] * a[i]); i += 1 }
        return total
    }

    /// dz = y ⊙ (g − s).
    static func softmaxBackward(_ y: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ s: Float, _ dz: UnsafeMutablePointer<Float>, _ n: Int) {
        let sv = V(repeating: s)
        var i = 0
        while i + 8 <= n {
            VectorMath.store(VectorMath.load(y + i) * (VectorMath.load(g + i) - sv), dz + i)
            i += 8
        }
        while i < n { dz[i] = y[i] * (g[i] - s); i += 1 }
    }

    /// dz = g − exp(y)·s.
    static func logSoftmaxBackward(_ y: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ s: Float, _ dz: UnsafeMutablePointer<Float>, _ n: Int) {
        let sv = V(repeating: s)
        var i = 0
        while i + 8 <= n {
            VectorMath.store(VectorMath.load(g + i) - VectorMath.exp(VectorMath.load(y + i)) * sv, dz + i)
            i += 8
        }
        while i < n { dz[i] = g[i] - Foundation.exp(y[i]) * s; i += 1 }
    }
}
