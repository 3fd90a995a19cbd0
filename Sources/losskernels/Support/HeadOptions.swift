import ArgumentParser
import LossKernels

extension MarginGradient: ExpressibleByArgument {}

/// The margin-head flags of `compute margin-softmax` and `bench margin-softmax` (shared/spec/CLI.md).
struct HeadOptions: ParsableArguments {
    enum HeadName: String, ExpressibleByArgument, CaseIterable {
        case normalized, cosface, arcface, combined, sphereface
        case largeMargin = "large-margin"
    }

    @Option(name: .long, help: "Head: normalized, cosface, arcface, combined, sphereface, large-margin (default cosface).")
    var head: HeadName?
    @Option(name: .long, parsing: .unconditional, help: "Scale s (default: the head's, 64; sphereface 1).")
    var scale: Float?
    @Option(name: .long, parsing: .unconditional, help: "Margin m (cosface 0.35, arcface 0.5; sphereface/large-margin: integer, 4; contrastive, triplet, triplet-mined: 1).")
    var margin: Float?
    @Option(name: .long, parsing: .unconditional, help: "Combined margin m1 (1).") var m1: Float?
    @Option(name: .long, parsing: .unconditional, help: "Combined margin m2 (0.3).") var m2: Float?
    @Option(name: .long, parsing: .unconditional, help: "Combined margin m3 (0.2).") var m3: Float?
    @Option(name: .customLong("lambda"), parsing: .unconditional, help: "sphereface/large-margin annealing weight λ (0).") var lambda: Float?
    @Flag(name: .long, help: "arcface: apply the margin only where cos θ > 0.") var easyMargin = false
    @Option(name: .long, help: "Target gradient: exact or detached (default exact).") var gradient: MarginGradient?
    @Option(name: .long, help: "Memory budget of the logits tile in MiB, 1…1048576 (default 128).") var memoryBudgetMb: Int?

    /// The head these flags describe; its options are checked by `MarginHead.validate()`.
    func makeHead() -> MarginHead {
        var h: MarginHead
        switch head ?? .cosface {
        case .normalized: h = .normalized()
        case .cosface: h = .cosFace()
        case .arcface: h = .arcFace()
        case .combined: h = .combined()
        case .sphereface: h = .sphereFace()
        case .largeMargin: h = .largeMargin()
        }
        if let scale { h.scale = scale }
        if let margin { h.margin = margin }
        if let m1 { h.m1 = m1 }
        if let m2 { h.m2 = m2 }
        if let m3 { h.m3 = m3 }
        if let lambda { h.lambda = lambda }
        h.easyMargin = easyMargin
        h.gradient = gradient ?? .exact
        return h
    }

    /// The largest `--memory-budget-mb` accepted (1 TiB).
    static let maximumMemoryBudgetMb = 1 << 20

    /// `--memory-budget-mb` in bytes, if given. Throws (exit 1) when it is outside 1…2^20 MiB.
    func memoryBudgetBytes() throws -> Int? {
        guard let mb = memoryBudgetMb else { return nil }
        guard (1...Self.maximumMemoryBudgetMb).contains(mb) else {
            throw CommandFailure(message: "option --memory-budget-mb = \(mb) is out of range (allowed: 1...\(Self.maximumMemoryBudgetMb) MiB)")
        }
        return mb << 20
    }
}
