import Foundation
import LossKernels

/// The float64 reference of the margin heads, written from docs/OPERATIONS.md's table: the full
/// `B×C` logits, softmax cross-entropy, reduction. Its gradients are central differences of this
/// loss (small shapes only), so nothing here repeats the library's derivation.
package enum HeadLossReference {
    package struct Problem {
        package var x: [Double]   // B×D
        package var w: [Double]   // C×D
        package var labels: [Int]
        package var b: Int, c: Int, d: Int
        package var head: MarginHead
        package var reduction: LossReduction = .mean
        package var gradOutput: [Double]? = nil

        package init(
            x: [Double], w: [Double], labels: [Int], b: Int, c: Int, d: Int, head: MarginHead,
            reduction: LossReduction = .mean, gradOutput: [Double]? = nil
        ) {
            (self.x, self.w, self.labels, self.b, self.c, self.d) = (x, w, labels, b, c, d)
            (self.head, self.reduction, self.gradOutput) = (head, reduction, gradOutput)
        }
    }

    package static func norm(_ v: ArraySlice<Double>) -> Double { (v.reduce(0) { $0 + $1 * $1 }).squareRoot() }

    /// The target's margin function of the cosine, from the spec's table (exact value).
    package static func targetLogit(_ head: MarginHead, c: Double, xNorm: Double, wNorm: Double) -> Double {
        let s = Double(head.scale), m = Double(head.margin)
        let theta = acos(c)
        switch head.kind {
        case .normalized: return s * c
        case .cosFace: return s * (c - m)
        case .arcFace:
            if head.easyMargin { return c > 0 ? s * cos(theta + m) : s * c }
            return theta + m <= Double.pi ? s * cos(theta + m) : s * (c - m * sin(m))
        case .combined: return s * (cos(Double(head.m1) * theta + Double(head.m2)) - Double(head.m3))
        case .sphereFace, .largeMargin:
            let mi = Int(head.margin), l = Double(head.lambda)
            var k = Int(floor(Double(mi) * theta / Double.pi))
            k = min(max(k, 0), mi - 1)
            let psi = (k % 2 == 0 ? 1.0 : -1.0) * cos(Double(mi) * theta) - 2 * Double(k)
            let f = (psi + l * c) / (1 + l)
            return head.kind == .sphereFace ? s * xNorm * f : wNorm * xNorm * f
        }
    }

    package static func nonTargetLogit(_ head: MarginHead, c: Double, xNorm: Double, wNorm: Double) -> Double {
        switch head.kind {
        case .sphereFace: return Double(head.scale) * xNorm * c
        case .largeMargin: return wNorm * xNorm * c
        default: return Double(head.scale) * c
        }
    }

    /// Per-row losses.
    package static func rowLosses(_ p: Problem) -> [Double] {
        var losses: [Double] = []
        for i in 0..<p.b {
            let xi = p.x[(i * p.d)..<((i + 1) * p.d)]
            let xn = norm(xi), xd = max(xn, 1e-12)
            var z = [Double](repeating: 0, count: p.c)
            for j in 0..<p.c {
                let wj = p.w[(j * p.d)..<((j + 1) * p.d)]
                let wn = norm(wj), wd = max(wn, 1e-12)
                var dot = 0.0
                for k in 0..<p.d { dot += xi[xi.startIndex + k] * wj[wj.startIndex + k] }
                let c = min(max(dot / (xd * wd), -1), 1)
                z[j] = j == p.labels[i] ? targetLogit(p.head, c: c, xNorm: xn, wNorm: wn) : nonTargetLogit(p.head, c: c, xNorm: xn, wNorm: wn)
            }
            let m = z.max()!
            let lse = m + log(z.reduce(0) { $0 + exp($1 - m) })
            losses.append(lse - z[p.labels[i]])
        }
        return losses
    }

    /// The reduced loss (with `gradOutput` as weights for `.none`, so its gradient is the VJP).
    package static func loss(_ p: Problem) -> Double {
        let l = rowLosses(p)
        switch p.reduction {
        case .mean: return l.reduce(0, +) / Double(p.b)
        case .sum: return l.reduce(0, +)
        case .none: return zip(l, p.gradOutput ?? [Double](repeating: 1, count: p.b)).reduce(0) { $0 + $1.0 * $1.1 }
        }
    }

    /// Central-difference gradients of `loss` with respect to X and W.
    package static func numericalGradients(_ p: Problem, step: Double = 1e-6) -> (dx: [Double], dw: [Double]) {
        centralDifferences(p, step: step, loss)
    }

    /// Central differences of `objective` at every entry of X and of W, with the step
    /// `step·max(1, |value|)`.
    package static func centralDifferences(_ p: Problem, step: Double, _ objective: (Problem) -> Double) -> (dx: [Double], dw: [Double]) {
        var q = p
        func derivative(_ entry: WritableKeyPath<Problem, [Double]>, _ k: Int) -> Double {
            let value = p[keyPath: entry][k], h = step * max(1, abs(value))
            q[keyPath: entry][k] = value + h; let up = objective(q)
            q[keyPath: entry][k] = value - h; let down = objective(q)
            q[keyPath: entry][k] = value
            return (up - down) / (2 * h)
        }
        return (p.x.indices.map { derivative(\.x, $0) }, p.w.indices.map { derivative(\.w, $0) })
    }
}
