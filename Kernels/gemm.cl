// The epilogue of a split-K matrix product (CLBlast.swift): c[c_offset + i] = beta·c[c_offset + i]
// + Σ_s partials[s·count + i], the slices added in order (deterministic); c is not read when beta
// is 0 (as a GEMM with β = 0). OpenCL C 1.2.
__kernel void lk_sum_slices(__global const float *partials, ulong slices, ulong count, float beta, __global float *c,
                            ulong c_offset) {
  LK_FOR_EACH(i, count, 0) {
    float sum = 0.0f;
    for (ulong s = 0; s < slices; s++) sum += partials[s * count + i];
    c[c_offset + i] = beta == 0.0f ? sum : beta * c[c_offset + i] + sum;
  }
}
