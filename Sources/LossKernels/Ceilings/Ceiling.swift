import Foundation

/// One measured limit of this machine, the figure a benchmark result is compared with: a
/// bandwidth in GB/s (10^9 bytes per second) or a rate in GFLOP/s (10^9 floating-point operations
/// per second). See `Ceilings` for how each kind is measured. Package access, like `Ceilings`.
package struct Ceiling: Sendable, Codable, Equatable {
    /// What was measured.
    package enum Kind: String, Sendable, Codable, CaseIterable {
        /// Host `memcpy` on every core: bytes read + bytes written per second.
        case memcpy
        /// OpenBLAS `cblas_sgemm`: the three GEMMs of a margin-head step, `3·2·B·C·D` FLOPs.
        case sgemm
        /// `clEnqueueCopyBuffer` inside one OpenCL device: bytes read + written per second.
        case deviceCopy = "device-copy"
        /// CLBlast SGEMM on one OpenCL device: `2·M·N·K` FLOPs per second.
        case deviceSGEMM = "device-sgemm"
        /// Blocking `clEnqueueWriteBuffer` from host memory: bytes transferred per second.
        case hostToDevice = "host-to-device"
        /// Blocking `clEnqueueReadBuffer` into host memory: bytes transferred per second.
        case deviceToHost = "device-to-host"

        /// `GB/s` for the bandwidths, `GFLOP/s` for the GEMM rates.
        package var unit: String { self == .sgemm || self == .deviceSGEMM ? "GFLOP/s" : "GB/s" }
    }

    /// What was measured.
    package var kind: Kind
    /// The rate, in `unit`.
    package var value: Double
    /// `GB/s` or `GFLOP/s`.
    package var unit: String
    /// The time of the run the value comes from (the best or the median, see `method`).
    package var seconds: Double
    /// What ran: where (CPU or the OpenCL device's name), the size, the threads, best or median.
    package var method: String

    /// A ceiling of `kind` (its `unit` follows from the kind).
    package init(kind: Kind, value: Double, seconds: Double, method: String) {
        self.kind = kind
        self.value = value
        self.unit = kind.unit
        self.seconds = seconds
        self.method = method
    }
}

/// The ceilings of one OpenCL device, and why any of them could not be measured. Package access,
/// like `Ceilings`.
package struct OpenCLDeviceCeilings: Sendable, Codable {
    /// The device, as `Engine.openCLDevices()` lists it.
    package var device: OpenCLDeviceInfo
    /// device-copy, device-sgemm, host-to-device, device-to-host: those that were measured.
    package var ceilings: [Ceiling]
    /// One line per ceiling that failed (for example CLBlast missing), naming the cause.
    package var problems: [String]

    /// The measured ceiling of `kind`, if any.
    /// - Parameter kind: the kind wanted.
    /// - Returns: the first of `ceilings` of that kind, or nil when it was not measured.
    package func ceiling(_ kind: Ceiling.Kind) -> Ceiling? { ceilings.first { $0.kind == kind } }
}

/// Monotonic seconds, for the ceiling timers.
enum MonotonicClock {
    /// Seconds since an arbitrary fixed point (`DispatchTime`, which does not jump with the wall clock).
    static func seconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}

extension Array where Element == Double {
    /// The median of a non-empty list: the middle value, or the lower middle for an even count
    /// (what `limits gemm3` reports for its 5 runs).
    var lowerMedian: Double { sorted()[(count - 1) / 2] }
}
