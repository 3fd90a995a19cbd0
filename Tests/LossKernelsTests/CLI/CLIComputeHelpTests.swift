import Testing

@testable import losskernels

/// The help of `losskernels compute` names every operation with its inputs and result files, and
/// the head flags; rendered in-process, so it does not depend on how Main.swift exits after --help.
@Suite struct CLIComputeHelpTests {
    @Test func helpListsEveryOperation() {
        let help = ComputeCommand.helpMessage(columns: 1000)
        for operation in ComputeOperation.allCases {
            #expect(help.contains("  \(operation.rawValue) "), "help lacks \(operation.rawValue)")
            #expect(help.contains(operation.outputs), "help lacks the files of \(operation.rawValue)")
        }
        for flag in [
            "--labels", "--targets", "--class-weights", "--features", "--weights", "--grad-output", "--reduction",
            "--ignore-index", "--label-smoothing", "--gamma", "--alpha", "--head", "--scale", "--margin", "--m1",
            "--lambda", "--easy-margin", "--gradient", "--memory-budget-mb", "--output-dir", "--backend",
        ] {
            #expect(help.contains(flag), "help lacks \(flag)")
        }
        #expect(help.contains("only with --reduction none (else exit 2)"), "help documents --grad-output with mean/sum")
    }

    /// Every flag an operation accepts is one `ComputeCommand` parses, and the table covers each operation.
    @Test func operationTableIsConsistent() throws {
        for operation in ComputeOperation.allCases {
            #expect(!operation.requiredInputs.isEmpty)
            #expect(Set(operation.requiredInputs).isDisjoint(with: operation.optionalFlags))
            var arguments = [operation.rawValue, "--output-dir", "/nonexistent"]
            for flag in operation.requiredInputs { arguments += [flag.flag, "in.npy"] }
            #expect(throws: Never.self, "\(operation.rawValue) with its required inputs parses") { try ComputeCommand.parse(arguments) }
            #expect(throws: (any Error).self, "\(operation.rawValue) without inputs is refused") {
                try ComputeCommand.parse([operation.rawValue, "--output-dir", "/nonexistent"])
            }
        }
    }
}
