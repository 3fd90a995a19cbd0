// The training head's optimizer step on the device (Sources/LossKernels/Training): gather the
// sampled rows of the class weights, and the SGD update with momentum and weight decay written
// back to those rows in place. OpenCL C 1.2.

// out[r, :] = w[index[r], :] for r < rows. Grid (d, rows).
__kernel void lk_gather_rows(__global const float *w, __global const long *index, ulong rows, ulong d,
                             __global float *out) {
  const ulong k = get_global_id(0), r = get_global_id(1);
  if (k >= d || r >= rows) return;
  out[r * d + k] = w[(ulong)index[r] * d + k];
}

// torch.optim.SGD on the rows index[r] (or r when use_index is 0) of w and its momentum v, from
// the gradient rows grad[r]: g' = g + wd·w; v = μ·v + g'; w = w − lr·v. Grid (d, rows).
__kernel void lk_sgd_update_rows(__global float *w, __global float *v, __global const long *index, int use_index,
                                 __global const float *grad, ulong rows, ulong d, float lr, float mu, float wd) {
  const ulong k = get_global_id(0), r = get_global_id(1);
  if (k >= d || r >= rows) return;
  const ulong j = use_index ? (ulong)index[r] : r;
  const ulong at = j * d + k;
  const float weight = w[at];
  const float g = grad[r * d + k] + wd * weight;
  const float velocity = mu * v[at] + g;
  v[at] = velocity;
  w[at] = weight - lr * velocity;
}

// x[i] = 0 for i < n (a new momentum buffer). Grid (n).
__kernel void lk_fill_zero(__global float *x, ulong n) {
  const ulong i = get_global_id(0);
  if (i < n) x[i] = 0.0f;
}
