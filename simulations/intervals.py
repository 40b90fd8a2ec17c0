"""Coverage and width of confidence intervals after motif selection (issues 13 and 23).

``python -m simulations intervals`` draws data sets with a planted motif at
several effect sizes (0 = the global null) and, for each selected motif,
compares four 95% intervals with the coefficient they are meant to hold:

* selective (:mod:`seism_stats.stats.circle_intervals`, the default: exact with sigma
  unknown), the former truncated-Gaussian pivot with sigma estimated
  (``truncated_gaussian``, :mod:`seism_stats.stats.intervals`) and naive OLS: the
  coefficient of the noise-free mean on the covariates and the selected motifs'
  features, on all sequences (the projection target of the selected model);
* data split: the same target for the motifs the split selected, on the
  held-out sequences.

Coverage is the fraction of intervals that hold their target, width is in units
of the response. Only selection, the pivots and OLS run: intervals need no
null sampling, so thousands of data sets take minutes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from joblib import delayed
from statsmodels.stats.proportion import proportion_confint
from tqdm.auto import tqdm

from scipy.stats import binom

from seism_stats.features.grid import grid_features
from seism_stats.io.sequences import encode_sequences
from seism_stats.selection.greedy import select_motifs
from seism_stats.stats.circle_intervals import circle_pivots
from seism_stats.stats.circle_tests import circle_pvalues
from seism_stats.stats.classical import naive_tests, split_rows, split_tests
from seism_stats.stats.intervals import motif_pivots, selective_intervals
from seism_stats.utils.canonical import canonical_order
from seism_stats.utils.parallel import run_tasks
from seism_stats.utils.validation import check_covariates, residual_basis

from .data import simulate_dataset

ALPHA = 0.05
METHODS = ("selective", "truncated_gaussian", "data_split", "naive")
#: Great circles per motif of the selective intervals in the simulations.
INTERVAL_DRAWS = 50


@dataclass(frozen=True)
class IntervalSetting:
    """One simulation setting (the planted motif's length is also the k searched)."""

    n: int = 200
    length: int = 30
    consensus: str = "GATT"
    beta: float = 0.0
    n_motifs: int = 1
    covariate: float | None = 0.5


def _codes(sequences) -> tuple[np.ndarray, np.ndarray]:
    encoded = encode_sequences(sequences)
    return encoded.codes, encoded.offsets


def _projection_target(features, cells, mean: np.ndarray, design: np.ndarray) -> np.ndarray:
    """OLS coefficients of the motif features when the noise-free ``mean`` is regressed on them."""
    columns = [features.column(int(c)) for c in cells]
    full = np.column_stack([design] + columns)
    return np.linalg.lstsq(full, mean, rcond=None)[0][design.shape[1]:]


def interval_rows(setting: IntervalSetting, seed: np.random.SeedSequence) -> list[dict]:
    """Simulate one data set; one row per method and selected motif (target, interval, coverage)."""
    data_rng, split_rng, circle_rng = (np.random.default_rng(s) for s in seed.spawn(3))
    data = simulate_dataset(setting.n, setting.length, consensus=setting.consensus, beta=setting.beta,
                            covariate=setting.covariate, random_state=data_rng)
    mean = setting.beta * data.signal
    if data.covariates is not None:
        mean = mean + setting.covariate * data.covariates[:, 0]
    design = check_covariates(data.covariates, setting.n, True)
    basis = residual_basis(design)
    k = len(setting.consensus)
    features = grid_features(encode_sequences(data.sequences), [k], 1.0, "sum", revcomp=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        selection = select_motifs(features, data.y, basis, setting.n_motifs)
        naive = naive_tests(features, data.y, design, selection.cells, ALPHA)
        split = split_tests(features, data.y, design, setting.n_motifs,
                            split_rows(setting.n, 0.5, split_rng), ALPHA)
    target = _projection_target(features, selection.cells, mean, design)
    intervals = {
        "truncated_gaussian": (selective_intervals(motif_pivots(features, data.y, basis, selection), ALPHA), target),
        "naive": (naive.conf_int, target),
    }
    if selection.event.n_selected:
        order = canonical_order(*_codes(data.sequences), data.y, design)
        circles = circle_pvalues(features, selection, basis, 0, circle_rng, order)
        pivots = circle_pivots(circles.tests, order, INTERVAL_DRAWS, circle_rng, naive.params, naive.bse)
        intervals["selective"] = (selective_intervals(pivots, ALPHA), target)
    if split.tests.cells.size:
        test = split.test_rows
        intervals["data_split"] = (split.tests.conf_int,
                                   _projection_target(features.subset(test), split.tests.cells, mean[test],
                                                      design[test]))
    rows = []
    for method, (bounds, targets) in intervals.items():
        for j, ((low, high), value) in enumerate(zip(bounds, targets)):
            rows.append({"method": method, "beta": setting.beta, "n": setting.n, "n_motifs": setting.n_motifs,
                         "motif": j + 1, "target": value, "lower": low, "upper": high,
                         "covered": bool(low <= value <= high), "miss_below": bool(value < low),
                         "miss_above": bool(value > high), "width": high - low,
                         "excludes_zero": bool(low > 0 or high < 0)})
    return rows


def run(betas, n_datasets: int, seed: int = 11, jobs: int = 1, base: IntervalSetting | None = None,
        n_motifs=(1, 2), progress: bool = True) -> pd.DataFrame:
    """All rows of :func:`interval_rows` over ``betas`` x ``n_motifs`` x ``n_datasets`` data sets."""
    base = base or IntervalSetting()
    settings = [replace(base, beta=float(b), n_motifs=int(q)) for q in n_motifs for b in betas]
    seeds = np.random.SeedSequence(seed).spawn(len(settings) * n_datasets)
    tasks = [delayed(interval_rows)(s, seeds[i * n_datasets + d])
             for i, s in enumerate(settings) for d in range(n_datasets)]
    done = tqdm(run_tasks(tasks, jobs, as_generator=True), total=len(tasks), desc="interval data sets",
                disable=not progress)
    return pd.DataFrame([row for rows in done for row in rows])


def coverage_by_n(ns, n_datasets: int, seed: int = 12, jobs: int = 1, base: IntervalSetting | None = None,
                  n_motifs=(1, 2, 3), betas=(0.0, 1.0), progress: bool = True) -> pd.DataFrame:
    """Coverage, misses per tail and widths for each number of sequences, motifs and effect (issue 23).

    Few sequences are where an estimated sigma failed (the truncated-Gaussian pivot); the
    circle intervals condition on the residual length instead and must hold at every n.
    """
    base = base or IntervalSetting()
    tables = []
    for i, n in enumerate(ns):
        rows = run(list(betas), n_datasets, seed=seed + i, jobs=jobs, base=replace(base, n=int(n)),
                   n_motifs=n_motifs, progress=progress)
        tables.append(coverage_table(rows).assign(n=int(n)))
    return pd.concat(tables, ignore_index=True)


def coverage_table(rows: pd.DataFrame, keys=("n_motifs", "beta", "method")) -> pd.DataFrame:
    """Coverage (with a 95% Wilson interval), misses per tail with their one-sided binomial p-values
    (H0: each tail's miss rate <= ALPHA / 2), median width and rate of excluding 0, per setting."""
    groups = rows.groupby(list(keys))
    table = groups.agg(intervals=("covered", "size"), coverage=("covered", "mean"),
                       miss_below=("miss_below", "mean"), miss_above=("miss_above", "mean"),
                       median_width=("width", "median"), excludes_zero=("excludes_zero", "mean")).reset_index()
    low, high = proportion_confint(groups["covered"].sum().to_numpy(), table["intervals"].to_numpy(),
                                   alpha=0.05, method="wilson")
    table.insert(table.columns.get_loc("coverage") + 1, "coverage_low", low)
    table.insert(table.columns.get_loc("coverage_low") + 1, "coverage_high", high)
    for tail in ("miss_below", "miss_above"):
        misses = np.round(table[tail] * table["intervals"]).astype(int)
        table[f"{tail}_p"] = binom.sf(misses - 1, table["intervals"], ALPHA / 2)
    return table


def figure(table: pd.DataFrame):
    """Coverage and median width against the effect size, one column per number of motifs."""
    import matplotlib.pyplot as plt

    counts = sorted(table["n_motifs"].unique())
    fig, axes = plt.subplots(2, len(counts), figsize=(5 * len(counts), 7), squeeze=False)
    styles = {"selective": ("C0", "o"), "truncated_gaussian": ("C2", "D"), "data_split": ("C1", "s"),
              "naive": ("C3", "^")}
    for col, q in enumerate(counts):
        part = table[table["n_motifs"] == q]
        for method, (color, marker) in styles.items():
            m = part[part["method"] == method].sort_values("beta")
            if m.empty:
                continue
            axes[0, col].errorbar(m["beta"], m["coverage"], yerr=[m["coverage"] - m["coverage_low"],
                                                                   m["coverage_high"] - m["coverage"]],
                                  color=color, marker=marker, capsize=3, label=method)
            axes[1, col].plot(m["beta"], m["median_width"], color=color, marker=marker, label=method)
        axes[0, col].axhline(1 - ALPHA, color="grey", ls="--", lw=1)
        axes[0, col].set_ylim(0, 1.02)
        axes[0, col].set_title(f"{q} motif(s) selected")
        axes[0, col].set_ylabel("coverage of the 95% interval")
        axes[1, col].set_ylabel("median width")
        axes[1, col].set_xlabel("planted effect beta")
        axes[0, col].legend(loc="lower right")
    fig.tight_layout()
    return fig
