/// Pair, triplet and center losses on an OpenCL device (Kernels/metric_loss.cl; maths in
/// `MetricLoss`). One work-item per row writes the row's loss and gradients; the per-row losses
/// are read back and summed on the host in row order. The center update runs one work-item per
/// (component, class), each looping over its class's rows in batch order. Deterministic, no
/// atomics. The tensors are device buffers; callers hold the device's exclusive access.
enum OpenCLMetricLosses {
    /// Per-pair losses; fills `gradLeft` and `gradRight` (`B×D`).
    static func contrastive(
        _ device: OpenCLDevice, _ loss: MetricLoss.Contrastive, left a: OpenCLBuffer, right b: OpenCLBuffer,
        similar: [Bool], rows: Int, dimension: Int, rowScale: [Float],
        gradLeft ga: OpenCLBuffer, gradRight gb: OpenCLBuffer
    ) throws -> [Double] {
        let flags = try device.staged(similar.map { Int32($0 ? 1 : 0) }, role: "metric.flags")
        let scales = try device.staged(rowScale, role: "metric.scales")
        let losses = try device.scratch("metric.losses", count: rows)
        try device.launch(
            "lk_metric_contrastive", try device.kernel("lk_metric_contrastive"), global: [rows], local: nil,
            [
                .buffer(a), .buffer(b), .buffer(flags), .uint64(rows), .uint64(dimension), .float(loss.margin), .buffer(scales),
                .buffer(losses), .buffer(ga), .buffer(gb),
            ])
        return try readLosses(device, losses, rows: rows)
    }

    /// Per-triplet losses; fills the three gradients (`B×D`).
    static func triplet(
        _ device: OpenCLDevice, _ loss: MetricLoss.Triplet, anchors a: OpenCLBuffer, positives p: OpenCLBuffer, negatives n: OpenCLBuffer,
        rows: Int, dimension: Int, rowScale: [Float],
        gradAnchors ga: OpenCLBuffer, gradPositives gp: OpenCLBuffer, gradNegatives gn: OpenCLBuffer
    ) throws -> [Double] {
        let scales = try device.staged(rowScale, role: "metric.scales")
        let losses = try device.scratch("metric.losses", count: rows)
        try device.launch(
            "lk_metric_triplet_margin", try device.kernel("lk_metric_triplet_margin"), global: [rows], local: nil,
            [
                .buffer(a), .buffer(p), .buffer(n), .uint64(rows), .uint64(dimension), .float(loss.margin), .int32(loss.norm.code),
                .float(loss.eps), .int32(loss.swap ? 1 : 0), .buffer(scales), .buffer(losses), .buffer(ga), .buffer(gp), .buffer(gn),
            ])
        return try readLosses(device, losses, rows: rows)
    }

    /// Per-row `‖x_i − c_{y_i}‖²`; fills `gradFeatures` (`B×D`) and `updatedCenters` (`C×D`).
    static func center(
        _ device: OpenCLDevice, _ loss: MetricLoss.Center, features x: OpenCLBuffer, labels: [Int], centers c: OpenCLBuffer,
        rows: Int, classes: Int, dimension: Int, classRows: (offsets: [Int], rows: [Int]),
        gradFeatures gx: OpenCLBuffer, updatedCenters updated: OpenCLBuffer
    ) throws -> [Double] {
        let labelBuffer = try device.staged(labels.map { Int64($0) }, role: "metric.labelBuffer")
        let offsets = try device.staged(classRows.offsets.map { UInt64($0) }, role: "metric.offsets")
        let members = try device.staged(classRows.rows.map { UInt64($0) }, role: "metric.members")
        let losses = try device.scratch("metric.losses", count: rows)
        try device.launch(
            "lk_metric_center_rows", try device.kernel("lk_metric_center_rows"), global: [rows], local: nil,
            [
                .buffer(x), .buffer(labelBuffer), .buffer(c), .uint64(rows), .uint64(dimension), .float(Float(1 / Double(rows))),
                .buffer(losses), .buffer(gx),
            ])
        try device.launch(
            "lk_metric_center_update", try device.kernel("lk_metric_center_update"), global: [dimension, classes], local: nil,
            [
                .buffer(x), .buffer(c), .buffer(offsets), .buffer(members), .uint64(classes), .uint64(dimension), .float(loss.alpha),
                .buffer(updated),
            ])
        return try readLosses(device, losses, rows: rows)
    }

    /// The per-row losses of a buffer, in double.
    private static func readLosses(_ device: OpenCLDevice, _ losses: OpenCLBuffer, rows: Int) throws -> [Double] {
        var values = [Float](repeating: 0, count: rows)
        try values.withUnsafeMutableBytes { try device.read(losses, into: $0) }
        return values.map { Double($0) }
    }
}
