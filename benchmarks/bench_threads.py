"""Benchmark: OpenMP threads on an idle and on a loaded machine, spinning vs passive waiting.

Run from the repository root::

    python benchmarks/bench_threads.py [--draws 2000] [--repeats 2]

One default fit (n = 1000, L = 100, k = 8, B = ``--draws``) is timed in a fresh
process for each combination of ``n_threads`` (1, all cores), libgomp's wait
policy (``ACTIVE``: spin, the libgomp default before this package set
``PASSIVE``; ``PASSIVE``: the package default) and machine load (idle, or two
busy-loop processes running, as on a shared server). It prints the median
seconds and the ratio of the threaded fit to one thread in each setting.

A second table times the sampling of the fused lockstep step (issue 10, item 1:
moves and new circles in one OpenMP region per iteration,
``_replay.move_and_restart``) against the separate kernel calls it replaced (a
region each), at k = 6 and 8, idle and loaded, and checks the p-values are the same.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time

import pandas as pd

FIT = """
import json, time, warnings
warnings.simplefilter("ignore")
from seism_stats import selective_inference
from seism_stats.selection.replay import SelectionReplay
from simulations.data import simulate_dataset
if not {fused}:  # the separate calls the fused step replaced (same numbers, a region each)
    SelectionReplay.fuses_steps = property(lambda self: False)
data = simulate_dataset(1000, 100, consensus="GATTACAG"[:{k}], beta=0.3, fraction=0.3, random_state=0)
start = time.perf_counter()
result = selective_inference(data.sequences, data.y, k={k}, n_samples={draws}, n_threads={threads}, random_state=1)
print(json.dumps({{"fit": time.perf_counter() - start, "sampling": result.seconds["sampling"],
                  "p": result.pvalues.tolist()}}))
"""


def busy(stop_after: float) -> None:
    """Spin for ``stop_after`` seconds (a stand-in for another user's job)."""
    end = time.monotonic() + stop_after
    x = 0
    while time.monotonic() < end:
        x += 1


def timed_fit(threads: int, policy: str, draws: int, k: int = 8, fused: bool = True) -> dict:
    """Seconds of one default fit in a fresh process: ``fit``, ``sampling``; and its p-values ``p``."""
    env = dict(os.environ, OMP_WAIT_POLICY=policy)
    out = subprocess.run([sys.executable, "-c", FIT.format(draws=draws, threads=threads, k=k, fused=fused)],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


class BusyLoad:
    """Two busy-loop processes (another user's jobs) while the block runs; nothing when ``load`` is idle."""

    def __init__(self, load: str):
        self.workers = [] if load == "idle" else [multiprocessing.Process(target=busy, args=(3600,), daemon=True)
                                                  for _ in range(2)]

    def __enter__(self):
        for w in self.workers:
            w.start()

    def __exit__(self, *exc):
        for w in self.workers:
            w.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    rows = []
    for load in ("idle", "2 busy processes"):
        with BusyLoad(load):
            for policy in ("ACTIVE", "PASSIVE"):
                for threads in sorted({1, cores}):
                    fits = [timed_fit(threads, policy, args.draws) for _ in range(args.repeats)]
                    rows.append({"load": load, "wait_policy": policy, "threads": threads,
                                 "seconds": pd.Series([f["fit"] for f in fits]).median()})
    table = pd.DataFrame(rows)
    one = table[table.threads == 1].set_index(["load", "wait_policy"])["seconds"]
    table["vs_1_thread"] = [row.seconds / one[(row.load, row.wait_policy)] for row in table.itertuples()]
    print(f"# bench_threads: n=1000, L=100, k=8, B={args.draws}, {cores} cores, median of {args.repeats}, "
          f"{time.strftime('%Y-%m-%d')}")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print("# vs_1_thread < 1: threads help; > 1: threads lose to one thread")
    fused_table(args, cores)


def fused_table(args, cores: int) -> None:
    """Sampling time of the fused lockstep step (one OpenMP region per iteration) against the
    separate kernel calls it replaced (six regions), passive waiting, k = 6 and 8."""
    rows = []
    for load in ("idle", "2 busy processes"):
        with BusyLoad(load):
            for k in (6, 8):
                for threads in sorted({1, cores}):
                    timings = {True: [], False: []}
                    pvalues = {}
                    for _ in range(args.repeats):  # alternate, so that drifts of the machine hit both
                        for fused in (True, False):
                            fit = timed_fit(threads, "PASSIVE", args.draws, k, fused)
                            timings[fused].append(fit["sampling"])
                            pvalues[fused] = fit["p"]
                    fused_s, separate_s = (pd.Series(timings[f]).median() for f in (True, False))
                    rows.append({"load": load, "k": k, "threads": threads, "sampling_fused_s": fused_s,
                                 "sampling_separate_s": separate_s, "separate_vs_fused": separate_s / fused_s,
                                 "same_pvalues": pvalues[True] == pvalues[False]})
    print(f"# fused lockstep step vs separate calls: sampling seconds of a default fit, n=1000, L=100, "
          f"B={args.draws}, OMP_WAIT_POLICY=PASSIVE, median of {args.repeats} (alternating)")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print("# separate_vs_fused > 1: the fused step is faster")


if __name__ == "__main__":
    main()
