// Helpers shared by every kernel file; the program is built from common.cl followed by the others.

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
// (`scratch`: one float per work-item). Every work-item of the group must call it.
inline float lk_work_group_sum(float value, __local float *scratch) {
  const uint lid = get_local_id(0), wg = get_local_size(0);
  scratch[lid] = value;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint step = wg / 2; step > 0; step /= 2) {
    if (lid < step) scratch[lid] += scratch[lid + step];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  return scratch[0];
}
