"""The peers' side of the comparison: each workload of `losskernels bench` written the idiomatic,
fastest straightforward way in PyTorch (eager, all cores) and JAX (jit, CPU), timed with the same
protocol as `losskernels bench` (warm-up calls, then timed calls, median).

Run as a worker, one framework and one workload per process (so neither framework's thread pools
disturb the other's timings):

    python peer_workloads.py torch softmax --warmup 3 --iterations 20

prints one JSON object: {"framework", "workload", "version", "threads", "times", "median_seconds"}.

Workloads (the same shapes, distributions and outputs as our bench operations):
  softmax        p = softmax(z) over rows, z: 256 x 100,000, uniform in [-4, 4)
  cross-entropy  mean cross-entropy of z (256 x 100,000) against random labels: loss and dL/dz
  cosface        one head step: X 256 x 512 uniform [-1, 1), W 100,000 x 512 uniform [-0.05, 0.05),
                 c = clamp(x^.w^, -1, 1), target logit s(c - m), s = 64, m = 0.35,
                 mean cross-entropy; loss, dL/dX, dL/dW (gradient through both normalisations)
  arcface        the same with target logit s cos(theta + m) (m = 0.5), s (c - m sin m) where
                 theta + m > pi; exact gradient
  mse            mean (p - t)^2 over 2^24 elements, p, t uniform [-2, 2): loss and dL/dp
  triplet        mean max(d(a,p) - d(a,n) + 1, 0), d(x,y) = ||x - y + 1e-6||_2, 256 x 128 each,
                 uniform [-1, 1): loss and the gradients of a, p and n
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np

SHAPES = {
    "softmax": dict(batch=256, classes=100_000),
    "cross-entropy": dict(batch=256, classes=100_000),
    "cosface": dict(batch=256, dim=512, classes=100_000, scale=64.0, margin=0.35),
    "arcface": dict(batch=256, dim=512, classes=100_000, scale=64.0, margin=0.5),
    "mse": dict(elements=1 << 24),
    "triplet": dict(batch=256, dim=128, margin=1.0),
}


def inputs(workload, seed=42):
    """The workload's inputs as float32 / int64 numpy arrays (same distributions as our bench)."""
    rng = np.random.default_rng(seed)
    s = SHAPES[workload]

    def uniform(shape, scale):
        return rng.uniform(-scale, scale, size=shape).astype(np.float32)

    if workload in ("softmax", "cross-entropy"):
        return dict(z=uniform((s["batch"], s["classes"]), 4.0),
                    y=rng.integers(0, s["classes"], size=s["batch"], dtype=np.int64))
    if workload in ("cosface", "arcface"):
        return dict(x=uniform((s["batch"], s["dim"]), 1.0), w=uniform((s["classes"], s["dim"]), 0.05),
                    y=rng.integers(0, s["classes"], size=s["batch"], dtype=np.int64))
    if workload == "mse":
        return dict(p=uniform(s["elements"], 2.0), t=uniform(s["elements"], 2.0))
    if workload == "triplet":
        return dict(a=uniform((s["batch"], s["dim"]), 1.0), p=uniform((s["batch"], s["dim"]), 1.0),
                    n=uniform((s["batch"], s["dim"]), 1.0))
    raise ValueError(workload)


def torch_call(workload):
    """A closure doing one call of the workload in PyTorch eager mode, on all cores."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(os.cpu_count())
    data = {k: torch.from_numpy(v) for k, v in inputs(workload).items()}
    s = SHAPES[workload]

    if workload == "softmax":
        z = data["z"]
        return lambda: torch.softmax(z, dim=1)
    if workload == "cross-entropy":
        z, y = data["z"].requires_grad_(), data["y"]

        def ce():
            loss = F.cross_entropy(z, y)
            return loss, torch.autograd.grad(loss, z)
        return ce
    if workload in ("cosface", "arcface"):
        x, w, y = data["x"].requires_grad_(), data["w"].requires_grad_(), data["y"]
        scale, m = s["scale"], s["margin"]
        rows = y[:, None]
        cos_m, sin_m = math.cos(m), math.sin(m)
        threshold, fallback = math.cos(math.pi - m), m * math.sin(m)

        def step():
            cos = F.linear(F.normalize(x), F.normalize(w))  # B x C, one GEMM
            target = cos.gather(1, rows)
            if workload == "cosface":
                target = target - m
            else:
                # cos(theta + m) = c cos m - sin(theta) sin m, and c - m sin m past theta + m = pi.
                sine = torch.sqrt(torch.clamp(1 - target * target, min=1e-12))
                target = torch.where(target > threshold, target * cos_m - sine * sin_m, target - fallback)
            logits = cos.scatter(1, rows, target) * scale
            loss = F.cross_entropy(logits, y)
            return loss, torch.autograd.grad(loss, (x, w))
        return step
    if workload == "mse":
        p, t = data["p"].requires_grad_(), data["t"]

        def mse():
            loss = F.mse_loss(p, t)
            return loss, torch.autograd.grad(loss, p)
        return mse
    if workload == "triplet":
        a, p, n = (data[k].requires_grad_() for k in "apn")

        def triplet():
            loss = F.triplet_margin_loss(a, p, n, margin=s["margin"], p=2, eps=1e-6)
            return loss, torch.autograd.grad(loss, (a, p, n))
        return triplet
    raise ValueError(workload)


def jax_call(workload):
    """A closure doing one call of the jit-compiled workload in JAX on the CPU, waited for."""
    import jax
    import jax.numpy as jnp

    data = {k: jnp.asarray(v) for k, v in inputs(workload).items()}
    s = SHAPES[workload]

    def mean_cross_entropy(logits, y):
        log_p = jax.nn.log_softmax(logits, axis=1)
        return -jnp.mean(jnp.take_along_axis(log_p, y[:, None], axis=1))

    if workload == "softmax":
        f, args = jax.jit(lambda z: jax.nn.softmax(z, axis=1)), (data["z"],)
    elif workload == "cross-entropy":
        f, args = jax.jit(jax.value_and_grad(mean_cross_entropy)), (data["z"], data["y"])
    elif workload in ("cosface", "arcface"):
        scale, m = s["scale"], s["margin"]
        cos_m, sin_m = math.cos(m), math.sin(m)
        threshold, fallback = math.cos(math.pi - m), m * math.sin(m)

        def normalize(v):
            return v / jnp.maximum(jnp.linalg.norm(v, axis=1, keepdims=True), 1e-12)

        def loss(x, w, y):
            cos = jnp.clip(normalize(x) @ normalize(w).T, -1.0, 1.0)
            rows = jnp.arange(cos.shape[0])
            target = cos[rows, y]
            if workload == "cosface":
                target = target - m
            else:
                sine = jnp.sqrt(jnp.maximum(1 - target * target, 1e-12))
                target = jnp.where(target > threshold, target * cos_m - sine * sin_m, target - fallback)
            return mean_cross_entropy(cos.at[rows, y].set(target) * scale, y)
        f, args = jax.jit(jax.value_and_grad(loss, argnums=(0, 1))), (data["x"], data["w"], data["y"])
    elif workload == "mse":
        f, args = jax.jit(jax.value_and_grad(lambda p, t: jnp.mean((p - t) ** 2))), (data["p"], data["t"])
    elif workload == "triplet":
        margin = s["margin"]

        def triplet(a, p, n):
            d_ap = jnp.linalg.norm(a - p + 1e-6, axis=1)
            d_an = jnp.linalg.norm(a - n + 1e-6, axis=1)
            return jnp.mean(jnp.maximum(d_ap - d_an + margin, 0.0))
        f, args = jax.jit(jax.value_and_grad(triplet, argnums=(0, 1, 2))), (data["a"], data["p"], data["n"])
    else:
        raise ValueError(workload)
    return lambda: jax.block_until_ready(f(*args))


def time_calls(call, warmup, iterations):
    """The protocol of `losskernels bench`: `warmup` untimed calls, then `iterations` timed ones."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("framework", choices=["torch", "jax"])
    parser.add_argument("workload", choices=sorted(SHAPES))
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args()
    if args.framework == "torch":
        import torch
        call, version, threads = torch_call(args.workload), torch.__version__, None
        threads = torch.get_num_threads()
    else:
        import jax
        call, version, threads = jax_call(args.workload), jax.__version__, os.cpu_count()
    times = time_calls(call, args.warmup, args.iterations)
    json.dump(dict(framework=args.framework, workload=args.workload, version=version, threads=threads,
                   times=times, median_seconds=statistics.median(times)), sys.stdout)
    print()


if __name__ == "__main__":
    main()
