import ArgumentParser
import LossKernels

/// `losskernels compute <operation> [inputs] [options] --output-dir DIR [--backend B]`: runs one
/// operation of shared/spec/LOSSES.md on .npy files and writes its results as .npy files.
struct ComputeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compute",
        abstract: "Run one operation on .npy inputs and write its results as .npy files into --output-dir.",
        discussion: "Files are written whole or not at all. Exit 1 for bad input, 2 for a malformed command line.")

    enum Operation: String, ExpressibleByArgument, CaseIterable {
        case softmax
        case logSoftmax = "log-softmax"
    }

    @Argument(help: "The operation: \(Operation.allCases.map(\.rawValue).joined(separator: ", ")).")
    var operation: Operation

    @Option(name: .long, help: "Logits, float32/float64 .npy; the last dimension is the classes.")
    var logits: String?

    @Option(name: .long, help: "Upstream gradient, same shape as the output; adds grad_logits.npy.")
    var gradOutput: String?

    @Option(name: .long, help: "Folder for the results (created if missing).")
    var outputDir: String

    @OptionGroup var backendOptions: BackendOptions

    func validate() throws {
        if logits == nil { throw ValidationError("\(operation.rawValue) needs --logits") }
    }

    func run() throws {
        let engine = try backendOptions.makeEngine()
        switch operation {
        case .softmax, .logSoftmax:
            let logarithm = operation == .logSoftmax
            let z = try TensorFiles.readFloatMatrix(logits!, tensor: "logits")
            let g = try gradOutput.map { try TensorFiles.readFloatMatrix($0, tensor: "grad-output") }
            if let g { try TensorFiles.requireSameShape(g, "grad-output", as: z, "logits") }
            let y = logarithm ? try engine.logSoftmax(z.matrix) : try engine.softmax(z.matrix)
            var outputs = [(name: logarithm ? "log_probs.npy" : "probs.npy", values: y.values, shape: z.shape)]
            if let g {
                let dz = logarithm
                    ? try engine.logSoftmaxBackward(logProbabilities: y, gradOutput: g.matrix)
                    : try engine.softmaxBackward(probabilities: y, gradOutput: g.matrix)
                outputs.append((name: "grad_logits.npy", values: dz.values, shape: z.shape))
            }
            try TensorFiles.write(outputs, to: outputDir)
        }
    }
}
