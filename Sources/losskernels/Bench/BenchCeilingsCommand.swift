import ArgumentParser
import Foundation
import LossKernels

/// `losskernels bench ceilings`: this machine's ceilings, measured the same way every time (see
/// `Ceilings` in the library and Benchmarks/peers/limits.c): memcpy bandwidth on every core, OpenBLAS
/// SGEMM rate, and for each OpenCL device its copy bandwidth, CLBlast SGEMM rate and host↔device
/// transfer rates. Works without OpenCL (then says why it is unavailable).
struct BenchCeilingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ceilings",
        abstract: "Measure this machine's ceilings: memcpy, SGEMM, and each OpenCL device's copy, SGEMM and transfer rates.",
        discussion: """
            memcpy: every core copies its slice of 2 × --copy-mib MiB (default 256), bytes read + \
            written, best of --repeats (default 7) — as `limits copy`. sgemm: the three OpenBLAS \
            GEMMs of a B×D×C margin-head step (--gemm B,D,C, default 256,512,100000), 3·2·B·C·D \
            FLOPs, median of 5 after a warm-up — as `limits gemm3 B D C`. OpenCL, per device: \
            clEnqueueCopyBuffer (read + written), CLBlast SGEMM n×n×n (--device-gemm n, default 1024 \
            on CPU devices, 4096 on GPUs), blocking write and read of --copy-mib MiB.
            """)

    @Option(name: .long, help: "MiB copied by memcpy and by the OpenCL copies and transfers (1…4096).") var copyMib: Int = 256
    @Option(name: .long, help: "B,D,C of the CPU SGEMM ceiling (three GEMMs of a margin-head step; B·D, C·D and B·C each at most 2^28).") var gemm: String =
        "256,512,100000"
    @Option(name: .long, help: "n of the OpenCL n×n×n SGEMM (1…16384; default by device type).") var deviceGemm: Int?
    @Option(name: .long, help: "Runs per bandwidth figure (best is kept).") var repeats: Int = 7
    @Flag(name: .long, help: "CPU ceilings only.") var cpuOnly = false
    @Flag(name: .long, help: "One JSON object: {\"cpu\": [...], \"opencl\": [...], \"opencl_unavailable\": ...}.") var json = false
    @Flag(name: .long, help: "CSV: where,kind,value,unit,seconds,method.") var csv = false

    func validate() throws {
        guard copyMib >= 1, copyMib <= 4096 else { throw ValidationError("--copy-mib must be in 1…4096, got \(copyMib)") }
        guard let shape = gemmShape else { throw ValidationError("--gemm must be three positive integers B,D,C, got \(gemm)") }
        for (name, rows, columns) in [("B×D", shape.batch, shape.dim), ("C×D", shape.classes, shape.dim), ("B×C", shape.batch, shape.classes)]
        where columns > Self.maximumMatrixValues / rows {
            throw ValidationError("--gemm \(gemm): \(name) = \(rows) × \(columns) is too large (each matrix at most 2^28 values)")
        }
        if let deviceGemm, !(1...Self.maximumDeviceGemm).contains(deviceGemm) {
            throw ValidationError("--device-gemm must be in 1…\(Self.maximumDeviceGemm), got \(deviceGemm)")
        }
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
        if json && csv { throw ValidationError("--json and --csv exclude each other") }
        if cpuOnly && deviceGemm != nil { throw ValidationError("--device-gemm sizes the OpenCL SGEMM, which --cpu-only does not measure") }
    }

    /// The most values of one matrix of the CPU SGEMM ceiling (1 GiB of floats).
    static let maximumMatrixValues = 1 << 28
    /// The largest n of the OpenCL n×n×n SGEMM (three n×n matrices of 1 GiB each).
    static let maximumDeviceGemm = 16_384

    var gemmShape: (batch: Int, dim: Int, classes: Int)? {
        let parts = gemm.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 3, parts.allSatisfy({ $0 >= 1 }) else { return nil }
        return (parts[0], parts[1], parts[2])
    }

    /// What `--json` prints.
    struct Report: Codable {
        var cpu: [Ceiling]
        var opencl: [OpenCLDeviceCeilings]
        var opencl_unavailable: String?
    }

    func run() throws {
        let shape = gemmShape!
        var report = Report(
            cpu: [
                Ceilings.memcpy(bytes: copyMib << 20, repeats: repeats),
                Ceilings.sgemm(batch: shape.batch, dim: shape.dim, classes: shape.classes),
            ],
            opencl: [], opencl_unavailable: nil)
        if cpuOnly {
            report.opencl_unavailable = "not measured (--cpu-only)"
        } else {
            switch Ceilings.openCL(bytes: copyMib << 20, gemmSize: deviceGemm, repeats: repeats) {
            case .success(let devices): report.opencl = devices
            case .failure(let error): report.opencl_unavailable = error.description
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        var rows = report.cpu.map { ["CPU"] + Self.cells($0) }
        for device in report.opencl {
            rows += device.ceilings.map { [device.device.name] + Self.cells($0) }
            rows += device.problems.map { [device.device.name, "-", "-", "-", "-", "not measured: \($0)"] }
        }
        if csv {
            print("where,kind,value,unit,seconds,method")
            for row in rows { print(row.map(BenchCSV.quoted).joined(separator: ",")) }
            return
        }
        TextTable.print(
            [["where", "ceiling", "value", "unit", "seconds", "how"]]
                + rows.map { row in
                    [
                        row[0], row[1], Double(row[2]).map { String(format: "%.2f", $0) } ?? row[2], row[3],
                        Double(row[4]).map { String(format: "%.6f", $0) } ?? row[4], row[5],
                    ]
                })
        if let reason = report.opencl_unavailable { print("opencl: \(reason)") }
    }

    static func cells(_ c: Ceiling) -> [String] {
        [c.kind.rawValue, "\(c.value)", c.unit, "\(c.seconds)", c.method]
    }
}
