// x86-64 microkernels for the CPU backend's memory-bound row loops. Plain `swift build -c release`
// compiles Swift for baseline SSE2 and has no non-temporal stores; these functions are compiled for
// AVX2+FMA with a per-function target attribute and chosen at run time when the CPU has them, so the
// package needs no extra compiler flags. NOTES.md has the measurements that justify them.
// Every function returns 0 (and does nothing) when the CPU lacks AVX2/FMA: the Swift path runs then.
#ifndef LOSSKERNELS_MICROKERNELS_H
#define LOSSKERNELS_MICROKERNELS_H

#include <stddef.h>

#include "lk_codes.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Vector width in floats of the microkernels on this CPU (8 for AVX2+FMA), 0 when unavailable.
int lk_cpu_vector_width(void);

/// Statistics of x[0..<n] (n ≥ 1): *max_out = max (NaN if a NaN occurs), *sum_out = Σ exp(x − max)
/// when the max is finite (else 0).
int lk_cpu_block_stats(const float *x, size_t n, float *max_out, float *sum_out);

/// y[i] = exp(x[i] − shift) · scale for i < n, over the whole float range (overflow gives +∞,
/// NaN stays NaN); streaming (non-temporal) stores when `streaming`.
int lk_cpu_exp_scale(const float *x, size_t n, float shift, float scale, float *y, int streaming);

/// Softmax output: y[i] = exp(x[i] − max) · scale, where x[i] ≤ max and no x[i] is NaN (the
/// faster exp of the statistics pass); streaming stores when `streaming`.
int lk_cpu_softmax_write(const float *x, size_t n, float max, float scale, float *y, int streaming);

/// Softmax-loss gradient: y[i] = exp(x[i] − max)·scale − offset·w[i] (w[i] = 1 when `weights` is
/// NULL), where x[i] ≤ max and no x[i] is NaN; streaming stores when `streaming`.
int lk_cpu_softmax_affine_write(const float *x, size_t n, float max, float scale, float offset, const float *weights,
                                float *y, int streaming);

/// Cosine logits of a margin head: z[i] = amplitude·s[i]·clamp(raw[i]·inv_norms[i], −1, 1), s[i] =
/// column_scales[i] or 1 when NULL. raw and z may be the same buffer.
int lk_cpu_cosine_logits(const float *raw, size_t n, const float *inv_norms, float amplitude, const float *column_scales, float *z);

/// y[i] = exp(x[i] − max)·scale·column_scales[i], where x[i] ≤ max and no x[i] is NaN. In place allowed.
int lk_cpu_exp_scale_columns(const float *x, size_t n, float max, float scale, const float *column_scales, float *y);

/// Regression loss over n elements (kind: LK_ELEMENTWISE_MSE, _L1, _SMOOTH_L1 with β = param > 0,
/// _HUBER with δ = param, _MAPE): g[i] = f'(p[i] − t[i])·scale·(upstream ? upstream[i] : 1),
/// losses[i] = f (when losses is not NULL), *sum = Σ f. Returns 0 (nothing done) for other kinds or
/// without AVX2; streaming stores for g when `streaming` and g is 16-byte aligned.
int lk_cpu_regression(int kind, const float *p, const float *t, size_t n, float param, float scale, const float *upstream,
                      float *g, float *losses, int streaming, double *sum);

/// y[i] = (x[i] − shift) − shift2 for i < n; streaming stores when `streaming`. Two steps, so
/// logSoftmax = (z − max) − log Σ keeps its accuracy for logits in the hundreds.
int lk_cpu_subtract(const float *x, size_t n, float shift, float shift2, float *y, int streaming);

/// Orders earlier streaming stores before later loads and stores (sfence).
void lk_cpu_store_fence(void);

#ifdef __cplusplus
}
#endif
#endif
