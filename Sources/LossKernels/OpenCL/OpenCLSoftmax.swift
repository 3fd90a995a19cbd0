/// Softmax, logSoftmax and logSumExp on an OpenCL device, forward and backward, over buffers that
/// are already on the device (Kernels/softmax.cl). Callers hold the device's exclusive access.
enum OpenCLSoftmax {
    /// How a row is cut into chunks: one work-group of `workGroupSize` per (chunk, row) at a time
    /// (the kernels stride over chunks and rows, so any count fits the launch limits).
    struct RowPlan {
        let workGroupSize: Int
        let chunkLength: Int
        let chunks: Int

        /// Enough work-groups to fill the device (4 per compute unit), never a chunk shorter than
        /// one float4 per work-item; work-groups of `workGroupSize` (the widest the kernel allows),
        /// narrowed for short rows to one float4 per work-item but at least 32 (a warp).
        init(device: OpenCLDevice, rows: Int, columns: Int, workGroupSize widest: Int) {
            let workGroupSize = min(widest, max(32, OpenCLDevice.powerOfTwo(atLeast: (columns + 3) / 4)))
            let target = 4 * max(1, device.info.computeUnits)
            let maxChunks = max(1, (columns + 4 * workGroupSize - 1) / (4 * workGroupSize))
            let wanted = min(maxChunks, max(1, (target + rows - 1) / max(rows, 1)))
            var length = (columns + wanted - 1) / wanted
            length = (length + 3) / 4 * 4
            self.workGroupSize = workGroupSize
            self.chunkLength = max(4, length)
            self.chunks = max(1, (columns + self.chunkLength - 1) / self.chunkLength)
        }
    }

    /// Per-row (m, s) statistics (float2 per row) and, when `lse` is given, logSumExp per row, of
    /// the `rows` rows of `x` from float `offset` on.
    static func statistics(_ device: OpenCLDevice, _ x: OpenCLBuffer, offset: Int = 0, rows: Int, columns: Int, lse: OpenCLBuffer?) throws -> (
        stats: OpenCLBuffer, plan: RowPlan
    ) {
        let partialKernel = try device.kernel("lk_softmax_stats_partial")
        let widest = device.workGroupSize(partialKernel, localBytesPerItem: 8)
        let plan = RowPlan(device: device, rows: rows, columns: columns, workGroupSize: widest)
        let wg = plan.workGroupSize
        let partials = try device.scratch("softmax.partials", count: rows * plan.chunks, elementSize: 8)
        let stats = try device.scratch("softmax.stats", count: rows, elementSize: 8)
        try device.launch(
            "lk_softmax_stats_partial", partialKernel, global: [plan.chunks * wg, rows], local: [wg, 1],
            [
                .buffer(x), .uint64(offset), .uint64(rows), .uint64(columns), .uint64(plan.chunkLength), .uint64(plan.chunks), .buffer(partials),
                .local(8 * wg),
            ])
        try device.launch(
            "lk_softmax_stats_merge", global: [rows],
            [.buffer(partials), .uint64(plan.chunks), .uint64(rows), .buffer(stats), .buffer(lse ?? stats), .int32(lse == nil ? 0 : 1)])
        return (stats, plan)
    }

    /// y = softmax(x) (`logarithm` false) or logSoftmax(x), row-wise. The rows go in slabs of
    /// `OpenCLDevice.slabBytes` (0 by default: one slab), statistics then output per slab, so the
    /// output pass may re-read its slab from the cache.
    static func forward(_ device: OpenCLDevice, _ x: OpenCLBuffer, rows: Int, columns: Int, logarithm: Bool, into y: OpenCLBuffer) throws {
        guard rows > 0, columns > 0 else { return }
        if let wg = try rowsInLocalMemory(device, rows: rows, columns: columns) {
            try device.launch(
                "lk_softmax_rows_local", global: [wg, rows], local: [wg, 1],
                [.buffer(x), .uint64(rows), .uint64(columns), .buffer(y), .int32(logarithm ? 1 : 0), .local(4 * columns), .local(8 * wg)])
            return
        }
        let slab = device.slabBytes > 0 ? max(1, device.slabBytes / (4 * columns)) : rows
        for first in stride(from: 0, to: rows, by: slab) {
            let count = min(slab, rows - first), offset = first * columns
            let (stats, plan) = try statistics(device, x, offset: offset, rows: count, columns: columns, lse: nil)
            try device.launch(
                "lk_softmax_write", global: [plan.chunks * plan.workGroupSize, count], local: [plan.workGroupSize, 1],
                [
                    .buffer(x), .uint64(offset), .uint64(count), .uint64(columns), .uint64(plan.chunkLength), .uint64(plan.chunks), .buffer(stats),
                    .buffer(y), .int32(logarithm ? 1 : 0),
                ])
        }
    }

    /// The work-group size of `lk_softmax_rows_local` when the rows fit in local memory (at most
    /// half of it, and 64 KiB) and are many enough to fill the device with one work-group each (at
    /// least 2 per compute unit); nil otherwise, and when row slabs are asked for.
    static func rowsInLocalMemory(_ device: OpenCLDevice, rows: Int, columns: Int) throws -> Int? {
        guard device.slabBytes == 0, rows >= 2 * max(1, device.info.computeUnits) else { return nil }
        let kernel = try device.kernel("lk_softmax_rows_local")
        let wg = min(device.workGroupSize(kernel, localBytesPerItem: 8), max(32, OpenCLDevice.powerOfTwo(atLeast: (columns + 3) / 4)))
        let bytes = 4 * columns + 8 * wg
        guard device.info.localMemoryBytes > 0, bytes <= min(64 << 10, device.info.localMemoryBytes / 2) else { return nil }
        return wg
    }

    /// out[r] = logSumExp of row r.
    static func logSumExp(_ device: OpenCLDevice, _ x: OpenCLBuffer, rows: Int, columns: Int, into out: OpenCLBuffer) throws {
        guard rows > 0 else { return }
        _ = try statistics(device, x, rows: rows, columns: columns, lse: out)
    }

    /// Backward of softmax (y = probabilities) or logSoftmax (y = log-probabilities).
    static func backward(
        _ device: OpenCLDevice, output y: OpenCLBuffer, gradOutput g: OpenCLBuffer, rows: Int, columns: Int, logarithm: Bool, into dz: OpenCLBuffer
    ) throws {
        guard rows > 0, columns > 0 else { return }
        let partialKernel = try device.kernel("lk_softmax_backward_partial")
        let widest = device.workGroupSize(partialKernel, localBytesPerItem: 4)
        let plan = RowPlan(device: device, rows: rows, columns: columns, workGroupSize: widest)
        let wg = plan.workGroupSize
        let partials = try device.scratch("softmaxBackward.partials", count: rows * plan.chunks)
        let sums = try device.scratch("softmaxBackward.sums", count: rows)
        let mode: Int32 = logarithm ? 1 : 0
        try device.launch(
            "lk_softmax_backward_partial", partialKernel, global: [plan.chunks * wg, rows], local: [wg, 1],
            [
                .buffer(g), .buffer(y), .uint64(rows), .uint64(columns), .uint64(plan.chunkLength), .uint64(plan.chunks), .int32(mode), .buffer(partials),
                .local(4 * wg),
            ])
        try device.launch(
            "lk_row_partials_sum", global: [rows],
            [.buffer(partials), .uint64(plan.chunks), .uint64(rows), .buffer(sums)])
        try writeBackward(device, g: g, y: y, rows: rows, columns: columns, sums: sums, mode: mode, into: dz)
    }

    /// dz[r, j] = g[r]·exp(x[r, j] − lse[r]).
    static func logSumExpBackward(
        _ device: OpenCLDevice, _ x: OpenCLBuffer, logSumExp lse: OpenCLBuffer, gradOutput g: OpenCLBuffer, rows: Int, columns: Int, into dz: OpenCLBuffer
    ) throws {
        guard rows > 0, columns > 0 else { return }
        try writeBackward(device, g: g, y: x, rows: rows, columns: columns, sums: lse, mode: 2, into: dz)
    }

    private static func writeBackward(
        _ device: OpenCLDevice, g: OpenCLBuffer, y: OpenCLBuffer, rows: Int, columns: Int, sums: OpenCLBuffer, mode: Int32, into dz: OpenCLBuffer
    ) throws {
        try device.launch(
            "lk_softmax_backward_write", global: [columns, rows],
            [.buffer(g), .buffer(y), .uint64(rows), .uint64(columns), .buffer(sums), .buffer(dz), .int32(mode)])
    }
}
