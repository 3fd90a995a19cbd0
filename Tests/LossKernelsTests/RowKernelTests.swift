import Foundation
import Testing

@testable import LossKernels

/// The softmax family's inner loops (`RowKernels.blockStats`, `expScale`, `subtract`) called
/// directly, in both implementations — the Swift SIMD fallback and, where the CPU has AVX2+FMA,
/// the C microkernel — against float64 references, on every length 0…70 and a few large ones, with
/// input and output pointers misaligned by 0…7 floats, streaming and regular stores.
@Suite struct RowKernelTests {
    enum Implementation: String, Sendable, CustomTestStringConvertible {
        case swiftSIMD, microkernel
        var usesMicrokernels: Bool { self == .microkernel }
        var testDescription: String { rawValue }
    }

    /// The Swift fallback always; the C microkernels only when this machine runs them.
    static let implementations: [Implementation] = RowKernels.useMicrokernels ? [.swiftSIMD, .microkernel] : [.swiftSIMD]

    static let lengths: [Int] = Array(0...70) + [127, 128, 1000, 4099, CPUSoftmax.blockLength]

    /// Shown as skipped when the C microkernels are not in use on this machine.
    @Test(
        .enabled(
            if: RowKernels.useMicrokernels,
            "the C microkernels do not run here (no AVX2+FMA, or LOSSKERNELS_CPU_MICROKERNELS=0): only the Swift SIMD path is tested"))
    func microkernelsAreTested() {
        #expect(Self.implementations.contains(.microkernel))
        #expect(Engine.cpuInstructionSet.contains("microkernel"))
    }

    // MARK: Buffers with a chosen misalignment

    /// `count` floats at `offset` floats past a 64-byte boundary, with 16 guard floats on each side
    /// filled with a sentinel so stray writes are caught.
    final class Guarded {
        static let guardCount = 16
        static let sentinel = Float(bitPattern: 0x7FC0_BEEF)   // a NaN with a recognisable payload
        let raw: UnsafeMutableRawPointer
        let total: Int
        let offset: Int
        let count: Int

        init(_ values: [Float], offset: Int) {
            count = values.count
            self.offset = offset
            total = Self.guardCount + offset + count + Self.guardCount
            raw = UnsafeMutableRawPointer.allocate(byteCount: total * 4, alignment: 64)
            let all = raw.bindMemory(to: Float.self, capacity: total)
            all.initialize(repeating: Self.sentinel, count: total)
            for (i, v) in values.enumerated() { all[Self.guardCount + offset + i] = v }
        }

        deinit { raw.deallocate() }

        private var all: UnsafeMutablePointer<Float> { raw.assumingMemoryBound(to: Float.self) }
        /// The first value; `offset` floats past a 64-byte boundary (plus the 64-byte guard).
        var pointer: UnsafeMutablePointer<Float> { all + Self.guardCount + offset }
        var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

        /// Whether every float outside `[start, start + count)` still holds the sentinel.
        var guardsIntact: Bool {
            (0..<total).allSatisfy { i in
                let inside = i >= Self.guardCount + offset && i < Self.guardCount + offset + count
                return inside || all[i].bitPattern == Self.sentinel.bitPattern
            }
        }
    }

    // MARK: blockStats

    /// (max, Σ exp(x − max)): max NaN when a NaN occurs, −∞ for an empty or all-(−∞) block; the sum
    /// is 0 when the max is not finite.
    static func referenceStats(_ x: [Float]) -> (max: Double, sum: Double) {
        let v = x.map(Double.init)
        if v.contains(where: { $0.isNaN }) { return (.nan, 0) }
        let m = v.max() ?? -.infinity
        guard m.isFinite else { return (m, 0) }
        return (m, v.reduce(0) { $0 + Foundation.exp($1 - m) })
    }

    static func checkStats(_ x: [Float], offset: Int, _ impl: Implementation, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let buffer = Guarded(x, offset: offset)
        let (m, s) = RowKernels.blockStats(buffer.pointer, x.count, microkernels: impl.usesMicrokernels)
        let ref = referenceStats(x)
        // The maximum of floats is one of them: it must be exact (or NaN where the reference is).
        let exact = ref.max.isNaN ? m.isNaN : Double(m) == ref.max
        #expect(exact, "\(impl) blockStats max \(context) n=\(x.count) offset \(offset): got \(m), reference \(ref.max)", sourceLocation: sourceLocation)
        expectClose([s], [ref.sum], "\(impl) blockStats sum \(context) n=\(x.count) offset \(offset)", sourceLocation: sourceLocation)
        #expect(buffer.guardsIntact, "\(impl) blockStats wrote outside its input", sourceLocation: sourceLocation)
    }

    @Test(arguments: implementations)
    func blockStatsOnEveryLength(_ impl: Implementation) {
        var rng = TestRNG(seed: 11)
        for n in Self.lengths {
            for offset in 0..<8 where n <= 70 || offset % 3 == 0 {
                var x = TestData.normal(n, scale: 10, rng: &rng)
                for i in x.indices where rng.unit() < 0.1 { x[i] = -.infinity }
                Self.checkStats(x, offset: offset, impl, "random ±10 with masks")
                // Values large enough that exp(x − max) spans the whole float range.
                Self.checkStats(TestData.normal(n, scale: 300, rng: &rng), offset: offset, impl, "random ±300")
            }
        }
    }

    @Test(arguments: implementations)
    func blockStatsSpecialBlocks(_ impl: Implementation) {
        var rng = TestRNG(seed: 12)
        for n in 1...70 {
            let base = TestData.normal(n, scale: 5, rng: &rng)
            let offset = n % 8
            Self.checkStats([Float](repeating: -.infinity, count: n), offset: offset, impl, "all −∞")
            // A NaN at every position: it must be seen in the unrolled body and in the tail.
            for p in 0..<n {
                var x = base
                x[p] = .nan
                Self.checkStats(x, offset: offset, impl, "NaN at \(p)")
                x = base
                x[p] = .infinity
                Self.checkStats(x, offset: offset, impl, "+∞ at \(p)")
                x = [Float](repeating: -.infinity, count: n)
                x[p] = base[p]
                Self.checkStats(x, offset: offset, impl, "only \(p) finite")
            }
            var x = base
            x[n - 1] = .infinity
            x[0] = .nan
            Self.checkStats(x, offset: offset, impl, "NaN and +∞")
            x = [Float](repeating: -.infinity, count: n)
            x[n / 2] = .infinity
            Self.checkStats(x, offset: offset, impl, "+∞ among −∞")
        }
        // NaN in each 8-lane group of a large block.
        for p in stride(from: 3, to: 4099, by: 517) {
            var x = TestData.normal(4099, rng: &rng)
            x[p] = .nan
            Self.checkStats(x, offset: p % 8, impl, "n=4099 NaN at \(p)")
        }
    }

    // MARK: expScale

    @Test(arguments: implementations, [false, true])
    func expScaleOnEveryLength(_ impl: Implementation, _ streaming: Bool) {
        var rng = TestRNG(seed: streaming ? 21 : 22)
        for n in Self.lengths {
            for (xOffset, yOffset) in [(0, 0), (1, 3), (5, 0), (0, 7), (2, 2), (7, 6), (3, 1), (6, 5)] where n <= 70 || xOffset == yOffset || xOffset == 5 {
                let shift = Float(rng.normal() * 50)
                let scale: Float = [1, 0.37, 3][rng.index(3)]
                // x − shift spread over [−100, 5]: underflow to 0, ordinary values, a little above 1.
                var x = (0..<n).map { _ in shift + Float(-100 + 105 * rng.unit()) }
                for i in x.indices where rng.unit() < 0.05 { x[i] = -.infinity }
                let input = Guarded(x, offset: xOffset)
                let output = Guarded([Float](repeating: Guarded.sentinel, count: n), offset: yOffset)
                RowKernels.expScale(input.pointer, n, shift: shift, scale: scale, output.pointer, streaming: streaming, microkernels: impl.usesMicrokernels)
                RowKernels.fence()
                let ref = x.map { Double(scale) * Foundation.exp(Double($0) - Double(shift)) }
                let context = "\(impl) expScale n=\(n) x+\(xOffset) y+\(yOffset) streaming \(streaming) shift \(shift) scale \(scale)"
                expectClose(output.values, ref, context)
                #expect(output.guardsIntact, "\(context): wrote outside y[0..<n]")
                #expect(input.guardsIntact && input.values.elementsEqual(x) { $0.bitPattern == $1.bitPattern }, "\(context): changed its input")
            }
        }
    }

    /// exp propagates NaN: y = exp(NaN − shift)·scale is NaN (reachable through
    /// `Engine.logSumExpBackward` with a logSumExp vector that is not the row's own).
    @Test(arguments: implementations)
    func expScalePropagatesNaN(_ impl: Implementation) {
        for n in [1, 7, 8, 9, 33] {
            var x = (0..<n).map { Float($0) * 0.25 - 3 }
            for i in stride(from: n / 2, to: n, by: 4) { x[i] = .nan }
            let input = Guarded(x, offset: 1), output = Guarded([Float](repeating: 0, count: n), offset: 2)
            RowKernels.expScale(input.pointer, n, shift: 1.5, scale: 0.5, output.pointer, streaming: false, microkernels: impl.usesMicrokernels)
            expectClose(output.values, x.map { 0.5 * Foundation.exp(Double($0) - 1.5) }, "\(impl) expScale with NaN inputs n=\(n)")
        }
    }

    /// exp over the top of float32's range: exp(d) for d up to ≈88.72 is finite, beyond (and for
    /// +∞) it is +∞ — the reference rounded to float32.
    @Test(arguments: implementations)
    func expScaleNearTheTopOfTheFloatRange(_ impl: Implementation) {
        let d: [Float] = [80, 85, 87, 88, 88.3, 88.5, 88.7, 88.8, 89, 100, .infinity, 0, -1]
        let input = Guarded(d, offset: 0), output = Guarded([Float](repeating: 0, count: d.count), offset: 0)
        RowKernels.expScale(input.pointer, d.count, shift: 0, scale: 1, output.pointer, streaming: false, microkernels: impl.usesMicrokernels)
        expectClose(output.values, d.map { Foundation.exp(Double($0)) }, "\(impl) expScale of \(d)")
    }

    // MARK: subtract

    /// y = x − shift is one correctly rounded float subtraction: it must match bitwise (NaN where
    /// the reference is NaN), ±∞ included.
    @Test(arguments: implementations, [false, true])
    func subtractOnEveryLength(_ impl: Implementation, _ streaming: Bool) {
        var rng = TestRNG(seed: streaming ? 31 : 32)
        for n in Self.lengths {
            for (xOffset, yOffset) in [(0, 0), (1, 3), (5, 0), (0, 7), (2, 2), (7, 6), (3, 1), (6, 5)] where n <= 70 || xOffset == yOffset || xOffset == 5 {
                let shift = Float(rng.normal() * 300)
                var x = TestData.normal(n, scale: 300, rng: &rng)
                for i in x.indices {
                    let u = rng.unit()
                    if u < 0.03 { x[i] = -.infinity } else if u < 0.04 { x[i] = .infinity } else if u < 0.05 { x[i] = .nan }
                }
                let input = Guarded(x, offset: xOffset)
                let output = Guarded([Float](repeating: Guarded.sentinel, count: n), offset: yOffset)
                RowKernels.subtract(input.pointer, n, shift: shift, output.pointer, streaming: streaming, microkernels: impl.usesMicrokernels)
                RowKernels.fence()
                let context = "\(impl) subtract n=\(n) x+\(xOffset) y+\(yOffset) streaming \(streaming) shift \(shift)"
                let y = output.values
                let bad = (0..<n).first { i in
                    let ref = Float(Double(x[i]) - Double(shift))
                    return ref.isNaN ? !y[i].isNaN : y[i].bitPattern != ref.bitPattern
                }
                #expect(bad == nil, "\(context): first difference at \(bad ?? -1): \(bad.map { "\(y[$0]) vs \(Double(x[$0]) - Double(shift))" } ?? "")")
                #expect(output.guardsIntact, "\(context): wrote outside y[0..<n]")
                #expect(input.guardsIntact, "\(context): wrote into its input's guards")
            }
        }
    }

    /// The two implementations agree on the statistics' max bitwise and on the sum within the
    /// tolerance, so the process-wide choice cannot change a NaN/∞ decision.
    @Test(.enabled(if: RowKernels.useMicrokernels, "no microkernels to compare with"))
    func implementationsAgreeOnMaxima() {
        var rng = TestRNG(seed: 41)
        for n in [1, 15, 16, 17, 31, 32, 33, 64, 65, 1000] {
            var x = TestData.normal(n, scale: 100, rng: &rng)
            for i in x.indices where rng.unit() < 0.2 { x[i] = -.infinity }
            let (m0, s0) = x.withUnsafeBufferPointer { RowKernels.blockStats($0.baseAddress!, n, microkernels: false) }
            let (m1, s1) = x.withUnsafeBufferPointer { RowKernels.blockStats($0.baseAddress!, n, microkernels: true) }
            #expect(m0.bitPattern == m1.bitPattern, "n=\(n): max \(m0) vs \(m1)")
            expectClose([s1], [Double(s0)], "n=\(n): sums of the two implementations")
        }
    }
}
