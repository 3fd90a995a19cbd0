/// Elementwise losses on an OpenCL device (Kernels/elementwise_loss.cl): one grid-stride kernel
/// writes every element's loss and derivative (`lk_elementwise_loss`, or `lk_weighted_bce_with_logits`
/// for BCE with element and positive weights). Callers hold the device's exclusive access.
enum OpenCLElementwiseLoss {
    /// The device side of `ElementWeights`: the buffers given and how the element weights are laid out.
    struct Weights {
        let weight: OpenCLBuffer?
        let layoutCode: Int32
        let posWeight: OpenCLBuffer?
        let columns: Int

        init(_ weights: ElementWeights, weight: OpenCLBuffer?, posWeight: OpenCLBuffer?) {
            self.weight = weight
            self.layoutCode = weights.layoutCode
            self.posWeight = posWeight
            self.columns = weights.columns
        }
    }

    /// Writes ∂loss/∂input (scaled as `loss.scale`, times the upstream value when `gradOutput` is
    /// given) into `gradient` and each element's loss into `losses` when given; returns Σ loss
    /// (summed on the device) when `losses` is nil, else 0. `weights` is read by the weighted BCE.
    static func run(
        _ device: OpenCLDevice, _ loss: ElementwiseLoss, input: OpenCLBuffer, targets: OpenCLBuffer, gradOutput: OpenCLBuffer?, count: Int,
        gradient: OpenCLBuffer, losses: OpenCLBuffer?, weights: Weights? = nil
    ) throws -> Double {
        let perElement = try losses ?? device.scratch("elementwise.losses", count: count)
        let scale = Float(loss.scale(count: count))
        if loss.kind == .weightedBinaryCrossEntropyWithLogits {
            let columns = max(1, weights?.columns ?? count)
            try device.launch(
                "lk_weighted_bce_with_logits", global: [columns, count / columns],
                [
                    .buffer(input), .buffer(targets), .uint64(count / columns), .uint64(columns),
                    .buffer(weights?.weight ?? input), .int32(weights?.weight == nil ? 0 : weights!.layoutCode),
                    .buffer(weights?.posWeight ?? input), .int32(weights?.posWeight == nil ? 0 : 1), .float(scale),
                    .buffer(gradOutput ?? input), .int32(gradOutput == nil ? 0 : 1), .buffer(perElement), .buffer(gradient),
                ])
        } else {
            try device.launch(
                "lk_elementwise_loss", global: [count],
                [
                    .buffer(input), .buffer(targets), .uint64(count), .int32(loss.kind.code), .float(loss.firstParameter), .float(loss.alpha),
                    .float(scale), .buffer(gradOutput ?? input), .int32(gradOutput == nil ? 0 : 1),
                    .buffer(perElement), .buffer(gradient),
                ])
        }
        guard losses == nil else { return 0 }
        return Double(try OpenCLReductions.reduce(device, .sum, .all, perElement, rows: 1, columns: count).values[0])
    }
}
