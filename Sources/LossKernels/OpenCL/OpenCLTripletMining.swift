/// The mined triplet loss on an OpenCL device (TripletMiningProblem has the maths): CLBlast for
/// `G = E'·E'ᵀ` and `S·E'`, the kernels of Kernels/triplet_mining.cl for the rest. batchAll mines
/// with one work-item per (anchor, column) pair — `B²` work-items of `O(B)` each, no sorting, no
/// atomics — then one per anchor sums its row; batchHard uses one work-item per anchor. The host
/// sums the per-anchor losses and counts in anchor order. Callers hold the device's exclusive access.
enum OpenCLTripletMining {
    /// Writes `∂L/∂E` (`B×D`) into the device buffer `gradient`.
    static func run(_ device: OpenCLDevice, _ p: TripletMiningProblem, gradient: OpenCLBuffer) throws -> TripletMiningResult {
        _ = try CLBlast.shared.get()
        let b = p.rows, d = p.dimension
        let e = try device.staged(p.centered, role: "tripletMining.e")
        let labels = try device.staged(p.labels.map { Int64($0) }, role: "tripletMining.labels")
        let representative = try device.staged(p.representative.map { Int64($0) }, role: "tripletMining.representative")

        // Distances.
        let norms = try device.scratch("tripletMining.norms", count: b)
        try device.launch(
            "lk_tm_squared_norms", try device.kernel("lk_tm_squared_norms"), global: [b], local: nil,
            [.buffer(e), .uint64(b), .uint64(d), .buffer(norms)])
        let gram = try device.scratch("tripletMining.gram", count: b * b)   // G, then batchAll's partial sums, then S
        try CLBlast.gemm(device, transposeA: false, transposeB: true, m: b, n: b, k: d, a: e, lda: d, b: e, ldb: d, beta: 0, c: gram, ldc: b)
        let distance = try device.scratch("tripletMining.distance", count: b * b)
        try device.launch(
            "lk_tm_distances", try device.kernel("lk_tm_distances"), global: [b, b], local: nil,
            [
                .buffer(gram), .buffer(norms), .buffer(e), .buffer(representative), .uint64(b), .uint64(d),
                .float(TripletMiningProblem.cancellationRatio), .buffer(distance),
            ])

        // Mining: K and the per-anchor losses and counts.
        let k = try device.scratch("tripletMining.k", count: b * b)
        let anchorLoss = try device.scratch("tripletMining.anchorLoss", count: b),
            anchorCount = try device.scratch("tripletMining.anchorCount", count: b, elementSize: 8)
        switch p.mining {
        case .batchAll:
            try device.launch(
                "lk_tm_all_pairs", try device.kernel("lk_tm_all_pairs"), global: [b, b], local: nil,
                [.buffer(distance), .buffer(labels), .uint64(b), .float(p.margin), .buffer(k), .buffer(gram)])
            try device.launch(
                "lk_tm_anchor_sums", try device.kernel("lk_tm_anchor_sums"), global: [b], local: nil,
                [.buffer(k), .buffer(gram), .uint64(b), .buffer(anchorLoss), .buffer(anchorCount)])
        case .batchHard:
            try device.launch(
                "lk_tm_hard", try device.kernel("lk_tm_hard"), global: [b], local: nil,
                [.buffer(distance), .buffer(labels), .uint64(b), .float(p.margin), .buffer(k), .buffer(anchorLoss), .buffer(anchorCount)])
        }
        var losses = [Float](repeating: 0, count: b), counts = [UInt64](repeating: 0, count: b)
        try losses.withUnsafeMutableBytes { try device.read(anchorLoss, into: $0) }
        try counts.withUnsafeMutableBytes { try device.read(anchorCount, into: $0) }
        let (loss, count, scale) = p.finish(anchorLosses: losses.map(Double.init), anchorCounts: counts.map { Int($0) })
        guard count > 0 else {
            try device.fill(gradient, count: b * d)
            return TripletMiningResult(loss: loss, tripletCount: count)
        }

        // Gradient: S = ((K + Kᵀ)/N) ⊘ D, then diag(S·1)·E' − S·E'.
        let s = gram
        try device.launch(
            "lk_tm_pair_weights", try device.kernel("lk_tm_pair_weights"), global: [b, b], local: nil,
            [.buffer(k), .buffer(distance), .uint64(b), .float(scale), .buffer(s)])
        try CLBlast.gemm(device, transposeA: false, transposeB: false, m: b, n: d, k: b, a: s, lda: b, b: e, ldb: d, beta: 0, c: gradient, ldc: d)
        try device.launch(
            "lk_tm_finish_gradient", try device.kernel("lk_tm_finish_gradient"), global: [b], local: nil,
            [.buffer(s), .buffer(e), .uint64(b), .uint64(d), .buffer(gradient)])
        return TripletMiningResult(loss: loss, tripletCount: count)
    }
}
