"""Benchmark: where the per-motif p-value's power goes with several motifs (issue 21, item 5(c)).

Run from the repository root::

    python benchmarks/bench_motif_power.py [--datasets 100] [--jobs 2]

The default circles test ``H0_1``: "motif 1 adds nothing to the model of the covariates and
the other selected motifs" (:mod:`seism_stats.stats.circle_tests`). With three motifs
selected on data with one planted motif it rejects less often than the global-null tests
(the conditional MC, the circles' ``P global``; ``benchmarks/bench_cmc_power_output.txt``).
This separates what the Monte Carlo costs from what the hypothesis costs, on the power
simulation's data (GATT planted in half of n = 100 sequences of length 30, k = 4), by
running on each data set the default and variants that change one thing each:

* ``B=4000``: eight times the default's directions (the Monte Carlo's share of the error);
* ``level 16``: the conditioning subspace ``V`` forced to 16 competitors per step (the default
  picks the first level whose pilot passes its bar: the last line counts how often it is level 0),
  to measure what conditioning on more costs;
* ``B=0``: the observed direction alone (the test given all of the direction, Lee et al.);
* ``equal-tailed``: ``2 min(G, 1 - G)`` of the one-sided pivot that the intervals invert,
  instead of ``|t| >= |t_obs|``;
* ``step score``: the statistic motif 1's own step score ``<g_1, y>^2 / |g_1|^2`` (its
  association off the covariates alone) on the same circles, instead of its t statistic in
  the selected model. On motif 1's circles ``g_1`` has no part along the directions (they are
  orthogonal to every selected feature), so this is ``(c + A cos w)^2``: ``|t|`` moved by the
  other motifs' fitted part ``c``, a statistic near the default's, not a far one;
* ``global``: the circles' global-null p-value (another hypothesis), and the data split
  (valid for ``H0_1``: OLS of the selected model on the held-out half).

Every variant but ``global`` tests ``H0_1`` exactly (the circles' theorem holds for any
statistic that is a function of the response, any fixed B and any level fixed in advance);
the first row (beta = 0) checks their level. Prints the rejection rates at 5% with Wilson
95% intervals.
"""

from __future__ import annotations

import contextlib
import os
import platform
import time
import warnings

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from seism_stats.inference.pipeline import selective_inference
from seism_stats.selection.geometry import arc_statistic_segments, segment_log_masses
from seism_stats.stats import circle_tests
from simulations.data import simulate_dataset
from simulations.experiments import power_benchmark_arguments, rejection_cell

VARIANTS = ("default (B=500)", "B=4000", "level 16", "B=0", "equal-tailed", "step score", "global",
            "data split")
TWO_PI = 2.0 * np.pi


@contextlib.contextmanager
def _patched(obj, name: str, value):
    """Set ``obj.name`` to ``value`` for the block (a variant of the default, in this process only)."""
    saved = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, saved)


def _beyond(offset: float, amplitude: float, phase: float, threshold: float) -> list:
    """Intervals of ``w`` in ``[0, 2 pi)`` where ``|offset + amplitude cos(w - phase)| >= threshold``."""
    out = []

    def add(a: float, b: float) -> None:
        a, b = a + phase, b + phase
        shift = np.floor(a / TWO_PI) * TWO_PI
        a, b = a - shift, b - shift
        out.extend([(a, b)] if b <= TWO_PI else [(a, TWO_PI), (0.0, b - TWO_PI)])

    if amplitude <= 0.0:  # a constant on the circle
        return [(0.0, TWO_PI)] if abs(offset) >= threshold else []
    for bound, upper in ((threshold - offset, True), (-threshold - offset, False)):
        c = bound / amplitude
        if (upper and c <= -1) or (not upper and c >= 1):
            return [(0.0, TWO_PI)]
        if -1 < c < 1:
            half = float(np.arccos(c))
            add(-half, half) if upper else add(half, TWO_PI - half)
    return out


def _step_score_masses(self, axis, rows, segments=None, two_sided=True, cut=None):
    """``log D`` and ``log N`` with motif j's step score as the statistic (replaces CircleTests.log_masses;
    every circle is resolved, ``cut`` is not used)."""
    arcs, counts = self.arcs(axis, rows)
    lo, hi, owner = arc_statistic_segments(arcs, counts)
    if segments is not None:
        segments.append(np.column_stack([lo, hi]) * np.sqrt(float(axis.df)))
    n_rows = counts.shape[0]
    log_den, _ = segment_log_masses(lo, hi, owner, n_rows, axis.df, 0.0)
    j, selected = axis.j, self.steps[axis.j][1]
    along_d = self.lines(*rows)[j][:, selected]  # the selected cell's step line of each direction
    offset, along_eta = axis.offset_lines[j][selected], axis.axis_lines[j][selected]
    observed = self.lines(*self.direction_terms(axis.direction))[j][0, selected]
    threshold = abs(offset + along_eta * axis.cos_obs + observed * axis.sin_obs) * (1 - 1e-12)
    cut = np.zeros((n_rows, arcs.shape[1] + 4, 2))
    cut_counts = np.zeros(n_rows, dtype=np.int64)
    for r in range(n_rows):
        tail = _beyond(offset, float(np.hypot(along_eta, along_d[r])), float(np.arctan2(along_d[r], along_eta)),
                       threshold)
        pieces = sorted((max(a, c), min(b, d)) for a, b in arcs[r, :counts[r]] for c, d in tail if min(b, d) > max(a, c))
        if pieces:
            cut[r, :len(pieces)] = pieces
        cut_counts[r] = len(pieces)
    lo, hi, owner = arc_statistic_segments(cut, cut_counts)
    log_num, _ = segment_log_masses(lo, hi, owner, n_rows, axis.df, 0.0)
    return log_den, log_num


def _upper_masses(original):
    """``CircleTests.log_masses`` counting only ``t >= t_obs`` (the one-sided pivot the intervals invert)."""
    def masses(self, axis, rows, segments=None, two_sided=True, cut=None):
        return original(self, axis, rows, segments, two_sided=False, cut=cut)
    return masses


def run_dataset(n_motifs: int, beta: float, seed: np.random.SeedSequence) -> dict:
    data_seed, method_seed = seed.spawn(2)
    data = simulate_dataset(100, 30, consensus="GATT", fraction=0.5, beta=beta,
                            random_state=np.random.default_rng(data_seed))
    tests = circle_tests.CircleTests

    def fit(n_samples: int = 500, hypothesis: str = "motif"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return selective_inference(data.sequences, data.y, k=4, n_motifs=n_motifs, null="sphere",
                                       n_samples=n_samples, refine=False, n_threads=1, hypothesis=hypothesis,
                                       random_state=np.random.default_rng(method_seed))

    default = fit(hypothesis="both")  # the same motif p-values as the default, the global null's beside
    if not default.n_selected:
        return {**{v: np.nan for v in VARIANTS}, "default level": -1}
    row = {"default (B=500)": default.pvalues[0], "B=4000": fit(4000).pvalues[0], "B=0": fit(0).pvalues[0],
           "global": default.pvalues_global[0], "data split": default.pvalues_split[0],
           "default level": int(default.settings["circle_neighbours"][0])}
    with _patched(circle_tests, "NEIGHBOUR_LADDER", (16,)), _patched(circle_tests, "MIN_PILOT_ESS", 0.0):
        row["level 16"] = fit().pvalues[0]
    with _patched(tests, "log_masses", _upper_masses(tests.log_masses)):
        upper = fit().pvalues[0]
    row["equal-tailed"] = 2.0 * min(upper, 1.0 - upper)
    with _patched(tests, "log_masses", _step_score_masses):
        row["step score"] = fit().pvalues[0]
    return row


def main() -> None:
    args = power_benchmark_arguments(__doc__.split("\n")[0])
    start = time.perf_counter()
    settings = [(3, 0.0), (2, 1.0), (3, 1.0)]
    seeds = np.random.SeedSequence(args.seed).spawn(len(settings) * args.datasets)
    tasks = [(q, beta) for q, beta in settings for _ in range(args.datasets)]
    rows = Parallel(n_jobs=args.jobs)(delayed(run_dataset)(q, beta, s) for (q, beta), s in zip(tasks, seeds))
    table = pd.DataFrame(rows)
    table["n_motifs"], table["beta"] = [t[0] for t in tasks], [t[1] for t in tasks]
    out = []
    for (q, beta), group in table.groupby(["n_motifs", "beta"], sort=False):
        line = {"n_motifs": q, "beta": beta}
        for variant in VARIANTS:
            line[variant] = rejection_cell(group[variant])
        line["default at level 0"] = f"{int((group['default level'] == 0).sum())} of {len(group)}"
        out.append(line)
    print(f"# bench_motif_power: the first motif's p-value at 5% [Wilson 95%], n=100, L=30, k=4, GATT in 50%, "
          f"B=500 unless named (the package's default is 1000), {args.datasets} data sets per row, seed {args.seed}; {platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}, "
          f"{time.perf_counter() - start:.0f} s")
    print(pd.DataFrame(out).T.to_string(header=False))


if __name__ == "__main__":
    main()
