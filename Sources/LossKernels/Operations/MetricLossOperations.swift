/// Pair, triplet and center losses on embeddings (docs/OPERATIONS.md, "Pair, triplet and center
/// losses"): the maths is `MetricLoss`'s; the CPU loops are `CPUMetricLosses`, the kernels
/// `OpenCLMetricLosses`. Each returns the per-row losses, reduced here.

/// Contrastive loss of pairs `a_i, b_i` (`B×D` each) with a similar/dissimilar flag per pair.
struct ContrastiveOperation: Operation {
    let loss: MetricLoss.Contrastive
    let left: UnsafeBufferPointer<Float>
    let right: UnsafeBufferPointer<Float>
    /// The shape of `right`, checked against `left`'s.
    let rightShape: (rows: Int, columns: Int)
    let similar: [Bool]
    let rows: Int
    let dimension: Int
    let reduction: LossReduction
    let gradOutput: [Float]?
    let gradLeft: UnsafeMutableBufferPointer<Float>
    let gradRight: UnsafeMutableBufferPointer<Float>

    var inputs: [OperationInput] {
        var inputs: [OperationInput] = [.host("left", left), .host("right", right)]
        if let gradOutput { inputs.append(OperationInput("gradOutput", .array(gradOutput), transfer: false)) }
        return inputs
    }
    var outputs: [OperationOutput] { [.host("gradLeft", gradLeft), .host("gradRight", gradRight)] }
    /// The flags read (4 bytes each) and the loss written.
    var otherBytes: Int { OperationWork.floats(rows + (reduction == .none ? rows : 1)) }

    func validate() throws {
        try Validation.requireSameShape("right", rows: rightShape.rows, columns: rightShape.columns, as: "left", rows, dimension)
        try Validation.requireNonEmpty("left", rows: rows, columns: dimension)
        try Validation.requireRowVector("similar", similar.count, rows: rows)
        guard loss.margin.isFinite, loss.margin >= 0 else {
            throw LossKernelsError.invalidOption(name: "margin", value: "\(loss.margin)", allowed: ">= 0 and finite")
        }
        try Validation.requireGradOutput(gradOutput, count: rows, reduction: reduction, per: "pair")
    }

    var rowScale: [Float] { MetricLoss.rowScales(rows: rows, reduction: reduction, gradOutput: gradOutput) }

    func runCPU(_ cpu: CPUContext) -> [Float] {
        let losses = CPUMetricLosses.contrastive(
            loss, left: left.baseAddress!, right: right.baseAddress!, similar: similar, rows: rows, dimension: dimension,
            rowScale: rowScale, gradLeft: gradLeft.baseAddress!, gradRight: gradRight.baseAddress!, threads: cpu.threads)
        return reduction.reduce(losses, meanDenominator: Double(rows))
    }

    func runOpenCL(_ device: OpenCLDevice, _ tensors: DeviceTensors) throws -> [Float] {
        let losses = try OpenCLMetricLosses.contrastive(
            device, loss, left: tensors["left"], right: tensors["right"], similar: similar, rows: rows,
            dimension: dimension, rowScale: rowScale, gradLeft: tensors["gradLeft"], gradRight: tensors["gradRight"])
        return reduction.reduce(losses, meanDenominator: Double(rows))
    }
}

/// Triplet margin loss of triplets `a_i, p_i, n_i` (`B×D` each).
struct TripletMarginOperation: Operation {
    let margin: Float
    /// The norm `p` as given (1 or 2; checked).
    let p: Int
    let eps: Float
    let swap: Bool
    let anchors: UnsafeBufferPointer<Float>
    let positives: UnsafeBufferPointer<Float>
    let negatives: UnsafeBufferPointer<Float>
    let positivesShape: (rows: Int, columns: Int)
    let negativesShape: (rows: Int, columns: Int)
    let rows: Int
    let dimension: Int
    let reduction: LossReduction
    let gradOutput: [Float]?
    let gradAnchors: UnsafeMutableBufferPointer<Float>
    let gradPositives: UnsafeMutableBufferPointer<Float>
    let gradNegatives: UnsafeMutableBufferPointer<Float>

    var inputs: [OperationInput] {
        var inputs: [OperationInput] = [.host("anchors", anchors), .host("positives", positives), .host("negatives", negatives)]
        if let gradOutput { inputs.append(OperationInput("gradOutput", .array(gradOutput), transfer: false)) }
        return inputs
    }
    var outputs: [OperationOutput] {
        [.host("gradAnchors", gradAnchors), .host("gradPositives", gradPositives), .host("gradNegatives", gradNegatives)]
    }
    /// The loss written.
    var otherBytes: Int { OperationWork.floats(reduction == .none ? rows : 1) }

    func validate() throws {
        try Validation.requireSameShape("positives", rows: positivesShape.rows, columns: positivesShape.columns, as: "anchors", rows, dimension)
        try Validation.requireSameShape("negatives", rows: negativesShape.rows, columns: negativesShape.columns, as: "anchors", rows, dimension)
        try Validation.requireNonEmpty("anchors", rows: rows, columns: dimension)
        guard margin.isFinite else { throw LossKernelsError.invalidOption(name: "margin", value: "\(margin)", allowed: "finite") }
        guard p == 1 || p == 2 else { throw LossKernelsError.invalidOption(name: "p", value: "\(p)", allowed: "1 or 2") }
        guard eps.isFinite, eps >= 0 else { throw LossKernelsError.invalidOption(name: "eps", value: "\(eps)", allowed: ">= 0 and finite") }
        try Validation.requireGradOutput(gradOutput, count: rows, reduction: reduction, per: "triplet")
    }

    var loss: MetricLoss.Triplet { MetricLoss.Triplet(margin: margin, norm: p == 1 ? .l1 : .l2, eps: eps, swap: swap) }
    var rowScale: [Float] { MetricLoss.rowScales(rows: rows, reduction: reduction, gradOutput: gradOutput) }

    func runCPU(_ cpu: CPUContext) -> [Float] {
        let losses = CPUMetricLosses.triplet(
            loss, anchors: anchors.baseAddress!, positives: positives.baseAddress!, negatives: negatives.baseAddress!,
            rows: rows, dimension: dimension, rowScale: rowScale, gradAnchors: gradAnchors.baseAddress!,
            gradPositives: gradPositives.baseAddress!, gradNegatives: gradNegatives.baseAddress!, threads: cpu.threads)
        return reduction.reduce(losses, meanDenominator: Double(rows))
    }

    func runOpenCL(_ device: OpenCLDevice, _ tensors: DeviceTensors) throws -> [Float] {
        let losses = try OpenCLMetricLosses.triplet(
            device, loss, anchors: tensors["anchors"], positives: tensors["positives"], negatives: tensors["negatives"],
            rows: rows, dimension: dimension, rowScale: rowScale, gradAnchors: tensors["gradAnchors"],
            gradPositives: tensors["gradPositives"], gradNegatives: tensors["gradNegatives"])
        return reduction.reduce(losses, meanDenominator: Double(rows))
    }
}

/// Center loss of features `x_i` (`B×D`) with labels against class centers (`C×D`), and the
/// centers after one update step.
struct CenterLossOperation: Operation {
    let loss: MetricLoss.Center
    let features: UnsafeBufferPointer<Float>
    let centers: UnsafeBufferPointer<Float>
    let labels: [Int]
    let rows: Int
    let classes: Int
    let dimension: Int
    /// The width of `centers` (checked against `dimension`).
    let centerColumns: Int
    let gradFeatures: UnsafeMutableBufferPointer<Float>
    let updatedCenters: UnsafeMutableBufferPointer<Float>

    var inputs: [OperationInput] { [.host("features", features), .host("centers", centers)] }
    var outputs: [OperationOutput] { [.host("gradFeatures", gradFeatures), .host("updatedCenters", updatedCenters)] }
    /// The labels read and the loss written.
    var otherBytes: Int { OperationWork.labels(rows) + OperationWork.floats(1) }

    func validate() throws {
        try Validation.requireNonEmpty("features", rows: rows, columns: dimension)
        guard classes > 0 else {
            throw LossKernelsError.shapeMismatch(tensor: "centers", expected: "at least one class (row)", actual: Validation.shape(classes, centerColumns))
        }
        guard centerColumns == dimension else {
            throw LossKernelsError.shapeMismatch(
                tensor: "centers", expected: "[\(classes), \(dimension)] (the width of features)", actual: Validation.shape(classes, centerColumns))
        }
        try Validation.requireLabels(labels, rows: rows, classes: classes)
        try Validation.requireOption("alpha", loss.alpha, in: 0...1)
    }

    func runCPU(_ cpu: CPUContext) -> Float {
        let classRows = MetricLoss.Center.classRows(labels: labels, classes: classes)
        let losses = CPUMetricLosses.center(
            loss, features: features.baseAddress!, labels: labels, centers: centers.baseAddress!, rows: rows, classes: classes,
            dimension: dimension, classRows: classRows, gradFeatures: gradFeatures.baseAddress!,
            updatedCenters: updatedCenters.baseAddress!, threads: cpu.threads)
        return MetricLoss.Center.loss(rowSquaredDistances: losses)
    }

    func runOpenCL(_ device: OpenCLDevice, _ tensors: DeviceTensors) throws -> Float {
        let classRows = MetricLoss.Center.classRows(labels: labels, classes: classes)
        let losses = try OpenCLMetricLosses.center(
            device, loss, features: tensors["features"], labels: labels, centers: tensors["centers"], rows: rows,
            classes: classes, dimension: dimension, classRows: classRows, gradFeatures: tensors["gradFeatures"],
            updatedCenters: tensors["updatedCenters"])
        return MetricLoss.Center.loss(rowSquaredDistances: losses)
    }
}
