// Elementwise losses: per element the loss and ∂loss/∂input; op is an lk_elementwise_kind (lk_codes.h):
// BCE with logits, sigmoid focal (γ = p1, α = p2, no α weighting when α < 0), mse, l1, smooth-L1
// (β = p1; 0 is l1), huber (δ = p1), msle, mape (ε = 1e-7 in both), KL divergence of log-probabilities
// x against targets t or log-targets (0 where t = 0, or lt = −∞).
// dz = derivative·scale·(has_grad_output ? g[i] : 1). OpenCL C 1.2, grid-stride.
// BCE with logits with element weights and pos_weight has its own kernel, lk_weighted_bce_with_logits.

inline float lk_sigmoid(float z) { return z >= 0.0f ? 1.0f / (1.0f + exp(-z)) : exp(z) / (1.0f + exp(z)); }

__kernel void lk_elementwise_loss(__global const float *x, __global const float *t, ulong n, int op, float p1, float p2,
                                  float scale, __global const float *g, int has_grad_output,
                                  __global float *losses, __global float *dz) {
  LK_FOR_EACH(i, n, 0) {
    const float z = x[i], target = t[i];
    float loss, derivative;
    if (op == LK_ELEMENTWISE_BCE_WITH_LOGITS || op == LK_ELEMENTWISE_SIGMOID_FOCAL) {
      const float p = lk_sigmoid(z);
      const float ce = fmax(z, 0.0f) - z * target + log1p(exp(-fabs(z)));
      if (op == LK_ELEMENTWISE_BCE_WITH_LOGITS) {
        loss = ce;
        derivative = p - target;
      } else {
        const float pt = p * target + (1.0f - p) * (1.0f - target), q = 1.0f - pt;
        const float alpha_t = p2 >= 0.0f ? p2 * target + (1.0f - p2) * (1.0f - target) : 1.0f;
        const float modulator = pow(q, p1);
        const float d_modulator = (p1 == 0.0f || q <= 0.0f) ? 0.0f : -p1 * pow(q, p1 - 1.0f) * (2.0f * target - 1.0f) * p * (1.0f - p);
        loss = alpha_t * ce * modulator;
        derivative = alpha_t * ((p - target) * modulator + ce * d_modulator);
      }
    } else if (op == LK_ELEMENTWISE_KL_DIV || op == LK_ELEMENTWISE_KL_DIV_LOG_TARGET) {
      // ℓ = t·(log t − x), ∂ℓ/∂x = −t; with log-targets t = exp(lt). Exactly 0 where t = 0 (lt = −∞), whatever x.
      const int log_target = op == LK_ELEMENTWISE_KL_DIV_LOG_TARGET;
      if (log_target ? target == -INFINITY : target == 0.0f) {
        loss = 0.0f; derivative = 0.0f;
      } else {
        const float p = log_target ? exp(target) : target;
        loss = p * ((log_target ? target : log(target)) - z);
        derivative = -p;
      }
    } else {
      const float d = z - target, ad = fabs(d);
      if (op == LK_ELEMENTWISE_MSE) {
        loss = d * d; derivative = 2.0f * d;
      } else if (op == LK_ELEMENTWISE_L1) {
        loss = ad; derivative = lk_sign(d);
      } else if (op == LK_ELEMENTWISE_SMOOTH_L1) {
        if (p1 > 0.0f && ad < p1) { loss = 0.5f * d * d / p1; derivative = d / p1; }
        else { loss = ad - 0.5f * p1; derivative = lk_sign(d); }
      } else if (op == LK_ELEMENTWISE_HUBER) {
        if (ad < p1) { loss = 0.5f * d * d; derivative = d; }
        else { loss = p1 * (ad - 0.5f * p1); derivative = p1 * lk_sign(d); }
      } else if (op == LK_ELEMENTWISE_MSLE) {
        const float pc = fmax(z, 1e-7f), r = log(pc + 1.0f) - log(fmax(target, 1e-7f) + 1.0f);
        loss = r * r; derivative = z > 1e-7f ? 2.0f * r / (pc + 1.0f) : 0.0f;
      } else {
        const float denominator = fmax(fabs(target), 1e-7f);
        loss = 100.0f * fabs(target - z) / denominator; derivative = 100.0f * lk_sign(z - target) / denominator;
      }
    }
    losses[i] = loss;
    dz[i] = derivative * scale * (has_grad_output ? g[i] : 1.0f);
  }
}

// BCE with logits with PyTorch's weight and pos_weight: ew = 1, weight[i] or weight[i mod columns] as
// weight_layout (an lk_weight_layout) says; pw = pos_weight[i mod columns] when has_pos_weight, else 1.
// With lw = 1 + (pw − 1)·t and sp = log1p(exp(−|z|)):
//   ℓ     = ew·[lw·sp + (z ≥ 0 ? (1 − t)·z : −pw·t·z)]   (= ew·[(1 − t)·z + lw·(sp + max(−z, 0))], without its cancellation for z < 0)
//   ∂ℓ/∂z = ew·(lw·σ(z) − pw·t)
// dz = ∂ℓ/∂z·scale·(has_grad_output ? g[i] : 1). Grid (columns, rows), strided in both (no
// division per element).
__kernel void lk_weighted_bce_with_logits(__global const float *x, __global const float *t, ulong rows, ulong columns,
                                          __global const float *weight, int weight_layout, __global const float *pos_weight,
                                          int has_pos_weight, float scale, __global const float *g, int has_grad_output,
                                          __global float *losses, __global float *dz) {
  LK_FOR_EACH(r, rows, 1) {
    LK_FOR_EACH(c, columns, 0) {
      const ulong i = r * columns + c;
      const float z = x[i], target = t[i];
      const float ew = weight_layout == LK_WEIGHT_PER_ELEMENT ? weight[i] : (weight_layout == LK_WEIGHT_PER_COLUMN ? weight[c] : 1.0f);
      const float pw = has_pos_weight ? pos_weight[c] : 1.0f;
      const float lw = 1.0f + (pw - 1.0f) * target;
      const float sp = log1p(exp(-fabs(z)));
      losses[i] = ew * (lw * sp + (z >= 0.0f ? (1.0f - target) * z : -pw * target * z));
      dz[i] = ew * (lw * lk_sigmoid(z) - pw * target) * scale * (has_grad_output ? g[i] : 1.0f);
    }
  }
}
