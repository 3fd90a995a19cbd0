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
