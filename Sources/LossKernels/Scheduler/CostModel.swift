import Foundation

/// What one call costs to place: its work and the bytes it must carry across the bus when it runs
/// on a device. `auto`'s cost model (`CostModel`) compares its CPU and device times from these.
package struct CallCost: Sendable, Equatable {
    /// Bytes moved and FLOPs computed (the operation's `work`, or a training step's).
    package var work: OperationWork
    /// Bytes uploaded when the call runs on a device (host inputs, labels).
    package var bytesToDevice: Int
    /// Bytes read back when the call runs on a device (host outputs).
    package var bytesFromDevice: Int
    /// Whether the call's large data stays on the device between calls (a training head's class
    /// weights): `offloadMinimumElements` does not apply, and only the per-call traffic crosses.
    package var resident: Bool

    /// A call described by its fields.
    /// - Parameters:
    ///   - work: bytes moved and FLOPs.
    ///   - bytesToDevice: bytes uploaded when it runs on a device.
    ///   - bytesFromDevice: bytes read back when it runs on a device.
    ///   - resident: whether its data stays on the device between calls.
    package init(work: OperationWork, bytesToDevice: Int, bytesFromDevice: Int, resident: Bool = false) {
        self.work = work
        self.bytesToDevice = bytesToDevice
        self.bytesFromDevice = bytesFromDevice
        self.resident = resident
    }

    /// A bandwidth-bound call on host data moving `values` float32 values, half read and half
    /// written (what `Engine.plannedDevice(elements:)` asks about). Saturates for huge counts.
    /// - Parameter values: float32 values read plus written.
    package static func hostCall(values: Int) -> CallCost {
        let bytes = values > Int.max / 8 ? Int.max / 2 : OperationWork.floats(max(0, values))
        return CallCost(work: OperationWork(bytes: bytes), bytesToDevice: bytes / 2, bytesFromDevice: bytes - bytes / 2)
    }
}

extension Operation {
    /// The call's cost: its `work`; host inputs the OpenCL implementation reads and `otherBytes`
    /// (labels, flags) go up, host outputs come back. Device-resident tensors cross nothing.
    var callCost: CallCost {
        var up = otherBytes, down = 0
        for input in inputs where input.transfer {
            switch input.storage {
            case .host, .array: up += OperationWork.floats(input.count)
            case .device: break
            }
        }
        for output in outputs {
            if case .host = output.storage { down += OperationWork.floats(output.count) }
        }
        return CallCost(work: work, bytesToDevice: up, bytesFromDevice: down)
    }
}

/// The rates `auto`'s cost model compares, measured once per device (`CeilingProbe`) and cached in
/// a file (`CeilingsCache`). Bandwidths in GB/s (10^9 bytes/s), GEMM rates in GFLOP/s. The two GEMM
/// rates are measured only when a GEMM-bound call first needs them (nil until then); a device
/// GEMM rate of 0 means the device cannot run matrix products (CLBlast missing).
package struct CostCeilings: Sendable, Codable, Equatable {
    /// Host memcpy on the engine's threads, bytes read + written per second.
    package var cpuBandwidth: Double
    /// OpenBLAS SGEMM on the three GEMMs of a small margin-head step.
    package var cpuGEMM: Double?
    /// The device's fixed cost of one call: allocate a buffer, write and read 4 KiB (seconds).
    package var deviceCallSeconds: Double
    /// Blocking host→device writes.
    package var hostToDevice: Double
    /// Blocking device→host reads.
    package var deviceToHost: Double
    /// `clEnqueueCopyBuffer` inside the device, bytes read + written per second.
    package var deviceBandwidth: Double
    /// CLBlast SGEMM on the device (0: unavailable).
    package var deviceGEMM: Double?

    /// Ceilings from their values.
    /// - Parameters:
    ///   - cpuBandwidth: host memcpy GB/s (read + written).
    ///   - cpuGEMM: OpenBLAS GFLOP/s, nil when not measured.
    ///   - deviceCallSeconds: the device's fixed cost per call, seconds.
    ///   - hostToDevice: upload GB/s.
    ///   - deviceToHost: read-back GB/s.
    ///   - deviceBandwidth: device copy GB/s (read + written).
    ///   - deviceGEMM: CLBlast GFLOP/s, nil when not measured, 0 when unavailable.
    package init(
        cpuBandwidth: Double, cpuGEMM: Double?, deviceCallSeconds: Double, hostToDevice: Double, deviceToHost: Double, deviceBandwidth: Double,
        deviceGEMM: Double?
    ) {
        self.cpuBandwidth = cpuBandwidth
        self.cpuGEMM = cpuGEMM
        self.deviceCallSeconds = deviceCallSeconds
        self.hostToDevice = hostToDevice
        self.deviceToHost = deviceToHost
        self.deviceBandwidth = deviceBandwidth
        self.deviceGEMM = deviceGEMM
    }

    enum CodingKeys: String, CodingKey {
        case cpuBandwidth = "cpu_bandwidth_gbps"
        case cpuGEMM = "cpu_gemm_gflops"
        case deviceCallSeconds = "device_call_seconds"
        case hostToDevice = "host_to_device_gbps"
        case deviceToHost = "device_to_host_gbps"
        case deviceBandwidth = "device_bandwidth_gbps"
        case deviceGEMM = "device_gemm_gflops"
    }

    /// Whether every value is usable: rates finite and positive (a device GEMM rate may be 0), the
    /// call cost finite and non-negative. A cache entry that is not is ignored.
    package var isValid: Bool {
        let rates = [cpuBandwidth, hostToDevice, deviceToHost, deviceBandwidth] + [cpuGEMM].compactMap { $0 }
        return rates.allSatisfy { $0.isFinite && $0 > 0 } && deviceCallSeconds.isFinite && deviceCallSeconds >= 0
            && (deviceGEMM.map { $0.isFinite && $0 >= 0 } ?? true)
    }

    /// Whether the GEMM rates a GEMM-bound call needs are both known.
    package var hasGEMM: Bool { cpuGEMM != nil && deviceGEMM != nil }
}

/// The estimated times of one call on each side, and the choice.
package struct CostEstimate: Sendable, Equatable {
    /// Seconds on the CPU.
    package var cpuSeconds: Double
    /// Seconds on the device, transfers and the fixed cost included.
    package var deviceSeconds: Double
    /// Whether the device is estimated faster (ties stay on the CPU).
    package var deviceWins: Bool { deviceSeconds < cpuSeconds }
}

/// `auto`'s cost model (NOTES.md, "Cost-based auto"):
///
/// - CPU time ≈ bytes / cpuBandwidth + flops / cpuGEMM;
/// - device time ≈ deviceCallSeconds + bytesToDevice / hostToDevice + bytesFromDevice /
///   deviceToHost + bytes / deviceBandwidth + flops / deviceGEMM.
///
/// The call goes to the device only when the device time is smaller. Without measurements
/// (`LOSSKERNELS_AUTO_PROBE=0`) `staticRule` decides instead.
package enum CostModel {
    /// The estimated times of `call` under `ceilings`. A GEMM rate that is unknown (nil) counts as
    /// infinitely fast on that side (`lowerBound`); a device GEMM rate of 0 makes GEMM-bound
    /// calls infinitely slow on the device.
    /// - Parameters:
    ///   - call: the call's work and traffic.
    ///   - ceilings: the measured rates.
    /// - Returns: the CPU and device seconds.
    package static func estimate(_ call: CallCost, _ ceilings: CostCeilings) -> CostEstimate {
        let bytes = Double(call.work.bytes), flops = Double(call.work.flops)
        func gemmSeconds(_ rate: Double?) -> Double {
            guard flops > 0, let rate else { return 0 }
            return rate > 0 ? flops / (rate * 1e9) : .infinity
        }
        let cpu = bytes / (ceilings.cpuBandwidth * 1e9) + gemmSeconds(ceilings.cpuGEMM)
        let device =
            ceilings.deviceCallSeconds + Double(call.bytesToDevice) / (ceilings.hostToDevice * 1e9)
            + Double(call.bytesFromDevice) / (ceilings.deviceToHost * 1e9) + bytes / (ceilings.deviceBandwidth * 1e9)
            + gemmSeconds(ceilings.deviceGEMM)
        return CostEstimate(cpuSeconds: cpu, deviceSeconds: device)
    }

    /// The rule without measurements: GPUs and accelerators win every call that reaches the
    /// model (above the offload threshold, or resident), CPU-kind and other devices never do (they
    /// share the host's cores and memory with the CPU path, which is faster on them).
    /// - Parameter kind: the device's type.
    /// - Returns: whether the device takes the call.
    package static func staticRule(_ kind: OpenCLDeviceInfo.Kind) -> Bool {
        kind == .gpu || kind == .accelerator
    }
}

/// Where `auto` gets the ceilings its cost model uses.
package enum AutoCeilingsSource: Sendable, Equatable {
    /// Measured by small probes the first time a call above the threshold needs them, once per
    /// process, and cached in `cacheFile` (nil: in memory only) for later processes.
    case measured(cacheFile: URL?)
    /// No measurement: `CostModel.staticRule` (`LOSSKERNELS_AUTO_PROBE=0`).
    case staticRule
    /// These ceilings for every device (tests, what-ifs).
    case fixed(CostCeilings)
}

/// Where the ceilings of one decision came from (`losskernels devices`).
package enum CeilingsOrigin: String, Sendable, Codable, Equatable {
    /// Measured in this process (a probe ran).
    case probe
    /// Read from the cache file (or measured earlier in this process and read from memory).
    case cache
    /// No measurement: the static rule decided.
    case staticRule = "static"
    /// Given to the engine (`AutoCeilingsSource.fixed`).
    case fixed
    /// Not measured (the probe was not allowed or failed).
    case none
}
