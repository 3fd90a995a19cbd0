import ArgumentParser
import LossKernels

extension BackendPolicy: ExpressibleByArgument {}

/// `--backend cpu|opencl|auto`, shared by the commands that compute.
struct BackendOptions: ParsableArguments {
    @Option(name: .long, help: "Backend: cpu, opencl or auto (default: LOSSKERNELS_BACKEND, else auto).")
    var backend: BackendPolicy?

    func makeEngine() throws -> Engine {
        try Engine(policy: backend)
    }
}
