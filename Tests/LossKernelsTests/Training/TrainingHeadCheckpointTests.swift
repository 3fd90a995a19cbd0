import Foundation
import Testing

@testable import LossKernels

/// Checkpoints: a resumed head continues bit for bit, and an interrupted save leaves the previous
/// checkpoint intact.
@Suite struct TrainingHeadCheckpointTests {
    /// Train k steps, save, train on; a head loaded from the checkpoint takes bitwise the same next
    /// steps (loss, ∂L/∂X, W, V, sampler), on both backends, with sampling and λ annealing.
    @Test(arguments: Backends.all, [MarginHead.arcFace(scale: 16), .sphereFace()])
    func resumeEqualsUninterruptedRun(backend: TestBackend, head: MarginHead) throws {
        let engine = try Backends.engine(for: backend)
        var rng = TestRNG(seed: 81)
        let (b, c, d) = (8, 120, 6)
        let batches = (0..<6).map { _ in TrainingTestSupport.batch(rows: b, d: d, classes: c, rng: &rng) }
        let schedule = head.kind == .sphereFace ? LambdaSchedule(base: 50, gamma: 0.3) : nil
        let original = try MarginSoftmaxHead(
            engine: engine, classes: c, dimension: d, head: head,
            optimizer: SGDOptions(learningRate: 0.2, momentum: 0.8, weightDecay: 1e-3),
            sampleRate: 0.3, seed: 17, lambdaSchedule: schedule)
        for batch in batches[0..<3] { _ = try original.step(features: batch.features, labels: batch.labels, learningRate: 0.15) }
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try original.save(checkpoint: folder)
        let resumed = try MarginSoftmaxHead(engine: engine, checkpoint: folder)
        #expect(resumed.iteration == 3)
        #expect(resumed.sampler == original.sampler)
        #expect(resumed.head == original.head)
        #expect(resumed.optimizer == original.optimizer)
        #expect(resumed.lambdaSchedule == original.lambdaSchedule)
        for (n, batch) in batches[3...].enumerated() {
            let a = try original.step(features: batch.features, labels: batch.labels)
            let r = try resumed.step(features: batch.features, labels: batch.labels)
            expectBitwiseEqual([a.loss], [r.loss], "\(backend) \(head.kind) step \(3 + n) loss")
            expectBitwiseEqual(a.gradFeatures.values, r.gradFeatures.values, "\(backend) \(head.kind) step \(3 + n) ∂L/∂X")
        }
        expectBitwiseEqual(try original.weights().values, try resumed.weights().values, "\(backend) W after resume")
        expectBitwiseEqual(try original.momentum().values, try resumed.momentum().values, "\(backend) V after resume")
        #expect(original.sampler == resumed.sampler)
    }

    /// A save that fails before committing leaves the previous checkpoint loadable and unchanged,
    /// and no stray files; a later successful save replaces it and removes the old arrays.
    @Test func interruptedSaveKeepsThePreviousCheckpoint() throws {
        let engine = Backends.cpuEngine
        var rng = TestRNG(seed: 82)
        let (b, c, d) = (4, 30, 3)
        let head = try MarginSoftmaxHead(engine: engine, classes: c, dimension: d, head: .cosFace(), sampleRate: 0.5, seed: 2)
        let batch = TrainingTestSupport.batch(rows: b, d: d, classes: c, rng: &rng)
        _ = try head.step(features: batch.features, labels: batch.labels)
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try head.save(checkpoint: folder)
        let savedWeights = try head.weights(), savedMomentum = try head.momentum(), savedSampler = head.sampler
        let filesAfterFirstSave = Set(try FileManager.default.contentsOfDirectory(atPath: folder))
        #expect(filesAfterFirstSave.count == 3, "\(filesAfterFirstSave)")

        _ = try head.step(features: batch.features, labels: batch.labels)
        #expect(throws: LossKernelsError.self) { try head.save(checkpoint: folder, fault: .beforeManifest) }
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: folder)) == filesAfterFirstSave)
        let restored = try MarginSoftmaxHead(engine: engine, checkpoint: folder)
        #expect(restored.iteration == 1)
        #expect(restored.sampler == savedSampler)
        expectBitwiseEqual(try restored.weights().values, savedWeights.values, "W of the previous checkpoint")
        expectBitwiseEqual(try restored.momentum().values, savedMomentum.values, "V of the previous checkpoint")

        try head.save(checkpoint: folder)
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: folder))
        #expect(files.count == 3 && files.isDisjoint(with: filesAfterFirstSave.subtracting(["checkpoint.json"])), "\(files)")
        #expect(try MarginSoftmaxHead(engine: engine, checkpoint: folder).iteration == 2)
    }

    /// Saving deletes only the arrays the previous `checkpoint.json` named and its own leftover
    /// temporaries: a user's `weights-final.npy`, `momentum-user.npy` and other files in the
    /// checkpoint folder survive two saves unchanged.
    @Test func savingKeepsOtherFilesInTheFolder() throws {
        let engine = Backends.cpuEngine
        var rng = TestRNG(seed: 83)
        let (b, c, d) = (4, 9, 3)
        let head = try MarginSoftmaxHead(engine: engine, classes: c, dimension: d, head: .cosFace(), seed: 3)
        let batch = TrainingTestSupport.batch(rows: b, d: d, classes: c, rng: &rng)
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let userWeights = NPYArray(shape: [2, 2], float32: (0..<4).map { _ in Float(rng.normal()) })
        let userMomentum = NPYArray(shape: [3], float32: (0..<3).map { _ in Float(rng.normal()) })
        try NPYFile.writeAll([("weights-final.npy", userWeights), ("momentum-user.npy", userMomentum)], to: folder)
        try "mine".write(toFile: folder + "/.checkpoint-notes.tmp", atomically: false, encoding: .utf8)
        let leftover = folder + "/.checkpoint-\(UUID().uuidString).tmp"   // as an interrupted save leaves it
        try "partial".write(toFile: leftover, atomically: false, encoding: .utf8)

        try head.save(checkpoint: folder)
        let first = Set(try FileManager.default.contentsOfDirectory(atPath: folder))
        _ = try head.step(features: batch.features, labels: batch.labels)
        try head.save(checkpoint: folder + "/")

        let files = Set(try FileManager.default.contentsOfDirectory(atPath: folder))
        let foreign: Set<String> = ["weights-final.npy", "momentum-user.npy", ".checkpoint-notes.tmp"]
        #expect(foreign.isSubset(of: files), "\(files)")
        #expect(try NPYFile.read(path: folder + "/weights-final.npy") == userWeights)
        #expect(try NPYFile.read(path: folder + "/momentum-user.npy") == userMomentum)
        #expect(try String(contentsOfFile: folder + "/.checkpoint-notes.tmp", encoding: .utf8) == "mine")
        #expect(!FileManager.default.fileExists(atPath: leftover))
        // Besides them: checkpoint.json and the two new arrays; the first save's arrays are gone.
        let own = files.subtracting(foreign)
        #expect(own.count == 3 && own.contains("checkpoint.json") && own.isDisjoint(with: first.subtracting(["checkpoint.json"])), "\(files)")
        let restored = try MarginSoftmaxHead(engine: engine, checkpoint: folder)
        #expect(restored.iteration == 1)
        expectBitwiseEqual(try restored.weights().values, try head.weights().values, "W after the second save")
    }

    /// Missing or malformed checkpoints are refused with the file named.
    @Test func badCheckpointsAreRefused() throws {
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func expectUnreadable(_ context: String, naming name: String) {
            do {
                _ = try MarginSoftmaxHead(engine: Backends.cpuEngine, checkpoint: folder)
                Issue.record("\(context): loaded")
            } catch let LossKernelsError.unreadableFile(file, _) {
                #expect(file.hasSuffix(name), "\(context): \(file)")
            } catch {
                Issue.record("\(context): \(error)")
            }
        }
        expectUnreadable("no folder", naming: "checkpoint.json")
        let head = try MarginSoftmaxHead(engine: Backends.cpuEngine, classes: 5, dimension: 2, head: .cosFace())
        try head.save(checkpoint: folder)
        let manifestPath = folder + "/checkpoint.json"
        let manifest = try String(contentsOfFile: manifestPath, encoding: .utf8)
        let weightsName = try #require(try FileManager.default.contentsOfDirectory(atPath: folder).first { $0.hasPrefix("weights-") })
        try NPYFile.writeAll([(weightsName, NPYArray(shape: [4, 2], float32: [Float](repeating: 0, count: 8)))], to: folder)
        expectUnreadable("weights of the wrong shape", naming: weightsName)
        try "{\"format\": 1}".write(toFile: manifestPath, atomically: true, encoding: .utf8)
        expectUnreadable("truncated manifest", naming: "checkpoint.json")
        try manifest.replacingOccurrences(of: "\"format\" : 1", with: "\"format\" : 9").write(toFile: manifestPath, atomically: true, encoding: .utf8)
        expectUnreadable("future format", naming: "checkpoint.json")
    }
}
