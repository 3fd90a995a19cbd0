import ArgumentParser
import Foundation
import LossKernels
import LossKernelsCatalog

/// `losskernels train`: trains a `MarginSoftmaxHead` on the synthetic task of `SyntheticTask`
/// (class prototypes plus noise, with a held-out split) and reports per-epoch loss and accuracy.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a margin-softmax head (SGD, Partial-FC sampling) on a synthetic task; report loss and accuracy.",
        discussion: """
            Features are drawn around fixed random class prototypes plus noise; the head learns the \
            class weights. --steps is the total number of steps: with --resume the run continues \
            from the checkpoint's iteration (head, optimizer and sampler state come from the \
            checkpoint: head and optimizer flags given with --resume must equal the checkpoint's; \
            --classes, --dim and --seed must match the run that wrote it). Accuracy is \
            argmax cosine over every class, on --eval-samples training and held-out samples. \
            sphereface and large-margin without --lambda anneal λ by SphereFace's schedule \
            max(5, 1000·(1 + 0.12·iteration)^-1).
            """)

    @Option(name: .long, help: "Classes (C).") var classes: Int = 10_000
    @Option(name: .long, help: "Embedding width (D).") var dim: Int = 64
    @Option(name: .long, help: "Rows per step (B).") var batch: Int = 256
    @Option(name: .long, help: "Total steps.") var steps: Int = 400
    @Option(name: .long, help: "Epochs the steps are divided into (the training split holds ceil(steps/epochs)·batch samples, at most 2^24).") var epochs: Int =
        4
    @Option(name: .long, parsing: .unconditional, help: "Noise norm σ around each prototype.") var noise: Float = 0.3
    @Option(name: .long, help: "Samples of each split the accuracy is measured on (at most 2^20, and eval-samples·dim at most 2^28).") var evalSamples: Int =
        1024
    @Option(name: .long, help: "Seed of the task, the initial weights and the class sampler.") var seed: UInt64 = 42
    @Option(name: .long, help: "Save a checkpoint into this folder after each epoch.") var checkpoint: String?
    @Option(name: .long, help: "Resume from the checkpoint in this folder.") var resume: String?
    @Flag(name: .long, help: "Print exactly one JSON object on stdout.") var json = false
    @OptionGroup var backendOptions: BackendOptions
    @OptionGroup(title: "Margin head") var headOptions: HeadFlags
    @OptionGroup(title: "Optimizer and class sampling") var training: TrainingFlags

    /// The head and training flags given.
    var options: OperationOptions { headOptions.given.merging(training.given) }

    func validate() throws {
        if let words = Catalog.operation(named: "train-step")?.option("head")?.words, let head = headOptions.head, !words.contains(head) {
            throw ValidationError("--head \(head) is not allowed (one of: \(words.joined(separator: ", ")))")
        }
        if let gradient = headOptions.gradient, MarginGradient(rawValue: gradient) == nil {
            throw ValidationError("--gradient \(gradient) is not allowed (one of: exact, detached)")
        }
        if let unused = Catalog.unusedHeadFlag(options) {
            throw ValidationError("train with --head \(headOptions.head ?? "cosface") does not use --\(unused)")
        }
        guard classes >= 1 else { throw ValidationError("--classes must be at least 1, got \(classes)") }
        guard dim >= 1 else { throw ValidationError("--dim must be at least 1, got \(dim)") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        guard noise.isFinite, noise >= 0 else { throw ValidationError("--noise must be finite and >= 0, got \(noise)") }
        guard evalSamples >= 1 else { throw ValidationError("--eval-samples must be at least 1, got \(evalSamples)") }
        // The library's own bound on C·D (MarginSoftmaxHead): an addressable number of values.
        let (count, overflow) = classes.multipliedReportingOverflow(by: dim)
        guard !overflow, count <= Int.max / 8 else { throw ValidationError("--classes × --dim = \(classes) × \(dim) is too large (at most \(Int.max / 8))") }
        guard batch <= 1 << 20, steps <= 1 << 30 else { throw ValidationError("--batch (≤ 2^20) or --steps (≤ 2^30) is too large") }
        guard dim <= Self.maximumMatrixValues / batch else {
            throw ValidationError("--batch × --dim = \(batch) × \(dim) is too large (at most 2^28 values per batch)")
        }
        let split = (steps + epochs - 1) / epochs * batch
        guard split <= Self.maximumTrainingSize else {
            throw ValidationError("the training split ceil(--steps / --epochs) × --batch = \(split) samples is too large (at most 2^24); raise --epochs")
        }
        guard evalSamples <= 1 << 20, dim <= Self.maximumMatrixValues / evalSamples else {
            throw ValidationError("--eval-samples \(evalSamples) is too large (at most 2^20, and --eval-samples × --dim at most 2^28)")
        }
    }

    /// The most samples of the training split: each epoch's shuffled order is an array of them.
    static let maximumTrainingSize = 1 << 24
    /// The most values of one batch or evaluation matrix (1 GiB of floats).
    static let maximumMatrixValues = 1 << 28

    struct EpochReport: Codable {
        var epoch: Int
        var iteration: Int
        var loss: Double
        var train_accuracy: Double
        var held_out_accuracy: Double
    }

    struct Report: Codable {
        var head: String
        var backend: String
        var classes: Int
        var dim: Int
        var batch: Int
        var sample_rate: Double
        var sampled_classes: Int
        var start_iteration: Int
        var iteration: Int
        var steps: Int
        var first_loss: Double
        var last_loss: Double
        var train_accuracy: Double
        var held_out_accuracy: Double
        var seconds: Double
        var samples_per_second: Double
        var peak_rss_bytes: Int
        var epochs: [EpochReport]
    }

    func run() throws {
        let engine = try backendOptions.makeEngine()
        let head: MarginSoftmaxHead
        if let resume {
            head = try MarginSoftmaxHead(engine: engine, checkpoint: resume)
            guard head.classes == classes, head.dimension == dim, head.seed == seed else {
                throw CommandFailure(
                    message: "checkpoint \(resume) is of --classes \(head.classes) --dim \(head.dimension) --seed \(head.seed), not \(classes), \(dim), \(seed)"
                )
            }
            try requireFlagsMatch(head, checkpoint: resume)
            guard head.iteration < steps else {
                throw CommandFailure(message: "checkpoint \(resume) is at iteration \(head.iteration), not below --steps \(steps)")
            }
        } else {
            let margin = Catalog.head(options)
            let schedule: LambdaSchedule? = (margin.kind == .sphereFace || margin.kind == .largeMargin) && headOptions.lambda == nil ? LambdaSchedule() : nil
            head = try MarginSoftmaxHead(
                engine: engine, classes: classes, dimension: dim, head: margin, optimizer: Catalog.optimizer(options),
                sampleRate: training.sampleRate ?? 1, seed: seed, lambdaSchedule: schedule, memoryBudget: try Catalog.memoryBudget(options))
        }
        let stepsPerEpoch = (steps + epochs - 1) / epochs
        let task = SyntheticTask(classes: classes, dimension: dim, seed: seed, noise: noise, trainingSize: stepsPerEpoch * batch)
        let evalTrain = task.trainingBatch(Array(0..<min(evalSamples, task.trainingSize)))
        let evalHeld = task.heldOut(evalSamples)
        func accuracy(_ set: (features: Matrix, labels: [Int])) throws -> Double {
            let predicted = try head.predict(features: set.features)
            return Double(zip(predicted, set.labels).filter { $0 == $1 }.count) / Double(set.labels.count)
        }

        let start = head.iteration
        var epochReports: [EpochReport] = []
        var firstLoss = Double.nan, lastLoss = Double.nan, epochLoss = 0.0, epochSteps = 0
        var stepSeconds = 0.0, sampled = 0
        var order: [Int] = []
        var orderEpoch = -1
        var progress = ProgressBar(total: 0, label: "")
        for t in start..<steps {
            let epoch = t / stepsPerEpoch, position = t % stepsPerEpoch
            if epoch != orderEpoch {
                order = task.order(epoch: epoch)
                orderEpoch = epoch
                progress = ProgressBar(total: min(steps, (epoch + 1) * stepsPerEpoch) - epoch * stepsPerEpoch, label: "epoch \(epoch + 1)")
            }
            let batchData = task.trainingBatch(Array(order[position * batch..<(position + 1) * batch]))
            let began = DispatchTime.now().uptimeNanoseconds
            let result = try head.step(features: batchData.features, labels: batchData.labels)
            stepSeconds += Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9
            sampled = result.sampledClasses
            let loss = Double(result.loss)
            if t == start { firstLoss = loss }
            lastLoss = loss
            epochLoss += loss
            epochSteps += 1
            progress.update(position + 1, detail: String(format: "loss %.4f", loss))
            if position == stepsPerEpoch - 1 || t == steps - 1 {
                progress.finish()
                let report = EpochReport(
                    epoch: epoch + 1, iteration: t + 1, loss: epochLoss / Double(epochSteps),
                    train_accuracy: try accuracy(evalTrain), held_out_accuracy: try accuracy(evalHeld))
                epochReports.append(report)
                if !json {
                    print(
                        String(
                            format: "epoch %d/%d  step %d  loss %.4f  train accuracy %.4f  held-out accuracy %.4f",
                            report.epoch, (steps + stepsPerEpoch - 1) / stepsPerEpoch, report.iteration, report.loss, report.train_accuracy,
                            report.held_out_accuracy))
                }
                if let checkpoint { try head.save(checkpoint: checkpoint) }
                epochLoss = 0
                epochSteps = 0
            }
        }
        let ran = steps - start
        let last = epochReports.last!
        let report = Report(
            head: head.head.kind.rawValue, backend: head.backend.rawValue, classes: classes, dim: dim, batch: batch,
            sample_rate: head.sampleRate, sampled_classes: sampled, start_iteration: start, iteration: head.iteration, steps: ran,
            first_loss: firstLoss, last_loss: lastLoss, train_accuracy: last.train_accuracy, held_out_accuracy: last.held_out_accuracy,
            seconds: stepSeconds, samples_per_second: Double(ran * batch) / max(stepSeconds, 1e-9),
            peak_rss_bytes: PeakMemory.residentBytes(), epochs: epochReports)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(
                "\(report.head) on \(report.backend): \(ran) steps, loss "
                    + String(format: "%.4f → %.4f, %.0f samples/s", firstLoss, lastLoss, report.samples_per_second)
                    + ", peak RSS \(report.peak_rss_bytes >> 20) MiB")
        }
    }

    /// With `--resume`, the head and optimizer come from the checkpoint: a head or optimizer flag
    /// given must say what the checkpoint holds (exit 1 naming the flag otherwise), so that none is
    /// silently ignored.
    func requireFlagsMatch(_ head: MarginSoftmaxHead, checkpoint: String) throws {
        let given = options, wanted = Catalog.head(given), saved = head.head
        var differing: [(String, String, String)] = []
        func compare(_ flag: String, _ value: String, _ held: String) {
            if given.flags.contains(flag) && value != held { differing.append((flag, value, held)) }
        }
        compare("head", Catalog.headName(wanted.kind), Catalog.headName(saved.kind))
        compare("scale", "\(wanted.scale)", "\(saved.scale)")
        compare("margin", "\(wanted.margin)", "\(saved.margin)")
        compare("m1", "\(wanted.m1)", "\(saved.m1)")
        compare("m2", "\(wanted.m2)", "\(saved.m2)")
        compare("m3", "\(wanted.m3)", "\(saved.m3)")
        compare("lambda", "\(wanted.lambda)", head.lambdaSchedule == nil ? "\(saved.lambda)" : "annealed by its schedule")
        compare("easy-margin", "on", saved.easyMargin ? "on" : "off")
        compare("gradient", wanted.gradient.rawValue, saved.gradient.rawValue)
        compare(
            "memory-budget-mb", "\(given.integer("memory-budget-mb") ?? 0)",
            head.memoryBudget % (1 << 20) == 0 ? "\(head.memoryBudget >> 20)" : "\(head.memoryBudget) bytes")
        compare("sample-rate", "\(given.number("sample-rate") ?? 0)", "\(head.sampleRate)")
        let optimizer = Catalog.optimizer(given)
        compare("learning-rate", "\(optimizer.learningRate)", "\(head.optimizer.learningRate)")
        compare("momentum", "\(optimizer.momentum)", "\(head.optimizer.momentum)")
        compare("weight-decay", "\(optimizer.weightDecay)", "\(head.optimizer.weightDecay)")
        if let (flag, value, held) = differing.first {
            throw CommandFailure(
                message: "--\(flag) \(value) differs from checkpoint \(checkpoint), which holds \(held); --resume continues the checkpoint's head and optimizer"
            )
        }
    }
}
