"""Benchmark: one default fit at k = 10 on 10,000 sequences of length 200 (issue 10's scale check).

Run from the repository root::

    python benchmarks/bench_large_k.py

Prints the wall time of each stage and the peak resident memory of the process.
"""

from __future__ import annotations

import resource
import time
import warnings

from seism_stats import selective_inference
from simulations.data import simulate_dataset


def main() -> None:
    data = simulate_dataset(10_000, 200, consensus="GATTACAGAT", beta=0.3, fraction=0.3, random_state=0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = selective_inference(data.sequences, data.y, k=10, n_samples=2000, random_state=1)
    seconds = time.perf_counter() - start
    stages = ", ".join(f"{name} {value:.1f} s" for name, value in result.seconds.items())
    print(f"# bench_large_k: n=10000, L=200, k=10 (1,048,576 k-mers), B=2000, {time.strftime('%Y-%m-%d')}")
    print(f"total {seconds:.1f} s ({stages}); selected {result.kmers}, p = {result.pvalues[0]:.3g}; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
