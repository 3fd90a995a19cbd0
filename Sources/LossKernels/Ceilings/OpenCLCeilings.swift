import Foundation

extension Ceilings {
    /// The ceilings of every OpenCL device (see `Ceilings`), or why OpenCL is unavailable.
    /// - Parameters:
    ///   - bytes: size of the copied and transferred buffers (capped at half the device's largest
    ///     allocation); default 256 MiB.
    ///   - gemmSize: `n` of the `n×n×n` SGEMM; `nil`: 1024 on CPU devices, 4096 on the others.
    ///   - repeats: runs per figure (best for bandwidths, median for SGEMM), after one warm-up.
    ///   - only: the `device:` argument: measure only this device (as listed by
    ///     `Engine.openCLDevices()`); `nil`: all.
    ///   - kinds: which of device-copy, device-sgemm, host-to-device, device-to-host to measure.
    /// - Returns: one `OpenCLDeviceCeilings` per chosen device (a device whose measurement failed
    ///   lists why in its `problems`), or the error that makes OpenCL unavailable.
    package static func openCL(
        bytes: Int = 256 << 20, gemmSize: Int? = nil, repeats: Int = 7, device only: OpenCLDeviceInfo? = nil,
        kinds: Set<Ceiling.Kind> = [.deviceCopy, .deviceSGEMM, .hostToDevice, .deviceToHost]
    ) -> Result<[OpenCLDeviceCeilings], LossKernelsError> {
        let descriptors: [OpenCLDeviceDescriptor]
        switch OpenCLDevices.discover() {
        case .failure(let error): return .failure(error)
        case .success(let found): descriptors = found
        }
        guard case .success(let runtime) = OpenCLRuntime.shared else { return .failure(.openCLUnavailable(reason: "no OpenCL runtime")) }
        let chosen = descriptors.filter { only == nil || $0.info == only }
        return .success(
            chosen.map { descriptor in
                var result = OpenCLDeviceCeilings(device: descriptor.info, ceilings: [], problems: [])
                do {
                    let device = try OpenCLDevice(runtime: runtime, descriptor: descriptor)
                    let n = gemmSize ?? (descriptor.info.kind == .cpu ? 1024 : 4096)
                    if !kinds.isDisjoint(with: [.deviceCopy, .hostToDevice, .deviceToHost]) {
                        result.ceilings += try transferCeilings(device, bytes: bytes, repeats: repeats).filter { kinds.contains($0.kind) }
                    }
                    if kinds.contains(.deviceSGEMM) {
                        do {
                            result.ceilings.append(try deviceSGEMM(device, n: n, repeats: repeats))
                        } catch {
                            result.problems.append("device-sgemm: \(error)")
                        }
                    }
                } catch {
                    result.problems.append("\(error)")
                }
                return result
            })
    }

    /// device-copy, host-to-device and device-to-host of one device, each the best of `repeats`
    /// runs after one warm-up.
    /// - Parameters:
    ///   - device: the device to measure.
    ///   - requested: the buffer size wanted; capped at half the device's largest allocation and
    ///     rounded down to a multiple of 4096 (at least 4096).
    ///   - repeats: timed runs per figure (at least 1).
    /// - Returns: the `.deviceCopy`, `.hostToDevice` and `.deviceToHost` ceilings, in that order.
    /// - Throws: the `LossKernelsError` of a failed allocation, copy or transfer.
    static func transferCeilings(_ device: OpenCLDevice, bytes requested: Int, repeats: Int) throws -> [Ceiling] {
        let limit = device.info.maxAllocationBytes > 0 ? device.info.maxAllocationBytes / 2 : requested
        let bytes = max(4096, min(requested, limit)) & ~4095
        let runs = max(1, repeats)
        let host = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 4096)
        defer { host.deallocate() }
        host.initializeMemory(as: UInt8.self, repeating: 1)
        let a = try device.makeBuffer(count: bytes, elementSize: 1)
        let b = try device.makeBuffer(count: bytes, elementSize: 1)
        return try device.withExclusiveAccess {
            func best(_ body: () throws -> Void) throws -> Double {
                try body()   // warm-up: first touch of the device pages
                var best = Double.infinity
                for _ in 0..<runs {
                    let start = MonotonicClock.seconds()
                    try body()
                    best = min(best, MonotonicClock.seconds() - start)
                }
                return best
            }
            let write = try best { try device.write(UnsafeRawBufferPointer(host), to: a) }
            let copy = try best {
                try device.enqueueCopy(from: a, to: b, bytes: bytes)
                try device.finish()
            }
            let read = try best { try device.read(b, into: host) }
            let name = device.info.name, mib = bytes >> 20
            return [
                Ceiling(
                    kind: .deviceCopy, value: 2 * Double(bytes) / copy / 1e9, seconds: copy,
                    method: "\(name): clEnqueueCopyBuffer, 2 × \(mib) MiB (read + written), best of \(runs)"),
                Ceiling(
                    kind: .hostToDevice, value: Double(bytes) / write / 1e9, seconds: write,
                    method: "\(name): blocking clEnqueueWriteBuffer of \(mib) MiB, best of \(runs)"),
                Ceiling(
                    kind: .deviceToHost, value: Double(bytes) / read / 1e9, seconds: read,
                    method: "\(name): blocking clEnqueueReadBuffer of \(mib) MiB, best of \(runs)"),
            ]
        }
    }

    /// CLBlast SGEMM `C = A·B` (n×n×n) on one device: 2·n³ FLOPs per call; median of `repeats`
    /// after one warm-up (which also compiles CLBlast's kernels).
    /// - Parameters:
    ///   - device: the device to measure.
    ///   - n: the size of the square matrices (at least 1).
    ///   - repeats: timed runs (at least 1).
    /// - Returns: a `.deviceSGEMM` ceiling in GFLOP/s.
    /// - Throws: the `LossKernelsError` of a failed upload or CLBlast call (e.g. CLBlast missing).
    static func deviceSGEMM(_ device: OpenCLDevice, n: Int, repeats: Int) throws -> Ceiling {
        let n = max(1, n)
        var random = SplitMix64(seed: 2)
        let values = (0..<(n * n)).map { _ in Float(random.next() >> 40) * 0x1p-24 - 0.5 }
        let a = try values.withUnsafeBufferPointer { try device.upload($0) }
        let b = try values.withUnsafeBufferPointer { try device.upload($0) }
        let c = try device.makeBuffer(count: n * n)
        return try device.withExclusiveAccess {
            var times: [Double] = []
            for run in 0...max(1, repeats) {
                let start = MonotonicClock.seconds()
                try CLBlast.gemm(device, transposeA: false, transposeB: false, m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, beta: 0, c: c, ldc: n)
                try device.finish()
                if run > 0 { times.append(MonotonicClock.seconds() - start) }
            }
            let median = times.lowerMedian
            return Ceiling(
                kind: .deviceSGEMM, value: 2 * pow(Double(n), 3) / median / 1e9, seconds: median,
                method: "\(device.info.name): CLBlast SGEMM \(n)×\(n)×\(n), median of \(times.count)")
        }
    }
}
