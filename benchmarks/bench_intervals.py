"""Benchmark: seconds of the exact selective intervals of a fit with three motifs (issue 23, item 4).

Run from the repository root::

    python benchmarks/bench_intervals.py [--repeats 3] [--quick]

The issue's case: n = 1000 sequences of length 100, k = 8, three motifs, the default fit
(``selective_inference(sequences, y, k=8, n_motifs=3)``), GATTACAG planted (the data set of
``bench_circle_precision.py``). The intervals invert the exact circle test of ``coef = b``
at some 35 values of ``b`` per motif, over the same directions
(:mod:`seism_stats.stats.circle_intervals`). Two ways to evaluate each ``b``, in one run:

* ``every cell`` (before): each evaluation intersects every circle with every cell's
  constraints (the circle kernel over all ~33,000 competing cells per step);
* ``planes`` (after, the default): every circle of one direction lies in one plane, where
  the cells that can bind are listed once (``CircleTests.planes``); each evaluation then
  intersects a handful of cells per step.

Rows: machine idle, and busy (two busy-loop processes beside the fit, as on a shared
2-core server); 50 circles per motif (the default) and 200. Printed: median seconds of the
intervals stage and of the whole fit, the ratio before / after, and the largest difference
between the two ways' 95% interval ends over the motifs and seeds (they are the same sets;
the only difference allowed is rounding).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np
import pandas as pd

from bench_threads import BusyLoad
from seism_stats import selective_inference
from seism_stats.stats import circle_intervals
from simulations.data import simulate_dataset


def fit(data, seed: int, draws: int, planes: bool) -> dict:
    """One default fit with three motifs; ``planes=False`` evaluates every ``b`` over every cell."""
    span = circle_intervals.CircleFamily.span
    if not planes:
        circle_intervals.CircleFamily.span = lambda self, reach: None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            result = selective_inference(data.sequences, data.y, k=8, n_motifs=3, interval_draws=draws,
                                         random_state=seed)
            seconds = time.perf_counter() - start
    finally:
        circle_intervals.CircleFamily.span = span
    ends = np.array([p.interval(0.05) for p in result.pivots], dtype=float)
    return {"intervals": result.seconds["intervals"], "fit": seconds, "ends": ends}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one repeat, idle, 50 circles")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    data = simulate_dataset(1000, 100, consensus="GATTACAG", beta=0.3, fraction=0.3, random_state=11)
    rows = []
    for load in ("idle",) if args.quick else ("idle", "2 busy processes"):
        with BusyLoad(load):
            for draws in (50,) if args.quick else (50, 200):
                runs = {way: [fit(data, 100 + s, draws, way == "planes") for s in range(repeats)]
                        for way in ("every cell", "planes")}
                gap = max(float(np.nanmax(np.abs(a["ends"] - b["ends"]), initial=0.0))
                          for a, b in zip(runs["every cell"], runs["planes"]))
                median = {way: {key: float(np.median([r[key] for r in run])) for key in ("intervals", "fit")}
                          for way, run in runs.items()}
                rows.append({"load": load, "circles": draws,
                             "before_intervals_s": median["every cell"]["intervals"],
                             "after_intervals_s": median["planes"]["intervals"],
                             "ratio": median["every cell"]["intervals"] / median["planes"]["intervals"],
                             "before_fit_s": median["every cell"]["fit"], "after_fit_s": median["planes"]["fit"],
                             "max_end_difference": gap})
    print(f"# bench_intervals: n=1000, L=100, k=8, 3 motifs, GATTACAG beta=0.3 in 30% (data seed 11); median of "
          f"{repeats} sampler seeds; {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print("# before: every b over every cell; after: the cells listed once per direction's plane (default); "
          "ratio = before / after; max_end_difference: largest |difference| of the 95% interval ends")


if __name__ == "__main__":
    main()
