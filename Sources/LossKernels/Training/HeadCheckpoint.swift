import Foundation

/// Checkpoints of a `MarginSoftmaxHead` in a folder:
///
/// - `weights-<iteration>-<id>.npy`, `momentum-<iteration>-<id>.npy`: `W` and `V`, float32 `C×D`;
/// - `checkpoint.json`: the iteration, the sampler's generator state, the head, λ schedule,
///   optimizer, sample rate, seed, and the names of the two `.npy` files.
///
/// Saving is crash-safe: the arrays are written under new names and then `checkpoint.json` is
/// replaced, each durably (temporary file, fsync, rename, folder fsync: `NPYFile.replaceFile`), and
/// only then are the arrays the previous `checkpoint.json` named deleted. A crash at any point
/// leaves `checkpoint.json` naming a complete set. Other files in the folder are never touched
/// (except leftover temporaries `.checkpoint-<UUID>.tmp` of an interrupted save).
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
    static let currentFormat = 1

    /// Temporary files of a save are `<temporaryPrefix><UUID>.tmp`.
    static let temporaryPrefix = ".checkpoint-"

    /// Whether `name` is exactly a temporary file name of a save: `.checkpoint-<UUID>.tmp`.
    static func isTemporary(_ name: String) -> Bool {
        guard name.hasPrefix(temporaryPrefix), name.hasSuffix(".tmp") else { return false }
        let middle = String(name.dropFirst(temporaryPrefix.count).dropLast(".tmp".count))
        return UUID(uuidString: middle)?.uuidString == middle
    }

    /// The `.npy` files named by the manifest at `path`, or none when it is missing or unreadable
    /// (only these are deleted once a new checkpoint is in place).
    static func arrays(namedIn path: String) -> [String] {
        struct Names: Decodable { var weights: String, momentum: String }
        guard let bytes = try? NPYFile.readBytes(path: path),
            let names = try? JSONDecoder().decode(Names.self, from: Data(bytes))
        else { return [] }
        return [names.weights, names.momentum].filter { NPYFile.isPlainFileName($0) && $0.hasSuffix(".npy") }
    }
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
        let folder = NPYFile.folder(directory)
        guard !folder.isEmpty else { throw LossKernelsError.unwritableOutput(path: directory, reason: "the checkpoint folder path is empty") }
        func join(_ name: String) -> String { NPYFile.path(name, in: folder) }
        _ = try NPYFile.makeFolders(folder)
        // Read before it is replaced: the arrays of the previous checkpoint, the only ones deleted.
        let previous = HeadCheckpointManifest.arrays(namedIn: join(HeadCheckpointManifest.fileName))
        let id = UUID().uuidString.prefix(8).lowercased()
        let names = (weights: "weights-\(iteration)-\(id).npy", momentum: "momentum-\(iteration)-\(id).npy")
        let prefix = HeadCheckpointManifest.temporaryPrefix
        var written: [String] = []
        do {
            for (tensor, name) in [(HeadTensor.weights, names.weights), (.momentum, names.momentum)] {
                // Streamed in chunks of rows: no C×D host copy.
                try NPYFile.replaceFloat32File(named: name, in: folder, temporaryPrefix: prefix, shape: [classes, dimension]) { piece in
                    try forEachChunk(tensor) { _, values in try piece(values) }
                }
                written.append(join(name))
            }
            if fault == .beforeManifest {
                throw LossKernelsError.unwritableOutput(path: join(HeadCheckpointManifest.fileName), reason: "interrupted on purpose (test)")
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try encoder.encode(manifest(weights: names.weights, momentum: names.momentum))
            try NPYFile.replaceFile(named: HeadCheckpointManifest.fileName, in: folder, temporaryPrefix: prefix) { sink in
                try data.withUnsafeBytes { try sink($0) }
            }
        } catch {
            // A crash here would leave these files unreferenced; a failure removes them.
            for path in written { _ = unlink(path) }
            throw error
        }
        // The new checkpoint is durably in place: delete the arrays of the previous one and
        // temporaries an interrupted save left behind; nothing else.
        for name in previous where name != names.weights && name != names.momentum && name != HeadCheckpointManifest.fileName {
            _ = unlink(join(name))
        }
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where HeadCheckpointManifest.isTemporary(entry) {
            _ = unlink(join(entry))
        }
    }

    private func manifest(weights: String, momentum: String) -> HeadCheckpointManifest {
        HeadCheckpointManifest(
            format: HeadCheckpointManifest.currentFormat, iteration: iteration, classes: classes, dimension: dimension,
            sampleRate: sampleRate, samplerState: String(sampler.generator.state, radix: 16), seed: String(seed, radix: 16),
            memoryBudget: memoryBudget,
            head: .init(
                kind: head.kind.rawValue, scale: Double(head.scale), margin: Double(head.margin), m1: Double(head.m1), m2: Double(head.m2),
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
        let folder = NPYFile.folder(directory)
        let path = NPYFile.path(HeadCheckpointManifest.fileName, in: folder)
        let bytes = try NPYFile.readBytes(path: path)
        let m: HeadCheckpointManifest
        do {
            m = try JSONDecoder().decode(HeadCheckpointManifest.self, from: Data(bytes))
        } catch {
            throw LossKernelsError.unreadableFile(file: path, reason: "not a head checkpoint: \(error)")
        }
        func refuse(_ reason: String) -> LossKernelsError { .unreadableFile(file: path, reason: reason) }
        guard m.format == HeadCheckpointManifest.currentFormat else {
            throw refuse("format \(m.format) (this version reads \(HeadCheckpointManifest.currentFormat))")
        }
        guard let kind = MarginHead.Kind(rawValue: m.head.kind) else { throw refuse("unknown head kind '\(m.head.kind)'") }
        guard let gradient = MarginGradient(rawValue: m.head.gradient) else { throw refuse("unknown gradient '\(m.head.gradient)'") }
        guard let samplerState = UInt64(m.samplerState, radix: 16), let seed = UInt64(m.seed, radix: 16) else { throw refuse("bad sampler state or seed") }
        guard m.iteration >= 0, m.classes >= 1, m.dimension >= 1 else { throw refuse("iteration, classes or dimension out of range") }
        var arrays: [[Float]] = []
        for name in [m.weights, m.momentum] {
            guard NPYFile.isPlainFileName(name) else { throw refuse("'\(name)' is not a plain file name") }
            let file = NPYFile.path(name, in: folder)
            let array = try NPYFile.read(path: file)
            guard array.shape == [m.classes, m.dimension], case let .float32(values) = array.elements else {
                throw LossKernelsError.unreadableFile(
                    file: file, reason: "expected float32 of shape [\(m.classes), \(m.dimension)], found shape \(array.shape)")
            }
            arrays.append(values)
        }
        let head = MarginHead(
            kind: kind, scale: Float(m.head.scale), margin: Float(m.head.margin), m1: Float(m.head.m1), m2: Float(m.head.m2),
            m3: Float(m.head.m3), easyMargin: m.head.easyMargin, lambda: Float(m.head.lambda), gradient: gradient)
        let schedule = m.lambdaSchedule.map { LambdaSchedule(base: Float($0.base), gamma: Float($0.gamma), power: Float($0.power), minimum: Float($0.minimum)) }
        let optimizer = SGDOptions(
            learningRate: Float(m.optimizer.learningRate), momentum: Float(m.optimizer.momentum), weightDecay: Float(m.optimizer.weightDecay))
        var sampler = try ClassSampler(classes: m.classes, rate: m.sampleRate, seed: 0)
        sampler.generator.state = samplerState
        let d = m.dimension
        try self.init(
            engine: engine, classes: m.classes, dimension: d, head: head, optimizer: optimizer, seed: seed,
            state: State(iteration: m.iteration, sampler: sampler), lambdaSchedule: schedule, memoryBudget: m.memoryBudget,
            hasMomentum: true
        ) { tensor, rows, out in
            arrays[tensor == .weights ? 0 : 1].withUnsafeBufferPointer {
                out.baseAddress!.update(from: $0.baseAddress! + rows.lowerBound * d, count: out.count)
            }
        }
    }
}
