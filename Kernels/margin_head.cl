// Margin-softmax heads on the device, the same class-tiled algorithm as the CPU path
// (CPUMarginSoftmax.swift; NOTES.md has the derivation). The matrix products run in CLBlast;
// these kernels are the epilogues. OpenCL C 1.2.
//
// Head parameters p: s0 scale, s1 margin, s2 m1, s3 m2, s4 m3, s5 λ, s6 easy margin, s7 detached.
// kind: an lk_margin_head_kind (lk_codes.h).

// (F(c), F'(c)) of the target logit's margin function.
inline float2 lk_margin_target(int kind, float c, float8 p) {
  float f, df;
  if (kind == LK_HEAD_NORMALIZED) {
    f = c; df = 1.0f;
  } else if (kind == LK_HEAD_COSFACE) {
    f = c - p.s1; df = 1.0f;
  } else if (kind == LK_HEAD_ARCFACE || kind == LK_HEAD_COMBINED) {
    const float theta = acos(c), sin_theta = sqrt(fmax(1.0f - c * c, 1e-12f));
    const float m1 = kind == LK_HEAD_ARCFACE ? 1.0f : p.s2, m2 = kind == LK_HEAD_ARCFACE ? p.s1 : p.s3;
    const bool apply = kind == LK_HEAD_COMBINED || (p.s6 != 0.0f ? c > 0.0f : theta + m2 <= M_PI_F);
    if (apply) {
      f = cos(m1 * theta + m2) - (kind == LK_HEAD_COMBINED ? p.s4 : 0.0f);
      df = m1 * sin(m1 * theta + m2) / sin_theta;
    } else {
      f = p.s6 != 0.0f ? c : c - m2 * sin(m2);
      df = 1.0f;
    }
  } else {
    const int m = (int)p.s1;
    int k = (int)floor((float)m * acos(c) / M_PI_F);
    k = clamp(k, 0, m - 1);
    float t_prev = 1.0f, t = c, u_prev = 0.0f, u = 1.0f;
    for (int i = 1; i < m; i++) {
      const float t_next = 2.0f * c * t - t_prev, u_next = 2.0f * c * u - u_prev;
      t_prev = t; t = t_next; u_prev = u; u = u_next;
    }
    const float sign = (k % 2 == 0) ? 1.0f : -1.0f;
    const float psi = sign * t - 2.0f * (float)k, dpsi = sign * (float)m * u;
    f = (psi + p.s5 * c) / (1.0f + p.s5);
    df = (dpsi + p.s5) / (1.0f + p.s5);
  }
  if (p.s7 != 0.0f) df = 1.0f;
  return (float2)(f, df);
}

// x̂ = x / max(‖x‖, 1e-12) per row, and ‖x‖. One work-item per row.
__kernel void lk_head_normalize_rows(__global const float *x, ulong rows, ulong d, __global float *xhat,
                                     __global float *norms) {
  const ulong i = get_global_id(0);
  if (i >= rows) return;
  float sum = 0.0f, comp = 0.0f;
  for (ulong k = 0; k < d; k++) lk_kahan_add(&sum, &comp, x[i * d + k] * x[i * d + k]);
  const float u = sqrt(sum), inverse = 1.0f / fmax(u, 1e-12f);
  norms[i] = u;
  for (ulong k = 0; k < d; k++) xhat[i * d + k] = x[i * d + k] * inverse;
}

// Per class: ‖w_j‖, 1/max(‖w_j‖, 1e-12), and E's column factor β_j/max(‖w_j‖, 1e-12).
__kernel void lk_head_class_norms(__global const float *w, ulong classes, ulong d, int use_weight_norm,
                                  __global float *norms, __global float *inverse, __global float *column_scale) {
  const ulong j = get_global_id(0);
  if (j >= classes) return;
  float sum = 0.0f, comp = 0.0f;
  for (ulong k = 0; k < d; k++) lk_kahan_add(&sum, &comp, w[j * d + k] * w[j * d + k]);
  const float v = sqrt(sum), inv = 1.0f / fmax(v, 1e-12f);
  norms[j] = v;
  inverse[j] = inv;
  column_scale[j] = use_weight_norm ? v * inv : inv;
}

// Raw products → logits in place for the tile of classes start..start+n; the target's margin;
// with `record`, the target's cosine, logit and F' per row. Grid (width, rows).
__kernel void lk_head_logits(__global float *tile, ulong n, ulong start, __global const float *inverse,
                             __global const float *weight_norms, __global const float *amplitude, int use_weight_norm,
                             __global const long *labels, int kind, float8 params, int record,
                             __global float *target_logit, __global float *target_derivative) {
  const ulong i = get_global_id(1);
  const long y = labels[i];
  const float a = amplitude[i];
  for (ulong jj = get_global_id(0); jj < n; jj += get_global_size(0)) {
    const ulong j = start + jj;
    const float c = clamp(tile[i * n + jj] * inverse[j], -1.0f, 1.0f);
    const float beta = use_weight_norm ? weight_norms[j] : 1.0f;
    if ((long)j == y) {
      const float2 t = lk_margin_target(kind, c, params);
      const float z = a * beta * t.x;
      tile[i * n + jj] = z;
      if (record) {
        target_logit[i] = z;
        target_derivative[i] = t.y;
      }
    } else {
      tile[i * n + jj] = a * beta * c;
    }
  }
}

// running = tile_states (first tile) or running ⊕ tile_states.
__kernel void lk_head_merge_states(__global float2 *running, __global const float2 *tile_states, ulong rows, int first) {
  const ulong i = get_global_id(0);
  if (i >= rows) return;
  running[i] = first ? tile_states[i] : lk_state_merge(running[i], tile_states[i]);
}

// Per (chunk, row): Σ_j (p_j − [j = y])·z_j over the tile (the S2 sums of sphereFace/largeMargin).
__kernel void lk_head_row_gz_partial(__global const float *tile, ulong n, ulong chunk_len, ulong start,
                                     __global const float2 *states, __global const long *labels,
                                     __global float *partials, __local float *scratch) {
  const ulong row = get_group_id(1), chunk = get_group_id(0), chunks = get_num_groups(0);
  const uint lid = get_local_id(0), wg = get_local_size(0);
  const ulong begin = chunk * chunk_len, end = min(begin + chunk_len, n);
  const float lse = lk_state_lse(states[row]);
  const long y = labels[row];
  float sum = 0.0f, comp = 0.0f;
  for (ulong jj = begin + lid; jj < end; jj += wg) {
    const float z = tile[row * n + jj];
    lk_kahan_add(&sum, &comp, (exp(z - lse) - ((long)(start + jj) == y ? 1.0f : 0.0f)) * z);
  }
  const float total = lk_work_group_sum(sum, scratch);
  if (lid == 0) partials[row * chunks + chunk] = total;
}

// Per class of the tile: Σ_i r_i·(p_ij − [j = y_i])·z_ij (largeMargin's weight-norm term), rows in order.
__kernel void lk_head_column_gz(__global const float *tile, ulong rows, ulong n, ulong start,
                                __global const float2 *states, __global const long *labels,
                                __global const float *row_scale, __global float *sums) {
  const ulong jj = get_global_id(0);
  if (jj >= n) return;
  float sum = 0.0f, comp = 0.0f;
  for (ulong i = 0; i < rows; i++) {
    const float lse = lk_state_lse(states[i]);
    if (!isfinite(lse)) continue;
    const float z = tile[i * n + jj];
    lk_kahan_add(&sum, &comp, row_scale[i] * (exp(z - lse) - ((long)(start + jj) == labels[i] ? 1.0f : 0.0f)) * z);
  }
  sums[jj] = sum;
}

// Logits → E_ij = r_i·α_i·β_j·F'_ij·(p_ij − [j = y_i])/‖w_j‖ in place; NaN rows where the
// probabilities are undefined. Grid (width, rows).
__kernel void lk_head_gradient(__global float *tile, ulong n, ulong start, __global const float2 *states,
                               __global const float *row_scale, __global const float *amplitude,
                               __global const float *column_scale, __global const long *labels,
                               __global const float *target_derivative) {
  const ulong i = get_global_id(1);
  const float2 st = states[i];
  const bool regular = !(isnan(st.x) || isinf(st.x));
  const float lse = st.x + log(st.y), ra = row_scale[i] * amplitude[i];
  const long y = labels[i];
  for (ulong jj = get_global_id(0); jj < n; jj += get_global_size(0)) {
    const ulong j = start + jj;
    const float p = exp(tile[i * n + jj] - lse);
    float e;
    if (!regular) e = NAN;
    else if ((long)j == y) e = ra * column_scale[j] * target_derivative[i] * (p - 1.0f);
    else e = ra * column_scale[j] * p;
    tile[i * n + jj] = e;
  }
}

// dW_j −= ((w_j·dW_j)/‖w_j‖²)·w_j, plus largeMargin's (Σ_i G z)/‖w_j‖·ŵ_j. One work-item per class.
__kernel void lk_head_fix_weight_gradient(__global float *dw, __global const float *w, ulong start, ulong n, ulong d,
                                          __global const float *weight_norms, __global const float *inverse,
                                          __global const float *column_gz, int has_column_gz) {
  const ulong jj = get_global_id(0);
  if (jj >= n) return;
  const ulong j = start + jj;
  __global float *g = dw + j * d;
  __global const float *wj = w + j * d;
  float kappa = 0.0f;
  if (weight_norms[j] > 1e-12f) {
    float dot = 0.0f, comp = 0.0f;
    for (ulong k = 0; k < d; k++) lk_kahan_add(&dot, &comp, wj[k] * g[k]);
    kappa = -dot * inverse[j] * inverse[j];
  }
  if (has_column_gz && weight_norms[j] > 0.0f) kappa += column_gz[jj] / weight_norms[j] * inverse[j];
  if (kappa != 0.0f)
    for (ulong k = 0; k < d; k++) g[k] += kappa * wj[k];
}

// dX_i = (g_i − (x̂_i·g_i)·x̂_i)/max(‖x_i‖, 1e-12) + s2_i·x̂_i; NaN rows where the row's
// probabilities are undefined. One work-item per row.
__kernel void lk_head_finish_feature_gradient(__global const float *g, __global const float *xhat, __global const float *norms,
                                              __global const float *s2, __global const float2 *states, ulong rows, ulong d,
                                              __global float *dx) {
  const ulong i = get_global_id(0);
  if (i >= rows) return;
  const float2 st = states[i];
  const bool regular = !(isnan(st.x) || isinf(st.x));
  const float u = norms[i];
  float dot = 0.0f, comp = 0.0f;
  if (u > 1e-12f)
    for (ulong k = 0; k < d; k++) lk_kahan_add(&dot, &comp, xhat[i * d + k] * g[i * d + k]);
  const float inverse = 1.0f / fmax(u, 1e-12f);
  for (ulong k = 0; k < d; k++)
    dx[i * d + k] = regular ? (g[i * d + k] - dot * xhat[i * d + k]) * inverse + s2[i] * xhat[i * d + k] : NAN;
}
