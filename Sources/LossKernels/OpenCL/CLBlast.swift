import Foundation
import _COpenCLShim

/// CLBlast's SGEMM on an OpenCL device, loaded at run time (a binary linked to CLBlast would not
/// start where OpenCL is absent).
///
/// - Layout: callers describe row-major products; they run as the column-major product of the
///   transposed operands (the same memory), because CLBlast's GEMM kernel computes column-major C
///   and would otherwise transpose C through a temporary buffer on every call.
/// - Temporary: CLBlast's pre- and post-processing buffer is the device's pooled scratch buffer
///   (`CLBlastSgemmWithTempBuffer`), so CLBlast allocates nothing per call.
/// - Split-K: a product with a long inner dimension and few output tiles (∂L/∂X̂ = E·W: 256 × 512
///   × 100,000) runs as `s` K-slices (`CLBlastSgemmStridedBatched`) into partial products that
///   `lk_sum_slices` adds in slice order: deterministic, and `s`× more work-groups.
/// - Tuning: `LOSSKERNELS_CLBLAST_PARAMETERS` names a JSON file of kernel parameters installed
///   with `CLBlastOverrideParameters` on each device before its first GEMM (`tuning(from:)`).
enum CLBlast {
    /// The loaded library, or why it is unavailable.
    static let shared: Result<lk_clblast_api, LossKernelsError> = {
        guard case .success = OpenCLRuntime.shared else { return .failure(.openCLUnavailable(reason: "no OpenCL loader")) }
        var message = [CChar](repeating: 0, count: 512)
        var table = lk_clblast_api()
        guard lk_clblast_load(nil, &table, &message, message.count) == 1 else {
            return .failure(.openCLUnavailable(reason: String(nulTerminated: message)))
        }
        return .success(table)
    }()

    private static let columnMajor: Int32 = 102, noTranspose: Int32 = 111, transpose: Int32 = 112

    /// C (m×n, at `cOffset` floats) = op(A)·op(B) + beta·C, all row-major with the given row strides.
    /// With beta = 0, C is not read.
    static func gemm(
        _ device: OpenCLDevice, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        a: OpenCLBuffer, aOffset: Int = 0, lda: Int, b: OpenCLBuffer, bOffset: Int = 0, ldb: Int,
        beta: Float, c: OpenCLBuffer, cOffset: Int = 0, ldc: Int
    ) throws {
        guard m > 0, n > 0 else { return }
        if device.fault == .enqueue { throw OpenCLFault.enqueue.error(at: "CLBlastSgemm(\(m)×\(n)×\(k))") }
        let api = try shared.get()
        try installTuning(device, api)
        let slices = splitCount(device, m: m, n: n, k: k)
        if slices > 1, ldc == n {
            try splitGemm(
                device, api, slices: slices, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, aOffset: aOffset, lda: lda,
                b: b, bOffset: bOffset, ldb: ldb, beta: beta, c: c, cOffset: cOffset)
            return
        }
        try plainGemm(
            device, api, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, aOffset: aOffset, lda: lda, b: b, bOffset: bOffset,
            ldb: ldb, beta: beta, c: c, cOffset: cOffset, ldc: ldc)
    }

    /// How many K-slices a product gets: the setting when given, else enough to give the device
    /// about two work-groups per compute unit when the output has fewer 64×64 tiles than compute
    /// units and K is long (each slice at least 2,048 long, at most 16 slices).
    static func splitCount(_ device: OpenCLDevice, m: Int, n: Int, k: Int) -> Int {
        if let forced = device.settings.splitK { return max(1, min(forced, k)) }
        let tiles = ((m + 63) / 64) * ((n + 63) / 64)
        let units = max(1, device.info.computeUnits)
        guard tiles < units, k >= 4 * 2048 else { return 1 }
        return max(1, min(16, k / 2048, (2 * units + tiles - 1) / tiles))
    }

    /// The split product: `slices` partial products of K-slices of length ⌊k/slices⌋ (the last
    /// one also takes the remainder), then C = beta·C + Σ partials in slice order.
    private static func splitGemm(
        _ device: OpenCLDevice, _ api: lk_clblast_api, slices s: Int, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        a: OpenCLBuffer, aOffset: Int, lda: Int, b: OpenCLBuffer, bOffset: Int, ldb: Int, beta: Float, c: OpenCLBuffer, cOffset: Int
    ) throws {
        let sliceLength = k / s, count = m * n
        let partials = try device.scratch("clblast.splitK", count: s * count)
        // Where K-slice i starts in A (row-major m×k, or k×m when transposed) and in B (k×n, or n×k).
        let aStride = transposeA ? sliceLength * lda : sliceLength
        let bStride = transposeB ? sliceLength : sliceLength * ldb
        let (tb, ta) = (transposeB ? transpose : noTranspose, transposeA ? transpose : noTranspose)
        var queue: cl_command_queue? = device.commandQueue
        var event: cl_event? = nil
        try check(
            api.SgemmStridedBatched(
                columnMajor, tb, ta, n, m, sliceLength, 1, b.mem, bOffset, ldb, bStride, a.mem, aOffset, lda, aStride, 0, partials.mem, 0, n, count, s,
                &queue, &event), "CLBlastSgemmStridedBatched(\(s) × \(m)×\(n)×\(sliceLength))")
        device.enqueued("CLBlastSgemmStridedBatched", event: event)
        let remainder = k - s * sliceLength
        if remainder > 0 {
            let start = s * sliceLength
            try plainGemm(
                device, api, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: remainder, a: a,
                aOffset: aOffset + (transposeA ? start * lda : start), lda: lda, b: b, bOffset: bOffset + (transposeB ? start : start * ldb), ldb: ldb,
                beta: 1, c: partials, cOffset: (s - 1) * count, ldc: n)
        }
        try device.launch(
            "lk_sum_slices", global: [count], [.buffer(partials), .uint64(s), .uint64(count), .float(beta), .buffer(c), .uint64(cOffset)])
    }

    /// One CLBlast call. Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ over the
    /// same memory.
    private static func plainGemm(
        _ device: OpenCLDevice, _ api: lk_clblast_api, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, a: OpenCLBuffer, aOffset: Int,
        lda: Int, b: OpenCLBuffer, bOffset: Int, ldb: Int, beta: Float, c: OpenCLBuffer, cOffset: Int, ldc: Int
    ) throws {
        let (tb, ta) = (transposeB ? transpose : noTranspose, transposeA ? transpose : noTranspose)
        var queue: cl_command_queue? = device.commandQueue
        var tempBytes = 0
        try check(
            api.SgemmTempBufferSize(columnMajor, tb, ta, n, m, k, bOffset, ldb, aOffset, lda, cOffset, ldc, &queue, &tempBytes),
            "CLBlastSGemmTempBufferSize(\(m)×\(n)×\(k))")
        let temp = try device.scratch("clblast.temp", count: max(1, tempBytes), elementSize: 1)
        var event: cl_event? = nil
        try check(
            api.SgemmWithTempBuffer(
                columnMajor, tb, ta, n, m, k, 1, b.mem, bOffset, ldb, a.mem, aOffset, lda, beta, c.mem, cOffset, ldc, &queue, &event, temp.mem),
            "CLBlastSgemm(\(m)×\(n)×\(k))")
        device.enqueued("CLBlastSgemm", event: event)
    }

    private static func check(_ status: Int32, _ call: String) throws {
        guard status == 0 else {
            throw LossKernelsError.openCLFailure(
                call: call, code: status,
                name: status < 0 && status > -1000 ? String(cString: lk_cl_error_name(status)) : "CLBlast status \(status)", buildLog: nil)
        }
    }

    // MARK: Tuning

    /// One CLBlast kernel's parameters, as `CLBlastOverrideParameters` takes them.
    struct KernelParameters: Equatable {
        var kernel: String
        var values: [String: Int]
    }

    /// The kernel parameters in a JSON file, in either of two forms:
    /// - CLBlast's tuner output (`clblast_tuner_xgemm` writes `clblast_xgemm_1_32.json`): an object
    ///   with `kernel_family` (`xgemm_1`, `xgemm_2` → `Xgemm`; `xgemm_direct_*` → `XgemmDirect`)
    ///   and `best_parameters` (`"KWG=16 MDIMC=16 …"` or an object);
    /// - `{"Xgemm": {"MWG": 64, …}, "XgemmDirect": {…}}`.
    /// - Throws: `.invalidOption(name: "LOSSKERNELS_CLBLAST_PARAMETERS", …)` naming what is wrong.
    static func tuning(from path: String) throws -> [KernelParameters] {
        func refuse(_ why: String) -> LossKernelsError {
            .invalidOption(name: "LOSSKERNELS_CLBLAST_PARAMETERS", value: path, allowed: "a JSON file of CLBlast kernel parameters (\(why))")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw refuse("cannot read the file") }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { throw refuse("not a JSON object") }
        func integers(_ value: Any?) throws -> [String: Int] {
            if let text = value as? String {
                var parsed: [String: Int] = [:]
                for pair in text.split(separator: " ") where !pair.isEmpty {
                    let parts = pair.split(separator: "=")
                    guard parts.count == 2, let number = Int(parts[1]) else { throw refuse("bad parameter \(pair)") }
                    parsed[String(parts[0])] = number
                }
                return parsed
            }
            guard let dictionary = value as? [String: Any] else { throw refuse("parameters must be an object or \"NAME=VALUE …\"") }
            return try dictionary.mapValues { v in
                guard let number = (v as? NSNumber)?.intValue ?? (v as? String).flatMap({ Int($0) }) else { throw refuse("a parameter is not an integer") }
                return number
            }
        }
        if let family = object["kernel_family"] as? String {
            let kernel = family.hasPrefix("xgemm_direct") ? "XgemmDirect" : (family.hasPrefix("xgemm") ? "Xgemm" : family)
            let values = try integers(object["best_parameters"])
            guard !values.isEmpty else { throw refuse("no best_parameters") }
            return [KernelParameters(kernel: kernel, values: values)]
        }
        let kernels = try object.keys.sorted().map { KernelParameters(kernel: $0, values: try integers(object[$0])) }
        guard !kernels.isEmpty else { throw refuse("no kernel") }
        return kernels
    }

    /// Installs the tuned parameters of the device's settings once per device.
    private static func installTuning(_ device: OpenCLDevice, _ api: lk_clblast_api) throws {
        guard !device.clblastTuned, let path = device.settings.clblastParameters else { return }
        for kernel in try tuning(from: path) {
            let names = kernel.values.keys.sorted()
            let values = names.map { kernel.values[$0]! }
            var pointers = names.map { strdup($0) }
            defer { for pointer in pointers { free(pointer) } }
            let status = pointers.withUnsafeMutableBufferPointer { namePointers in
                namePointers.withMemoryRebound(to: UnsafePointer<CChar>?.self) { rebound in
                    values.withUnsafeBufferPointer {
                        api.OverrideParameters(device.descriptor.device, kernel.kernel, 32, names.count, rebound.baseAddress, $0.baseAddress)
                    }
                }
            }
            try check(status, "CLBlastOverrideParameters(\(kernel.kernel), \(path))")
        }
        device.clblastTuned = true
    }
}
