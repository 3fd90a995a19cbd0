// Row-wise softmax, log-softmax and log-sum-exp, forward and backward. OpenCL C 1.2.
//
// Layout: x is B×C, row-major. A row is cut into `chunks` chunks of `chunk_len` columns; one
// work-group reduces one (chunk, row) pair at a time: local size (WG, 1), WG a power of two, and
// the work-groups stride over chunks (dimension 0) and rows (dimension 1).
// Stage 1 writes one partial per (row, chunk), stage 2 merges a row's partials in chunk order (one
// work-item per row), stage 3 writes the outputs. No atomics: results are deterministic for a given
// device and shape.
//
// The online-softmax state of a set of values is (m, s): m = max (NaN once a NaN was seen),
// s = Σ exp(v − m) over the finite values. Merge: (M, s_a·e^{m_a−M} + s_b·e^{m_b−M}).
// Final semantics (as PyTorch): a row with NaN or +∞, or with every entry −∞, gives NaN
// probabilities; logSumExp is NaN / +∞ / −∞ for those rows respectively.

// One exp per value: a new maximum rescales the sum (the new value's own term is exp(0) = 1),
// any other value adds exp(v − m). The same result as Σ exp(v − max) evaluated in that order.
inline float2 lk_state_push(float2 st, float v) {
  if (isnan(v)) return (float2)(NAN, NAN);
  if (isnan(st.x) || v == -INFINITY) return st;
  if (v == INFINITY || st.x == INFINITY) return (float2)(INFINITY, st.y);
  if (v > st.x) return (float2)(v, st.y * exp(st.x - v) + 1.0f);
  return (float2)(st.x, st.y + exp(v - st.x));
}

inline float2 lk_state_merge(float2 a, float2 b) {
  if (isnan(a.x) || isnan(b.x)) return (float2)(NAN, NAN);
  float m = fmax(a.x, b.x);
  if (m == INFINITY || m == -INFINITY) return (float2)(m, 0.0f);
  return (float2)(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

// The merged state of the work-group's states, by a tree in local memory (`scratch`: one float2
// per work-item; the group's size a power of two). Every work-item of the group must call it; it
// may be called again at once.
inline float2 lk_work_group_state(float2 st, __local float2 *scratch) {
  const uint lid = get_local_id(0), wg = get_local_size(0);
  barrier(CLK_LOCAL_MEM_FENCE);
  scratch[lid] = st;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint step = wg / 2; step > 0; step /= 2) {
    if (lid < step) scratch[lid] = lk_state_merge(scratch[lid], scratch[lid + step]);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  return scratch[0];
}

inline float lk_state_lse(float2 st) {
  if (isnan(st.x) || isinf(st.x)) return st.x;
  return st.x + log(st.y);
}

// Stage 1 of the forward pass: (m, s) of each chunk of each row of the `rows` rows from float
// `offset` on (a slab of the matrix; stage 3 takes the same offset).
__kernel void lk_softmax_stats_partial(__global const float *x, ulong offset, ulong rows, ulong columns, ulong chunk_len,
                                       ulong chunks, __global float2 *partials, __local float2 *scratch) {
  const uint lid = get_local_id(0), wg = get_local_size(0);
  LK_FOR_EACH_GROUP(row, rows, 1) {
    LK_FOR_EACH_GROUP(chunk, chunks, 0) {
      const ulong start = chunk * chunk_len;
      const ulong end = min(start + chunk_len, columns);
      __global const float *p = x + offset + row * columns + start;
      const ulong n = end > start ? end - start : 0, nv = n / 4;
      float2 st = (float2)(-INFINITY, 0.0f);
      for (ulong k = lid; k < nv; k += wg) {
        float4 v = vload4(k, p);
        st = lk_state_push(st, v.x); st = lk_state_push(st, v.y);
        st = lk_state_push(st, v.z); st = lk_state_push(st, v.w);
      }
      for (ulong k = 4 * nv + lid; k < n; k += wg) st = lk_state_push(st, p[k]);
      const float2 total = lk_work_group_state(st, scratch);
      if (lid == 0) partials[row * chunks + chunk] = total;
    }
  }
}

// Stage 2: merge each row's chunk states in order; writes (m, s) and, if wanted, logSumExp.
__kernel void lk_softmax_stats_merge(__global const float2 *partials, ulong chunks, ulong rows,
                                     __global float2 *stats, __global float *lse, int write_lse) {
  LK_FOR_EACH(row, rows, 0) {
    float2 st = (float2)(-INFINITY, 0.0f);
    for (ulong c = 0; c < chunks; c++) st = lk_state_merge(st, partials[row * chunks + c]);
    stats[row] = st;
    if (write_lse) lse[row] = lk_state_lse(st);
  }
}

// Stage 3: y = softmax(x) (mode LK_SOFTMAX) or logSoftmax(x) (LK_LOG_SOFTMAX), same grid as stage 1.
__kernel void lk_softmax_write(__global const float *x, ulong offset, ulong rows, ulong columns, ulong chunk_len, ulong chunks,
                               __global const float2 *stats, __global float *y, int mode) {
  const uint lid = get_local_id(0), wg = get_local_size(0);
  LK_FOR_EACH_GROUP(row, rows, 1) {
    const float2 st = stats[row];
    const bool finite = !(isnan(st.x) || isinf(st.x));
    const float inv = 1.0f / st.y, log_sum = log(st.y);
    LK_FOR_EACH_GROUP(chunk, chunks, 0) {
      const ulong start = chunk * chunk_len;
      const ulong end = min(start + chunk_len, columns);
      const ulong base = offset + row * columns;
      const ulong n = end > start ? end - start : 0, nv = n / 4;
      __global const float *p = x + base + start;
      __global float *q = y + base + start;
      for (ulong k = lid; k < nv; k += wg) {
        float4 v = vload4(k, p);
        float4 r = !finite ? (float4)(NAN) : (mode == LK_SOFTMAX ? exp(v - st.x) * inv : (v - st.x) - log_sum);
        vstore4(r, k, q);
      }
      for (ulong k = 4 * nv + lid; k < n; k += wg) {
        float v = p[k];
        q[k] = !finite ? NAN : (mode == LK_SOFTMAX ? exp(v - st.x) * inv : (v - st.x) - log_sum);
      }
    }
  }
}

// Rows that fit in local memory, one work-group per row: the row is read from global memory once
// into `row`, and the statistics and the outputs come from there (one read and one write per
// element instead of two reads and a write). y = softmax(x) (LK_SOFTMAX) or logSoftmax(x)
// (LK_LOG_SOFTMAX), with the semantics of the stages above. Grid (WG, rows), rows strided.
__kernel void lk_softmax_rows_local(__global const float *x, ulong rows, ulong columns, __global float *y, int mode,
                                    __local float *row, __local float2 *scratch) {
  const uint lid = get_local_id(0), wg = get_local_size(0);
  LK_FOR_EACH_GROUP(r, rows, 1) {
    __global const float *p = x + r * columns;
    float2 st = (float2)(-INFINITY, 0.0f);
    barrier(CLK_LOCAL_MEM_FENCE);  // the previous row's reads of `row` are done
    for (ulong k = lid; k < columns; k += wg) {
      const float v = p[k];
      row[k] = v;
      st = lk_state_push(st, v);
    }
    const float2 total = lk_work_group_state(st, scratch);
    const bool finite = !(isnan(total.x) || isinf(total.x));
    const float inv = 1.0f / total.y, log_sum = log(total.y);
    __global float *q = y + r * columns;
    for (ulong k = lid; k < columns; k += wg) {
      const float v = row[k];
      q[k] = !finite ? NAN : (mode == LK_SOFTMAX ? exp(v - total.x) * inv : (v - total.x) - log_sum);
    }
  }
}

// Backward stage 1: per (row, chunk), Σ g·y (LK_SOFTMAX: y = probabilities) or Σ g (LK_LOG_SOFTMAX,
// logSoftmax). Kahan-compensated per work-item, then a local tree.
__kernel void lk_softmax_backward_partial(__global const float *g, __global const float *y, ulong rows, ulong columns,
                                          ulong chunk_len, ulong chunks, int mode, __global float *partials,
                                          __local float *scratch) {
  const uint lid = get_local_id(0), wg = get_local_size(0);
  LK_FOR_EACH_GROUP(row, rows, 1) {
    LK_FOR_EACH_GROUP(chunk, chunks, 0) {
      const ulong start = chunk * chunk_len;
      const ulong end = min(start + chunk_len, columns);
      const ulong base = row * columns;
      float sum = 0.0f, comp = 0.0f;
      for (ulong k = start + lid; k < end; k += wg) {
        const ulong i = base + k;
        lk_kahan_add(&sum, &comp, mode == LK_SOFTMAX ? g[i] * y[i] : g[i]);
      }
      const float total = lk_work_group_sum(sum, scratch);
      if (lid == 0) partials[row * chunks + chunk] = total;
    }
  }
}

// Backward stage 2: in-order sum of each row's partials.
__kernel void lk_row_partials_sum(__global const float *partials, ulong chunks, ulong rows, __global float *sums) {
  LK_FOR_EACH(row, rows, 0) {
    float sum = 0.0f, comp = 0.0f;
    for (ulong c = 0; c < chunks; c++) lk_kahan_add(&sum, &comp, partials[row * chunks + c]);
    sums[row] = sum;
  }
}

// Backward stage 3: dz = y ⊙ (g − dot) (LK_SOFTMAX), dz = g − exp(y)·sum (LK_LOG_SOFTMAX), or, for
// logSumExp (LK_LOG_SUM_EXP), dz = g_row · exp(x − lse_row) with y = x, g = per-row upstream, sums = lse.
__kernel void lk_softmax_backward_write(__global const float *g, __global const float *y, ulong rows, ulong columns,
                                        __global const float *sums, __global float *dz, int mode) {
  LK_FOR_EACH(row, rows, 1) {
    const ulong base = row * columns;
    const float r = sums[row];
    LK_FOR_EACH(k, columns, 0) {
      const ulong i = base + k;
      float out;
      if (mode == LK_SOFTMAX) out = y[i] * (g[i] - r);
      else if (mode == LK_LOG_SOFTMAX) out = g[i] - exp(y[i]) * r;
      else out = g[row] * exp(y[i] - r);
      dz[i] = out;
    }
  }
}
