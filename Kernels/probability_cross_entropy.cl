// Cross-entropy with probability targets (docs/OPERATIONS.md, "Cross-entropy with probability
// targets"). Besides the softmax statistics (m, s) of softmax.cl, a row needs
//   A = Σ_c w_c·T'_c·(z_c − m)   over the classes with T'_c ≠ 0 (a 0 target adds nothing, even at a −∞ mask)
//   S = Σ_c w_c·T'_c
// with T' = keep·T + add (keep = 1 − ε, add = ε/C, ε the label smoothing); the host then takes
// loss = S·log s − A and the gradient's coefficients. OpenCL C 1.2, no atomics: one work-group per
// (chunk, row) as lk_softmax_stats_partial, partials merged per row in chunk order.

// Stage 1: (A, S) of each chunk of each row, Kahan-compensated per work-item, then a local tree.
// m is the row's maximum from `stats` (taken as 0 when it is not finite: such a row's loss is NaN).
__kernel void lk_probability_ce_partial(__global const float *z, __global const float *t, __global const float *weights,
                                        int has_weights, float keep, float add, __global const float2 *stats, ulong rows,
                                        ulong columns, ulong chunk_len, ulong chunks, __global float2 *partials,
                                        __local float *scratch) {
  const uint lid = get_local_id(0), wg = get_local_size(0);
  LK_FOR_EACH_GROUP(row, rows, 1) {
    const float row_max = stats[row].x;
    const float m = isfinite(row_max) ? row_max : 0.0f;
    const ulong base = row * columns;
    LK_FOR_EACH_GROUP(chunk, chunks, 0) {
      const ulong start = chunk * chunk_len;
      const ulong end = min(start + chunk_len, columns);
      float a = 0.0f, a_comp = 0.0f, s = 0.0f, s_comp = 0.0f;
      for (ulong k = start + lid; k < end; k += wg) {
        const float target = keep * t[base + k] + add;
        if (target != 0.0f) {
          const float weighted = (has_weights ? weights[k] : 1.0f) * target;
          lk_kahan_add(&a, &a_comp, weighted * (z[base + k] - m));
          lk_kahan_add(&s, &s_comp, weighted);
        }
      }
      const float total_a = lk_work_group_sum(a, scratch);
      const float total_s = lk_work_group_sum(s, scratch);
      if (lid == 0) partials[row * chunks + chunk] = (float2)(total_a, total_s);
    }
  }
}

// Stage 2: each row's (A, S) from its chunk partials, added in chunk order.
__kernel void lk_row_pair_partials_sum(__global const float2 *partials, ulong chunks, ulong rows, __global float2 *sums) {
  LK_FOR_EACH(row, rows, 0) {
    float a = 0.0f, a_comp = 0.0f, s = 0.0f, s_comp = 0.0f;
    for (ulong c = 0; c < chunks; c++) {
      const float2 p = partials[row * chunks + c];
      lk_kahan_add(&a, &a_comp, p.x);
      lk_kahan_add(&s, &s_comp, p.y);
    }
    sums[row] = (float2)(a, s);
  }
}

// The gradient: dz[r, j] = exp(z − shift)·scale − w_j·(target_scale·T_j + target_offset), with the
// per-row coefficients (shift, scale, target_scale, target_offset) (w_j = 1 without weights); all NaN
// where nan_rows[r] (a row with NaN or +∞, or all −∞). Grid (columns, rows), strided in both.
__kernel void lk_probability_ce_gradient(__global const float *z, __global const float *t, ulong rows, ulong columns,
                                         __global const float4 *coefficients, __global const int *nan_rows,
                                         __global const float *weights, int has_weights, __global float *dz) {
  LK_FOR_EACH(row, rows, 1) {
    const float4 c = coefficients[row];
    const int nan_row = nan_rows[row];
    const ulong base = row * columns;
    LK_FOR_EACH(k, columns, 0) {
      const float w = has_weights ? weights[k] : 1.0f;
      dz[base + k] = nan_row ? NAN : exp(z[base + k] - c.x) * c.y - w * (c.z * t[base + k] + c.w);
    }
  }
}
