// The training head's optimizer step on the device (Sources/LossKernels/Training): gather the
// sampled rows of the class weights, and the SGD update with momentum and weight decay written
// back to those rows in place. OpenCL C 1.2.

// out[r, :] = w[index[r], :] for r < rows. Grid (d, rows).
__kernel void lk_gather_rows(__global const float *w, __global const long *index, ulong rows, ulong d,
                             __global float *out) {
  LK_FOR_EACH(r, rows, 1) {
    const ulong from = (ulong)index[r] * d;
    LK_FOR_EACH(k, d, 0) out[r * d + k] = w[from + k];
  }
}

// torch.optim.SGD on the rows index[r] (or r when use_index is 0) of w and its momentum v, from
// the gradient rows grad[r]: g' = g + wd·w; v = μ·v + g'; w = w − lr·v. Grid (d, rows).
__kernel void lk_sgd_update_rows(__global float *w, __global float *v, __global const long *index, int use_index,
                                 __global const float *grad, ulong rows, ulong d, float lr, float mu, float wd) {
  LK_FOR_EACH(r, rows, 1) {
    const ulong j = use_index ? (ulong)index[r] : r;
    LK_FOR_EACH(k, d, 0) {
      const ulong at = j * d + k;
      const float weight = w[at];
      const float g = grad[r * d + k] + wd * weight;
      const float velocity = mu * v[at] + g;
      v[at] = velocity;
      w[at] = weight - lr * velocity;
    }
  }
}
