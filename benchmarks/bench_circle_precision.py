"""Benchmark: seconds to a 10%-precise default p-value, and whether its stated error is honest (issue 21).

Run from the repository root::

    python benchmarks/bench_circle_precision.py [--seeds 10] [--quick]

Three tables, each from fits repeated over ``--seeds`` sampler seeds on one data set:

1. Speed (issue 21, item 6): n = 1000 sequences of length 100, k = 8, a planted
   GATTACAG (the data set of ``bench_pvalue_precision.py``), one and three motifs, the
   default fit (``method="circles"``, 1000 great circles per motif, the per-motif hypothesis
   and the intervals, as by default; the global null's p-values, opt-in with
   ``hypothesis="both"`` since 2026-12-07, are not computed). Seconds to
   a 10% relative Monte-Carlo error = fit time x (spread over seeds / 0.1)^2, for the
   first motif's p-value, beside the former default's (MCMC tree, from
   ``bench_pvalue_precision_output.txt``).
2. Honesty of the stated error (item 3): data sets whose first motif's p-value is near
   1e-2, 1e-6 and 1e-12 (n = 400, L = 60, k = 6, the planted effect chosen for it), one
   and two motifs, the default number of circles (1000 per motif, more for a motif whose pilots
   predict an ESS below 100, :func:`~seism_stats.stats.circle_tests.estimate_draws`), and 500
   circles exactly (the table's only setting before that rule) for comparison; the median
   reported relative s.e. beside the relative spread over seeds.
3. Scale (item 6): one default fit at n = 100,000, L = 200, k = 8, its stages' seconds and
   its first motif's p-value with the stated relative s.e. (``--large``; about a minute).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import pandas as pd

from seism_stats import selective_inference
from simulations.data import simulate_dataset


def repeat(data, seeds: int, **kwargs) -> dict:
    """The first motif's p-value over sampler seeds: mean, spread, reported s.e., fit time."""
    rows = []
    for s in range(seeds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            result = selective_inference(data.sequences, data.y, random_state=100 + s, **kwargs)
            seconds = time.perf_counter() - start
        rows.append({"seconds": seconds, "p": result.pvalues[0], "se": result.pvalues_se[0],
                     "sampling": result.seconds["sampling"], "intervals": result.seconds["intervals"],
                     "directions": result.settings["circle_directions"],
                     "draws": result.settings["circle_draws"][0],
                     "ess": result.settings["circle_ess"][0]})
    frame = pd.DataFrame(rows)
    p = frame["p"].mean()
    spread = frame["p"].std(ddof=1) / p
    fit = frame["seconds"].median()
    return {"p_mean": p, "rel_spread": spread, "reported_rel_se": (frame["se"] / frame["p"]).median(),
            "fit_s": fit, "sampling_s": frame["sampling"].median(), "intervals_s": frame["intervals"].median(),
            "directions": int(frame["directions"].median()), "draws": int(frame["draws"].median()),
            "weights_ess": frame["ess"].median(),
            "s_to_10pct": fit * (spread / 0.1) ** 2}


def speed_table(seeds: int) -> pd.DataFrame:
    data = simulate_dataset(1000, 100, consensus="GATTACAG", beta=0.3, fraction=0.3, random_state=11)
    rows = []
    for q in (1, 3):
        rows.append({"n_motifs": q, **repeat(data, seeds, k=8, n_motifs=q)})
    return pd.DataFrame(rows)


#: Planted effects of the honesty table (n = 400, L = 60, k = 6) and the p-value each was chosen to give.
HONESTY = ((0.6, "1e-2"), (0.9, "1e-6"), (1.15, "1e-12"))


def honesty_table(seeds: int) -> pd.DataFrame:
    rows = []
    for beta, target in HONESTY:
        data = simulate_dataset(400, 60, consensus="GATTAC", beta=beta, fraction=0.4, random_state=5)
        for q in (1, 2):
            for n_samples in (None, 500):
                rows.append({"target_p": target, "beta": beta, "n_motifs": q,
                             "n_samples": "default" if n_samples is None else n_samples,
                             **repeat(data, seeds, k=6, n_motifs=q, n_samples=n_samples)})
    return pd.DataFrame(rows)


def large_fit() -> str:
    data = simulate_dataset(100_000, 200, consensus="GATTACAG", beta=0.05, fraction=0.3, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        result = selective_inference(data.sequences, data.y, k=8, random_state=0)
        seconds = time.perf_counter() - start
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items() if v >= 0.05)
    return (f"n=100,000, L=200, k=8, default fit: {seconds:.1f} s ({stages}); motif 1 {result.kmers[0]} "
            f"p = {result.pvalues[0]:.3g}, relative MC s.e. {result.pvalues_se[0] / result.pvalues[0]:.2f}, "
            f"{result.settings['n_samples']} circles")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="3 seeds, speed table only")
    parser.add_argument("--large", action="store_true", help="also the n = 100,000 fit")
    args = parser.parse_args()
    seeds = 3 if args.quick else args.seeds
    fmt = lambda x: f"{x:.3g}"  # noqa: E731
    print(f"# bench_circle_precision: {seeds} seeds; {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    print("## 1. seconds to a 10%-precise p-value, n=1000, L=100, k=8, GATTACAG beta=0.3 in 30% (data seed 11)")
    print(speed_table(seeds).to_string(index=False, float_format=fmt))
    print("# s_to_10pct = fit_s x (rel_spread / 0.1)^2; former default (MCMC tree, B=10,000, "
          "bench_pvalue_precision_output.txt): 32 s (one motif), 203 s (three motifs)")
    if not args.quick:
        print("## 2. stated vs actual Monte-Carlo error, n=400, L=60, k=6, GATTAC in 40%, default and 500 circles "
              "per motif")
        print(honesty_table(seeds).to_string(index=False, float_format=fmt))
        print("# reported_rel_se: median over seeds of the stated s.e. / p; rel_spread: the spread over seeds / mean; "
              "weights_ess: median effective sample size of the first motif's weights D(d) (below 30 the summary "
              "warns that the s.e. is too small); draws: the first motif's circles (B)")
    if args.large:
        print("## 3. scale")
        print(large_fit())


if __name__ == "__main__":
    main()
