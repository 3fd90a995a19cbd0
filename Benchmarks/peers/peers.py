"""Times LossKernels (`losskernels bench <op> --json --backend cpu`), PyTorch and JAX on the same
workloads in one run, next to the machine's ceilings (limits copy, limits gemm3) measured in the
same run, and writes results/<date>.md (table), .json (raw numbers) and .png (chart).

Called by ./run, which installs the peers and builds the binaries first:

    python peers.py --losskernels PATH --limits PATH [--rounds N] [--quick]

Each round measures the ceilings, then times every workload with every framework, one process per
(framework, workload), in an order rotated each round. A framework's time is the median over rounds
of its per-round medians; speed-ups and fractions of ceiling are taken within each round (figures
measured minutes apart on a shared machine are not comparable) and their median over rounds is
reported, with their range.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

from peer_workloads import bench_arguments, check_against
from report import write_report

HERE = os.path.dirname(os.path.abspath(__file__))
FRAMEWORKS = ["losskernels", "torch", "jax"]

# name, shape, our bench arguments (from peer_workloads.BENCH), the peers' workload, warm-up, timed calls,
# ceiling kind.
WORKLOADS = [
    dict(name="softmax", shape="B 256, C 100,000", peer="softmax", warmup=3, iterations=20, ceiling="copy",
         bench=bench_arguments("softmax")),
    dict(name="cross-entropy fwd+bwd", shape="B 256, C 100,000", peer="cross-entropy", warmup=3, iterations=20, ceiling="copy",
         bench=bench_arguments("cross-entropy")),
    dict(name="cosFace step", shape="B 256, D 512, C 100,000", peer="cosface", warmup=1, iterations=5, ceiling="gemm3",
         bench=bench_arguments("cosface")),
    dict(name="arcFace step", shape="B 256, D 512, C 100,000", peer="arcface", warmup=1, iterations=5, ceiling="gemm3",
         bench=bench_arguments("arcface")),
    dict(name="mse fwd+bwd", shape="N 16,777,216", peer="mse", warmup=3, iterations=20, ceiling="copy",
         bench=bench_arguments("mse")),
    dict(name="triplet fwd+bwd", shape="B 256, D 128", peer="triplet", warmup=500, iterations=500, ceiling=None,
         bench=bench_arguments("triplet")),
]


def run_json(command):
    """Runs a command that prints one JSON object on stdout's last line, and returns it."""
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def time_workload(framework, workload, losskernels, quick):
    warmup, iterations = (1, 3) if quick else (workload["warmup"], workload["iterations"])
    if framework == "losskernels":
        result = run_json([losskernels, "bench", *workload["bench"], "--backend", "cpu", "--json",
                           "--warmup", str(warmup), "--iterations", str(iterations)])
        return dict(median_seconds=result["median_seconds"], bench=result)
    return run_json([sys.executable, os.path.join(HERE, "peer_workloads.py"), framework, workload["peer"],
                     "--warmup", str(warmup), "--iterations", str(iterations)])


def ceilings(limits):
    copy = float(subprocess.run([limits, "copy"], check=True, stdout=subprocess.PIPE, text=True).stdout)
    gemm3 = float(subprocess.run([limits, "gemm3", "256", "512", "100000"], check=True, stdout=subprocess.PIPE, text=True).stdout)
    return dict(copy_gb_per_second=copy, gemm3_seconds=gemm3)


def machine():
    """CPU model, core count, memory and the load averages, as the results' header shows them."""
    model = platform.processor() or platform.machine()
    try:
        for line in subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return dict(cpu=model, cores=os.cpu_count(), memory_gib=round(memory / 2**30, 1), kernel=platform.release())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--losskernels", required=True, help="the release build of the losskernels CLI")
    parser.add_argument("--limits", required=True, help="the built limits.c")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 warm-up and 3 timed calls per figure, to check the script")
    parser.add_argument("--output-dir", default=os.path.join(HERE, "results"))
    parser.add_argument("--commit", default="", help="the project's commit, for the header")
    args = parser.parse_args()

    # The peers' workloads must be the operations `bench` times: checked against the table first.
    problems = check_against(run_json([args.losskernels, "operations", "--json"]))
    if problems:
        sys.exit("peer_workloads.BENCH disagrees with `losskernels operations --json`:\n  " + "\n  ".join(problems))

    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}", file=sys.stderr)
    rounds, ceiling_runs = [], []
    for r in range(args.rounds):
        ceiling_runs.append(dict(ceilings(args.limits), load_average=os.getloadavg()))
        print(f"round {r + 1}  ceilings {ceiling_runs[-1]}", file=sys.stderr)
        order = FRAMEWORKS[r % 3:] + FRAMEWORKS[:r % 3]
        figures = {}
        for workload in WORKLOADS:
            figures[workload["name"]] = {}
            for framework in order:
                result = time_workload(framework, workload, args.losskernels, args.quick)
                figures[workload["name"]][framework] = result
                print(f"round {r + 1}  {workload['name']:24} {framework:12} {result['median_seconds']:.6f} s", file=sys.stderr)
        rounds.append(figures)
    load_after = os.getloadavg()

    results = dict(
        date=started.strftime("%Y-%m-%d"), started=started.isoformat(timespec="seconds"),
        machine=machine(), commit=args.commit, load_average_before=load_before, load_average_after=load_after,
        rounds=args.rounds, quick=args.quick,
        ceiling_runs=ceiling_runs,
        ceilings=dict(copy_gb_per_second=statistics.median(c["copy_gb_per_second"] for c in ceiling_runs),
                      gemm3_seconds=statistics.median(c["gemm3_seconds"] for c in ceiling_runs)),
        versions=dict(
            torch=rounds[0][WORKLOADS[0]["name"]]["torch"].get("version"),
            jax=rounds[0][WORKLOADS[0]["name"]]["jax"].get("version"),
            python=platform.python_version()),
        our_device=rounds[0][WORKLOADS[0]["name"]]["losskernels"]["bench"]["device"],
        workloads=[],
    )
    for workload in WORKLOADS:
        per_round = [figures[workload["name"]] for figures in rounds]
        entry = dict(name=workload["name"], shape=workload["shape"], ceiling=workload["ceiling"],
                     warmup=workload["warmup"], iterations=workload["iterations"], bench_args=workload["bench"])
        for framework in FRAMEWORKS:
            medians = [f[framework]["median_seconds"] for f in per_round]
            entry[framework] = dict(seconds=statistics.median(medians), round_medians=medians)
        bench = per_round[0]["losskernels"]["bench"]
        entry["bytes"], entry["flops"] = bench["bytes"], bench["flops"]
        ours = [f["losskernels"]["median_seconds"] for f in per_round]
        if workload["ceiling"] == "copy":
            rate = bench["bytes"] / entry["losskernels"]["seconds"] / 1e9
            entry["ours_rate"] = f"{rate:.1f} GB/s"
            fractions = [bench["bytes"] / t / 1e9 / c["copy_gb_per_second"] for t, c in zip(ours, ceiling_runs)]
        elif workload["ceiling"] == "gemm3":
            entry["ours_rate"] = f"{bench['flops'] / entry['losskernels']['seconds'] / 1e9:.0f} GFLOP/s"
            fractions = [c["gemm3_seconds"] / t for t, c in zip(ours, ceiling_runs)]
        else:
            entry["ours_rate"] = f"{bench['bytes'] / entry['losskernels']['seconds'] / 1e9:.1f} GB/s"
            fractions = None
        entry["fraction_of_ceiling"] = statistics.median(fractions) if fractions else None
        entry["fraction_of_ceiling_rounds"] = fractions
        for peer in ("torch", "jax"):
            ratios = [f[peer]["median_seconds"] / f["losskernels"]["median_seconds"] for f in per_round]
            entry[f"speedup_vs_{peer}"] = statistics.median(ratios)
            entry[f"speedup_vs_{peer}_rounds"] = ratios
        ratios = [min(f["torch"]["median_seconds"], f["jax"]["median_seconds"]) / f["losskernels"]["median_seconds"] for f in per_round]
        entry["speedup_vs_faster"] = statistics.median(ratios)
        entry["speedup_vs_faster_rounds"] = ratios
        results["workloads"].append(entry)

    paths = write_report(results, args.output_dir)
    for path in paths:
        print(path)


if __name__ == "__main__":
    main()
