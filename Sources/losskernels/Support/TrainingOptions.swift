import ArgumentParser
import LossKernels

/// The optimizer and class-sampling flags of `train` and `bench train-step`.
struct TrainingOptions: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "Partial-FC sample rate r in (0, 1] (default 1: every class each step).")
    var sampleRate: Double = 1
    @Option(name: .long, parsing: .unconditional, help: "SGD learning rate (default 0.1).")
    var learningRate: Float = 0.1
    @Option(name: .long, parsing: .unconditional, help: "SGD momentum in [0, 1) (default 0.9).")
    var momentum: Float = 0.9
    @Option(name: .long, parsing: .unconditional, help: "SGD weight decay (default 5e-4).")
    var weightDecay: Float = 5e-4

    /// The optimizer these flags describe; checked by `SGDOptions.validate()`.
    var optimizer: SGDOptions {
        SGDOptions(learningRate: learningRate, momentum: momentum, weightDecay: weightDecay)
    }
}
