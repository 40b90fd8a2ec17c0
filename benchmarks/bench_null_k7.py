"""Null calibration of the default p-value where the circles' screen runs (k = 7, three motifs; issue 21, item 5a).

Run from the repository root::

    python benchmarks/bench_null_k7.py [--datasets 3000] [--jobs 2] [--quick]

The committed validity run (``python -m simulations validity``) checks the circles at k = 4 and 5,
where the steps hold fewer than ``SCREEN_MIN_CELLS`` competing cells and the screen (a computation
that drops circles and slivers of mass below ``exp(-40)`` of the observed one's, ``circle_tests``'
docstring) does not run. Here: ``--datasets`` null data sets (n = 200, L = 50, uniform letters,
Gaussian y, no motif), the default fit at k = 7 (8192 cells per step with merged strands: the
screen runs) with three motifs and ``n_samples`` 10 (an even number: motifs tested at a
conditioning level draw mirrored pairs) and 1 (drawn singly), every rank's p-value. A valid
p-value has ``P(p <= alpha) <= alpha``: each rate gets the one-sided binomial p-value of
``H0: rate <= alpha`` (below 0.01 fails, as in the validity run). The naive p-value of the first
motif is the check's teeth.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy.stats import binom

from seism_stats import selective_inference
from simulations.data import simulate_dataset

ALPHAS = (0.01, 0.05, 0.1)


def null_fit(seed: np.random.SeedSequence, draws: tuple[int, ...], k: int = 7) -> list[dict]:
    """One null data set: each rank's default p-value at each number of circles, and the naive p-value."""
    data_seed, fit_seed = seed.spawn(2)
    data = simulate_dataset(200, 50, beta=0.0, random_state=np.random.default_rng(data_seed))
    rows = []
    for n_samples in draws:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = selective_inference(data.sequences, data.y, k=k, n_motifs=3, n_samples=n_samples,
                                         random_state=np.random.default_rng(fit_seed), n_threads=1,
                                         refine=False, interval_draws=0)
        for rank, p in enumerate(result.pvalues, start=1):
            rows.append({"design": f"circles B={n_samples}", "rank": rank, "pvalue": float(p),
                         "paired": bool(result.settings["circle_pairs"][rank - 1])})
        if n_samples == draws[0] and result.n_selected:  # the first setting's fit carries the naive p-value
            rows.append({"design": "naive", "rank": 1, "pvalue": float(result.naive.pvalues[0]), "paired": False})
    return rows


def rates(table: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (design, rank), group in table.groupby(["design", "rank"], sort=False):
        p = group["pvalue"].dropna().to_numpy()
        row = {"design": design, "rank": rank, "pvalues": p.size, "paired": float(group["paired"].mean())}
        for alpha in ALPHAS:
            rejected = int(np.sum(p <= alpha))
            row[f"rate_{alpha:g}"] = rejected / p.size
            row[f"binom_p_{alpha:g}"] = float(binom.sf(rejected - 1, p.size, alpha))
        row["valid"] = all(row[f"binom_p_{a:g}"] >= 0.01 for a in ALPHAS)
        out.append(row)
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=int, default=3000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="40 data sets")
    parser.add_argument("--seed", type=int, default=2026_12_08, help="master seed of the data sets and fits")
    parser.add_argument("--draws", default="10,1", help="numbers of circles (n_samples), comma-separated")
    parser.add_argument("--k", type=int, default=7, help="motif length (7: the screen runs; 5: it does not)")
    args = parser.parse_args()
    n = 40 if args.quick else args.datasets
    draws = tuple(int(v) for v in args.draws.split(","))
    start = time.perf_counter()
    seeds = np.random.SeedSequence(args.seed).spawn(n)
    chunks = Parallel(n_jobs=args.jobs)(delayed(null_fit)(s, draws, args.k) for s in seeds)
    table = rates(pd.DataFrame([r for chunk in chunks for r in chunk]))
    print(f"# bench_null_k7: {n} null data sets (seed {args.seed}), n=200, L=50, k={args.k}, three motifs, default fit at "
          f"n_samples {args.draws}; "
          f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}, {time.perf_counter() - start:.0f} s")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print("# rate_a: share of p-values <= a; binom_p_a: one-sided binomial p of H0 rate <= a (valid: all >= 0.01); "
          "paired: share of fits whose motif at that rank drew mirrored pairs")


if __name__ == "__main__":
    main()
