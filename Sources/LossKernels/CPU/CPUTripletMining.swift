import Foundation

/// The mined triplet loss on the CPU (TripletMiningProblem has the maths): `G = E'·E'ᵀ` and
/// `S·E'` through OpenBLAS, the distance, mining and `S` passes split over anchors (rows).
///
/// batchAll without the `B³` loop: per anchor the positives' and the negatives' distances are
/// sorted once; a merge then gives each positive's count `#{n : D_an < D_ap + margin}` and its loss
/// sum `count·(D_ap + margin) − Σ D_an` (a prefix sum, double), and each negative's count of
/// positives `#{p : D_ap + margin > D_an}`. `O(B² log B)` in all.
enum CPUTripletMining {
    /// Scratch floats `run` needs: `G`/`S`, `D` and `K`, each `B×B`.
    static func scratchCount(_ p: TripletMiningProblem) -> Int { 3 * p.rows * p.rows }

    /// Writes `∂L/∂E` (`B×D`) into `gradient`; `scratch` holds `scratchCount(p)` floats.
    static func run(
        _ p: TripletMiningProblem, gradient: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        threads: CPUThreads
    ) -> TripletMiningResult {
        let b = p.rows, d = p.dimension, bb = b * b
        let gram = scratch, distance = scratch + bb, k = scratch + 2 * bb
        return p.centered.withUnsafeBufferPointer { centered in
            let e = centered.baseAddress!
            var norms = [Float](repeating: 0, count: b)
            for i in 0..<b { norms[i] = Float(RowLoops.sumOfSquares(e + i * d, d)) }
            BLAS.gemm(transposeA: false, transposeB: true, m: b, n: b, k: d, a: e, lda: d, b: e, ldb: d, beta: 0, c: gram, ldc: b)
            norms.withUnsafeBufferPointer { n in
                distances(p, embeddings: e, norms: n.baseAddress!, gram: gram, distance: distance, threads: threads)
            }

            var anchorLosses = [Double](repeating: 0, count: b), anchorCounts = [Int](repeating: 0, count: b)
            anchorLosses.withUnsafeMutableBufferPointer { losses in
                anchorCounts.withUnsafeMutableBufferPointer { counts in
                    switch p.mining {
                    case .batchAll: mineAll(p, distance: distance, k: k, losses: losses.baseAddress!, counts: counts.baseAddress!, threads: threads)
                    case .batchHard: mineHard(p, distance: distance, k: k, losses: losses.baseAddress!, counts: counts.baseAddress!, threads: threads)
                    }
                }
            }
            let (loss, count, scale) = p.finish(anchorLosses: anchorLosses, anchorCounts: anchorCounts)
            guard count > 0 else {
                gradient.update(repeating: 0, count: b * d)
                return TripletMiningResult(loss: loss, tripletCount: count)
            }

            // S = ((K + Kᵀ)/N) ⊘ D into the Gram buffer, and its row sums.
            let s = gram
            var rowSums = [Double](repeating: 0, count: b)
            rowSums.withUnsafeMutableBufferPointer { sums in
                let out = SendablePointer(base: s), sumsOut = SendablePointer(base: sums.baseAddress!)
                // Columns in blocks, so the reads of Kᵀ stay in cache; each row still sums in column order.
                let block = 64
                threads.forEachRange(b) { range in
                    for i in range { sumsOut.base[i] = 0 }
                    for start in stride(from: 0, to: b, by: block) {
                        let end = min(start + block, b)
                        for i in range {
                            var total = sumsOut.base[i]
                            for j in start..<end {
                                let w = k[i * b + j] + k[j * b + i], dij = distance[i * b + j]
                                let value: Float = w != 0 && dij > 0 ? scale * w / dij : 0
                                out.base[i * b + j] = value
                                total += Double(value)
                            }
                            sumsOut.base[i] = total
                        }
                    }
                }
            }
            // ∂L/∂E = diag(S·1)·E' − S·E'.
            BLAS.gemm(transposeA: false, transposeB: false, m: b, n: d, k: b, alpha: -1, a: s, lda: b, b: e, ldb: d, beta: 0, c: gradient, ldc: d)
            let g = SendablePointer(base: gradient)
            threads.forEachRange(b) { range in
                for i in range {
                    let r = Float(rowSums[i])
                    for c in 0..<d { g.base[i * d + c] += r * e[i * d + c] }
                }
            }
            return TripletMiningResult(loss: loss, tripletCount: count)
        }
    }

    /// `D_ij` from `n_i + n_j − 2G_ij` through the representatives (exactly symmetric, 0 between
    /// equal rows), recomputed from the differences where the subtraction cancels.
    static func distances(
        _ p: TripletMiningProblem, embeddings e: UnsafePointer<Float>, norms: UnsafePointer<Float>,
        gram: UnsafePointer<Float>, distance: UnsafeMutablePointer<Float>, threads: CPUThreads
    ) {
        let b = p.rows, d = p.dimension, ratio = TripletMiningProblem.cancellationRatio
        let out = SendablePointer(base: distance)
        p.representative.withUnsafeBufferPointer { rep in
            threads.forEachRange(b) { range in
                for i in range {
                    let ri = rep[i]
                    for j in 0..<b {
                        let rj = rep[j]
                        var value: Float = 0
                        if ri != rj {
                            let lo = min(ri, rj), hi = max(ri, rj)
                            let scale = norms[lo] + norms[hi]
                            let squared = scale - 2 * gram[lo * b + hi]
                            if squared >= ratio * scale {
                                value = squared.squareRoot()
                            } else {
                                var sum = 0.0
                                for c in 0..<d {
                                    let diff = Double(e[lo * d + c] - e[hi * d + c])
                                    sum += diff * diff
                                }
                                value = Float(sum.squareRoot())
                            }
                        }
                        out.base[i * b + j] = value
                    }
                }
            }
        }
    }

    /// batchHard: per anchor the farthest positive and nearest negative (first index on ties);
    /// row `a` of `K` gets +1 and −1 there when the triplet's loss is positive.
    static func mineHard(
        _ p: TripletMiningProblem, distance: UnsafePointer<Float>, k: UnsafeMutablePointer<Float>,
        losses: UnsafeMutablePointer<Double>, counts: UnsafeMutablePointer<Int>, threads: CPUThreads
    ) {
        let b = p.rows, margin = Double(p.margin)
        let kOut = SendablePointer(base: k), lossOut = SendablePointer(base: losses), countOut = SendablePointer(base: counts)
        p.labels.withUnsafeBufferPointer { labels in
            threads.forEachRange(b) { range in
                for a in range {
                    let row = distance + a * b, kRow = kOut.base + a * b
                    kRow.update(repeating: 0, count: b)
                    let label = labels[a]
                    var positive = -1, negative = -1
                    for j in 0..<b where j != a {
                        if labels[j] == label {
                            if positive < 0 || row[j] > row[positive] { positive = j }
                        } else if negative < 0 || row[j] < row[negative] {
                            negative = j
                        }
                    }
                    guard positive >= 0, negative >= 0 else {
                        lossOut.base[a] = 0
                        countOut.base[a] = 0
                        continue
                    }
                    countOut.base[a] = 1
                    let v = Double(row[positive]) - Double(row[negative]) + margin
                    if v > 0 {
                        lossOut.base[a] = v
                        kRow[positive] = 1
                        kRow[negative] = -1
                    } else {
                        lossOut.base[a] = 0
                    }
                }
            }
        }
    }

    /// batchAll: every valid triplet of each anchor, by sorting (see the type's comment). The
    /// predicate of a triplet is `D_an < D_ap + margin` in double, the same on both sides. Positives
    /// and negatives are sorted as keys `distance bits << 32 | index` (distances are ≥ +0, so their
    /// bit patterns order as the values; the index makes every key distinct, so the order is fixed).
    static func mineAll(
        _ p: TripletMiningProblem, distance: UnsafePointer<Float>, k: UnsafeMutablePointer<Float>,
        losses: UnsafeMutablePointer<Double>, counts: UnsafeMutablePointer<Int>, threads: CPUThreads
    ) {
        let b = p.rows, margin = Double(p.margin)
        let kOut = SendablePointer(base: k), lossOut = SendablePointer(base: losses), countOut = SendablePointer(base: counts)
        @inline(__always) func value(_ key: UInt64) -> Double { Double(Float(bitPattern: UInt32(truncatingIfNeeded: key >> 32))) }
        @inline(__always) func index(_ key: UInt64) -> Int { Int(truncatingIfNeeded: key & 0xFFFF_FFFF) }
        p.labels.withUnsafeBufferPointer { labels in
            threads.forEachRange(b) { range in
                var positives: [UInt64] = [], negatives: [UInt64] = [], prefix: [Double] = []
                var sorter = KeySorter(capacity: b)
                positives.reserveCapacity(b)
                negatives.reserveCapacity(b)
                prefix.reserveCapacity(b + 1)
                for a in range {
                    let row = distance + a * b, kRow = kOut.base + a * b
                    kRow.update(repeating: 0, count: b)
                    lossOut.base[a] = 0
                    countOut.base[a] = 0
                    let label = labels[a]
                    positives.removeAll(keepingCapacity: true)
                    negatives.removeAll(keepingCapacity: true)
                    for j in 0..<b where j != a {
                        let key = UInt64((row[j] + 0).bitPattern) << 32 | UInt64(j)
                        if labels[j] == label { positives.append(key) } else { negatives.append(key) }
                    }
                    guard !positives.isEmpty, !negatives.isEmpty else { continue }
                    sorter.sort(&positives)
                    sorter.sort(&negatives)
                    prefix.removeAll(keepingCapacity: true)
                    prefix.append(0)
                    for n in negatives { prefix.append(prefix[prefix.count - 1] + value(n)) }

                    // Positives by ascending D_ap + margin: the negatives below it only grow.
                    var loss = 0.0, count = 0, below = 0
                    for key in positives {
                        let threshold = value(key) + margin
                        while below < negatives.count && value(negatives[below]) < threshold { below += 1 }
                        kRow[index(key)] = Float(below)
                        loss += Double(below) * threshold - prefix[below]
                        count += below
                    }
                    // Negatives by ascending D_an: the positives with D_ap + margin ≤ D_an only grow.
                    var q = 0
                    for key in negatives {
                        let dn = value(key)
                        while q < positives.count && value(positives[q]) + margin <= dn { q += 1 }
                        kRow[index(key)] = -Float(positives.count - q)
                    }
                    lossOut.base[a] = loss
                    countOut.base[a] = count
                }
            }
        }
    }

    /// Sorts keys `distance bits << 32 | index` that arrive in ascending index order: an LSD radix
    /// sort on the 32 distance bits (stable, so equal distances stay in index order: the same
    /// order as sorting the whole keys), passes whose digit is the same for every key skipped;
    /// short arrays use the standard sort.
    struct KeySorter {
        private var buffer: [UInt64]
        private var counts = [Int](repeating: 0, count: 1 << 11)

        init(capacity: Int) { buffer = [UInt64](repeating: 0, count: capacity) }

        mutating func sort(_ keys: inout [UInt64]) {
            let n = keys.count
            guard n > 512 else { keys.sort(); return }
            if buffer.count < n { buffer = [UInt64](repeating: 0, count: n) }
            var inBuffer = false
            for (shift, bits) in [(32, 11), (43, 11), (54, 10)] {
                let mask = UInt64(1) << UInt64(bits) - 1, buckets = 1 << bits
                inBuffer = keys.withUnsafeMutableBufferPointer { k in
                    buffer.withUnsafeMutableBufferPointer { other in
                        counts.withUnsafeMutableBufferPointer { c in
                            let from = inBuffer ? other.baseAddress! : k.baseAddress!, to = inBuffer ? k.baseAddress! : other.baseAddress!
                            c.baseAddress!.update(repeating: 0, count: buckets)
                            for i in 0..<n { c[Int(truncatingIfNeeded: (from[i] >> UInt64(shift)) & mask)] += 1 }
                            if c[Int(truncatingIfNeeded: (from[0] >> UInt64(shift)) & mask)] == n { return inBuffer }   // one digit: nothing to do
                            var total = 0
                            for d in 0..<buckets { let count = c[d]; c[d] = total; total += count }
                            for i in 0..<n {
                                let d = Int(truncatingIfNeeded: (from[i] >> UInt64(shift)) & mask)
                                to[c[d]] = from[i]
                                c[d] += 1
                            }
                            return !inBuffer
                        }
                    }
                }
            }
            if inBuffer {
                keys.withUnsafeMutableBufferPointer { k in
                    buffer.withUnsafeBufferPointer { other in k.baseAddress!.update(from: other.baseAddress!, count: n) }
                }
            }
        }
    }
}
