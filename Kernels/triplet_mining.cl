// Triplet loss with in-batch mining (TripletMining.swift has the maths; OpenCLTripletMining.swift
// the order of the launches). OpenCL C 1.2, no atomics: every work-item owns its outputs.
// Shapes: e (the centred embeddings E') B×D; gram, dist, k, s B×B; norms, labels, rep B.
// K_ij = N·∂L/∂D_ij: row a holds only the triplets anchored at a.

// n_i = ‖e'_i‖². One work-item per row.
__kernel void lk_tm_squared_norms(__global const float *e, ulong rows, ulong d, __global float *norms) {
  LK_FOR_EACH(i, rows, 0) {
    float sum = 0.0f, comp = 0.0f;
    for (ulong c = 0; c < d; c++) lk_kahan_add(&sum, &comp, e[i * d + c] * e[i * d + c]);
    norms[i] = sum;
  }
}

// D_ij = sqrt(n_lo + n_hi − 2·G_lo,hi) through the representatives (lo, hi) = (min, max)(rep_i, rep_j):
// exactly symmetric, 0 between equal rows; recomputed from the differences where the subtraction
// cancels (below ratio·(n_lo + n_hi)). Grid (j, i).
__kernel void lk_tm_distances(__global const float *gram, __global const float *norms, __global const float *e,
                              __global const long *rep, ulong b, ulong d, float ratio, __global float *dist) {
  LK_FOR_EACH(i, b, 1) {
    LK_FOR_EACH(j, b, 0) {
      const ulong ri = (ulong)rep[i], rj = (ulong)rep[j];
      float value = 0.0f;
      if (ri != rj) {
        const ulong lo = min(ri, rj), hi = max(ri, rj);
        const float scale = norms[lo] + norms[hi];
        const float squared = scale - 2.0f * gram[lo * b + hi];
        if (squared >= ratio * scale) {
          value = sqrt(squared);
        } else {
          float sum = 0.0f, comp = 0.0f;
          for (ulong c = 0; c < d; c++) {
            const float diff = e[lo * d + c] - e[hi * d + c];
            lk_kahan_add(&sum, &comp, diff * diff);
          }
          value = sqrt(sum);
        }
      }
      dist[i * b + j] = value;
    }
  }
}

// batchAll, one work-item per (anchor a, column j). A triplet (a, p, n) counts when
// (D_ap + margin) − D_an > 0, evaluated the same way on both sides. For a positive j:
// K_aj = #{n : counts}, partial_aj = Σ of those values; for a negative j: K_aj = −#{p : counts}.
// Grid (j, a).
__kernel void lk_tm_all_pairs(__global const float *dist, __global const long *labels, ulong b, float margin,
                              __global float *k, __global float *partial) {
  LK_FOR_EACH(a, b, 1) {
    LK_FOR_EACH(j, b, 0) {
      __global const float *row = dist + a * b;
      const long label = labels[a];
      float kv = 0.0f, sum = 0.0f, comp = 0.0f;
      if (j != a && labels[j] == label) {
        const float threshold = row[j] + margin;
        uint count = 0;
        for (ulong n = 0; n < b; n++) {
          if (labels[n] == label) continue;
          const float v = threshold - row[n];
          if (v > 0.0f) {
            count++;
            lk_kahan_add(&sum, &comp, v);
          }
        }
        kv = (float)count;
      } else if (labels[j] != label) {
        const float dn = row[j];
        uint count = 0;
        for (ulong p = 0; p < b; p++) {
          if (p == a || labels[p] != label) continue;
          const float threshold = row[p] + margin;
          if (threshold - dn > 0.0f) count++;
        }
        kv = -(float)count;
      }
      k[a * b + j] = kv;
      partial[a * b + j] = sum;
    }
  }
}

// batchAll, per anchor in column order: the loss sum (Σ_j partial_aj) and the triplet count
// (Σ of the positive K_aj). One work-item per anchor.
__kernel void lk_tm_anchor_sums(__global const float *k, __global const float *partial, ulong b,
                                __global float *anchor_loss, __global ulong *anchor_count) {
  LK_FOR_EACH(a, b, 0) {
    float sum = 0.0f, comp = 0.0f;
    ulong count = 0;
    for (ulong j = 0; j < b; j++) {
      const float kv = k[a * b + j];
      if (kv > 0.0f) count += (ulong)kv;
      lk_kahan_add(&sum, &comp, partial[a * b + j]);
    }
    anchor_loss[a] = sum;
    anchor_count[a] = count;
  }
}

// batchHard, one work-item per anchor: the farthest positive and the nearest negative (first
// index on ties), loss max((D_ap + margin) − D_an, 0), count 1 when the anchor has both; row a of
// K is +1/−1 at p/n when the loss is positive, else 0.
__kernel void lk_tm_hard(__global const float *dist, __global const long *labels, ulong b, float margin,
                         __global float *k, __global float *anchor_loss, __global ulong *anchor_count) {
  LK_FOR_EACH(a, b, 0) {
    __global const float *row = dist + a * b;
    __global float *k_row = k + a * b;
    const long label = labels[a];
    ulong positive = b, negative = b;
    for (ulong j = 0; j < b; j++) {
      k_row[j] = 0.0f;
      if (j == a) continue;
      if (labels[j] == label) {
        if (positive == b || row[j] > row[positive]) positive = j;
      } else if (negative == b || row[j] < row[negative]) {
        negative = j;
      }
    }
    float loss = 0.0f;
    ulong count = 0;
    if (positive < b && negative < b) {
      count = 1;
      const float v = (row[positive] + margin) - row[negative];
      if (v > 0.0f) {
        loss = v;
        k_row[positive] = 1.0f;
        k_row[negative] = -1.0f;
      }
    }
    anchor_loss[a] = loss;
    anchor_count[a] = count;
  }
}

// S_ij = scale·(K_ij + K_ji)/D_ij, 0 where D_ij = 0 (scale = 1/N). Grid (j, i).
__kernel void lk_tm_pair_weights(__global const float *k, __global const float *dist, ulong b, float scale,
                                 __global float *s) {
  LK_FOR_EACH(i, b, 1) {
    LK_FOR_EACH(j, b, 0) {
      const float w = k[i * b + j] + k[j * b + i], dij = dist[i * b + j];
      s[i * b + j] = (w != 0.0f && dij > 0.0f) ? scale * w / dij : 0.0f;
    }
  }
}

// ∂L/∂e_i = (Σ_j S_ij)·e'_i − (S·E')_i, in place over se = S·E'. One work-item per row.
__kernel void lk_tm_finish_gradient(__global const float *s, __global const float *e, ulong b, ulong d,
                                    __global float *se) {
  LK_FOR_EACH(i, b, 0) {
    float sum = 0.0f, comp = 0.0f;
    for (ulong j = 0; j < b; j++) lk_kahan_add(&sum, &comp, s[i * b + j]);
    for (ulong c = 0; c < d; c++) se[i * d + c] = sum * e[i * d + c] - se[i * d + c];
  }
}
