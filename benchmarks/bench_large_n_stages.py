"""Benchmark: the stages of one default fit at n = 100,000, L = 200, k = 8, idle and beside busy processes.

Run from the repository root of the checkout to measure (the script only uses the public API, so it
also runs on older commits: copy it there to compare two commits on the same machine)::

    python benchmarks/bench_large_n_stages.py [--busy 2] [--label HEAD]

Prints one line per fit: the wall time, each stage's seconds, the first motif's p-value and its
Monte-Carlo s.e. The data set is ``simulate_dataset(100000, 200, consensus="GATTACAG", beta=0.3,
fraction=0.3, random_state=0)``, the fit ``selective_inference(sequences, y, k=8, random_state=1)``.
With ``--busy m`` a second fit runs beside ``m`` busy-loop processes.
"""

from __future__ import annotations

import argparse
import multiprocessing
import subprocess
import time
import warnings

from seism_stats import selective_inference
from simulations.data import simulate_dataset


def _busy_loop() -> None:
    while True:
        pass


def fit_line(data, label: str, load: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        result = selective_inference(data.sequences, data.y, k=8, random_state=1)
        seconds = time.perf_counter() - start
    stages = ", ".join(f"{name} {value:.1f} s" for name, value in result.seconds.items() if value >= 0.05)
    return (f"{label:>10} {load:>18}: {seconds:6.1f} s ({stages}); p = {result.pvalues[0]:.3g}, "
            f"MC s.e. {result.pvalues_se[0]:.3g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--busy", type=int, default=0, help="also fit beside this many busy-loop processes")
    parser.add_argument("--label", default=None, help="name of the checkout in the output (default: its commit)")
    args = parser.parse_args()
    label = args.label or subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                         text=True).stdout.strip()
    data = simulate_dataset(100_000, 200, consensus="GATTACAG", beta=0.3, fraction=0.3, random_state=0)
    print(fit_line(data, label, "idle"), flush=True)
    if args.busy:
        loops = [multiprocessing.Process(target=_busy_loop, daemon=True) for _ in range(args.busy)]
        for loop in loops:
            loop.start()
        try:
            print(fit_line(data, label, f"{args.busy} busy processes"), flush=True)
        finally:
            for loop in loops:
                loop.terminate()


if __name__ == "__main__":
    main()
