import ArgumentParser
import Foundation
import LossKernels

/// Entry point: maps errors to the exit statuses of docs/CLI.md — 0 success, 1 bad input or
/// failed computation (one line on stderr), 2 malformed command line.
@main
enum Main {
    static func main() {
        var command: ParsableCommand
        do {
            command = try LossKernelsCommand.parseAsRoot()
        } catch {
            let code = LossKernelsCommand.exitCode(for: error)
            if code == .success {
                print(LossKernelsCommand.fullMessage(for: error))
                exit(0)
            }
            FileHandle.standardError.write(Data((LossKernelsCommand.fullMessage(for: error) + "\n").utf8))
            exit(2)
        }
        do {
            try command.run()
        } catch let error as LossKernelsError {
            fail(error.description)
        } catch let error as CommandFailure {
            fail(error.message)
        } catch let error as ValidationError {
            FileHandle.standardError.write(Data("losskernels: error: \(error.message)\n".utf8))
            exit(2)
        } catch {
            // `--help` and `help` arrive here as a command whose run() asks for the help text.
            let code = LossKernelsCommand.exitCode(for: error)
            if code == .success {
                print(LossKernelsCommand.fullMessage(for: error))
                exit(0)
            }
            if error is ExitCode || code != .failure {
                FileHandle.standardError.write(Data((LossKernelsCommand.fullMessage(for: error) + "\n").utf8))
                exit(code == .validationFailure ? 2 : code.rawValue)
            }
            fail("\(error)")
        }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("losskernels: error: \(message)\n".utf8))
        exit(1)
    }
}

/// A failure of a command that is not a library error (bad file content for an option, say):
/// exit 1 with `message`.
struct CommandFailure: Error {
    let message: String
}

struct LossKernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "losskernels",
        abstract: "Loss functions on OpenCL GPUs and SIMD CPUs: compute on .npy files, benchmark, verify, train a head, list devices.",
        subcommands: [DevicesCommand.self, ComputeCommand.self, BenchCommand.self, VerifyCommand.self, TrainCommand.self, OperationsCommand.self])
}
