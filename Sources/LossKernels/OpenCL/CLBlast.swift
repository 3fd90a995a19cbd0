import _COpenCLShim

/// CLBlast's SGEMM on an OpenCL device, loaded at run time (a binary linked to CLBlast would not
/// start where OpenCL is absent). Row-major.
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

    /// C (m×n, at `cOffset` floats) = op(A)·op(B) + beta·C, all row-major with the given row strides.
    static func gemm(
        _ device: OpenCLDevice, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        a: OpenCLBuffer, aOffset: Int = 0, lda: Int, b: OpenCLBuffer, bOffset: Int = 0, ldb: Int,
        beta: Float, c: OpenCLBuffer, cOffset: Int = 0, ldc: Int
    ) throws {
        guard m > 0, n > 0 else { return }
        if device.fault == .enqueue { throw OpenCLFault.enqueue.error(at: "CLBlastSgemm(\(m)×\(n)×\(k))") }
        let api = try shared.get()
        var queue: cl_command_queue? = device.commandQueue
        let status = api.Sgemm(
            101, transposeA ? 112 : 111, transposeB ? 112 : 111, m, n, k, 1,
            a.mem, aOffset, lda, b.mem, bOffset, ldb, beta, c.mem, cOffset, ldc, &queue, nil)
        guard status == 0 else {
            throw LossKernelsError.openCLFailure(
                call: "CLBlastSgemm(\(m)×\(n)×\(k))", code: Int32(status),
                name: status < 0 && status > -1000 ? String(cString: lk_cl_error_name(Int32(status))) : "CLBlast status \(status)", buildLog: nil)
        }
    }
}
