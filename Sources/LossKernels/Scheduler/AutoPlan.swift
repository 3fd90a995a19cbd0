import Foundation

extension CallCost {
    /// A softmax (or log-softmax) of host logits `B×C`: logits read, probabilities written, both
    /// crossing the bus on a device (`SoftmaxForwardOperation`'s cost).
    /// - Parameters:
    ///   - rows: B.
    ///   - columns: C.
    /// - Returns: the call's cost.
    package static func softmax(rows: Int, columns: Int) -> CallCost {
        let tensor = OperationWork.floats(rows * columns)
        return CallCost(work: OperationWork(bytes: 2 * tensor), bytesToDevice: tensor, bytesFromDevice: tensor)
    }

    /// The same softmax on logits already on the device, its result left there (`DeviceMatrix`):
    /// nothing crosses the bus.
    /// - Parameters:
    ///   - rows: B.
    ///   - columns: C.
    /// - Returns: the call's cost, `resident`.
    package static func residentSoftmax(rows: Int, columns: Int) -> CallCost {
        CallCost(work: OperationWork(bytes: 2 * OperationWork.floats(rows * columns)), bytesToDevice: 0, bytesFromDevice: 0, resident: true)
    }

    /// Cross-entropy with class labels and the mean reduction on host logits `B×C`, gradient
    /// written (`SoftmaxLossOperation`'s cost): logits and labels go up, the gradient comes back.
    /// - Parameters:
    ///   - rows: B.
    ///   - columns: C.
    /// - Returns: the call's cost.
    package static func crossEntropy(rows: Int, columns: Int) -> CallCost {
        let tensor = OperationWork.floats(rows * columns), other = OperationWork.labels(rows) + OperationWork.floats(1)
        return CallCost(work: OperationWork(bytes: 2 * tensor + other), bytesToDevice: tensor + other, bytesFromDevice: tensor)
    }

    /// A margin-softmax head on host features `B×D` and class weights `C×D`, mean reduction
    /// (`MarginSoftmaxOperation`'s cost): X, W and labels go up, ∂L/∂X and ∂L/∂W come back; the
    /// three GEMMs, `3·2·B·C·D` FLOPs.
    /// - Parameters:
    ///   - rows: B.
    ///   - dimension: D.
    ///   - classes: C.
    /// - Returns: the call's cost.
    package static func marginSoftmax(rows: Int, dimension: Int, classes: Int) -> CallCost {
        let tensors = OperationWork.floats(rows * dimension + classes * dimension)
        let other = OperationWork.labels(rows) + OperationWork.floats(1)
        return CallCost(
            work: OperationWork(bytes: 2 * tensors + other, flops: 3 * 2 * rows * classes * dimension), bytesToDevice: tensors + other,
            bytesFromDevice: tensors)
    }

    /// One training step of a `MarginSoftmaxHead` whose class weights and momentum stay where the
    /// head lives (`MarginSoftmaxHead.stepWork`): per step only the features and labels (and the
    /// sampled class indices) go up and ∂L/∂X and the per-row losses come back.
    /// - Parameters:
    ///   - rows: B.
    ///   - dimension: D.
    ///   - classes: C.
    ///   - sampleRate: the Partial-FC rate r; ⌈r·C⌉ classes are used.
    /// - Returns: the step's cost, `resident`.
    package static func trainingStep(rows: Int, dimension: Int, classes: Int, sampleRate: Double = 1) -> CallCost {
        let sampled = min(classes, max(1, Int((sampleRate * Double(classes)).rounded(.up))))
        let features = OperationWork.floats(rows * dimension)
        let indices = sampled < classes ? OperationWork.labels(sampled) : 0
        return CallCost(
            work: MarginSoftmaxHead.stepWork(rows: rows, sampledClasses: sampled, dimension: dimension),
            bytesToDevice: features + OperationWork.labels(rows) + indices, bytesFromDevice: features + OperationWork.floats(rows), resident: true)
    }
}

/// What `auto` would do with one call, and why (`losskernels devices`).
package struct AutoPlan: Sendable {
    /// The backend the call would run on.
    package var backend: Backend
    /// The OpenCL device `auto` considered, if any.
    package var device: OpenCLDeviceInfo?
    /// The estimated CPU and device times, when ceilings were known.
    package var estimate: CostEstimate?
    /// The ceilings the estimate used.
    package var ceilings: CostCeilings?
    /// Where they came from.
    package var origin: CeilingsOrigin
    /// One sentence: why this backend.
    package var reason: String
}

extension Engine {
    /// What `auto` would do with a call of cost `cost` (under this engine's policy), without
    /// running it.
    /// - Parameters:
    ///   - cost: the call.
    ///   - probe: whether missing ceilings may be measured now (as the first large call would);
    ///     false decides from the cache or the static rule only.
    /// - Returns: the backend, the device considered, the estimates and the reason.
    package func autoPlan(for cost: CallCost, probe: Bool) -> AutoPlan {
        switch policy {
        case .cpu:
            return AutoPlan(backend: .cpu, origin: .none, reason: "the cpu policy never uses OpenCL")
        case .opencl:
            let device = selectedOpenCLDevice
            return AutoPlan(
                backend: device == nil ? .cpu : .opencl, device: device, origin: .none,
                reason: device == nil ? "no OpenCL device (the call would fail)" : "the opencl policy always uses the device")
        case .auto:
            break
        }
        guard let (index, info) = scheduler.automaticChoice() else {
            return AutoPlan(backend: .cpu, origin: .none, reason: "no OpenCL device auto may use")
        }
        if !cost.resident, cost.work.values < offloadMinimumElements {
            return AutoPlan(
                backend: .cpu, device: info, origin: .none,
                reason: "moves \(cost.work.values) values, under LOSSKERNELS_OFFLOAD_MIN_ELEMENTS = \(offloadMinimumElements)")
        }
        let decision = scheduler.decide(cost, index: index, info: info, probe: probe)
        let backend: Backend = decision.deviceWins ? .opencl : .cpu
        let reason: String
        if let estimate = decision.estimate {
            let (cpu, gpu) = (Self.milliseconds(estimate.cpuSeconds), Self.milliseconds(estimate.deviceSeconds))
            reason =
                decision.deviceWins
                ? "the device is estimated faster: \(gpu) vs \(cpu) on the CPU" : "the CPU is estimated faster: \(cpu) vs \(gpu) on the device"
        } else if decision.origin == .staticRule {
            reason =
                decision.deviceWins
                ? "static rule (LOSSKERNELS_AUTO_PROBE=0): a \(info.kind.rawValue) device takes calls past the threshold"
                : "static rule (LOSSKERNELS_AUTO_PROBE=0): a \(info.kind.rawValue)-type device never wins"
        } else {
            reason = "\(decision.problem ?? "not measured"): the call stays on the CPU"
        }
        return AutoPlan(backend: backend, device: info, estimate: decision.estimate, ceilings: decision.ceilings, origin: decision.origin, reason: reason)
    }

    private static func milliseconds(_ seconds: Double) -> String {
        seconds.isFinite ? String(format: "%.2f ms", seconds * 1e3) : "∞ (cannot run it)"
    }
}
