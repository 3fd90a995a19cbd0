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

// x̂ = x / max(‖x‖, 1e-12) per row, ‖x‖, and the row's logit amplitude α: s (the normalized
// family), s·‖x‖ (sphereFace) or ‖x‖ (largeMargin). One work-group per row (coalesced over d).
__kernel void lk_head_normalize_rows(__global const float *x, ulong rows, ulong d, int kind, float scale,
                                     __global float *xhat, __global float *norms, __global float *amplitude,
                                     __local float *scratch) {
  const uint lid = get_local_id(0), wg = get_local_size(0);
  LK_FOR_EACH_GROUP(i, rows, 0) {
    __global const float *row = x + i * d;
    float sum = 0.0f, comp = 0.0f;
    for (ulong k = lid; k < d; k += wg) lk_kahan_add(&sum, &comp, row[k] * row[k]);
    const float u = sqrt(lk_work_group_sum(sum, scratch)), inverse = 1.0f / fmax(u, 1e-12f);
    if (lid == 0) {
      norms[i] = u;
      amplitude[i] = kind == LK_HEAD_SPHEREFACE ? scale * u : (kind == LK_HEAD_LARGE_MARGIN ? u : scale);
    }
    for (ulong k = lid; k < d; k += wg) xhat[i * d + k] = row[k] * inverse;
  }
}

// Per class: ‖w_j‖, 1/max(‖w_j‖, 1e-12), and E's column factor β_j/max(‖w_j‖, 1e-12). One
// work-group per class (coalesced over d).
__kernel void lk_head_class_norms(__global const float *w, ulong classes, ulong d, int use_weight_norm,
                                  __global float *norms, __global float *inverse, __global float *column_scale,
                                  __local float *scratch) {
  const uint lid = get_local_id(0), wg = get_local_size(0);
  LK_FOR_EACH_GROUP(j, classes, 0) {
    float sum = 0.0f, comp = 0.0f;
    for (ulong k = lid; k < d; k += wg) lk_kahan_add(&sum, &comp, w[j * d + k] * w[j * d + k]);
    const float v = sqrt(lk_work_group_sum(sum, scratch)), inv = 1.0f / fmax(v, 1e-12f);
    if (lid == 0) {
      norms[j] = v;
      inverse[j] = inv;
      column_scale[j] = use_weight_norm ? v * inv : inv;
    }
  }
}

// Raw products → logits in place for the tile of classes start..start+n; the target's margin;
// with `record`, the target's logit and F' per row. Grid (columns, rows), strided in both.
__kernel void lk_head_logits(__global float *tile, ulong rows, ulong n, ulong start, __global const float *inverse,
                             __global const float *weight_norms, __global const float *amplitude, int use_weight_norm,
                             __global const long *labels, int kind, float8 params, int record,
                             __global float *target_logit, __global float *target_derivative) {
  LK_FOR_EACH(i, rows, 1) {
    const long y = labels[i];
    const float a = amplitude[i];
    LK_FOR_EACH(jj, n, 0) {
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
}

// running = tile_states (first tile) or running ⊕ tile_states.
__kernel void lk_head_merge_states(__global float2 *running, __global const float2 *tile_states, ulong rows, int first) {
  LK_FOR_EACH(i, rows, 0) {
    running[i] = first ? tile_states[i] : lk_state_merge(running[i], tile_states[i]);
  }
}

// Per (chunk, row): Σ_j (p_j − [j = y])·z_j over the tile (the S2 sums of sphereFace/largeMargin).
__kernel void lk_head_row_gz_partial(__global const float *tile, ulong rows, ulong n, ulong chunk_len, ulong chunks, ulong start,
                                     __global const float2 *states, __global const long *labels,
                                     __global float *partials, __local float *scratch) {
  const uint lid = get_local_id(0), wg = get_local_size(0);
  LK_FOR_EACH_GROUP(row, rows, 1) {
    const float lse = lk_state_lse(states[row]);
    const long y = labels[row];
    LK_FOR_EACH_GROUP(chunk, chunks, 0) {
      const ulong begin = chunk * chunk_len, end = min(begin + chunk_len, n);
      float sum = 0.0f, comp = 0.0f;
      for (ulong jj = begin + lid; jj < end; jj += wg) {
        const float z = tile[row * n + jj];
        lk_kahan_add(&sum, &comp, (exp(z - lse) - ((long)(start + jj) == y ? 1.0f : 0.0f)) * z);
      }
      const float total = lk_work_group_sum(sum, scratch);
      if (lid == 0) partials[row * chunks + chunk] = total;
    }
  }
}

// row_gz[i] (a Kahan pair: sum, compensation) = (first ? 0 : row_gz[i]) + r_i·Σ_chunks partials,
// the partials added in chunk order: the tiles' S2 sums accumulated on the device.
__kernel void lk_head_row_gz_merge(__global const float *partials, ulong chunks, ulong rows, __global const float *row_scale,
                                   int first, __global float2 *row_gz) {
  LK_FOR_EACH(i, rows, 0) {
    float sum = 0.0f, comp = 0.0f;
    for (ulong c = 0; c < chunks; c++) lk_kahan_add(&sum, &comp, partials[i * chunks + c]);
    const float2 previous = first ? (float2)(0.0f, 0.0f) : row_gz[i];
    float total = previous.x, total_comp = previous.y;
    lk_kahan_add(&total, &total_comp, row_scale[i] * sum);
    row_gz[i] = (float2)(total, total_comp);
  }
}

// Per class of the tile: Σ_i r_i·(p_ij − [j = y_i])·z_ij (largeMargin's weight-norm term), rows in order.
__kernel void lk_head_column_gz(__global const float *tile, ulong rows, ulong n, ulong start,
                                __global const float2 *states, __global const long *labels,
                                __global const float *row_scale, __global float *sums) {
  LK_FOR_EACH(jj, n, 0) {
    float sum = 0.0f, comp = 0.0f;
    for (ulong i = 0; i < rows; i++) {
      const float lse = lk_state_lse(states[i]);
      if (!isfinite(lse)) continue;
      const float z = tile[i * n + jj];
      lk_kahan_add(&sum, &comp, row_scale[i] * (exp(z - lse) - ((long)(start + jj) == labels[i] ? 1.0f : 0.0f)) * z);
    }
    sums[jj] = sum;
  }
}

// Logits → E_ij = r_i·α_i·β_j·F'_ij·(p_ij − [j = y_i])/‖w_j‖ in place; NaN rows where the
// probabilities are undefined. Grid (columns, rows), strided in both.
__kernel void lk_head_gradient(__global float *tile, ulong rows, ulong n, ulong start, __global const float2 *states,
                               __global const float *row_scale, __global const float *amplitude,
                               __global const float *column_scale, __global const long *labels,
                               __global const float *target_derivative) {
  LK_FOR_EACH(i, rows, 1) {
    const float2 st = states[i];
    const bool regular = !(isnan(st.x) || isinf(st.x));
    const float lse = st.x + log(st.y), ra = row_scale[i] * amplitude[i];
    const long y = labels[i];
    LK_FOR_EACH(jj, n, 0) {
      const ulong j = start + jj;
      const float p = exp(tile[i * n + jj] - lse);
      float e;
      if (!regular) e = NAN;
      else if ((long)j == y) e = ra * column_scale[j] * target_derivative[i] * (p - 1.0f);
      else e = ra * column_scale[j] * p;
      tile[i * n + jj] = e;
    }
  }
}

// dW_j −= ((w_j·dW_j)/‖w_j‖²)·w_j, plus largeMargin's (Σ_i G z)/‖w_j‖·ŵ_j. One work-group per class
// (coalesced over d).
__kernel void lk_head_fix_weight_gradient(__global float *dw, __global const float *w, ulong start, ulong n, ulong d,
                                          __global const float *weight_norms, __global const float *inverse,
                                          __global const float *column_gz, int has_column_gz, __local float *scratch) {
  const uint lid = get_local_id(0), wg = get_local_size(0);
  LK_FOR_EACH_GROUP(jj, n, 0) {
    const ulong j = start + jj;
    __global float *g = dw + j * d;
    __global const float *wj = w + j * d;
    float dot = 0.0f, comp = 0.0f;
    for (ulong k = lid; k < d; k += wg) lk_kahan_add(&dot, &comp, wj[k] * g[k]);
    const float total = lk_work_group_sum(dot, scratch);
    float kappa = weight_norms[j] > 1e-12f ? -total * inverse[j] * inverse[j] : 0.0f;
    if (has_column_gz && weight_norms[j] > 0.0f) kappa += column_gz[jj] / weight_norms[j] * inverse[j];
    if (kappa != 0.0f)
      for (ulong k = lid; k < d; k += wg) g[k] += kappa * wj[k];
  }
}

// dX_i = (g_i − (x̂_i·g_i)·x̂_i)/max(‖x_i‖, 1e-12) + s2_i·x̂_i, with s2_i = row_gz_i/‖x_i‖ when
// has_row_gz (sphereFace, largeMargin) and ‖x_i‖ > 0, else 0; NaN rows where the row's
// probabilities are undefined. One work-group per row (coalesced over d).
__kernel void lk_head_finish_feature_gradient(__global const float *g, __global const float *xhat, __global const float *norms,
                                              __global const float2 *row_gz, int has_row_gz, __global const float2 *states,
                                              ulong rows, ulong d, __global float *dx, __local float *scratch) {
  const uint lid = get_local_id(0), wg = get_local_size(0);
  LK_FOR_EACH_GROUP(i, rows, 0) {
    const float2 st = states[i];
    const bool regular = !(isnan(st.x) || isinf(st.x));
    const float u = norms[i];
    float dot = 0.0f, comp = 0.0f;
    for (ulong k = lid; k < d; k += wg) lk_kahan_add(&dot, &comp, xhat[i * d + k] * g[i * d + k]);
    const float total = lk_work_group_sum(dot, scratch);
    const float projection = u > 1e-12f ? total : 0.0f;
    const float inverse = 1.0f / fmax(u, 1e-12f);
    const float s2 = has_row_gz && u > 0.0f ? row_gz[i].x / u : 0.0f;
    for (ulong k = lid; k < d; k += wg)
      dx[i * d + k] = regular ? (g[i * d + k] - projection * xhat[i * d + k]) * inverse + s2 * xhat[i * d + k] : NAN;
  }
}
