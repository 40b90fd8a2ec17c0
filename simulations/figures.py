"""Figures of the paper's experiments, drawn from the tables of :mod:`simulations.experiments`."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter
import numpy as np
import pandas as pd

from seism_stats.report.plotting import qqplot_pvalues

LABELS = {"seism_circles": "SEISM circles (default)", "seism_circles_small_b": "SEISM circles, B = 10",
          "seism_circles_global": "SEISM circles, global null",
          "seism_rejection": "SEISM rejection", "seism_mcmc": "SEISM MCMC",
          "seism_mcmc_small_b": "SEISM MCMC, B = 100", "seism_cmc": "SEISM conditional MC",
          "data_split": "data split", "naive": "naive (no correction)"}


def calibration_figure(table: pd.DataFrame, ks: pd.DataFrame):
    """Q-Q plots of null p-values, one panel per method, KS statistic in the title."""
    methods = [m for m in LABELS if f"p_{m}" in table]
    columns = min(len(methods), 4)  # rows of four panels: eight methods in one row were unreadably wide
    rows = -(-len(methods) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 3.6 * rows), squeeze=False)
    for ax in axes.ravel()[len(methods):]:
        ax.set_visible(False)
    for ax, method in zip(axes.ravel(), methods):
        qqplot_pvalues({LABELS[method]: table[f"p_{method}"].to_numpy()}, ax=ax)
        row = ks.set_index("method").loc[method]
        ax.set_title(f"{LABELS[method]}\nKS D={row['ks_statistic']:.3f}, p={row['ks_pvalue']:.2g}", fontsize=9)
    fig.suptitle(f"Calibration under the null ({len(table)} data sets)", fontsize=10)
    fig.tight_layout()
    return fig


def power_figure(summary: pd.DataFrame):
    """Rejection rate at 5% against effect size and against n, with Wilson 95% bands."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, (experiment, x) in zip(axes, [("effect size", "beta"), ("sample size", "n")]):
        part = summary[(summary["experiment"] == experiment) & (summary["method"] != "naive")]
        for method, group in part.groupby("method"):
            group = group.sort_values(x)
            ax.plot(group[x], group["power"], "o-", label=LABELS.get(method, method))
            ax.fill_between(group[x], group["ci_low"], group["ci_high"], alpha=0.2)
        ax.axhline(0.05, color="k", lw=0.8, ls=":")
        ax.set_xlabel("effect size beta" if x == "beta" else "number of sequences n")
        ax.set_ylabel("rejection rate at 5%")
        ax.set_ylim(0, 1.02)
        fixed = part["n"].iloc[0] if x == "beta" else part["beta"].iloc[0]
        ax.set_title(f"power vs {experiment} ({'n' if x == 'beta' else 'beta'} = {fixed})", fontsize=9)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def speed_figure(table: pd.DataFrame, slopes: pd.DataFrame):
    """Median wall time against n, k and B on log axes, slopes in the legend."""
    axes_present = [a for a in ("n", "k", "B") if a in set(table["axis"])]
    fig, axes = plt.subplots(1, len(axes_present), figsize=(3.8 * len(axes_present), 3.6), squeeze=False)
    slope_of = slopes.set_index(["axis", "method"])["slope"]
    for ax, axis in zip(axes[0], axes_present):
        part = table[table["axis"] == axis]
        for method, group in part.groupby("method"):
            medians = group.groupby("value")["seconds"].median()
            slope = slope_of.get((axis, method), np.nan)
            ax.plot(medians.index, medians.to_numpy(), "o-", label=f"{LABELS.get(method, method)} ({slope:.2f})")
        ax.set_yscale("log")
        if axis != "k":
            ax.set_xscale("log")
            values = sorted(part["value"].unique())
            ax.set_xticks(values, [f"{v:g}" for v in values], fontsize=7)
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel({"n": "number of sequences n", "k": "motif length k", "B": "null draws B"}[axis])
        ax.set_ylabel("seconds")
        ax.set_title(f"time vs {axis} (slope{'' if axis != 'k' else ' of log4 t per k'})", fontsize=9)
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig
