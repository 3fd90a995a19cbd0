import ArgumentParser
import Foundation
import LossKernels

/// `losskernels devices [--json]`: the CPU path and every OpenCL device, with the one `auto` uses.
struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List the CPU path and the OpenCL platforms and devices, and say which one --backend auto uses.")

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

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
        var cpu: CPU
        var opencl_available: Bool
        var opencl_unavailable_reason: String?
        var opencl_devices: [Device]
        var auto_backend: String
    }

    func run() throws {
        let engine = try Engine(policy: .auto)
        let report: Report
        switch Engine.openCLDevices() {
        case .failure(let error):
            report = Report(cpu: cpuReport(engine), opencl_available: false, opencl_unavailable_reason: reason(error), opencl_devices: [], auto_backend: "cpu")
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
                choices.automatic.map { "opencl (\(devices[$0].name)) for calls of at least \(engine.offloadMinimumElements) values, cpu below" }
                ?? "cpu (no OpenCL GPU; set LOSSKERNELS_OPENCL_DEVICE_TYPE=cpu or any to allow CPU devices)"
            report = Report(cpu: cpuReport(engine), opencl_available: true, opencl_unavailable_reason: nil, opencl_devices: listed, auto_backend: auto)
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
            for d in report.opencl_devices {
                var marks: [String] = []
                if d.used_by_auto { marks.append("auto") }
                if d.used_by_opencl { marks.append("--backend opencl") }
                let mark = marks.isEmpty ? "" : "  <- " + marks.joined(separator: ", ")
                print(
                    "  [\(d.platform)] \(d.name) (\(d.vendor)), \(d.type), \(d.compute_units) compute units, global \(d.global_memory_bytes >> 20) MiB, local \(d.local_memory_bytes >> 10) KiB, \(d.opencl_c_version)\(mark)"
                )
            }
        }
        print("--backend auto: \(report.auto_backend)")
    }

    private func cpuReport(_ engine: Engine) -> Report.CPU {
        Report.CPU(threads: engine.cpuThreads, simd_width_floats: Engine.cpuVectorWidth, instruction_set: Engine.cpuInstructionSet)
    }

    private func reason(_ error: LossKernelsError) -> String {
        if case .openCLUnavailable(let why) = error { return why }
        return error.description
    }
}
