/// A loss of device-resident inputs: its value on the host, its gradient on the device.
public struct DeviceLossOutput: Sendable {
    /// One value for `.mean`/`.sum`; one per row for `.none`.
    public let loss: [Float]
    /// ∂loss/∂input, the input's shape, on the input's device.
    public let gradient: DeviceMatrix
}

/// A margin-softmax head whose class weights are device-resident.
public struct DeviceMarginSoftmaxOutput: Sendable {
    /// One value for `.mean`/`.sum`; one per row for `.none`.
    public let loss: [Float]
    /// ∂L/∂features, `B×D`, on the host.
    public let gradFeatures: Matrix
    /// ∂L/∂classWeights, `C×D`, on the class weights' device.
    public let gradClassWeights: DeviceMatrix
}

/// Softmax losses and margin heads on device-resident data: a GPU pipeline keeps its logits or
/// class weights on the device, and the call moves only labels, per-row values and (for the
/// head) the features and ∂L/∂X. The maths, options and errors are those of the host forms.
extension Engine {
    /// Cross-entropy of device-resident logits (`B×C`); see
    /// `crossEntropy(logits:labels:classWeights:ignoreIndex:labelSmoothing:reduction:gradOutput:)`.
    /// The gradient stays on the logits' device.
    public func crossEntropy(
        logits: DeviceMatrix, labels: [Int], classWeights: [Float]? = nil, ignoreIndex: Int = -100,
        labelSmoothing: Float = 0, reduction: LossReduction = .mean, gradOutput: [Float]? = nil
    ) throws -> DeviceLossOutput {
        let loss = CrossEntropyLoss(
            labels: labels, classes: logits.columns, classWeights: classWeights, ignoreIndex: ignoreIndex,
            labelSmoothing: labelSmoothing, reduction: reduction, gradOutput: gradOutput)
        return try residentLoss(loss, logits)
    }

    /// Softmax focal loss of device-resident logits (`B×C`); see
    /// `focalLoss(logits:labels:gamma:alpha:reduction:gradOutput:)`. The gradient stays on the
    /// logits' device.
    public func focalLoss(
        logits: DeviceMatrix, labels: [Int], gamma: Float = 2, alpha: FocalAlpha = .scalar(1),
        reduction: LossReduction = .mean, gradOutput: [Float]? = nil
    ) throws -> DeviceLossOutput {
        try residentLoss(FocalLoss(labels: labels, gamma: gamma, alpha: alpha, reduction: reduction, gradOutput: gradOutput), logits)
    }

    private func residentLoss(_ loss: some RowSoftmaxLoss, _ logits: DeviceMatrix) throws -> DeviceLossOutput {
        let operation = SoftmaxLossOperation(
            loss: loss, logits: logits.storage, gradient: .device(count: logits.count), rows: logits.rows, columns: logits.columns)
        let outcome = try run(operation)
        guard let gradient = outcome.deviceOutputs["gradient"] else { preconditionFailure("a device-resident loss returns its gradient on the device") }
        return DeviceLossOutput(loss: outcome.result, gradient: DeviceMatrix(rows: logits.rows, columns: logits.columns, buffer: gradient))
    }

    /// A margin-softmax head with device-resident class weights `W` (`C×D`); see
    /// `marginSoftmax(features:classWeights:labels:head:reduction:gradOutput:memoryBudget:)`.
    /// The features (`B×D`) are uploaded and ∂L/∂X read back; ∂L/∂W stays on W's device.
    public func marginSoftmax(
        features: Matrix, classWeights: DeviceMatrix, labels: [Int], head: MarginHead,
        reduction: LossReduction = .mean, gradOutput: [Float]? = nil, memoryBudget: Int? = nil
    ) throws -> DeviceMarginSoftmaxOutput {
        let gradFeatures = OutputArray(count: features.count)
        let (loss, gradClassWeights): ([Float], OpenCLBuffer?) = try withHostBuffers([features.values], [gradFeatures]) { x, dx in
            let outcome = try run(
                MarginSoftmaxOperation(
                    features: .host(x[0]), classWeights: classWeights.storage, rows: features.rows, classes: classWeights.rows,
                    dimension: features.columns, labels: labels, head: head, reduction: reduction, gradOutput: gradOutput,
                    memoryBudget: memoryBudget ?? MarginSoftmaxProblem.defaultMemoryBudget,
                    gradFeatures: .host(dx[0]), gradClassWeights: .device(count: classWeights.count)))
            return (outcome.result, outcome.deviceOutputs["gradClassWeights"])
        }
        guard let gradClassWeights else { preconditionFailure("a device-resident head returns ∂L/∂W on the device") }
        return DeviceMarginSoftmaxOutput(
            loss: loss, gradFeatures: gradFeatures.matrix(rows: features.rows, columns: features.columns),
            gradClassWeights: DeviceMatrix(rows: classWeights.rows, columns: classWeights.columns, buffer: gradClassWeights))
    }
}
