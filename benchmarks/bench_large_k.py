"""Benchmark: one default fit at a large scale (issue 10's checks).

Run from the repository root::

    python benchmarks/bench_large_k.py                      # k = 10, n = 10,000, L = 200, B = 2,000
    python benchmarks/bench_large_k.py --n 100000 --k 8     # n = 100,000 sequences
    python benchmarks/bench_large_k.py --n 200 --k 12 --length 100 --draws 100 --chains 2

Prints the wall time of each stage and the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings

from seism_stats import selective_inference
from simulations.data import simulate_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--chains", type=int, default=16)
    args = parser.parse_args()
    data = simulate_dataset(args.n, args.length, consensus="GATTACAGATCA"[:args.k], beta=0.3, fraction=0.3,
                            random_state=0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = selective_inference(data.sequences, data.y, k=args.k, n_samples=args.draws,
                                     n_chains=args.chains, random_state=1)
    seconds = time.perf_counter() - start
    stages = ", ".join(f"{name} {value:.1f} s" for name, value in result.seconds.items())
    print(f"# bench_large_k: n={args.n}, L={args.length}, k={args.k} ({4**args.k:,} k-mers), B={args.draws}, "
          f"{args.chains} chains, {time.strftime('%Y-%m-%d')}")
    print(f"total {seconds:.1f} s ({stages}); selected {result.kmers}, p = {result.pvalues[0]:.3g}; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
