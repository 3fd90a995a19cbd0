// Helpers shared by every kernel file; the program is built from common.cl followed by the others.

// Launch geometry (OpenCLDevice.launch): global sizes are rounded up to whole work-groups and
// capped (at most 2^30 work-items in dimension 0 and 65,535 work-groups in dimensions 1 and 2, or
// less under the test hook), so every kernel bounds-checks and strides over its range:
// LK_FOR_EACH(i, n, dim) visits i < n once across the whole launch, one work-item each;
// LK_FOR_EACH_GROUP(i, n, dim) visits i < n once per work-group (the loop is uniform in a group,
// so the body may use barriers).
#define LK_FOR_EACH(i, n, dim) for (ulong i = get_global_id(dim); i < (ulong)(n); i += get_global_size(dim))
#define LK_FOR_EACH_GROUP(i, n, dim) for (ulong i = get_group_id(dim); i < (ulong)(n); i += get_num_groups(dim))

// Kahan-compensated accumulation; the compensation is dropped once the sum is not finite, so ±∞
// and NaN propagate as in a plain sum.
inline void lk_kahan_add(float *sum, float *comp, float v) {
  float t = v - *comp, s = *sum + t;
  *comp = isfinite(s) ? (s - *sum) - t : 0.0f;
  *sum = s;
}

// sign(x) with sign(0) = 0.
inline float lk_sign(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f); }

// Σ of `value` over the work-group (its size a power of two), by a tree in local memory
// (`scratch`: one float per work-item). Every work-item of the group must call it; it may be called
// again at once (the first barrier keeps a new value from overwriting a total not yet read).
inline float lk_work_group_sum(float value, __local float *scratch) {
  const uint lid = get_local_id(0), wg = get_local_size(0);
  barrier(CLK_LOCAL_MEM_FENCE);
  scratch[lid] = value;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint step = wg / 2; step > 0; step /= 2) {
    if (lid < step) scratch[lid] += scratch[lid + step];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  return scratch[0];
}
