/// Which of a head's `C×D` tensors to read.
enum HeadTensor {
    case weights, momentum
}

/// Where a training head's class weights `W` and momentum `V` (both `C×D`) live, and the step that
/// runs there: gather the sampled rows, run the margin head on them, apply the SGD update to those
/// rows in place. `classes == nil` means every class (no gather).
protocol HeadParameters: AnyObject {
    var backend: Backend { get }
    /// Runs one step and returns the per-row losses; `gradFeatures` receives `∂L/∂X` (`B×D`).
    func step(
        _ problem: MarginSoftmaxProblem, features: UnsafeBufferPointer<Float>, classes: [Int]?, optimizer: SGDOptions,
        gradFeatures: UnsafeMutableBufferPointer<Float>
    ) throws -> [Double]
    /// Calls `body` with rows `rows` of `tensor` (row-major, `rows.count × D`) on the host.
    func withRows<T>(_ tensor: HeadTensor, _ rows: Range<Int>, _ body: (UnsafeBufferPointer<Float>) throws -> T) throws -> T
}

/// `torch.optim.SGD`'s update of one row of `d` values: `g' = g + wd·w; v = μ·v + g'; w = w − lr·v`.
@inline(__always)
func sgdUpdateRow(
    weights w: UnsafeMutablePointer<Float>, momentum v: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>, count d: Int, _ o: SGDOptions
) {
    let (lr, mu, wd) = (o.learningRate, o.momentum, o.weightDecay)
    for k in 0..<d {
        let weight = w[k]
        let velocity = mu * v[k] + (g[k] + wd * weight)
        v[k] = velocity
        w[k] = weight - lr * velocity
    }
}
