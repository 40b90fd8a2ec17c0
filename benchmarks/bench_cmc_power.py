"""Benchmark: power of the first selected motif with several motifs: the default circles, the MCMC, the conditional MC.

Run from the repository root::

    python benchmarks/bench_cmc_power.py [--datasets 100] [--jobs 2]

With several motifs ``method="cmc"`` tests each motif given the part of the
response along the other motifs and their nearest competitors
(:mod:`seism_stats.stats.conditional_mc`): a valid p-value that conditions on more than
the default MCMC's, which can cost power. This runs the power simulation's data
(GATT planted in half of n = 100 sequences of length 30, k = 4, B = 500) with two
and three selected motifs and prints, per effect size, the rejection rate at 5%
of the first motif's p-value for the default exact circles (which test "the motif
adds nothing to the model of the other selected motifs", :mod:`seism_stats.stats.circle_tests`),
the circles' global-null p-value reported beside it, the MCMC and the conditional
Monte Carlo (global null), and the data split, with Wilson 95% intervals, and how often the MCMC and the conditional MC agree on rejecting.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import replace

import numpy as np
import pandas as pd

from simulations.experiments import ALPHA, Setting, power_benchmark_arguments, rejection_cell, run_many

METHODS = ("seism_circles", "seism_mcmc", "seism_cmc", "data_split")
#: Columns of the table: the methods, and the circles' global-null p-value computed beside the default's.
COLUMNS = ("seism_circles", "seism_circles_global", "seism_mcmc", "seism_cmc", "data_split")


def main() -> None:
    args = power_benchmark_arguments(__doc__.split("\n")[0])
    start = time.perf_counter()
    base = Setting(methods=METHODS)
    settings = [replace(base, n_motifs=q, beta=beta) for q in (2, 3) for beta in (0.0, 0.5, 0.75, 1.0)
                for _ in range(args.datasets)]
    table = run_many(settings, args.seed, args.jobs, "power")
    table["n_motifs"] = [s.n_motifs for s in settings]
    rows = []
    for (q, beta), group in table.groupby(["n_motifs", "beta"], sort=True):
        row = {"n_motifs": q, "beta": beta, "datasets": len(group)}
        for method in COLUMNS:
            row[method] = rejection_cell(group[f"p_{method}"])
        both = [np.nan_to_num(group[f"p_{m}"].to_numpy(), nan=1.0) <= ALPHA for m in ("seism_mcmc", "seism_cmc")]
        row["agree"] = float(np.mean(both[0] == both[1]))
        row["median_p_mcmc"] = float(group["p_seism_mcmc"].median())
        row["median_p_cmc"] = float(group["p_seism_cmc"].median())
        rows.append(row)
    print(f"# bench_cmc_power (circles, MCMC, cmc, split): n=100, L=30, k=4, GATT planted in 50%, B=500, {args.datasets} data sets per row, "
          f"seed {args.seed}; {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}, {time.perf_counter() - start:.0f} s")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print(f"# rejection rate at alpha = {ALPHA} of the first selected motif's p-value [Wilson 95%]; "
          "agree: fraction of data sets where the MCMC and the conditional MC make the same decision")


if __name__ == "__main__":
    main()
