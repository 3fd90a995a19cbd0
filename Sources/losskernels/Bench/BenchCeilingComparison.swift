import LossKernels
import LossKernelsCatalog

/// `--vs-ceiling`: measures, in the same run, the ceiling a result is bounded by and records it
/// with the fraction reached:
///
/// | backend | bandwidth-bound operation | GEMM-bound operation |
/// |---|---|---|
/// | cpu | `memcpy` (all cores, GB/s read + written) | `sgemm`: OpenBLAS, the three GEMMs at the operation's shape (B×D×C; triplet-mined B×D×B) |
/// | opencl, `--device-resident` | `device-copy` | `device-sgemm` |
/// | opencl, host-resident | the slower of `host-to-device` and `device-to-host` | `device-sgemm` |
///
/// Ceilings are cached per kind and shape, so a sweep measures each one once.
final class BenchCeilingComparison {
    private var cache: [String: Ceiling] = [:]

    /// Sets `result.ceiling` and `result.fraction_of_ceiling`. The SGEMM ceiling runs at the
    /// shape of the operation's own matrix products (`result.gemmShape`: train-step's C is the n
    /// classes its sampler draws, triplet-mined's is B).
    func annotate(_ result: inout BenchResult, operation: CatalogOperation, engine: Engine, deviceResident: Bool) throws {
        let ceiling = try self.ceiling(bound: operation.bound, gemm: result.gemmShape, backend: result.backend, engine: engine, deviceResident: deviceResident)
        result.ceiling = BenchCeiling(kind: ceiling.kind.rawValue, value: ceiling.value, unit: ceiling.unit, method: ceiling.method)
        let achieved = ceiling.unit == "GFLOP/s" ? result.gflop_per_second : result.gb_per_second
        result.fraction_of_ceiling = ceiling.value > 0 ? achieved / ceiling.value : nil
    }

    func ceiling(bound: CatalogOperation.Bound, gemm: BenchShape?, backend: String, engine: Engine, deviceResident: Bool) throws -> Ceiling {
        let gemmBound = bound == .gemm
        if backend == Backend.cpu.rawValue {
            if gemmBound, let shape = gemm {
                return cached("sgemm \(shape.batch) \(shape.dim) \(shape.classes)") {
                    Ceilings.sgemm(batch: shape.batch, dim: max(1, shape.dim), classes: shape.classes)
                }
            }
            return cached("memcpy") { Ceilings.memcpy() }
        }
        guard let device = engine.selectedOpenCLDevice else {
            throw CommandFailure(message: "--vs-ceiling: the OpenCL device that ran is not known")
        }
        let kinds: [Ceiling.Kind] = gemmBound ? [.deviceSGEMM] : deviceResident ? [.deviceCopy] : [.hostToDevice, .deviceToHost]
        // One measurement (one OpenCL context) for all the kinds; the slowest bounds the operation.
        return try cached("\(kinds.map(\.rawValue).joined(separator: "+")) \(device.platformIndex).\(device.deviceIndex)") {
            let sets = try Ceilings.openCL(device: device, kinds: Set(kinds)).get()
            let measured = try kinds.map { kind in
                guard let set = sets.first, let ceiling = set.ceiling(kind) else {
                    throw CommandFailure(
                        message:
                            "--vs-ceiling: \(kind.rawValue) of \(device.name) could not be measured: \(sets.first?.problems.joined(separator: "; ") ?? "device not found")"
                    )
                }
                return ceiling
            }
            return measured.min { $0.value < $1.value }!
        }
    }

    private func cached(_ key: String, _ measure: () throws -> Ceiling) rethrows -> Ceiling {
        if let hit = cache[key] { return hit }
        let value = try measure()
        cache[key] = value
        return value
    }
}
