import Foundation
import _CMicrokernels

/// The memory-bound inner loops of the softmax family over one block of a row. Each has a Swift
/// SIMD version and, on x86-64 CPUs with AVX2+FMA, a C microkernel (see NOTES.md for why); the
/// choice is fixed per process so results are deterministic.
enum RowKernels {
    /// Whether the C microkernels run: when the CPU has them, unless `LOSSKERNELS_CPU_MICROKERNELS`
    /// is false (the Swift versions then run). Fixed for the process; an engine refuses a value
    /// `Configuration` does not allow, so the fallback here only covers code that runs before one.
    static let useMicrokernels: Bool = {
        let variables = EnvironmentVariables(ProcessInfo.processInfo.environment)
        let wanted = (try? variables.boolean("LOSSKERNELS_CPU_MICROKERNELS", default: true)) ?? true
        return wanted && lk_cpu_vector_width() > 0
    }()

    /// SIMD width in floats of the loops that run: 8 either way (AVX2 lanes, or `SIMD8<Float>`).
    static var vectorWidth: Int { 8 }

    /// Names the instruction set of the loops that run, for `losskernels devices`.
    static var instructionSet: String { useMicrokernels ? "AVX2+FMA (C microkernels)" : "Swift SIMD8<Float>" }

    /// (max, Σ exp(x − max)) of `x[0..<n]`; max is NaN when a NaN occurs, and the sum is 0 when the
    /// max is not finite.
    @inline(__always)
    static func blockStats(_ x: UnsafePointer<Float>, _ n: Int, microkernels: Bool = useMicrokernels) -> (max: Float, sum: Float) {
        if microkernels {
            var m: Float = 0, s: Float = 0
            _ = lk_cpu_block_stats(x, n, &m, &s)
            return (m, s)
        }
        return swiftBlockStats(x, n)
    }

    /// y = exp(x − shift)·scale over n values.
    @inline(__always)
    static func expScale(
        _ x: UnsafePointer<Float>, _ n: Int, shift: Float, scale: Float, _ y: UnsafeMutablePointer<Float>, streaming: Bool, microkernels: Bool = useMicrokernels
    ) {
        if microkernels {
            _ = lk_cpu_exp_scale(x, n, shift, scale, y, streaming ? 1 : 0)
            return
        }
        let sh = VectorMath.V(repeating: shift), sc = VectorMath.V(repeating: scale)
        var i = 0
        while i + 8 <= n {
            VectorMath.store(VectorMath.exp(VectorMath.load(x + i) - sh) * sc, y + i)
            i += 8
        }
        if i < n {
            let v = VectorMath.exp(VectorMath.loadPartial(x + i, n - i, fill: 0) - sh) * sc
            for lane in 0..<(n - i) { y[i + lane] = v[lane] }
        }
    }

    /// Softmax output y = exp(x − max)·scale, where every x ≤ max and none is NaN.
    @inline(__always)
    static func softmaxWrite(
        _ x: UnsafePointer<Float>, _ n: Int, max: Float, scale: Float, _ y: UnsafeMutablePointer<Float>, streaming: Bool, microkernels: Bool = useMicrokernels
    ) {
        if microkernels {
            _ = lk_cpu_softmax_write(x, n, max, scale, y, streaming ? 1 : 0)
            return
        }
        expScale(x, n, shift: max, scale: scale, y, streaming: streaming, microkernels: false)
    }

    /// Softmax-loss gradient y = exp(x − max)·scale − offset·w (w = `weights`, or 1), where every
    /// x ≤ max and none is NaN.
    @inline(__always)
    static func softmaxAffineWrite(
        _ x: UnsafePointer<Float>, _ n: Int, max: Float, scale: Float, offset: Float, weights: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>,
        streaming: Bool, microkernels: Bool = useMicrokernels
    ) {
        if microkernels {
            _ = lk_cpu_softmax_affine_write(x, n, max, scale, offset, weights, y, streaming ? 1 : 0)
            return
        }
        let sh = VectorMath.V(repeating: max), sc = VectorMath.V(repeating: scale), off = VectorMath.V(repeating: offset)
        var i = 0
        while i + 8 <= n {
            let w = weights.map { VectorMath.load($0 + i) } ?? VectorMath.V(repeating: 1)
            VectorMath.store(VectorMath.exp(VectorMath.load(x + i) - sh) * sc - off * w, y + i)
            i += 8
        }
        while i < n {
            y[i] = Foundation.exp(x[i] - max) * scale - offset * (weights?[i] ?? 1)
            i += 1
        }
    }

    /// Cosine logits z = amplitude·s_j·clamp(raw·invNorm_j, −1, 1) (s_j = `columnScales` or 1); in place allowed.
    @inline(__always)
    static func cosineLogits(
        _ raw: UnsafePointer<Float>, _ n: Int, inverseNorms: UnsafePointer<Float>, amplitude: Float, columnScales: UnsafePointer<Float>?,
        _ z: UnsafeMutablePointer<Float>, microkernels: Bool = useMicrokernels
    ) {
        if microkernels {
            _ = lk_cpu_cosine_logits(raw, n, inverseNorms, amplitude, columnScales, z)
            return
        }
        for i in 0..<n {
            let c = Swift.min(Swift.max(raw[i] * inverseNorms[i], -1), 1)
            z[i] = c * amplitude * (columnScales?[i] ?? 1)
        }
    }

    /// y = exp(x − max)·scale·s_j, where every x ≤ max and none is NaN; in place allowed.
    @inline(__always)
    static func expScaleColumns(
        _ x: UnsafePointer<Float>, _ n: Int, max: Float, scale: Float, columnScales: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
        microkernels: Bool = useMicrokernels
    ) {
        if microkernels {
            _ = lk_cpu_exp_scale_columns(x, n, max, scale, columnScales, y)
            return
        }
        let sh = VectorMath.V(repeating: max), sc = VectorMath.V(repeating: scale)
        var i = 0
        while i + 8 <= n {
            VectorMath.store(VectorMath.exp(VectorMath.load(x + i) - sh) * sc * VectorMath.load(columnScales + i), y + i)
            i += 8
        }
        while i < n {
            y[i] = Foundation.exp(x[i] - max) * scale * columnScales[i]
            i += 1
        }
    }

    /// y = (x − shift) − secondShift over n values (two steps: exact when x is near shift).
    @inline(__always)
    static func subtract(
        _ x: UnsafePointer<Float>, _ n: Int, shift: Float, secondShift: Float = 0, _ y: UnsafeMutablePointer<Float>, streaming: Bool,
        microkernels: Bool = useMicrokernels
    ) {
        if microkernels {
            _ = lk_cpu_subtract(x, n, shift, secondShift, y, streaming ? 1 : 0)
            return
        }
        let sh = VectorMath.V(repeating: shift), sh2 = VectorMath.V(repeating: secondShift)
        var i = 0
        while i + 8 <= n {
            VectorMath.store((VectorMath.load(x + i) - sh) - sh2, y + i)
            i += 8
        }
        while i < n {
            y[i] = (x[i] - shift) - secondShift
            i += 1
        }
    }

    /// Makes earlier streaming stores visible before the results are handed back.
    static func fence() {
        if useMicrokernels { lk_cpu_store_fence() }
    }

    static func swiftBlockStats(_ x: UnsafePointer<Float>, _ n: Int) -> (max: Float, sum: Float) {
        typealias V = VectorMath.V
        var m0 = V(repeating: -.infinity), m1 = m0
        var nan = SIMD8<UInt32>(repeating: 0)
        var i = 0
        while i + 16 <= n {
            let a = VectorMath.load(x + i), b = VectorMath.load(x + i + 8)
            m0 = VectorMath.maximum(m0, a)
            m1 = VectorMath.maximum(m1, b)
            nan |= unsafeBitCast(a .!= a, to: SIMD8<UInt32>.self) | unsafeBitCast(b .!= b, to: SIMD8<UInt32>.self)
            i += 16
        }
        while i < n {
            let a = VectorMath.loadPartial(x + i, min(8, n - i), fill: -.infinity)
            m0 = VectorMath.maximum(m0, a)
            nan |= unsafeBitCast(a .!= a, to: SIMD8<UInt32>.self)
            i += 8
        }
        m0 = VectorMath.maximum(m0, m1)
        if nan != SIMD8<UInt32>(repeating: 0) { return (.nan, 0) }
        let m = VectorMath.horizontalMax(m0)
        guard m.isFinite else { return (m, 0) }
        let shift = V(repeating: m)
        var s0 = V(repeating: 0), s1 = s0
        i = 0
        while i + 16 <= n {
            s0 += VectorMath.exp(VectorMath.load(x + i) - shift)
            s1 += VectorMath.exp(VectorMath.load(x + i + 8) - shift)
            i += 16
        }
        while i < n {
            s0 += VectorMath.exp(VectorMath.loadPartial(x + i, min(8, n - i), fill: -.infinity) - shift)
            i += 8
        }
        return (m, VectorMath.horizontalSum(s0 + s1))
    }
}
