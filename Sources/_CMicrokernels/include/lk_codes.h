// The integer codes LossKernels passes between Swift, the C microkernels and the OpenCL kernels:
// which elementwise loss, how its weights are laid out, which margin head, which reduction, which
// softmax-family output, which norm. This header is the only place they are written: the
// microkernels include it, Swift imports it (module _CMicrokernels), and the OpenCL program is built
// from it followed by Kernels/*.cl (Sources/_COpenCLShim/kernel_sources.c). It must stay valid C99
// and OpenCL C 1.2: plain enums, no includes. A code used on one side and missing on another does
// not compile.
#ifndef LOSSKERNELS_CODES_H
#define LOSSKERNELS_CODES_H

/// The elementwise losses: one kernel and one microkernel handle all of them, switching on the kind.
enum lk_elementwise_kind {
  /// `max(z,0) − z·t + log(1 + exp(−|z|))`, derivative σ(z) − t.
  LK_ELEMENTWISE_BCE_WITH_LOGITS = 0,
  /// torchvision's sigmoid focal loss (γ = parameter 1, α = parameter 2; α < 0: no weighting).
  LK_ELEMENTWISE_SIGMOID_FOCAL = 1,
  /// `(p − t)²`.
  LK_ELEMENTWISE_MSE = 2,
  /// `|p − t|`.
  LK_ELEMENTWISE_L1 = 3,
  /// Smooth L1 with β = parameter 1 (β = 0 is l1).
  LK_ELEMENTWISE_SMOOTH_L1 = 4,
  /// Huber with δ = parameter 1.
  LK_ELEMENTWISE_HUBER = 5,
  /// `(log(max(p,ε)+1) − log(max(t,ε)+1))²`, ε = 1e-7.
  LK_ELEMENTWISE_MSLE = 6,
  /// `100·|t − p| / max(|t|, ε)`, ε = 1e-7.
  LK_ELEMENTWISE_MAPE = 7,
  /// KL divergence `t·(log t − x)` of log-probabilities x (0 where t = 0).
  LK_ELEMENTWISE_KL_DIV = 8,
  /// KL divergence with log targets lt: `exp(lt)·(lt − x)` (0 where lt = −∞).
  LK_ELEMENTWISE_KL_DIV_LOG_TARGET = 9,
  /// BCE with logits with element weights and per-column positive weights (PyTorch's weight, pos_weight).
  LK_ELEMENTWISE_WEIGHTED_BCE_WITH_LOGITS = 10,
};

/// How an elementwise loss's element weights are laid out over row-major `rows × columns` elements
/// (PyTorch's `weight` of `binary_cross_entropy_with_logits`).
enum lk_weight_layout {
  /// No weights: every element weighs 1.
  LK_WEIGHT_NONE = 0,
  /// One weight per element, the input's shape.
  LK_WEIGHT_PER_ELEMENT = 1,
  /// One row of `columns` weights applied to every row (index: element mod columns).
  LK_WEIGHT_PER_COLUMN = 2,
};

/// The normalised-cosine margin heads (Losses/MarginHead.swift has the table of their logits).
enum lk_margin_head_kind {
  LK_HEAD_NORMALIZED = 0,
  LK_HEAD_COSFACE = 1,
  LK_HEAD_ARCFACE = 2,
  LK_HEAD_COMBINED = 3,
  LK_HEAD_SPHEREFACE = 4,
  LK_HEAD_LARGE_MARGIN = 5,
};

/// What a forward reduction kernel accumulates. The additive ones come first: kernels test
/// `op <= LK_REDUCE_SUM_OF_SQUARES` for a (Kahan-compensated) sum.
enum lk_reduce_op {
  /// Σ x (also mean, divided on the host).
  LK_REDUCE_SUM = 0,
  /// Σ x² (l2Norm takes its square root on the host).
  LK_REDUCE_SUM_OF_SQUARES = 1,
  LK_REDUCE_MAX = 2,
  LK_REDUCE_MIN = 3,
  /// The maximum and its first index.
  LK_REDUCE_ARGMAX = 4,
  /// log Σ exp x, stabilised by the maximum.
  LK_REDUCE_LOG_SUM_EXP = 5,
};

/// The gradient a reduction's backward kernel writes.
enum lk_reduce_backward_op {
  /// dz = g.
  LK_REDUCE_BACKWARD_SUM = 0,
  /// dz = g/n.
  LK_REDUCE_BACKWARD_MEAN = 1,
  /// dz = g·x/‖x‖ (0 where ‖x‖ = 0).
  LK_REDUCE_BACKWARD_L2_NORM = 2,
  /// dz = g at the winning index, 0 elsewhere (max, min).
  LK_REDUCE_BACKWARD_SELECT = 3,
  /// dz = g·exp(x − lse).
  LK_REDUCE_BACKWARD_LOG_SUM_EXP = 4,
};

/// The groups a reduction runs over.
enum lk_reduce_axis {
  LK_AXIS_ALL = 0,
  LK_AXIS_ROWS = 1,
  LK_AXIS_COLUMNS = 2,
};

/// The output of the softmax kernels: forward y, backward dz.
enum lk_softmax_mode {
  /// Forward y = softmax(x); backward dz = y ⊙ (g − Σ g·y).
  LK_SOFTMAX = 0,
  /// Forward y = logSoftmax(x); backward dz = g − exp(y)·Σ g.
  LK_LOG_SOFTMAX = 1,
  /// Backward of logSumExp: dz = g_row·exp(x − lse_row).
  LK_LOG_SUM_EXP = 2,
};

/// The norm of a triplet distance ‖x − y + eps‖_p.
enum lk_distance_norm {
  LK_NORM_L1 = 1,
  LK_NORM_L2 = 2,
};

#endif
