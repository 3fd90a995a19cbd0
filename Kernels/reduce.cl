// Reductions over each row (the whole tensor is one row of B·C values) or each column. OpenCL C 1.2.
// op: an lk_reduce_op (lk_codes.h): sum, sum of squares (for l2Norm), max, min, argmax (first index of
// the maximum).
// max/min/argmax propagate NaN (as PyTorch: argmax of a row with NaN is the first NaN).
// Row reductions: stage 1 one work-group per (chunk, row), stage 2 an in-order merge per row.
// logSumExp uses the softmax statistics kernels of softmax.cl.

// Is (b, bi) preferred over (a, ai)? For max/argmax and min; ties keep the lower index.
inline bool lk_better(int op, float a, ulong ai, float b, ulong bi) {
  if (isnan(a)) return isnan(b) && bi < ai;
  if (isnan(b)) return true;
  if (op == LK_REDUCE_MIN) return b < a || (b == a && bi < ai);
  return b > a || (b == a && bi < ai);
}

inline float lk_identity(int op) {
  return op == LK_REDUCE_MAX || op == LK_REDUCE_ARGMAX ? -INFINITY : (op == LK_REDUCE_MIN ? INFINITY : 0.0f);
}

__kernel void lk_reduce_rows_partial(__global const float *x, ulong rows, ulong columns, ulong chunk_len, ulong chunks, int op,
                                     __global float *partial_values, __global ulong *partial_indices,
                                     __local float *scratch_values, __local ulong *scratch_indices) {
  const uint lid = get_local_id(0), wg = get_local_size(0);
  LK_FOR_EACH_GROUP(row, rows, 1) {
    LK_FOR_EACH_GROUP(chunk, chunks, 0) {
      const ulong start = chunk * chunk_len;
      const ulong end = min(start + chunk_len, columns);
      __global const float *p = x + row * columns;
      float acc = lk_identity(op), comp = 0.0f;
      ulong idx = ~(ulong)0;
      for (ulong k = start + lid; k < end; k += wg) {
        float v = p[k];
        if (op <= LK_REDUCE_SUM_OF_SQUARES) {
          lk_kahan_add(&acc, &comp, op == LK_REDUCE_SUM_OF_SQUARES ? v * v : v);
        } else if (idx == ~(ulong)0 || lk_better(op, acc, idx, v, k)) {
          acc = v;
          idx = k;
        }
      }
      barrier(CLK_LOCAL_MEM_FENCE);
      scratch_values[lid] = acc;
      scratch_indices[lid] = idx;
      barrier(CLK_LOCAL_MEM_FENCE);
      for (uint step = wg / 2; step > 0; step /= 2) {
        if (lid < step) {
          float b = scratch_values[lid + step];
          ulong bi = scratch_indices[lid + step];
          if (op <= LK_REDUCE_SUM_OF_SQUARES) scratch_values[lid] += b;
          else if (bi != ~(ulong)0 && (scratch_indices[lid] == ~(ulong)0 ||
                                       lk_better(op, scratch_values[lid], scratch_indices[lid], b, bi))) {
            scratch_values[lid] = b;
            scratch_indices[lid] = bi;
          }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
      }
      if (lid == 0) {
        partial_values[row * chunks + chunk] = scratch_values[0];
        partial_indices[row * chunks + chunk] = scratch_indices[0];
      }
    }
  }
}

__kernel void lk_reduce_rows_merge(__global const float *partial_values, __global const ulong *partial_indices,
                                   ulong chunks, ulong rows, int op, __global float *values,
                                   __global ulong *indices) {
  LK_FOR_EACH(row, rows, 0) {
    float acc = lk_identity(op), comp = 0.0f;
    ulong idx = ~(ulong)0;
    for (ulong c = 0; c < chunks; c++) {
      float v = partial_values[row * chunks + c];
      ulong vi = partial_indices[row * chunks + c];
      if (op <= LK_REDUCE_SUM_OF_SQUARES) {
        lk_kahan_add(&acc, &comp, v);
      } else if (vi != ~(ulong)0 && (idx == ~(ulong)0 || lk_better(op, acc, idx, v, vi))) {
        acc = v;
        idx = vi;
      }
    }
    values[row] = acc;
    indices[row] = idx;
  }
}

// One work-item per column, rows in order. LK_REDUCE_LOG_SUM_EXP: max first, then Σ exp.
__kernel void lk_reduce_columns(__global const float *x, ulong rows, ulong columns, int op,
                                __global float *values, __global ulong *indices) {
  LK_FOR_EACH(col, columns, 0) {
    if (op == LK_REDUCE_LOG_SUM_EXP) {
      float m = -INFINITY;
      bool nan_seen = false;
      for (ulong r = 0; r < rows; r++) {
        float v = x[r * columns + col];
        nan_seen |= isnan(v);
        m = fmax(m, v);
      }
      float shift = isinf(m) ? 0.0f : m, s = 0.0f, comp = 0.0f;
      for (ulong r = 0; r < rows; r++) {
        lk_kahan_add(&s, &comp, exp(x[r * columns + col] - shift));
      }
      values[col] = nan_seen ? NAN : shift + log(s);
      indices[col] = 0;
      continue;
    }
    float acc = lk_identity(op), comp = 0.0f;
    ulong idx = ~(ulong)0;
    for (ulong r = 0; r < rows; r++) {
      float v = x[r * columns + col];
      if (op <= LK_REDUCE_SUM_OF_SQUARES) {
        lk_kahan_add(&acc, &comp, op == LK_REDUCE_SUM_OF_SQUARES ? v * v : v);
      } else if (idx == ~(ulong)0 || lk_better(op, acc, idx, v, r)) {
        acc = v;
        idx = r;
      }
    }
    values[col] = acc;
    indices[col] = idx;
  }
}

// Backward of a reduction, one work-item per element: columns in dimension 0, rows in dimension 1
// (no division per element). axis: an lk_reduce_axis; op: an lk_reduce_backward_op: sum (dz = g),
// mean (g/n), l2Norm (g·x/‖x‖, 0 where ‖x‖ = 0, NaN where it is NaN), select for max/min (g at the
// winning index, else 0), logSumExp (g·exp(x − lse)). values, indices and g hold one entry per group.
__kernel void lk_reduce_backward(__global const float *x, ulong rows, ulong columns, int axis, int op,
                                 __global const float *values, __global const ulong *indices,
                                 __global const float *g, __global float *dz) {
  const ulong n = rows * columns;
  const float size = axis == LK_AXIS_ALL ? (float)n : (axis == LK_AXIS_ROWS ? (float)columns : (float)rows);
  LK_FOR_EACH(r, rows, 1) {
    LK_FOR_EACH(c, columns, 0) {
      const ulong i = r * columns + c;
      const ulong group = axis == LK_AXIS_ALL ? 0 : (axis == LK_AXIS_ROWS ? r : c);
      const ulong position = axis == LK_AXIS_ALL ? i : (axis == LK_AXIS_ROWS ? c : r);
      const float gg = g[group], v = values[group];
      float out;
      if (op == LK_REDUCE_BACKWARD_SUM) out = gg;
      else if (op == LK_REDUCE_BACKWARD_MEAN) out = gg / size;
      else if (op == LK_REDUCE_BACKWARD_L2_NORM) out = v == 0.0f ? 0.0f : gg * x[i] / v;
      else if (op == LK_REDUCE_BACKWARD_SELECT) out = position == indices[group] ? gg : 0.0f;
      else out = gg * exp(x[i] - v);
      dz[i] = out;
    }
  }
}
