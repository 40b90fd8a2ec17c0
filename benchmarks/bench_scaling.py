"""Benchmark tables of issue 10, item 7: the transform against the machine's limits, memory by k, time by n.

1. Microseconds per transform (``Phi^T u`` for one response: the sparse k-mer
   product, then k mode products over 4^k doubles) at n = 1000, L = 100, for k
   = 6..10, in blocks of 16 responses as the MCMC's lockstep chains use it, 1 and
   2 threads; with its floating-point operations and bytes per transform and
   the share of this machine's dgemm rate and copy bandwidth (both measured in
   the same run).
2. Peak memory by k (6..12): the fit's own estimate (``memory.estimate_fit_bytes``,
   what ``max_memory`` is checked against) for n = 1000, L = 100, 16 chains, and
   the measured peak resident memory of a default fit in a fresh process for k = 6..10.
3. Time of a default fit (k = 8, B = 2000) by n = 1,000 to 30,000 (each in a fresh
   process); n = 100,000 is in ``bench_large_k.py``'s committed output.

Run from the repository root: ``python benchmarks/bench_scaling.py`` (about 6 minutes on
2 cores, on an otherwise idle machine). Output: ``benchmarks/bench_scaling_output.txt``.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from seism_stats.features.grid import grid_features
from seism_stats.features.memory import estimate_fit_bytes
from seism_stats.io.sequences import encode_sequences
from seism_stats.utils.validation import default_threads
from simulations.data import simulate_dataset

OUT = Path(__file__).with_name("bench_scaling_output.txt")
N, LENGTH, BLOCK = 1000, 100, 16

FIT = r"""
import json, sys, time, warnings
from seism_stats import selective_inference
from simulations.data import simulate_dataset
n, k = int(sys.argv[1]), int(sys.argv[2])
data = simulate_dataset(n, 100, consensus="GATTACAGAT"[:k], beta=0.3, fraction=0.3, random_state=0)
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    result = selective_inference(data.sequences, data.y, k=k, n_samples=2000, random_state=1)
# VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork and exec.
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"seconds": time.perf_counter() - start, "stages": result.seconds, "peak_rss_gib": hwm / 2**20}))
"""


def machine_limits() -> tuple[float, float]:
    """dgemm GFLOP/s (all cores) and copy bandwidth GB/s, best of a few repeats."""
    a, b = np.random.rand(2000, 2000), np.random.rand(2000, 2000)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(5))
    gflops = 2 * 2000**3 / best / 1e9
    x = np.random.rand(20_000_000)
    y = np.empty_like(x)
    np.copyto(y, x)
    best = min(_timed(lambda: np.copyto(y, x)) for _ in range(5))
    return gflops, 2 * x.nbytes / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def transform_table(gflops: float, bandwidth: float) -> pd.DataFrame:
    data = simulate_dataset(N, LENGTH, consensus="GATTACAG", beta=0.3, fraction=0.3, random_state=11)
    encoded = encode_sequences(data.sequences)
    weights = np.random.default_rng(0).normal(size=(BLOCK, N))
    rows = []
    for k in range(6, 11):
        features = grid_features(encoded, [k], 1.0, "sum", revcomp=True)
        nnz = features.counts.nnz
        cells = 4**k
        flops = 2 * nnz + 3 * k * cells  # sparse product; mode products (diag * a + off * sum: 3 per entry)
        traffic = 16 * nnz + 16 * k * cells  # a read and a write per non-zero and per entry and mode
        for threads in (1, 2):
            features.n_threads = threads
            features.project(weights)
            best = min(_timed(lambda: features.project(weights)) for _ in range(5)) / BLOCK
            rows.append({"k": k, "cells": cells, "nnz": nnz, "threads": threads, "us_per_transform": best * 1e6,
                         "MFLOP": flops / 1e6, "MB_moved": traffic / 1e6,
                         "pct_dgemm": 100 * flops / best / (gflops * 1e9),
                         "pct_copy_bw": 100 * traffic / best / (bandwidth * 1e9)})
    return pd.DataFrame(rows)


def fit_in_fresh_process(n: int, k: int) -> dict:
    done = subprocess.run([sys.executable, "-c", FIT, str(n), str(k)], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).resolve().parents[1])
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory_table() -> pd.DataFrame:
    rows = []
    for k in range(6, 13):
        # the default fit's own estimate (circles, 50 interval circles, merged strands, this machine's threads)
        estimate = estimate_fit_bytes(N, N * LENGTH, k, 1, 16, "sum", "circles", 2000, 50, default_threads(), 1,
                                      True) / 2**30
        measured = fit_in_fresh_process(N, k)["peak_rss_gib"] if k <= 10 else np.nan
        rows.append({"k": k, "cells": 4**k, "estimated_GiB": estimate, "measured_peak_rss_GiB": measured})
    return pd.DataFrame(rows)


def time_table() -> pd.DataFrame:
    rows = []
    for n in (1000, 3000, 10_000, 30_000):
        fit = fit_in_fresh_process(n, 8)
        rows.append({"n": n, "k": 8, "fit_s": fit["seconds"], "sampling_s": fit["stages"]["sampling"],
                     "selection_s": fit["stages"]["selection"], "peak_rss_GiB": fit["peak_rss_gib"]})
    return pd.DataFrame(rows)


def main() -> None:
    gflops, bandwidth = machine_limits()
    fmt = {"float_format": lambda v: f"{v:.3g}", "index": False}
    text = "\n".join([
        f"# bench_scaling: {platform.machine()}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')};"
        f" this machine: dgemm {gflops:.0f} GFLOP/s, copy {bandwidth:.1f} GB/s (2 cores)",
        f"# 1. transform: n={N}, L={LENGTH}, reverse-complement grid, blocks of {BLOCK} responses, best of 5",
        "# MB_moved counts a read and a write of every entry per mode: up to k = 8 a row (512 KiB) stays",
        "# in the 1 MiB L2 cache, so pct_copy_bw (of DRAM copy bandwidth) can exceed 100",
        transform_table(gflops, bandwidth).to_string(**fmt),
        f"# 2. memory by k: n={N}, L={LENGTH}, 16 chains, B=2000 (measured: default fit in a fresh process)",
        memory_table().to_string(**fmt),
        "# 3. time by n: k=8, L=100, B=2000, default fit in a fresh process (n=100,000: bench_large_k)",
        time_table().to_string(**fmt),
    ])
    print(text)
    OUT.write_text(text + "\n")


if __name__ == "__main__":
    main()
