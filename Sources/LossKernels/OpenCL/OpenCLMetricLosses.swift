/// Pair, triplet and center losses on an OpenCL device (Kernels/metric_loss.cl; maths in
/// `MetricLoss`). One work-item per row writes the row's loss and gradients; the per-row losses
/// are read back and summed on the host in row order. The center update runs one work-item per
/// (component, class), each looping over its class's rows in batch order. Deterministic, no
/// atomics. Callers hold the device's exclusive access.
enum OpenCLMetricLosses {
    /// Per-pair losses; fills `gradLeft` and `gradRight` (`B×D`).
    static func contrastive(_ device: OpenCLDevice, _ loss: MetricLoss.Contrastive, left: UnsafeBufferPointer<Float>, right: UnsafeBufferPointer<Float>,
                            similar: [Bool], rows: Int, dimension: Int, rowScale: [Float],
                            gradLeft: UnsafeMutableBufferPointer<Float>, gradRight: UnsafeMutableBufferPointer<Float>) throws -> [Double] {
        let a = try device.upload(left), b = try device.upload(right)
        let flags = try similar.map { Int32($0 ? 1 : 0) }.withUnsafeBufferPointer { try device.upload($0) }
        let scales = try rowScale.withUnsafeBufferPointer { try device.upload($0) }
        let losses = try device.makeBuffer(count: rows)
        let ga = try device.makeBuffer(count: rows * dimension), gb = try device.makeBuffer(count: rows * dimension)
        try device.launch("lk_metric_contrastive", try device.kernel("lk_metric_contrastive"), global: [rows], local: nil,
                          [.buffer(a), .buffer(b), .buffer(flags), .uint64(rows), .uint64(dimension), .float(loss.margin), .buffer(scales),
                           .buffer(losses), .buffer(ga), .buffer(gb)])
        try device.read(ga, into: UnsafeMutableRawBufferPointer(gradLeft))
        try device.read(gb, into: UnsafeMutableRawBufferPointer(gradRight))
        return try readLosses(device, losses, rows: rows)
    }

    /// Per-triplet losses; fills the three gradients (`B×D`).
    static func triplet(_ device: OpenCLDevice, _ loss: MetricLoss.Triplet, anchors: UnsafeBufferPointer<Float>, positives: UnsafeBufferPointer<Float>,
                        negatives: UnsafeBufferPointer<Float>, rows: Int, dimension: Int, rowScale: [Float],
                        gradAnchors: UnsafeMutableBufferPointer<Float>, gradPositives: UnsafeMutableBufferPointer<Float>,
                        gradNegatives: UnsafeMutableBufferPointer<Float>) throws -> [Double] {
        let a = try device.upload(anchors), p = try device.upload(positives), n = try device.upload(negatives)
        let scales = try rowScale.withUnsafeBufferPointer { try device.upload($0) }
        let losses = try device.makeBuffer(count: rows)
        let ga = try device.makeBuffer(count: rows * dimension), gp = try device.makeBuffer(count: rows * dimension), gn = try device.makeBuffer(count: rows * dimension)
        try device.launch("lk_metric_triplet_margin", try device.kernel("lk_metric_triplet_margin"), global: [rows], local: nil,
                          [.buffer(a), .buffer(p), .buffer(n), .uint64(rows), .uint64(dimension), .float(loss.margin), .int32(loss.norm.rawValue),
                           .float(loss.eps), .int32(loss.swap ? 1 : 0), .buffer(scales), .buffer(losses), .buffer(ga), .buffer(gp), .buffer(gn)])
        try device.read(ga, into: UnsafeMutableRawBufferPointer(gradAnchors))
        try device.read(gp, into: UnsafeMutableRawBufferPointer(gradPositives))
        try device.read(gn, into: UnsafeMutableRawBufferPointer(gradNegatives))
        return try readLosses(device, losses, rows: rows)
    }

    /// Per-row `‖x_i − c_{y_i}‖²`; fills `gradFeatures` (`B×D`) and `updatedCenters` (`C×D`).
    static func center(_ device: OpenCLDevice, _ loss: MetricLoss.Center, features: UnsafeBufferPointer<Float>, labels: [Int], centers: UnsafeBufferPointer<Float>,
                       rows: Int, classes: Int, dimension: Int, classRows: (offsets: [Int], rows: [Int]),
                       gradFeatures: UnsafeMutableBufferPointer<Float>, updatedCenters: UnsafeMutableBufferPointer<Float>) throws -> [Double] {
        let x = try device.upload(features), c = try device.upload(centers)
        let labelBuffer = try labels.map { Int64($0) }.withUnsafeBufferPointer { try device.upload($0) }
        let offsets = try classRows.offsets.map { UInt64($0) }.withUnsafeBufferPointer { try device.upload($0) }
        let members = try classRows.rows.map { UInt64($0) }.withUnsafeBufferPointer { try device.upload($0) }
        let losses = try device.makeBuffer(count: rows)
        let gx = try device.makeBuffer(count: rows * dimension), updated = try device.makeBuffer(count: classes * dimension)
        try device.launch("lk_metric_center_rows", try device.kernel("lk_metric_center_rows"), global: [rows], local: nil,
                          [.buffer(x), .buffer(labelBuffer), .buffer(c), .uint64(rows), .uint64(dimension), .float(Float(1 / Double(rows))),
                           .buffer(losses), .buffer(gx)])
        try device.launch("lk_metric_center_update", try device.kernel("lk_metric_center_update"), global: [dimension, classes], local: nil,
                          [.buffer(x), .buffer(c), .buffer(offsets), .buffer(members), .uint64(classes), .uint64(dimension), .float(loss.alpha),
                           .buffer(updated)])
        try device.read(gx, into: UnsafeMutableRawBufferPointer(gradFeatures))
        try device.read(updated, into: UnsafeMutableRawBufferPointer(updatedCenters))
        return try readLosses(device, losses, rows: rows)
    }

    /// The per-row losses of a buffer, in double.
    private static func readLosses(_ device: OpenCLDevice, _ losses: OpenCLBuffer, rows: Int) throws -> [Double] {
        var values = [Float](repeating: 0, count: rows)
        try values.withUnsafeMutableBytes { try device.read(losses, into: $0) }
        return values.map { Double($0) }
    }
}
