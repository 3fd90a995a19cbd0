// Pair, triplet and center losses (shared/spec/LOSSES.md "Pair, triplet and center losses"; the
// host side is OpenCLMetricLosses.swift, the maths MetricLoss in MetricLosses.swift). OpenCL C 1.2.
// Matrices are row-major B×D (C×D for centers); indices are ulong.
// - Contrastive, triplet, center rows: one work-item per row writes the row's loss (to a buffer the
//   host sums in row order) and its gradients, scaled by row_scale[i] (1/B, 1 or the upstream value).
//   Distance sums over D are Kahan-compensated and corrected for the rounding of each term.
// - Center update: one work-item per (component k, class j), looping over class j's rows in batch
//   order (a CSR list built on the host: class_offsets[C + 1], class_rows[B]). No atomics:
//   deterministic.

// Σ_k (x_k − y_k + eps)² (norm 2) or Σ_k |x_k − y_k + eps| (norm 1) as (sum, compensation), the
// exact value being ≈ sum − compensation. Each v = x − y + eps is formed in float with its
// rounding error e recovered exactly (two TwoSums), and the first-order error of each term
// (sign(v)·e, or v² − fl(v²) + 2v·e) goes into the compensation: the distance is then as exact as
// a double evaluation of the float inputs, so d(a,p) − d(a,n) near the hinge keeps its accuracy
// when the distances are large (norm 1, wide D).
inline float2 lk_metric_distance_sum(__global const float *x, __global const float *y, ulong dim, float eps, int norm) {
#pragma OPENCL FP_CONTRACT OFF
  float sum = 0.0f, comp = 0.0f, correction = 0.0f;
  for (ulong k = 0; k < dim; ++k) {
    const float xk = x[k], yk = y[k];
    const float d = xk - yk, bd = d - xk;
    const float ed = (xk - (d - bd)) + (-yk - bd);
    const float v = d + eps, bv = v - d;
    const float e = ed + ((d - (v - bv)) + (eps - bv));
    if (norm == LK_NORM_L1) {
      lk_kahan_add(&sum, &comp, fabs(v));
      correction += v < 0.0f ? -e : (v > 0.0f ? e : fabs(e));
    } else {
      const float square = v * v;
      lk_kahan_add(&sum, &comp, square);
      correction += fma(v, v, -square) + 2.0f * v * e;
    }
  }
  return (float2)(sum, comp - correction);
}

// The distance from a compensated sum.
inline float lk_metric_distance(float2 s, int norm) {
  const float total = s.x - s.y;
  return norm == LK_NORM_L1 ? total : sqrt(total);
}

// ∂‖v‖/∂v up to the factor lk_metric_direction_scale: v (norm 2) or sign(v), 0 at 0 (norm 1;
// lk_sign of elementwise_loss.cl, which the program holds before this file).
inline float lk_metric_direction(float v, int norm) { return norm == LK_NORM_L1 ? lk_sign(v) : v; }

// 1/d for norm 2 (0 at d = 0), 1 for norm 1.
inline float lk_metric_direction_scale(float d, int norm) {
  return norm == LK_NORM_L1 ? 1.0f : (d == 0.0f ? 0.0f : 1.0f / d);
}

// Contrastive: d = ‖a − b‖₂, loss = ½[s·d² + (1 − s)·max(margin − d, 0)²];
// ∂a = k·(a − b) with k = 1 (similar) or −(margin − d)/d (dissimilar, d < margin, d > 0), else 0;
// ∂b = −∂a.
__kernel void lk_metric_contrastive(__global const float *left, __global const float *right, __global const int *similar,
                                    ulong rows, ulong dim, float margin, __global const float *row_scale,
                                    __global float *losses, __global float *grad_left, __global float *grad_right) {
  LK_FOR_EACH(i, rows, 0) {
    __global const float *a = left + i * dim;
    __global const float *b = right + i * dim;
    const float2 s2 = lk_metric_distance_sum(a, b, dim, 0.0f, 2);
    const float d2 = s2.x - s2.y;
    float loss, coefficient;
    if (similar[i]) {
      loss = 0.5f * d2;
      coefficient = 1.0f;
    } else {
      const float d = sqrt(d2);
      if (d >= margin) {
        loss = 0.0f;
        coefficient = 0.0f;
      } else {
        const float gap = margin - d;
        loss = 0.5f * gap * gap;
        coefficient = d == 0.0f ? 0.0f : -gap / d;
      }
    }
    losses[i] = loss;
    const float k = coefficient * row_scale[i];
    __global float *gl = grad_left + i * dim;
    __global float *gr = grad_right + i * dim;
    for (ulong c = 0; c < dim; ++c) {
      const float g = k == 0.0f ? 0.0f : k * (a[c] - b[c]);
      gl[c] = g;
      gr[c] = -g;
    }
  }
}

// Triplet margin: d(x, y) = ‖x − y + eps‖_norm, loss = max(d(a,p) − d⁻ + margin, 0) with
// d⁻ = d(a,n), or d(p,n) when swap and d(p,n) < d(a,n) (the gradient then flows to p and n).
// Rows with loss 0 get zero gradients; NaN propagates.
__kernel void lk_metric_triplet_margin(__global const float *anchors, __global const float *positives, __global const float *negatives,
                                       ulong rows, ulong dim, float margin, int norm, float eps, int swap,
                                       __global const float *row_scale, __global float *losses,
                                       __global float *grad_anchors, __global float *grad_positives, __global float *grad_negatives) {
  LK_FOR_EACH(i, rows, 0) {
    __global const float *a = anchors + i * dim;
    __global const float *p = positives + i * dim;
    __global const float *n = negatives + i * dim;
    __global float *ga = grad_anchors + i * dim;
    __global float *gp = grad_positives + i * dim;
    __global float *gn = grad_negatives + i * dim;
    // Distances of hundreds are common (norm 1, wide D) while the loss near the hinge is small, so
    // d(a,p) − d⁻ comes from the compensated sums: their difference, over d(a,p) + d⁻ for norm 2.
    const float2 s_ap = lk_metric_distance_sum(a, p, dim, eps, norm);
    const float2 s_an = lk_metric_distance_sum(a, n, dim, eps, norm);
    float2 s_neg = s_an;
    int swapped = 0;
    if (swap) {
      const float2 s_pn = lk_metric_distance_sum(p, n, dim, eps, norm);
      if ((s_pn.x - s_an.x) - (s_pn.y - s_an.y) < 0.0f) {
        s_neg = s_pn;
        swapped = 1;
      }
    }
    const float d_ap = lk_metric_distance(s_ap, norm), d_neg = lk_metric_distance(s_neg, norm);
    const float sum_difference = (s_ap.x - s_neg.x) - (s_ap.y - s_neg.y);
    float difference;
    if (norm == LK_NORM_L1) difference = sum_difference;
    else if (isinf(d_ap) || isinf(d_neg)) difference = d_ap - d_neg;
    else difference = d_ap + d_neg == 0.0f ? 0.0f : sum_difference / (d_ap + d_neg);
    const float raw = difference + margin;
    if (raw <= 0.0f) {
      losses[i] = 0.0f;
      for (ulong k = 0; k < dim; ++k) {
        ga[k] = 0.0f;
        gp[k] = 0.0f;
        gn[k] = 0.0f;
      }
      continue;
    }
    losses[i] = raw;
    const float w_pos = row_scale[i] * lk_metric_direction_scale(d_ap, norm);
    const float w_neg = row_scale[i] * lk_metric_direction_scale(d_neg, norm);
    if (swapped) {
      for (ulong k = 0; k < dim; ++k) {
        const float to_pos = w_pos * lk_metric_direction((a[k] - p[k]) + eps, norm);
        const float to_neg = w_neg * lk_metric_direction((p[k] - n[k]) + eps, norm);
        ga[k] = to_pos;
        gp[k] = -to_pos - to_neg;
        gn[k] = to_neg;
      }
    } else {
      for (ulong k = 0; k < dim; ++k) {
        const float to_pos = w_pos * lk_metric_direction((a[k] - p[k]) + eps, norm);
        const float to_neg = w_neg * lk_metric_direction((a[k] - n[k]) + eps, norm);
        ga[k] = to_pos - to_neg;
        gp[k] = -to_pos;
        gn[k] = to_neg;
      }
    }
  }
}

// Center loss rows: losses[i] = ‖x_i − c_{y_i}‖² (the host forms Σ/(2B)), ∂x_i = (x_i − c_{y_i})·inv_rows.
__kernel void lk_metric_center_rows(__global const float *features, __global const long *labels, __global const float *centers,
                                    ulong rows, ulong dim, float inv_rows, __global float *losses, __global float *grad) {
  LK_FOR_EACH(i, rows, 0) {
    __global const float *x = features + i * dim;
    __global const float *c = centers + (ulong)labels[i] * dim;
    __global float *g = grad + i * dim;
    const float2 s = lk_metric_distance_sum(x, c, dim, 0.0f, 2);
    losses[i] = s.x - s.y;
    for (ulong k = 0; k < dim; ++k) g[k] = (x[k] - c[k]) * inv_rows;
  }
}

// Center update: c_j ← c_j − α·Σ_{i: y_i = j}(c_j − x_i)/(1 + n_j); classes absent from the batch
// keep their center. Global size [D, C].
__kernel void lk_metric_center_update(__global const float *features, __global const float *centers,
                                      __global const ulong *class_offsets, __global const ulong *class_rows,
                                      ulong classes, ulong dim, float alpha, __global float *updated) {
  LK_FOR_EACH(j, classes, 1) {
    LK_FOR_EACH(k, dim, 0) {
      const float c = centers[j * dim + k];
      const ulong begin = class_offsets[j], end = class_offsets[j + 1];
      if (begin == end) {
        updated[j * dim + k] = c;
        continue;
      }
      float sum = 0.0f, comp = 0.0f;
      for (ulong r = begin; r < end; ++r) lk_kahan_add(&sum, &comp, c - features[class_rows[r] * dim + k]);
      updated[j * dim + k] = c - alpha * sum / (float)(1 + end - begin);
    }
  }
}
