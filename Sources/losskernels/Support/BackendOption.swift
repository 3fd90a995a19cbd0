import ArgumentParser
import LossKernels

extension BackendPolicy: ExpressibleByArgument {}

/// `--backend cpu|opencl|auto`, shared by the commands that compute.
struct BackendOptions: ParsableArguments {
    @Option(name: .long, help: "Backend: cpu, opencl or auto (default: LOSSKERNELS_BACKEND, else auto).")
    var backend: BackendPolicy?

    @Flag(name: .long, help: "Refuse NaN and ±∞ inputs (−∞ stays allowed in logits, as a mask) with an error naming the first bad index.")
    var checkFinite = false

    /// The engine of the command; `profile` times every OpenCL kernel (else `LOSSKERNELS_PROFILE`).
    func makeEngine(profile: Bool = false) throws -> Engine {
        try Engine(policy: backend, openCLFault: nil, checkFinite: checkFinite ? true : nil, profile: profile ? true : nil)
    }
}
