import Foundation

/// Checkpoints of a `MarginSoftmaxHead` in a folder:
///
/// - `weights-<iteration>-<id>.npy`, `momentum-<iteration>-<id>.npy`: `W` and `V`, float32 `C×D`;
/// - `checkpoint.json`: the iteration, the sampler's generator state, the head, λ schedule,
///   optimizer, sample rate, seed, and the names of the two `.npy` files.
///
/// Saving is crash-safe: the arrays are written under new names (temporary file, fsync, rename),
/// then `checkpoint.json` is replaced atomically (temporary file + rename), and only then are the
/// previous arrays deleted. A crash at any point leaves `checkpoint.json` naming a complete set.
/// Floats are stored as the doubles they convert to exactly, generator states as hex strings, so
/// a restored head continues bit for bit.
struct HeadCheckpointManifest: Codable, Equatable {
    struct HeadRecord: Codable, Equatable {
        var kind: String
        var scale, margin, m1, m2, m3, lambda: Double
        var easyMargin: Bool
        var gradient: String
    }
    struct ScheduleRecord: Codable, Equatable {
        var base, gamma, power, minimum: Double
    }
    struct OptimizerRecord: Codable, Equatable {
        var learningRate, momentum, weightDecay: Double
    }

    var format: Int
    var iteration: Int
    var classes: Int
    var dimension: Int
    var sampleRate: Double
    var samplerState: String
    var seed: String
    var memoryBudget: Int
    var head: HeadRecord
    var lambdaSchedule: ScheduleRecord?
    var optimizer: OptimizerRecord
    var weights: String
    var momentum: String

    static let fileName = "checkpoint.json"

    /// `directory` without a trailing `/` (except the root).
    static func folder(_ directory: String) -> String {
        directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
    }
    static let currentFormat = 1
}

/// A step of saving to fail on purpose (tests of crash safety).
enum CheckpointFault {
    /// After the arrays are written, before `checkpoint.json` is replaced.
    case beforeManifest
}

extension MarginSoftmaxHead {
    /// Saves weights, momentum, iteration, sampler state and options into `directory` (created if
    /// needed), replacing an earlier checkpoint there atomically (see `HeadCheckpointManifest`).
    /// - Throws: `.unwritableOutput` naming the path when the folder or a file cannot be written;
    ///   the previous checkpoint then stays intact.
    public func save(checkpoint directory: String) throws {
        try save(checkpoint: directory, fault: nil)
    }

    func save(checkpoint directory: String, fault: CheckpointFault?) throws {
        let folder = HeadCheckpointManifest.folder(directory)
        guard !folder.isEmpty else { throw LossKernelsError.unwritableOutput(path: directory, reason: "the checkpoint folder path is empty") }
        func join(_ name: String) -> String { folder + "/" + name }
        _ = try NPYFile.makeFolders(folder)
        let id = UUID().uuidString.prefix(8).lowercased()
        let names = (weights: "weights-\(iteration)-\(id).npy", momentum: "momentum-\(iteration)-\(id).npy")
        var written: [String] = []
        do {
            for (tensor, name) in [(HeadTensor.weights, names.weights), (.momentum, names.momentum)] {
                let array = NPYArray(shape: [classes, dimension], float32: try copyToHost(tensor).values)
                let temporary = join(".checkpoint-\(UUID().uuidString).tmp")
                do {
                    try NPYFile.writeFile(array, to: temporary, reportedAs: join(name))
                } catch {
                    _ = unlink(temporary)
                    throw error
                }
                guard rename(temporary, join(name)) == 0 else {
                    let reason = NPYFile.errnoDescription(errno)
                    _ = unlink(temporary)
                    throw LossKernelsError.unwritableOutput(path: join(name), reason: "cannot move the written file into place: \(reason)")
                }
                written.append(join(name))
            }
            NPYFile.syncFolder(folder)
            if fault == .beforeManifest {
                throw LossKernelsError.unwritableOutput(path: join(HeadCheckpointManifest.fileName), reason: "interrupted on purpose (test)")
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try encoder.encode(manifest(weights: names.weights, momentum: names.momentum))
            do {
                try data.write(to: URL(fileURLWithPath: join(HeadCheckpointManifest.fileName)), options: .atomic)
            } catch {
                throw LossKernelsError.unwritableOutput(path: join(HeadCheckpointManifest.fileName), reason: "\(error.localizedDescription)")
            }
            NPYFile.syncFolder(folder)
        } catch {
            // A crash here would leave these files unreferenced; a failure removes them.
            for path in written { _ = unlink(path) }
            throw error
        }
        // The new checkpoint is in place: delete the arrays of earlier ones.
        let keep: Set<String> = [names.weights, names.momentum]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where !keep.contains(entry) {
            let stale = (entry.hasPrefix("weights-") || entry.hasPrefix("momentum-")) && entry.hasSuffix(".npy")
            if stale || (entry.hasPrefix(".checkpoint-") && entry.hasSuffix(".tmp")) { _ = unlink(join(entry)) }
        }
    }

    private func manifest(weights: String, momentum: String) -> HeadCheckpointManifest {
        HeadCheckpointManifest(
            format: HeadCheckpointManifest.currentFormat, iteration: iteration, classes: classes, dimension: dimension,
            sampleRate: sampleRate, samplerState: String(sampler.generator.state, radix: 16), seed: String(seed, radix: 16),
            memoryBudget: memoryBudget,
            head: .init(kind: head.kind.rawValue, scale: Double(head.scale), margin: Double(head.margin), m1: Double(head.m1), m2: Double(head.m2),
                        m3: Double(head.m3), lambda: Double(head.lambda), easyMargin: head.easyMargin, gradient: head.gradient.rawValue),
            lambdaSchedule: lambdaSchedule.map { .init(base: Double($0.base), gamma: Double($0.gamma), power: Double($0.power), minimum: Double($0.minimum)) },
            optimizer: .init(learningRate: Double(optimizer.learningRate), momentum: Double(optimizer.momentum), weightDecay: Double(optimizer.weightDecay)),
            weights: weights, momentum: momentum)
    }

    /// Restores a head saved by `save(checkpoint:)` in `directory`, on the backend `engine` picks:
    /// the same weights, momentum, iteration, sampler state and options, so its next steps equal
    /// those the saved head would have taken.
    /// - Throws: `.unreadableFile` naming the file when the checkpoint is missing or malformed
    ///   (bad JSON, an array of the wrong shape or type); `.invalidOption` for options out of range.
    public convenience init(engine: Engine, checkpoint directory: String) throws {
        let folder = HeadCheckpointManifest.folder(directory)
        let path = folder + "/" + HeadCheckpointManifest.fileName
        let bytes = try NPYFile.readBytes(path: path)
        let m: HeadCheckpointManifest
        do {
            m = try JSONDecoder().decode(HeadCheckpointManifest.self, from: Data(bytes))
        } catch {
            throw LossKernelsError.unreadableFile(file: path, reason: "not a head checkpoint: \(error)")
        }
        func refuse(_ reason: String) -> LossKernelsError { .unreadableFile(file: path, reason: reason) }
        guard m.format == HeadCheckpointManifest.currentFormat else { throw refuse("format \(m.format) (this version reads \(HeadCheckpointManifest.currentFormat))") }
        guard let kind = MarginHead.Kind(rawValue: m.head.kind) else { throw refuse("unknown head kind '\(m.head.kind)'") }
        guard let gradient = MarginGradient(rawValue: m.head.gradient) else { throw refuse("unknown gradient '\(m.head.gradient)'") }
        guard let samplerState = UInt64(m.samplerState, radix: 16), let seed = UInt64(m.seed, radix: 16) else { throw refuse("bad sampler state or seed") }
        guard m.iteration >= 0, m.classes >= 1, m.dimension >= 1 else { throw refuse("iteration, classes or dimension out of range") }
        var arrays: [[Float]] = []
        for name in [m.weights, m.momentum] {
            guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else { throw refuse("'\(name)' is not a plain file name") }
            let file = folder + "/" + name
            let array = try NPYFile.read(path: file)
            guard array.shape == [m.classes, m.dimension], case let .float32(values) = array.elements else {
                throw LossKernelsError.unreadableFile(file: file, reason: "expected float32 of shape [\(m.classes), \(m.dimension)], found shape \(array.shape)")
            }
            arrays.append(values)
        }
        let head = MarginHead(kind: kind, scale: Float(m.head.scale), margin: Float(m.head.margin), m1: Float(m.head.m1), m2: Float(m.head.m2),
                              m3: Float(m.head.m3), easyMargin: m.head.easyMargin, lambda: Float(m.head.lambda), gradient: gradient)
        let schedule = m.lambdaSchedule.map { LambdaSchedule(base: Float($0.base), gamma: Float($0.gamma), power: Float($0.power), minimum: Float($0.minimum)) }
        let optimizer = SGDOptions(learningRate: Float(m.optimizer.learningRate), momentum: Float(m.optimizer.momentum), weightDecay: Float(m.optimizer.weightDecay))
        var sampler = try ClassSampler(classes: m.classes, rate: m.sampleRate, seed: 0)
        sampler.generator.state = samplerState
        let d = m.dimension
        try self.init(engine: engine, classes: m.classes, dimension: d, head: head, optimizer: optimizer, seed: seed,
                      state: State(iteration: m.iteration, sampler: sampler), lambdaSchedule: schedule, memoryBudget: m.memoryBudget,
                      hasMomentum: true) { tensor, rows, out in
            arrays[tensor == .weights ? 0 : 1].withUnsafeBufferPointer { out.baseAddress!.update(from: $0.baseAddress! + rows.lowerBound * d, count: out.count) }
        }
    }
}
