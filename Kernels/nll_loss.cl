// Negative log-likelihood (docs/OPERATIONS.md, "Negative log-likelihood"): the gradient is 0 but at
// each counted row's target column. One pass writes every element: dz[r, j] = values[r] where
// j = targets[r], else 0 (targets[r] < 0: an ignored row, all zeros). The losses need only
// x[r, targets[r]], which the host reads. OpenCL C 1.2; grid (columns, rows), strided in both.
__kernel void lk_nll_gradient(ulong rows, ulong columns, __global const long *targets, __global const float *values, __global float *dz) {
  LK_FOR_EACH(row, rows, 1) {
    const long target = targets[row];
    const float value = values[row];
    const ulong base = row * columns;
    LK_FOR_EACH(k, columns, 0) dz[base + k] = (long)k == target ? value : 0.0f;
  }
}
