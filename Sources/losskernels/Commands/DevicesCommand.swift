import ArgumentParser
import Foundation
import LossKernels

/// `losskernels devices [--json] [--no-probe]`: the CPU path and every OpenCL device, the one
/// `auto` may use, and what `auto`'s cost model decides for a few typical calls and why.
struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List the CPU path and the OpenCL platforms and devices, and say what --backend auto does with typical calls.",
        discussion: """
            For a host-resident softmax and cross-entropy of 256×100000, the cosFace margin-softmax \
            B=256 D=512 C=100000 on host data, the training step of that head (class weights kept \
            where the head lives) and a device-resident softmax of 256×100000: the backend auto \
            picks, its estimated CPU and device times, and the ceilings used (from the cache file, \
            a probe run now, or the static rule under LOSSKERNELS_AUTO_PROBE=0).
            """)

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    @Flag(
        name: .long, inversion: .prefixedNo,
        help: "Measure the ceilings auto's cost model lacks, as its first large call would (--no-probe: use only the cache file).")
    var probe = true

    struct Report: Codable {
        struct CPU: Codable {
            var threads: Int
            var simd_width_floats: Int
            var instruction_set: String
        }
        struct Device: Codable {
            var platform: String
            var name: String
            var vendor: String
            var type: String
            var compute_units: Int
            var global_memory_bytes: Int
            var local_memory_bytes: Int
            var max_allocation_bytes: Int
            var opencl_c_version: String
            var driver_version: String
            var used_by_auto: Bool
            var used_by_opencl: Bool
        }
        /// The ceilings of `auto`'s cost model (GB/s, GFLOP/s, seconds).
        struct AutoCeilings: Codable {
            var cpu_bandwidth_gbps: Double
            var cpu_gemm_gflops: Double?
            var device_call_seconds: Double
            var host_to_device_gbps: Double
            var device_to_host_gbps: Double
            var device_bandwidth_gbps: Double
            var device_gemm_gflops: Double?
        }
        /// What `auto` does with one typical call.
        struct Decision: Codable {
            var call: String
            var backend: String
            var device: String?
            var reason: String
            var cpu_seconds: Double?
            var device_seconds: Double?
            /// `probe`, `cache`, `static`, `fixed` or `none`.
            var ceilings_origin: String
            var ceilings: AutoCeilings?
        }
        var cpu: CPU
        var opencl_available: Bool
        var opencl_unavailable_reason: String?
        var opencl_devices: [Device]
        var auto_backend: String
        var auto_probe: Bool
        var auto_cache_file: String?
        var pinned_device: Int?
        var auto_decisions: [Decision]
    }

    /// The typical calls the report decides for.
    static let typicalCalls: [(String, CallCost)] = [
        ("softmax 256x100000 (host)", .softmax(rows: 256, columns: 100_000)),
        ("cross-entropy 256x100000 (host)", .crossEntropy(rows: 256, columns: 100_000)),
        ("margin-softmax cosface B256 D512 C100000 (host)", .marginSoftmax(rows: 256, dimension: 512, classes: 100_000)),
        ("train-step cosface B256 D512 C100000 (weights resident)", .trainingStep(rows: 256, dimension: 512, classes: 100_000)),
        ("softmax 256x100000 (device-resident)", .residentSoftmax(rows: 256, columns: 100_000)),
    ]

    func run() throws {
        let engine = try Engine(policy: .auto)
        var report: Report
        switch Engine.openCLDevices() {
        case .failure(let error):
            report = Report(
                cpu: cpuReport(engine), opencl_available: false, opencl_unavailable_reason: reason(error), opencl_devices: [], auto_backend: "cpu",
                auto_probe: false, auto_cache_file: nil, pinned_device: engine.pinnedOpenCLDevice, auto_decisions: [])
        case .success(let devices):
            let choices = engine.openCLChoices()
            let listed = devices.enumerated().map { index, d in
                Report.Device(
                    platform: d.platformName, name: d.name, vendor: d.vendor, type: d.kind.rawValue, compute_units: d.computeUnits,
                    global_memory_bytes: d.globalMemoryBytes, local_memory_bytes: d.localMemoryBytes, max_allocation_bytes: d.maxAllocationBytes,
                    opencl_c_version: d.openCLCVersion, driver_version: d.driverVersion,
                    used_by_auto: index == choices.automatic, used_by_opencl: index == choices.explicit)
            }
            let auto =
                choices.automatic.map {
                    "opencl (\(devices[$0].name)) for calls of at least \(engine.offloadMinimumElements) values that the cost model finds faster there, cpu otherwise"
                }
                ?? (engine.pinnedOpenCLDevice.map { "cpu (no OpenCL device at the pinned position \($0))" }
                    ?? "cpu (no OpenCL GPU; set LOSSKERNELS_OPENCL_DEVICE_TYPE=cpu or any to allow CPU devices)")
            report = Report(
                cpu: cpuReport(engine), opencl_available: true, opencl_unavailable_reason: nil, opencl_devices: listed, auto_backend: auto,
                auto_probe: false, auto_cache_file: nil, pinned_device: engine.pinnedOpenCLDevice, auto_decisions: [])
        }
        switch engine.autoCeilings {
        case .measured(let file):
            report.auto_probe = true
            report.auto_cache_file = file?.path
        case .staticRule, .fixed:
            report.auto_probe = false
        }
        report.auto_decisions = Self.typicalCalls.map { name, cost in
            let plan = engine.autoPlan(for: cost, probe: probe)
            return Report.Decision(
                call: name, backend: plan.backend.rawValue, device: plan.device?.name, reason: plan.reason, cpu_seconds: plan.estimate?.cpuSeconds,
                device_seconds: plan.estimate?.deviceSeconds, ceilings_origin: plan.origin.rawValue, ceilings: plan.ceilings.map(Self.ceilingsReport))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("CPU: \(report.cpu.threads) threads, \(report.cpu.instruction_set), \(report.cpu.simd_width_floats) floats per vector")
        if let why = report.opencl_unavailable_reason {
            print("OpenCL: unavailable — \(why)")
        } else {
            print("OpenCL devices:")
            for (index, d) in report.opencl_devices.enumerated() {
                var marks: [String] = []
                if d.used_by_auto { marks.append("auto") }
                if d.used_by_opencl { marks.append("--backend opencl") }
                if report.pinned_device == index { marks.append("pinned") }
                let mark = marks.isEmpty ? "" : "  <- " + marks.joined(separator: ", ")
                print(
                    "  [\(d.platform)] \(d.name) (\(d.vendor)), \(d.type), \(d.compute_units) compute units, global \(d.global_memory_bytes >> 20) MiB, local \(d.local_memory_bytes >> 10) KiB, \(d.opencl_c_version)\(mark)"
                )
            }
        }
        print("--backend auto: \(report.auto_backend)")
        if report.auto_probe {
            print("Cost model: measured ceilings, cached in \(report.auto_cache_file ?? "memory only (no cache directory)")")
        } else if report.opencl_available {
            print("Cost model: static rule (LOSSKERNELS_AUTO_PROBE=0): GPUs and accelerators take calls past the threshold, CPU-type devices none")
        }
        if let ceilings = report.auto_decisions.compactMap({ $0.ceilings }).max(by: {
            ($0.cpu_gemm_gflops == nil ? 0 : 1) < ($1.cpu_gemm_gflops == nil ? 0 : 1)
        }),
            let origin = report.auto_decisions.first(where: { $0.ceilings != nil })?.ceilings_origin
        {
            print("Ceilings (\(origin)): \(Self.describe(ceilings))")
        }
        print("What auto does:")
        for d in report.auto_decisions {
            let times =
                d.cpu_seconds.map { cpu in String(format: "  cpu %.2f ms, device %.2f ms", cpu * 1e3, (d.device_seconds ?? .nan) * 1e3) } ?? ""
            print("  \(d.call): \(d.backend)\(times) — \(d.reason)")
        }
    }

    private static func ceilingsReport(_ c: CostCeilings) -> Report.AutoCeilings {
        Report.AutoCeilings(
            cpu_bandwidth_gbps: c.cpuBandwidth, cpu_gemm_gflops: c.cpuGEMM, device_call_seconds: c.deviceCallSeconds, host_to_device_gbps: c.hostToDevice,
            device_to_host_gbps: c.deviceToHost, device_bandwidth_gbps: c.deviceBandwidth, device_gemm_gflops: c.deviceGEMM)
    }

    private static func describe(_ c: Report.AutoCeilings) -> String {
        func rate(_ value: Double?, _ unit: String) -> String { value.map { String(format: "%.1f", $0) + " " + unit } ?? "not measured" }
        return "CPU memcpy \(rate(c.cpu_bandwidth_gbps, "GB/s")), OpenBLAS \(rate(c.cpu_gemm_gflops, "GFLOP/s")); device: "
            + String(format: "%.3f ms per call", c.device_call_seconds * 1e3)
            + ", host→device \(rate(c.host_to_device_gbps, "GB/s")), device→host \(rate(c.device_to_host_gbps, "GB/s")), copy \(rate(c.device_bandwidth_gbps, "GB/s")), CLBlast \(rate(c.device_gemm_gflops, "GFLOP/s"))"
    }

    private func cpuReport(_ engine: Engine) -> Report.CPU {
        Report.CPU(threads: engine.cpuThreads, simd_width_floats: Engine.cpuVectorWidth, instruction_set: Engine.cpuInstructionSet)
    }

    private func reason(_ error: LossKernelsError) -> String {
        if case .openCLUnavailable(let why) = error { return why }
        return error.description
    }
}
