// AVX2+FMA versions of the CPU backend's row loops (see _CMicrokernels.h), chosen at run time.
#include "_CMicrokernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#define LK_AVX2 __attribute__((target("avx2,fma")))

static int lk_has_avx2(void) {
  static int cached = -1;
  int value = __atomic_load_n(&cached, __ATOMIC_RELAXED);
  if (value < 0) {
    __builtin_cpu_init();
    value = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    __atomic_store_n(&cached, value, __ATOMIC_RELAXED);
  }
  return value;
}

int lk_cpu_vector_width(void) { return lk_has_avx2() ? 8 : 0; }

// 2^f for f in [−½, ½]: degree-5 polynomial fitted for relative error (8e-8).
LK_AVX2 static inline __m256 lk_exp2_fraction8(__m256 f) {
  __m256 p = _mm256_set1_ps(1.3266970386325856e-3f);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.67545974551767e-3f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.55074261600255e-2f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4022121753561645e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.931469491610631e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0000000710296983f));
  return p;
}

// 2^t for 8 lanes: t = n + f with n = round(t), 2^f by a degree-5 polynomial on [−½, ½]
// (relative error 8e-8, fitted for relative error), 2^n added into the exponent bits. t < −126
// gives 0 (also t = −∞); t is clamped at 127; NaN must not occur.
LK_AVX2 static inline __m256 lk_exp2_8(__m256 t) {
  const __m256 underflow = _mm256_cmp_ps(t, _mm256_set1_ps(-126.0f), _CMP_LT_OQ);
  t = _mm256_min_ps(t, _mm256_set1_ps(127.0f));
  const __m256 n = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 f = _mm256_sub_ps(t, n);
  __m256 p = lk_exp2_fraction8(f);
  const __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
  p = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e));
  return _mm256_andnot_ps(underflow, p);
}

// exp(x − shift) for 8 lanes when x ≤ shift and no NaN (the softmax statistics pass).
LK_AVX2 static inline __m256 lk_exp_shifted8(__m256 x, __m256 shift) {
  return lk_exp2_8(_mm256_mul_ps(_mm256_sub_ps(x, shift), _mm256_set1_ps(1.44269504088896341f)));
}

// 2^t for 8 lanes over the whole float range: as lk_exp2_8, but 2^n is applied as two factors
// 2^⌊n/2⌋·2^(n−⌊n/2⌋), so results overflow to +∞ and underflow through subnormals to 0 as they
// should; NaN stays NaN.
LK_AVX2 static inline __m256 lk_exp2_full8(__m256 t) {
  const __m256 nan = _mm256_cmp_ps(t, t, _CMP_UNORD_Q);
  const __m256 c = _mm256_max_ps(_mm256_min_ps(t, _mm256_set1_ps(250.0f)), _mm256_set1_ps(-250.0f));
  const __m256 n = _mm256_round_ps(c, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 f = _mm256_sub_ps(c, n);
  __m256 p = lk_exp2_fraction8(f);
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 e1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 e2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_blendv_ps(_mm256_mul_ps(_mm256_mul_ps(p, e1), e2), t, nan);
}

// exp(x − shift) for 8 lanes, any x and shift.
LK_AVX2 static inline __m256 lk_exp_shifted_full8(__m256 x, __m256 shift) {
  return lk_exp2_full8(_mm256_mul_ps(_mm256_sub_ps(x, shift), _mm256_set1_ps(1.44269504088896341f)));
}

// Mask selecting the first `k` (0..8) lanes.
LK_AVX2 static inline __m256i lk_first_lanes(size_t k) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)k), lane);
}

// Loads the first k lanes of p, the others set to `fill`.
LK_AVX2 static inline __m256 lk_load_partial(const float *p, size_t k, float fill) {
  const __m256i mask = lk_first_lanes(k);
  return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, mask), _mm256_castsi256_ps(mask));
}

LK_AVX2 static inline float lk_hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

LK_AVX2 static inline float lk_hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// One pass over the block in chunks of 256 floats: the chunk's max (from L1), the running max and
// sum rescaled when it grows (one scalar exp per chunk), then Σ exp(x − max) of the chunk from L1.
LK_AVX2 static void lk_block_stats_avx2(const float *x, size_t n, float *max_out, float *sum_out) {
  enum { CHUNK = 256 };
  float running_max = -INFINITY;
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (size_t c = 0; c < n; c += CHUNK) {
    const size_t len = n - c < CHUNK ? n - c : CHUNK;
    const float *p = x + c;
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
    __m256 nan = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= len; i += 16) {
      const __m256 a = _mm256_loadu_ps(p + i), b = _mm256_loadu_ps(p + i + 8);
      m0 = _mm256_max_ps(m0, a);
      m1 = _mm256_max_ps(m1, b);
      nan = _mm256_or_ps(nan, _mm256_cmp_ps(a, b, _CMP_UNORD_Q));
    }
    for (; i < len; i += 8) {
      const __m256 a = lk_load_partial(p + i, len - i < 8 ? len - i : 8, -INFINITY);
      m0 = _mm256_max_ps(m0, a);
      nan = _mm256_or_ps(nan, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
    }
    if (_mm256_movemask_ps(nan)) {
      *max_out = NAN;
      *sum_out = 0;
      return;
    }
    const float chunk_max = lk_hmax(_mm256_max_ps(m0, m1));
    if (chunk_max == INFINITY) {
      // +inf: the row is irregular, but a later NaN must still win.
      running_max = INFINITY;
      continue;
    }
    if (running_max == INFINITY || chunk_max == -INFINITY) continue;
    if (chunk_max > running_max) {
      const __m256 scale = _mm256_set1_ps(expf(running_max - chunk_max));
      s0 = _mm256_mul_ps(s0, scale); s1 = _mm256_mul_ps(s1, scale);
      s2 = _mm256_mul_ps(s2, scale); s3 = _mm256_mul_ps(s3, scale);
      running_max = chunk_max;
    }
    const __m256 shift = _mm256_set1_ps(running_max);
    for (i = 0; i + 32 <= len; i += 32) {
      s0 = _mm256_add_ps(s0, lk_exp_shifted8(_mm256_loadu_ps(p + i), shift));
      s1 = _mm256_add_ps(s1, lk_exp_shifted8(_mm256_loadu_ps(p + i + 8), shift));
      s2 = _mm256_add_ps(s2, lk_exp_shifted8(_mm256_loadu_ps(p + i + 16), shift));
      s3 = _mm256_add_ps(s3, lk_exp_shifted8(_mm256_loadu_ps(p + i + 24), shift));
    }
    for (; i < len; i += 8)
      s0 = _mm256_add_ps(s0, lk_exp_shifted8(lk_load_partial(p + i, len - i < 8 ? len - i : 8, -INFINITY), shift));
  }
  *max_out = running_max;
  *sum_out = isfinite(running_max) ? lk_hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) : 0.0f;
}

// Shared loop of the two writers: head up to 32-byte alignment of y, aligned body, tail.
#define LK_WRITE_LOOP(EXPR)                                                                     \
  size_t i = 0;                                                                                 \
  size_t head = (size_t)((32 - ((uintptr_t)y & 31)) & 31) / sizeof(float);                     \
  if ((uintptr_t)y & 3) head = n; /* not float-aligned: no streaming at all */                  \
  if (head > n) head = n;                                                                       \
  for (; i < head; i += 8) {                                                                    \
    const size_t k = head - i < 8 ? head - i : 8;                                               \
    const __m256 v = lk_load_partial(x + i, k, 0.0f);                                           \
    _mm256_maskstore_ps(y + i, lk_first_lanes(k), (EXPR));                                      \
  }                                                                                             \
  i = head;                                                                                     \
  if (streaming) {                                                                              \
    for (; i + 8 <= n; i += 8) { const __m256 v = _mm256_loadu_ps(x + i); _mm256_stream_ps(y + i, (EXPR)); } \
  } else {                                                                                      \
    for (; i + 8 <= n; i += 8) { const __m256 v = _mm256_loadu_ps(x + i); _mm256_store_ps(y + i, (EXPR)); } \
  }                                                                                             \
  if (i < n) {                                                                                  \
    const size_t k = n - i;                                                                     \
    const __m256 v = lk_load_partial(x + i, k, 0.0f);                                           \
    _mm256_maskstore_ps(y + i, lk_first_lanes(k), (EXPR));                                      \
  }

LK_AVX2 static void lk_exp_scale_avx2(const float *x, size_t n, float shift, float scale, float *y, int streaming) {
  const __m256 sh = _mm256_set1_ps(shift), sc = _mm256_set1_ps(scale);
  LK_WRITE_LOOP(_mm256_mul_ps(lk_exp_shifted_full8(v, sh), sc))
}

LK_AVX2 static void lk_softmax_write_avx2(const float *x, size_t n, float max, float scale, float *y, int streaming) {
  const __m256 sh = _mm256_set1_ps(max), sc = _mm256_set1_ps(scale);
  LK_WRITE_LOOP(_mm256_mul_ps(lk_exp_shifted8(v, sh), sc))
}

LK_AVX2 static void lk_softmax_affine_write_avx2(const float *x, size_t n, float max, float scale, float offset,
                                                 const float *weights, float *y, int streaming) {
  const __m256 sh = _mm256_set1_ps(max), sc = _mm256_set1_ps(scale), off = _mm256_set1_ps(offset);
  if (!weights || offset == 0.0f) {
    LK_WRITE_LOOP(_mm256_sub_ps(_mm256_mul_ps(lk_exp_shifted8(v, sh), sc), off))
  } else {
    // The weights are read at the same offsets as x: the loop's `i` indexes both.
#define LK_WEIGHT(i) (((i) + 8 <= n) ? _mm256_loadu_ps(weights + (i)) : lk_load_partial(weights + (i), n - (i), 0.0f))
    LK_WRITE_LOOP(_mm256_fnmadd_ps(off, LK_WEIGHT(i), _mm256_mul_ps(lk_exp_shifted8(v, sh), sc)))
#undef LK_WEIGHT
  }
}

LK_AVX2 static void lk_cosine_logits_avx2(const float *raw, size_t n, const float *inv_norms, float amplitude,
                                          const float *column_scales, float *z) {
  const __m256 a = _mm256_set1_ps(amplitude), one = _mm256_set1_ps(1.0f), minus_one = _mm256_set1_ps(-1.0f);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 c = _mm256_mul_ps(_mm256_loadu_ps(raw + i), _mm256_loadu_ps(inv_norms + i));
    c = _mm256_max_ps(_mm256_min_ps(c, one), minus_one);
    __m256 v = _mm256_mul_ps(c, a);
    if (column_scales) v = _mm256_mul_ps(v, _mm256_loadu_ps(column_scales + i));
    _mm256_storeu_ps(z + i, v);
  }
  for (; i < n; i++) {
    float c = raw[i] * inv_norms[i];
    c = c > 1.0f ? 1.0f : (c < -1.0f ? -1.0f : c);
    z[i] = c * amplitude * (column_scales ? column_scales[i] : 1.0f);
  }
}

LK_AVX2 static void lk_exp_scale_columns_avx2(const float *x, size_t n, float max, float scale, const float *column_scales, float *y) {
  const __m256 sh = _mm256_set1_ps(max), sc = _mm256_set1_ps(scale);
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(lk_exp_shifted8(_mm256_loadu_ps(x + i), sh), sc), _mm256_loadu_ps(column_scales + i)));
  if (i < n) {
    const size_t k = n - i;
    const __m256 v = lk_load_partial(x + i, k, -INFINITY);
    const __m256 r = _mm256_mul_ps(_mm256_mul_ps(lk_exp_shifted8(v, sh), sc), lk_load_partial(column_scales + i, k, 0.0f));
    _mm256_maskstore_ps(y + i, lk_first_lanes(k), r);
  }
}

// One regression loss over 8 lanes of d = p − t: the loss (*f) and f'(d) (returned). Codes as
// ElementwiseLoss.Kind: 2 mse, 3 l1, 4 smooth-L1 (param β > 0), 5 huber (param δ), 7 mape
// (needs t: passed in `t`).
LK_AVX2 static inline __m256 lk_regression8(int kind, __m256 d, __m256 t, __m256 param, __m256 *f) {
  const __m256 zero = _mm256_setzero_ps(), sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 absd = _mm256_andnot_ps(sign_mask, d);
  // sign(d) with sign(0) = 0.
  const __m256 sign = _mm256_and_ps(_mm256_or_ps(_mm256_and_ps(d, sign_mask), _mm256_set1_ps(1.0f)),
                                    _mm256_cmp_ps(d, zero, _CMP_NEQ_UQ));
  switch (kind) {
  case LK_ELEMENTWISE_MSE:
    *f = _mm256_mul_ps(d, d);
    return _mm256_add_ps(d, d);
  case LK_ELEMENTWISE_L1:
    *f = absd;
    return sign;
  case LK_ELEMENTWISE_SMOOTH_L1: {
    const __m256 small = _mm256_cmp_ps(absd, param, _CMP_LT_OQ);
    const __m256 quadratic = _mm256_div_ps(_mm256_mul_ps(_mm256_mul_ps(d, d), _mm256_set1_ps(0.5f)), param);
    const __m256 linear = _mm256_sub_ps(absd, _mm256_mul_ps(param, _mm256_set1_ps(0.5f)));
    *f = _mm256_blendv_ps(linear, quadratic, small);
    return _mm256_blendv_ps(sign, _mm256_div_ps(d, param), small);
  }
  case LK_ELEMENTWISE_HUBER: {
    const __m256 small = _mm256_cmp_ps(absd, param, _CMP_LT_OQ);
    const __m256 quadratic = _mm256_mul_ps(_mm256_mul_ps(d, d), _mm256_set1_ps(0.5f));
    const __m256 linear = _mm256_mul_ps(param, _mm256_sub_ps(absd, _mm256_mul_ps(param, _mm256_set1_ps(0.5f))));
    *f = _mm256_blendv_ps(linear, quadratic, small);
    return _mm256_blendv_ps(_mm256_mul_ps(param, sign), d, small);
  }
  default: {  // LK_ELEMENTWISE_MAPE: mape = 100·|t − p| / max(|t|, 1e-7)
    const __m256 denominator = _mm256_max_ps(_mm256_andnot_ps(sign_mask, t), _mm256_set1_ps(1e-7f));
    const __m256 hundred_over = _mm256_div_ps(_mm256_set1_ps(100.0f), denominator);
    *f = _mm256_mul_ps(absd, hundred_over);
    return _mm256_mul_ps(sign, hundred_over);
  }
  }
}

LK_AVX2 static double lk_regression_avx2(int kind, const float *p, const float *t, size_t n, float param, float scale,
                                         const float *upstream, float *g, float *losses, int streaming) {
  const __m256 pa = _mm256_set1_ps(param), sc = _mm256_set1_ps(scale);
  __m256 s0 = _mm256_setzero_ps(), s1 = s0;
  size_t i = 0;
  const int aligned = streaming && !((uintptr_t)g & 15);
  for (; i + 8 <= n; i += 8) {
    const __m256 tv = _mm256_loadu_ps(t + i);
    __m256 f;
    __m256 dg = _mm256_mul_ps(lk_regression8(kind, _mm256_sub_ps(_mm256_loadu_ps(p + i), tv), tv, pa, &f), sc);
    if (upstream) dg = _mm256_mul_ps(dg, _mm256_loadu_ps(upstream + i));
    if (aligned) {
      _mm_stream_ps(g + i, _mm256_castps256_ps128(dg));
      _mm_stream_ps(g + i + 4, _mm256_extractf128_ps(dg, 1));
    } else {
      _mm256_storeu_ps(g + i, dg);
    }
    if (losses) _mm256_storeu_ps(losses + i, f);
    if ((i / 8) & 1) s1 = _mm256_add_ps(s1, f); else s0 = _mm256_add_ps(s0, f);
  }
  double total = (double)lk_hsum(s0) + (double)lk_hsum(s1);
  if (i < n) {
    const size_t k = n - i;
    const __m256 tv = lk_load_partial(t + i, k, 0.0f);
    __m256 f;
    __m256 dg = _mm256_mul_ps(lk_regression8(kind, _mm256_sub_ps(lk_load_partial(p + i, k, 0.0f), tv), tv, pa, &f), sc);
    if (upstream) dg = _mm256_mul_ps(dg, lk_load_partial(upstream + i, k, 0.0f));
    const __m256i mask = lk_first_lanes(k);
    _mm256_maskstore_ps(g + i, mask, dg);
    if (losses) _mm256_maskstore_ps(losses + i, mask, f);
    total += (double)lk_hsum(_mm256_and_ps(f, _mm256_castsi256_ps(mask)));
  }
  return total;
}

LK_AVX2 static void lk_subtract_avx2(const float *x, size_t n, float shift, float shift2, float *y, int streaming) {
  const __m256 sh = _mm256_set1_ps(shift), sh2 = _mm256_set1_ps(shift2);
  LK_WRITE_LOOP(_mm256_sub_ps(_mm256_sub_ps(v, sh), sh2))
}

int lk_cpu_block_stats(const float *x, size_t n, float *max_out, float *sum_out) {
  if (!lk_has_avx2()) return 0;
  lk_block_stats_avx2(x, n, max_out, sum_out);
  return 1;
}

int lk_cpu_exp_scale(const float *x, size_t n, float shift, float scale, float *y, int streaming) {
  if (!lk_has_avx2()) return 0;
  lk_exp_scale_avx2(x, n, shift, scale, y, streaming);
  return 1;
}

int lk_cpu_softmax_write(const float *x, size_t n, float max, float scale, float *y, int streaming) {
  if (!lk_has_avx2()) return 0;
  lk_softmax_write_avx2(x, n, max, scale, y, streaming);
  return 1;
}

int lk_cpu_softmax_affine_write(const float *x, size_t n, float max, float scale, float offset, const float *weights,
                                float *y, int streaming) {
  if (!lk_has_avx2()) return 0;
  lk_softmax_affine_write_avx2(x, n, max, scale, offset, weights, y, streaming);
  return 1;
}

int lk_cpu_cosine_logits(const float *raw, size_t n, const float *inv_norms, float amplitude, const float *column_scales, float *z) {
  if (!lk_has_avx2()) return 0;
  lk_cosine_logits_avx2(raw, n, inv_norms, amplitude, column_scales, z);
  return 1;
}

int lk_cpu_exp_scale_columns(const float *x, size_t n, float max, float scale, const float *column_scales, float *y) {
  if (!lk_has_avx2()) return 0;
  lk_exp_scale_columns_avx2(x, n, max, scale, column_scales, y);
  return 1;
}

int lk_cpu_regression(int kind, const float *p, const float *t, size_t n, float param, float scale, const float *upstream,
                      float *g, float *losses, int streaming, double *sum) {
  if (!lk_has_avx2() || !(kind == LK_ELEMENTWISE_MSE || kind == LK_ELEMENTWISE_L1 || kind == LK_ELEMENTWISE_SMOOTH_L1 || kind == LK_ELEMENTWISE_HUBER ||
                          kind == LK_ELEMENTWISE_MAPE) ||
      (kind == LK_ELEMENTWISE_SMOOTH_L1 && !(param > 0.0f))) return 0;
  // The loop's grouping of the sum must not depend on where g lies (results are bitwise
  // reproducible), so there is no alignment head: streaming stores go out as 16-byte halves.
  *sum = lk_regression_avx2(kind, p, t, n, param, scale, upstream, g, losses, streaming);
  return 1;
}

int lk_cpu_subtract(const float *x, size_t n, float shift, float shift2, float *y, int streaming) {
  if (!lk_has_avx2()) return 0;
  lk_subtract_avx2(x, n, shift, shift2, y, streaming);
  return 1;
}

void lk_cpu_store_fence(void) { _mm_sfence(); }

#else
int lk_cpu_vector_width(void) { return 0; }
int lk_cpu_block_stats(const float *x, size_t n, float *max_out, float *sum_out) { (void)x; (void)n; (void)max_out; (void)sum_out; return 0; }
int lk_cpu_exp_scale(const float *x, size_t n, float shift, float scale, float *y, int streaming) { (void)x; (void)n; (void)shift; (void)scale; (void)y; (void)streaming; return 0; }
int lk_cpu_softmax_write(const float *x, size_t n, float max, float scale, float *y, int streaming) { (void)x; (void)n; (void)max; (void)scale; (void)y; (void)streaming; return 0; }
int lk_cpu_softmax_affine_write(const float *x, size_t n, float max, float scale, float offset, const float *weights, float *y, int streaming) { (void)x; (void)n; (void)max; (void)scale; (void)offset; (void)weights; (void)y; (void)streaming; return 0; }
int lk_cpu_cosine_logits(const float *raw, size_t n, const float *inv_norms, float amplitude, const float *column_scales, float *z) { (void)raw; (void)n; (void)inv_norms; (void)amplitude; (void)column_scales; (void)z; return 0; }
int lk_cpu_exp_scale_columns(const float *x, size_t n, float max, float scale, const float *column_scales, float *y) { (void)x; (void)n; (void)max; (void)scale; (void)column_scales; (void)y; return 0; }
int lk_cpu_regression(int kind, const float *p, const float *t, size_t n, float param, float scale, const float *upstream, float *g, float *losses, int streaming, double *sum) { (void)kind; (void)p; (void)t; (void)n; (void)param; (void)scale; (void)upstream; (void)g; (void)losses; (void)streaming; (void)sum; return 0; }
int lk_cpu_subtract(const float *x, size_t n, float shift, float shift2, float *y, int streaming) { (void)x; (void)n; (void)shift; (void)shift2; (void)y; (void)streaming; return 0; }
void lk_cpu_store_fence(void) {}
#endif
