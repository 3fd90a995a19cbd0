import ArgumentParser
import LossKernels
import LossKernelsCatalog

/// `losskernels compute <operation> [inputs] [options] --output-dir DIR [--backend B]`: runs one
/// operation of docs/OPERATIONS.md on .npy files and writes its results as .npy files.
///
/// The operation table (`Catalog`) says which inputs and options each operation takes: `validate()`
/// refuses a missing input or a flag the operation does not use (exit 2, `OperationUsage`);
/// `ComputeInputs` reads the files and checks their shapes (exit 1, naming the file); the table's
/// call runs the library; the results are written only when all of them are computed, so a failed
/// run leaves no files.
struct ComputeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compute",
        abstract: "Run one operation on .npy inputs and write its results as .npy files into --output-dir.",
        discussion: """
            Operations, their inputs ([optional]) and the files they write:

            \(ComputeOperation.allCases.flatMap(\.usage).joined(separator: "\n"))

            Head flags (margin-softmax only): --head, --scale, --margin, --m1, --m2, --m3, --lambda, \
            --easy-margin, --gradient, --memory-budget-mb.

            Labels are integer .npy files (<i4 or <i8), 1-d, one class index per row. loss.npy is a \
            0-d array for --reduction mean or sum (and batchmean), one value per row (per element for \
            sigmoid-focal, bce-with-logits, kl-div and the regression losses) for none. Gradients have \
            the shape of their input. --grad-output of a loss is accepted only with --reduction none \
            (else exit 2).

            A flag the operation does not use, a missing input, and --grad-output with a loss \
            whose --reduction is not none are command-line errors. Files are written whole or not \
            at all. Exit 1 for bad input, 2 for a malformed command line.
            """)

    @Argument(help: "The operation (listed above).")
    var operation: String

    @OptionGroup(title: "Inputs") var tensors: TensorFlags
    @OptionGroup(title: "Loss options") var options: OperationFlags

    @Option(name: .long, help: "Folder for the results (created if missing).")
    var outputDir: String

    @OptionGroup var backendOptions: BackendOptions

    func validate() throws {
        let entry = try OperationUsage.operation(operation, computable: true)
        try OperationUsage.check(entry, options: options.given, tensors: Set(tensors.given.keys), requireInputs: true)
    }

    func run() throws {
        let entry = try OperationUsage.operation(operation, computable: true)
        let engine = try backendOptions.makeEngine()
        let inputs = try ComputeInputs.read(entry, paths: tensors.given)
        let call = try entry.prepare(engine: engine, inputs: inputs, options: options.given)
        _ = try call.run()
        try TensorFiles.write(try call.results(), to: outputDir)
    }
}
