"""Selective confidence intervals (issue 13): exact event geometry, a uniform pivot, coverage.

Coverage is tested statistically on data sets that the other tests do not use;
the naive intervals fail the same checks, which shows the checks have teeth.
"""

import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.stats import kstest

from seism_stats.features.grid import grid_features
from seism_stats.io.sequences import encode_sequences
from seism_stats.selection import geometry
from seism_stats.selection.greedy import residualize, select_motifs
from seism_stats.selection.replay import SelectionReplay
from seism_stats.stats import intervals
from seism_stats.utils.validation import check_covariates, residual_basis
from simulations import intervals as interval_sim
from simulations.data import simulate_dataset


def _selected(seed, n=150, k=4, n_motifs=2, beta=0.4, pooling="sum"):
    data = simulate_dataset(n, 30, consensus="GATTA"[:max(np.atleast_1d(k))], beta=beta, covariate=0.5,
                            random_state=seed)
    features = grid_features(encode_sequences(data.sequences), list(np.atleast_1d(k)), 1.0, pooling, revcomp=True)
    basis = residual_basis(check_covariates(data.covariates, n, True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        selection = select_motifs(features, data.y, basis, n_motifs)
    return data, features, basis, selection


@pytest.mark.parametrize("seed, k, pooling", [(0, 4, "sum"), (1, 4, "sum"), (2, 4, "max"), (3, [3, 4], "sum")])
def test_event_segments_are_exactly_the_replayed_event(seed, k, pooling):
    data, features, basis, selection = _selected(seed, k=k, pooling=pooling)
    replay = SelectionReplay(features, selection.event)
    residual = residualize(data.y, basis)
    columns = [residualize(features.column(int(c)), basis) for c in selection.cells]
    rng = np.random.default_rng(seed)
    for j in range(selection.event.n_selected):
        plane, x_obs, z_obs, _ = intervals.motif_plane(residual, columns, j)
        lines = geometry.step_lines(selection.event, features.project(plane), plane @ selection.event.basis)
        zs = z_obs * np.array([1.0, 0.9, 1.1])
        checked = []
        for z, segments in zip(zs, geometry.line_event_segments(lines, zs)):
            # Far and near the observation, and both sides of every segment end.
            ends = segments[np.isfinite(segments)]
            x = np.concatenate([x_obs + z_obs * rng.uniform(-0.5, 0.5, 200), x_obs * (1 + rng.normal(0, 0.01, 50)),
                                ends + 1e-7 * z_obs, ends - 1e-7 * z_obs])
            points = plane[0][None, :] + x[:, None] * plane[1][None, :] + z * plane[2][None, :]
            accepted, _ = replay.check_points(points / np.linalg.norm(points, axis=1)[:, None])
            inside = ((x[:, None] >= segments[:, 0]) & (x[:, None] <= segments[:, 1])).any(axis=1)
            np.testing.assert_array_equal(accepted, inside)
            checked.append(accepted)
        checked = np.concatenate(checked)
        assert 0 < checked.sum() < checked.size  # the slices cross the event boundary
        # The observed point is in its own event.
        observed = geometry.line_event_segments(lines, np.array([z_obs]))[0]
        assert ((observed[:, 0] <= x_obs) & (x_obs <= observed[:, 1])).any()


def test_without_truncation_the_interval_is_the_ordinary_one():
    nodes, log_weight = intervals._residual_length_nodes(50)
    assert np.exp(log_weight).sum() == pytest.approx(1.0, abs=1e-8)  # the chi density integrates to 1
    whole = np.tile([-np.inf, np.inf], (nodes.size, 1))
    pivot = intervals.TruncatedGaussianPivot(whole, np.arange(nodes.size), log_weight, x_obs=2.0,
                                             z_obs=10.0, eta_norm=4.0, df_resid=50)
    half = stats.norm.ppf(0.975) * pivot.bse_ols
    assert pivot.interval(0.05) == pytest.approx((0.5 - half, 0.5 + half), rel=1e-7)
    assert pivot.solve(0.5) == pytest.approx(0.5)
    assert pivot.pvalue_zero() == pytest.approx(2 * stats.norm.sf(0.5 / pivot.bse_ols), rel=1e-7)


def test_pivot_is_monotone_and_far_tails_are_finite():
    _, features, basis, selection = _selected(3, n_motifs=2, beta=0.0)
    data = simulate_dataset(150, 30, consensus="GATT", covariate=0.5, random_state=3)
    pivots = intervals.motif_pivots(features, data.y, basis, selection)
    for p in pivots:
        grid = p.estimate_ols + p.bse_ols * np.linspace(-200, 200, 81)
        values = np.array([p.log_odds(b) for b in grid])
        assert np.all(np.isfinite(values)) and np.all(np.diff(values) > 0)
        low, high = p.interval(0.05)
        assert np.isfinite(low) and np.isfinite(high) and low < p.solve(0.5) < high
        wide = p.interval(0.01)
        assert wide[0] <= low and high <= wide[1]


def test_selective_pivot_is_uniform_under_the_null_and_naive_is_not():
    pivots, naive = [], []
    for seed in range(150):
        data = simulate_dataset(60, 20, consensus="GAT", covariate=0.5, random_state=5000 + seed)
        features = grid_features(encode_sequences(data.sequences), [3], 1.0, "sum")
        basis = residual_basis(check_covariates(data.covariates, 60, True))
        selection = select_motifs(features, data.y, basis, 2)
        for p in intervals.motif_pivots(features, data.y, basis, selection):
            pivots.append(p.pivot(0.0))  # the target is 0 under the global null
            naive.append(stats.norm.sf(p.estimate_ols / p.bse_ols))
    assert kstest(pivots, "uniform").pvalue > 0.01
    assert kstest(naive, "uniform").pvalue < 1e-6


def _coverage(rows, method):
    part = rows[rows["method"] == method]
    return part["covered"].mean(), len(part)


def test_coverage_small_run():
    setting = interval_sim.IntervalSetting(n=120, length=25, consensus="GAT")
    rows = interval_sim.run([0.0, 2.0], 120, seed=99, base=setting, n_motifs=(1, 2), progress=False)
    table = interval_sim.coverage_table(rows).set_index(["n_motifs", "beta", "method"])
    selective = table.xs("selective", level="method")
    # Not significantly below 93% in any setting (95% Wilson upper bound), and 93% overall.
    assert (selective["coverage_high"] >= 0.93).all(), selective
    assert _coverage(rows, "selective")[0] >= 0.93
    # The exact intervals are the hull of the exact confidence set: infinite where that set reaches far, rarely.
    assert np.isfinite(rows.loc[rows["method"] == "selective", "width"]).mean() > 0.95
    assert np.isfinite(rows.loc[rows["method"] == "truncated_gaussian", "width"]).all()
    # The naive intervals fail under the null: the check has teeth.
    assert (table.xs(("naive", 0.0), level=("method", "beta"))["coverage_high"] < 0.6).all()
    # A strong planted effect: the first motif's selective interval excludes 0 and is
    # shorter than the data split's (which spends half the data on selection).
    strong = table.loc[(1, 2.0)]
    assert strong.loc["selective", "excludes_zero"] > 0.9
    assert strong.loc["selective", "median_width"] < strong.loc["data_split", "median_width"]


@pytest.mark.slow
def test_coverage_large_run():
    rows = interval_sim.run([0.0, 0.5, 1.0], 500, seed=123, n_motifs=(1, 2, 3), progress=False)
    table = interval_sim.coverage_table(rows)
    selective = table[table["method"] == "selective"]
    assert (selective["coverage"] >= 0.93).all(), selective
    assert (table[(table["method"] == "naive") & (table["beta"] == 0.0)]["coverage"] < 0.5).all()


def _side_bounds_numpy(lines, selected, sign, zs):
    """Plain numpy twin of the Cython kernel ``_replay.side_bounds``."""
    lo, hi = [], []
    for z in zs:
        own_a = sign * (lines[0, selected] + lines[2, selected] * z)
        own_c = sign * lines[1, selected]
        la = np.concatenate([[0.0], lines[0] + lines[2] * z])
        lc = np.concatenate([[0.0], lines[1]])
        a = np.concatenate([own_a - la, own_a + la])
        c = np.concatenate([own_c - lc, own_c + lc])
        with np.errstate(divide="ignore", invalid="ignore"):
            root = -a / c
        lo.append(root[c > 0].max() if (c > 0).any() else -np.inf)
        empty = ((c == 0) & (a < 0)).any()
        hi.append(-np.inf if empty else (root[c < 0].min() if (c < 0).any() else np.inf))
    return np.array(lo), np.array(hi)


@pytest.mark.parametrize("seed", [0, 1])
def test_side_bounds_kernel_matches_its_numpy_twin(seed):
    from seism_stats.selection import _replay

    rng = np.random.default_rng(seed)
    lines = rng.normal(size=(3, 500))
    lines[:, 7] = [0.0, 0.0, 0.0]  # a cell out of the grid: no constraint
    lines[1, 3] = 40.0  # the selected cell wins for large |x|: non-empty intervals
    lines[1, 11] = lines[1, 3]  # a flat constraint (c == 0) on one side
    zs = rng.uniform(0.5, 2.0, 17)
    seen = []
    for sign in (1.0, -1.0):
        got = _replay.side_bounds(lines, 3, sign, zs, 2)
        want = _side_bounds_numpy(lines, 3, sign, zs)
        # The same intervals: the same emptiness, and the same ends where not empty (the
        # kernel stops scanning once an interval is empty, so empty ends may differ).
        inside = want[1] > want[0]
        np.testing.assert_array_equal(got[1] > got[0], inside)
        np.testing.assert_array_equal(got[0][inside], want[0][inside])
        np.testing.assert_array_equal(got[1][inside], want[1][inside])
        seen.append(inside)
    assert np.concatenate(seen).any() and not np.concatenate(seen).all()  # both kinds were checked
