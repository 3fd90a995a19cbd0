import ArgumentParser
import LossKernels

extension BackendPolicy: ExpressibleByArgument {}

/// `--backend cpu|opencl|auto`, shared by the commands that compute.
struct BackendOptions: ParsableArguments {
    @Option(name: .long, help: "Backend: cpu, opencl or auto (default: LOSSKERNELS_BACKEND, else auto).")
    var backend: BackendPolicy?

    @Flag(name: .long, help: "Refuse NaN and ±∞ inputs (−∞ stays allowed in logits, as a mask) with an error naming the first bad index.")
    var checkFinite = false

    func makeEngine() throws -> Engine {
        try Engine(policy: backend, checkFinite: checkFinite ? true : nil)
    }
}
