"""Benchmark: OpenMP threads on an idle and on a loaded machine, spinning vs passive waiting.

Run from the repository root::

    python benchmarks/bench_threads.py [--draws 2000] [--repeats 2]

One default fit (n = 1000, L = 100, k = 8, B = ``--draws``) is timed in a fresh
process for each combination of ``n_threads`` (1, all cores), libgomp's wait
policy (``ACTIVE``: spin, the libgomp default before this package set
``PASSIVE``; ``PASSIVE``: the package default) and machine load (idle, or two
busy-loop processes running, as on a shared server). It prints the median
seconds and the ratio of the threaded fit to one thread in each setting.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time

import pandas as pd

FIT = """
import time, warnings
warnings.simplefilter("ignore")
from seism_stats import selective_inference
from simulations.data import simulate_dataset
data = simulate_dataset(1000, 100, consensus="GATTACAG", beta=0.3, fraction=0.3, random_state=0)
start = time.perf_counter()
selective_inference(data.sequences, data.y, k=8, n_samples={draws}, n_threads={threads}, random_state=1)
print(time.perf_counter() - start)
"""


def busy(stop_after: float) -> None:
    """Spin for ``stop_after`` seconds (a stand-in for another user's job)."""
    end = time.monotonic() + stop_after
    x = 0
    while time.monotonic() < end:
        x += 1


def timed_fit(threads: int, policy: str, draws: int) -> float:
    env = dict(os.environ, OMP_WAIT_POLICY=policy)
    out = subprocess.run([sys.executable, "-c", FIT.format(draws=draws, threads=threads)], env=env,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    rows = []
    for load in ("idle", "2 busy processes"):
        workers = []
        if load != "idle":
            workers = [multiprocessing.Process(target=busy, args=(3600,), daemon=True) for _ in range(2)]
            for w in workers:
                w.start()
        try:
            for policy in ("ACTIVE", "PASSIVE"):
                for threads in sorted({1, cores}):
                    seconds = [timed_fit(threads, policy, args.draws) for _ in range(args.repeats)]
                    rows.append({"load": load, "wait_policy": policy, "threads": threads,
                                 "seconds": pd.Series(seconds).median()})
        finally:
            for w in workers:
                w.terminate()
    table = pd.DataFrame(rows)
    one = table[table.threads == 1].set_index(["load", "wait_policy"])["seconds"]
    table["vs_1_thread"] = [row.seconds / one[(row.load, row.wait_policy)] for row in table.itertuples()]
    print(f"# bench_threads: n=1000, L=100, k=8, B={args.draws}, {cores} cores, median of {args.repeats}, "
          f"{time.strftime('%Y-%m-%d')}")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print("# vs_1_thread < 1: threads help; > 1: threads lose to one thread")


if __name__ == "__main__":
    main()
