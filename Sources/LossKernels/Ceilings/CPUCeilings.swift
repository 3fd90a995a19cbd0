import Foundation

/// The ceilings of this machine, measured the same way every time and the way
/// `Benchmarks/peers/limits.c` measures them, so that a benchmark's figure can be stated as a
/// fraction of what the hardware allows in the same run:
///
/// - `memcpy`: `threads` threads (default: every core) each `memcpy` one slice of a `bytes`-byte
///   buffer into another (both touched first); GB/s = 2·bytes / time (bytes read + written);
///   best of `repeats` (default 7, 256 MiB: `limits copy` on a 2-core machine).
/// - `sgemm`: the three GEMMs of a margin-head step on B×D features and C×D weights —
///   `G = X·Wᵀ` (B×C), `dX = G·W`, `dW = Gᵀ·X` — through OpenBLAS; GFLOP/s = 3·2·B·C·D / time;
///   median of `repeats` after one warm-up (default B = 256, D = 512, C = 100,000, 5 runs:
///   `limits gemm3 256 512 100000`).
/// - OpenCL, per device (`openCL`): `clEnqueueCopyBuffer` bandwidth (read + written, best of
///   `repeats`), CLBlast SGEMM rate on square `n×n×n` products (median), and blocking
///   host→device and device→host transfer rates (best of `repeats`).
///
/// Package access: `losskernels bench ceilings` and `bench --vs-ceiling` use it; it is not part of
/// the library's public API.
package enum Ceilings {
    /// Host memory bandwidth of a parallel `memcpy`; see `Ceilings`.
    /// - Parameters:
    ///   - bytes: size of the source (and of the destination); at least one page per thread.
    ///   - threads: copying threads; `nil` uses every active core.
    ///   - repeats: runs, of which the best is kept.
    /// - Returns: a `.memcpy` ceiling in GB/s (bytes read + written), from the best run.
    package static func memcpy(bytes: Int = 256 << 20, threads: Int? = nil, repeats: Int = 7) -> Ceiling {
        let threads = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let bytes = max(bytes, threads * 4096)
        let source = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        let destination = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        defer { source.deallocate(); destination.deallocate() }
        source.initializeMemory(as: UInt8.self, repeating: 1, count: bytes)
        destination.initializeMemory(as: UInt8.self, repeating: 2, count: bytes)
        let slice = bytes / threads
        // Addresses as integers: raw pointers are not Sendable.
        let (from, to) = (Int(bitPattern: source), Int(bitPattern: destination))
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            let start = MonotonicClock.seconds()
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let count = t == threads - 1 ? bytes - t * slice : slice
                _ = Foundation.memcpy(UnsafeMutableRawPointer(bitPattern: to + t * slice)!, UnsafeRawPointer(bitPattern: from + t * slice)!, count)
            }
            best = min(best, MonotonicClock.seconds() - start)
        }
        return Ceiling(
            kind: .memcpy, value: 2 * Double(bytes) / best / 1e9, seconds: best,
            method: "CPU memcpy, \(threads) threads, 2 × \(bytes >> 20) MiB (read + written), best of \(max(1, repeats))")
    }

    /// OpenBLAS SGEMM rate on the three GEMMs of a B×D×C margin-head step; see `Ceilings`.
    /// - Parameters:
    ///   - batch: B, the rows of the features (at least 1).
    ///   - dim: D, the feature dimension (at least 1).
    ///   - classes: C, the rows of the weights (at least 1).
    ///   - repeats: timed runs, of which the median is kept, after one untimed run.
    /// - Returns: an `.sgemm` ceiling in GFLOP/s (`3·2·B·C·D` FLOPs per step), from the median run.
    package static func sgemm(batch: Int = 256, dim: Int = 512, classes: Int = 100_000, repeats: Int = 5) -> Ceiling {
        let (b, d, c) = (max(1, batch), max(1, dim), max(1, classes))
        var random = SplitMix64(seed: 1)
        func filled(_ count: Int) -> [Float] { (0..<count).map { _ in Float(random.next() >> 40) * 0x1p-24 - 0.5 } }
        let x = filled(b * d), w = filled(c * d)
        var g = [Float](repeating: 0, count: b * c), dx = [Float](repeating: 0, count: b * d), dw = [Float](repeating: 0, count: c * d)
        var times: [Double] = []
        for run in 0...max(1, repeats) {
            let start = MonotonicClock.seconds()
            x.withUnsafeBufferPointer { x in
                w.withUnsafeBufferPointer { w in
                    g.withUnsafeMutableBufferPointer { g in
                        BLAS.gemm(
                            transposeA: false, transposeB: true, m: b, n: c, k: d, a: x.baseAddress!, lda: d, b: w.baseAddress!, ldb: d, beta: 0,
                            c: g.baseAddress!, ldc: c)
                        dx.withUnsafeMutableBufferPointer { dx in
                            BLAS.gemm(
                                transposeA: false, transposeB: false, m: b, n: d, k: c, a: g.baseAddress!, lda: c, b: w.baseAddress!, ldb: d, beta: 0,
                                c: dx.baseAddress!, ldc: d)
                        }
                        dw.withUnsafeMutableBufferPointer { dw in
                            BLAS.gemm(
                                transposeA: true, transposeB: false, m: c, n: d, k: b, a: g.baseAddress!, lda: c, b: x.baseAddress!, ldb: d, beta: 0,
                                c: dw.baseAddress!, ldc: d)
                        }
                    }
                }
            }
            if run > 0 { times.append(MonotonicClock.seconds() - start) }
        }
        let median = times.lowerMedian
        return Ceiling(
            kind: .sgemm, value: 6 * Double(b) * Double(c) * Double(d) / median / 1e9, seconds: median,
            method: "OpenBLAS cblas_sgemm, the 3 GEMMs of B=\(b) D=\(d) C=\(c), median of \(times.count)")
    }
}
