// Softmax losses (cross-entropy, focal): the per-row pieces the host needs besides the softmax
// statistics of softmax.cl, and the gradient writer. OpenCL C 1.2.

// targets[r] = z[r, labels[r]], or 0 where labels[r] < 0 (ignored row).
__kernel void lk_gather_targets(__global const float *z, ulong rows, ulong columns, __global const long *labels,
                                __global float *targets) {
  LK_FOR_EACH(r, rows, 0) {
    const long y = labels[r];
    targets[r] = y < 0 ? 0.0f : z[r * columns + (ulong)y];
  }
}

// Stage 1 of Σ_c w_c·z_c per row (w_c = 1 when has_weights is 0), one work-group per (chunk, row);
// stage 2 is lk_row_partials_sum of softmax.cl.
__kernel void lk_row_weighted_sum_partial(__global const float *z, __global const float *weights, int has_weights,
                                          ulong rows, ulong columns, ulong chunk_len, ulong chunks, __global float *partials,
                                          __local float *scratch) {
  const uint lid = get_local_id(0), wg = get_local_size(0);
  LK_FOR_EACH_GROUP(row, rows, 1) {
    LK_FOR_EACH_GROUP(chunk, chunks, 0) {
      const ulong start = chunk * chunk_len;
      const ulong end = min(start + chunk_len, columns);
      __global const float *p = z + row * columns;
      float sum = 0.0f, comp = 0.0f;
      for (ulong k = start + lid; k < end; k += wg) lk_kahan_add(&sum, &comp, has_weights ? weights[k] * p[k] : p[k]);
      const float total = lk_work_group_sum(sum, scratch);
      if (lid == 0) partials[row * chunks + chunk] = total;
    }
  }
}

// dz[r, j] = exp(z − shift)·scale − offset·w_j + [j = target]·adjust, with per-row
// coefficients (shift, scale, offset, adjust) and target; flags[r]: 0 normal, 1 all zeros, 2 all NaN.
// Grid (columns, rows), strided in both.
__kernel void lk_softmax_loss_gradient(__global const float *z, ulong rows, ulong columns, __global const float4 *coefficients,
                                       __global const long *targets, __global const int *flags,
                                       __global const float *weights, int has_weights, __global float *dz) {
  LK_FOR_EACH(row, rows, 1) {
    const float4 c = coefficients[row];
    const long target = targets[row];
    const int flag = flags[row];
    const ulong base = row * columns;
    LK_FOR_EACH(k, columns, 0) {
      float out;
      if (flag == 1) out = 0.0f;
      else if (flag == 2) out = NAN;
      else {
        out = exp(z[base + k] - c.x) * c.y - c.z * (has_weights ? weights[k] : 1.0f);
        if ((long)k == target) out += c.w;
      }
      dz[base + k] = out;
    }
  }
}
