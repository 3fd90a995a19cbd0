import Foundation
import LossKernels

/// The learnable task of `losskernels train`: class `c` has a fixed prototype `p_c`, a unit vector
/// of `D` standard normals; a sample of class `c` is `x = p_c + σ·n` with `n ~ N(0, I/D)` (so
/// `‖σ·n‖ ≈ σ`). Nothing is stored: prototypes and samples are regenerated from the seed, so
/// millions of classes cost no memory.
///
/// - The training split has `size` samples; sample `i` has class `i mod C` (balanced) and its own
///   fixed noise. Each epoch visits it in a seeded shuffled order.
/// - The held-out split draws its classes uniformly from those the training split holds
///   (`0..<min(C, size)`: a class never trained on cannot be recognised) and its noise from another
///   stream.
struct SyntheticTask {
    let classes: Int
    let dimension: Int
    let seed: UInt64
    let noise: Float
    let trainingSize: Int

    enum Stream: UInt64 {
        case prototype = 1, training = 2, heldOut = 3, heldOutLabel = 4, shuffle = 5
    }

    /// An independent generator for (stream, index).
    func generator(_ stream: Stream, _ index: Int) -> SplitMix64 {
        var mixer = SplitMix64(seed: seed ^ (stream.rawValue &* 0xD1B5_4A32_D192_ED03) ^ (UInt64(index) &* 0xA24B_AED4_963E_E407))
        return SplitMix64(seed: mixer.next())
    }

    /// A standard normal (Box–Muller).
    static func normal(_ g: inout SplitMix64) -> Float {
        let u1 = (Double(g.next() >> 11) + 1) * 0x1p-53, u2 = Double(g.next() >> 11) * 0x1p-53
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }

    func sample(label: Int, noiseGenerator g: inout SplitMix64, into out: UnsafeMutableBufferPointer<Float>) {
        var p = generator(.prototype, label)
        var norm: Float = 0
        for k in 0..<dimension {
            out[k] = Self.normal(&p)
            norm += out[k] * out[k]
        }
        let inverse = 1 / max(norm.squareRoot(), 1e-12), sigma = noise / Float(dimension).squareRoot()
        for k in 0..<dimension { out[k] = out[k] * inverse + sigma * Self.normal(&g) }
    }

    /// Training samples `indices` as a batch.
    func trainingBatch(_ indices: [Int]) -> (features: Matrix, labels: [Int]) {
        var features = Matrix(rows: indices.count, columns: dimension, repeating: 0)
        let labels = indices.map { $0 % classes }
        features.values.withUnsafeMutableBufferPointer { buffer in
            for (row, i) in indices.enumerated() {
                var g = generator(.training, i)
                sample(label: labels[row], noiseGenerator: &g, into: UnsafeMutableBufferPointer(rebasing: buffer[row * dimension..<(row + 1) * dimension]))
            }
        }
        return (features, labels)
    }

    /// The classes the training split holds: `0..<min(C, size)`.
    var coveredClasses: Int { min(classes, trainingSize) }

    /// The first `count` held-out samples.
    func heldOut(_ count: Int) -> (features: Matrix, labels: [Int]) {
        var features = Matrix(rows: count, columns: dimension, repeating: 0)
        var labels = [Int](repeating: 0, count: count)
        features.values.withUnsafeMutableBufferPointer { buffer in
            for i in 0..<count {
                var l = generator(.heldOutLabel, i)
                labels[i] = Int(l.next() % UInt64(coveredClasses))
                var g = generator(.heldOut, i)
                sample(label: labels[i], noiseGenerator: &g, into: UnsafeMutableBufferPointer(rebasing: buffer[i * dimension..<(i + 1) * dimension]))
            }
        }
        return (features, labels)
    }

    /// The order in which epoch `epoch` visits the training split (Fisher–Yates, seeded).
    func order(epoch: Int) -> [Int] {
        var order = Array(0..<trainingSize)
        var g = generator(.shuffle, epoch)
        for i in stride(from: trainingSize - 1, to: 0, by: -1) {
            order.swapAt(i, Int(g.next() % UInt64(i + 1)))
        }
        return order
    }
}
