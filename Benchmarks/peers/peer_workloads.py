"""The peers' side of the comparison: each workload of `losskernels bench` written the idiomatic,
fastest straightforward way in PyTorch (eager, all cores) and JAX (jit, CPU), timed with the same
protocol as `losskernels bench` (warm-up calls, then timed calls, median).

Run as a worker, one framework and one workload per process (so neither framework's thread pools
disturb the other's timings):

    python peer_workloads.py torch softmax --warmup 3 --iterations 20

prints one JSON object: {"framework", "workload", "version", "threads", "times", "median_seconds"}.
`python peer_workloads.py describe` prints BENCH, SHAPES and the bench arguments as JSON.

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

SHAPES = {
    "softmax": dict(batch=256, classes=100_000),
    "cross-entropy": dict(batch=256, classes=100_000),
    "cosface": dict(batch=256, dim=512, classes=100_000, scale=64.0, margin=0.35),
    "arcface": dict(batch=256, dim=512, classes=100_000, scale=64.0, margin=0.5),
    "mse": dict(elements=1 << 24),
    "triplet": dict(batch=256, dim=128, margin=1.0),
}


# Each workload as `losskernels bench` runs it: the operation of the table (`losskernels
# operations --json`), its options, and for each input array the table's tensor and the values made
# for it (uniform in [-scale, scale), or class indices). `peers.py` builds its bench arguments from
# this and checks it against the table before timing; the project's tests check it too.
BENCH = {
    "softmax": dict(operation="softmax", options={}, inputs=dict(z=("logits", 4.0))),
    "cross-entropy": dict(operation="cross-entropy", options={}, inputs=dict(z=("logits", 4.0), y=("labels", "classes"))),
    "cosface": dict(operation="margin-softmax", options=dict(head="cosface"),
                    inputs=dict(x=("features", 1.0), w=("weights", 0.05), y=("labels", "classes"))),
    "arcface": dict(operation="margin-softmax", options=dict(head="arcface"),
                    inputs=dict(x=("features", 1.0), w=("weights", 0.05), y=("labels", "classes"))),
    "mse": dict(operation="mse", options={}, inputs=dict(p=("predictions", 2.0), t=("targets", 2.0))),
    "triplet": dict(operation="triplet", options={}, inputs=dict(a=("anchors", 1.0), p=("positives", 1.0), n=("negatives", 1.0))),
}


def bench_arguments(workload):
    """`losskernels bench` arguments of the workload: its operation, options and sizes."""
    entry, s = BENCH[workload], SHAPES[workload]
    arguments = [entry["operation"]]
    for flag, value in entry["options"].items():
        arguments += ["--" + flag, str(value)]
    for size in ("batch", "dim", "classes", "elements"):
        if size in s:
            arguments += ["--" + size, str(s[size])]
    return arguments


def check_against(table):
    """Problems (strings) where BENCH disagrees with the operation table `table` (the parsed
    `losskernels operations --json`): unknown operations, options or tensors, other value ranges."""
    operations = {op["name"]: op for op in table["operations"]}
    problems = []
    for workload, entry in BENCH.items():
        op = operations.get(entry["operation"])
        if op is None:
            problems.append(f"{workload}: no operation {entry['operation']}")
            continue
        options = {o.split(" ")[0] for o in op["options"]}
        for flag in entry["options"]:
            if flag not in options:
                problems.append(f"{workload}: {entry['operation']} has no option --{flag}")
        tensors = {t["flag"]: t for t in op["inputs"]}
        for key, (flag, values) in entry["inputs"].items():
            tensor = tensors.get(flag)
            if tensor is None:
                problems.append(f"{workload}: {entry['operation']} has no input --{flag}")
                continue
            expected = "class indices" if values == "classes" else f"uniform[{-values}, {values})"
            if tensor["values"] != expected:
                problems.append(f"{workload}: --{flag} is {tensor['values']} in the table, {expected} here")
        for size in ("batch", "dim", "classes", "elements"):
            if size in SHAPES[workload] and size not in op["bench_sizes"]:
                problems.append(f"{workload}: {entry['operation']} does not use --{size}")
    return problems


def inputs(workload, seed=42):
    """The workload's inputs as float32 / int64 numpy arrays (the distributions of BENCH, the shapes
    of SHAPES: as our bench makes them)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    s = SHAPES[workload]
    shapes = dict(z=(s.get("batch"), s.get("classes")), x=(s.get("batch"), s.get("dim")), w=(s.get("classes"), s.get("dim")),
                  y=(s.get("batch"),), a=(s.get("batch"), s.get("dim")), n=(s.get("batch"), s.get("dim")))
    if workload == "mse":
        shapes.update(p=(s["elements"],), t=(s["elements"],))
    else:
        shapes.update(p=(s.get("batch"), s.get("dim")))
    made = {}
    for key, (_, values) in BENCH[workload]["inputs"].items():
        if values == "classes":
            made[key] = rng.integers(0, s["classes"], size=shapes[key], dtype=np.int64)
        else:
            made[key] = rng.uniform(-values, values, size=shapes[key]).astype(np.float32)
    return made


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
    if sys.argv[1:] == ["describe"]:
        # What the project's tests check against the operation table (no numpy needed).
        json.dump({w: dict(BENCH[w], shape=SHAPES[w], bench=bench_arguments(w)) for w in BENCH}, sys.stdout)
        print()
        return
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
