"""Null samplers conditioned on the selection event."""

import warnings

import numpy as np
import pytest
from scipy.stats import ks_2samp

from seism_stats.features.grid import make_features
from seism_stats.features.kmers import kmer_count_matrix
from seism_stats.inference.pipeline import selective_inference
from seism_stats.inference.stages import selective_pvalues
from seism_stats.io.sequences import encode_sequences
from seism_stats.sampling import samplers
from seism_stats.selection.greedy import select_motifs
from seism_stats.selection.replay import SelectionReplay
from seism_stats.utils.diagnostics import effective_sample_size
from seism_stats.utils.validation import check_covariates, residual_basis
from simulations.data import simulate_dataset


@pytest.fixture
def small_problem():
    data = simulate_dataset(30, 15, consensus="GA", random_state=11)
    features = make_features(kmer_count_matrix(encode_sequences(data.sequences), 2), 2, 1.0)
    basis = residual_basis(check_covariates(None, 30))
    selection = select_motifs(features, data.y, basis, 1)
    return data, features, basis, selection


def test_rejection_and_mcmc_agree_in_distribution(small_problem):
    data, features, basis, selection = small_problem
    rejection = samplers.sample_rejection(
        SelectionReplay(features, selection.event), lambda g, m: samplers.sphere_points(g, m, basis, 30),
        np.random.default_rng(1), 3000, block_size=1024)
    mcmc = samplers.sample_sphere_mcmc(SelectionReplay(features, selection.event), selection.unit_residual,
                                       basis, [np.random.default_rng(s) for s in range(4)], 3000,
                                       burn_in=100, thin=5, n_chains=32)
    assert rejection.n_draws == 3000 and mcmc.n_draws == 3007
    # Thinned draws are close to independent; a KS test at 1% should not see a difference.
    assert ks_2samp(rejection.draws[:, 0], mcmc.draws[:, 0]).pvalue > 0.01
    assert 0 < mcmc.acceptance_rate <= 1
    assert 0 < rejection.acceptance_rate < 1
    assert mcmc.effective_sample_size()[0] > 300


def test_every_mcmc_draw_is_in_the_event(small_problem):
    _, features, basis, selection = small_problem
    replay = SelectionReplay(features, selection.event)
    sample = samplers.sample_sphere_mcmc(replay, selection.unit_residual, basis,
                                         np.random.default_rng(0), 200, burn_in=5, n_chains=8)
    # Statistics of the draws are step scores of the selected cell, in (0, 1].
    assert np.all((sample.draws > 0) & (sample.draws <= 1))
    assert replay.n_replays >= sample.n_moves


def test_permutation_samplers_agree():
    data = simulate_dataset(30, 15, consensus="GA", response="binary", random_state=5)
    features = make_features(kmer_count_matrix(encode_sequences(data.sequences), 2), 2, 1.0)
    basis = residual_basis(check_covariates(None, 30))
    selection = select_motifs(features, data.y, basis, 1)
    residual = selection.unit_residual
    rejection = samplers.sample_rejection(
        SelectionReplay(features, selection.event),
        lambda g, m: samplers.permutation_points(g, m, residual, basis), np.random.default_rng(2), 2000,
        block_size=1024, method="permutation-rejection")
    mcmc = samplers.sample_permutation_mcmc(SelectionReplay(features, selection.event), residual, basis,
                                            [np.random.default_rng(s) for s in range(4)], 2000,
                                            burn_in=100, thin=10, n_chains=40)
    assert ks_2samp(rejection.draws[:, 0], mcmc.draws[:, 0]).pvalue > 0.01


def test_pvalues_never_zero_and_se_reported():
    statistics = np.linspace(0.1, 0.5, 100).reshape(4, 25, 1)
    sample = samplers.NullSample("mcmc", statistics, 1000, 100, 0, 1, 0.0)
    p, se = selective_pvalues(sample, np.array([10.0]))
    assert p[0] == pytest.approx(1 / 101)
    assert se[0] > 0
    p, _ = selective_pvalues(sample, np.array([0.0]))
    assert p[0] == 1.0


def test_effective_sample_size():
    rng = np.random.default_rng(0)
    independent = rng.standard_normal((4, 1000))
    assert 3000 < effective_sample_size(independent) <= 4000
    walk = np.cumsum(rng.standard_normal((4, 1000)), axis=1)
    assert effective_sample_size(walk) < 100


@pytest.mark.parametrize("method", ["mcmc", "rejection"])
def test_reproducible_with_random_state(method):
    data = simulate_dataset(40, 20, consensus="GAT", random_state=3)
    kwargs = dict(k=3, method=method, n_samples=200, burn_in=10)
    first = selective_inference(data.sequences, data.y, random_state=42, **kwargs)
    second = selective_inference(data.sequences, data.y, random_state=42, **kwargs)
    third = selective_inference(data.sequences, data.y, random_state=np.random.default_rng(42), **kwargs)
    other = selective_inference(data.sequences, data.y, random_state=43, **kwargs)
    assert np.array_equal(first.null_sample.statistics, second.null_sample.statistics)
    assert np.array_equal(first.pvalues, second.pvalues)
    assert np.array_equal(first.pvalues_split, second.pvalues_split)
    assert third.null_sample.n_draws == first.null_sample.n_draws
    assert first.settings["random_state"] == 42 and third.settings["random_state"] == "Generator (no seed)"
    fourth = selective_inference(data.sequences, data.y, random_state=np.random.SeedSequence(42), **kwargs)
    assert fourth.settings["random_state"] == 42 and np.array_equal(fourth.pvalues, first.pvalues)
    assert not np.array_equal(first.null_sample.statistics, other.null_sample.statistics)


@pytest.mark.parametrize("null", ["sphere", "permutation"])
def test_results_do_not_depend_on_n_jobs(null):
    data = simulate_dataset(40, 20, consensus="GAT", random_state=4)
    kwargs = dict(k=3, method="mcmc", n_samples=160, burn_in=10, null=null, random_state=9)
    serial = selective_inference(data.sequences, data.y, n_jobs=1, **kwargs)
    parallel = selective_inference(data.sequences, data.y, n_jobs=2, **kwargs)
    assert np.array_equal(serial.null_sample.statistics, parallel.null_sample.statistics)
    assert np.array_equal(serial.pvalues, parallel.pvalues)
    assert serial.null_sample.n_replays == parallel.null_sample.n_replays


def test_dask_backend_gives_the_joblib_pvalues():
    distributed = pytest.importorskip("distributed")
    data = simulate_dataset(40, 20, consensus="GAT", random_state=4)
    kwargs = dict(k=3, method="mcmc", n_samples=160, burn_in=10, random_state=9)
    local = selective_inference(data.sequences, data.y, n_jobs=2, **kwargs)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        remote = selective_inference(data.sequences, data.y, backend="dask", client=client, **kwargs)
    assert np.array_equal(local.pvalues, remote.pvalues)
    assert np.array_equal(local.null_sample.statistics, remote.null_sample.statistics)


def test_dask_backend_needs_a_client():
    pytest.importorskip("distributed")
    data = simulate_dataset(40, 20, consensus="GAT", random_state=4)
    with pytest.raises(ValueError, match="needs a running dask.distributed Client"):
        selective_inference(data.sequences, data.y, k=3, method="mcmc", n_samples=16, backend="dask")
    with pytest.raises(ValueError, match="backend must be one of"):
        selective_inference(data.sequences, data.y, k=3, backend="spark")


def circles_from_the_observation(n_motifs: int, m: int, seed: int):
    """Replay of a small selection, and m great circles through the observed point.

    Returns the replay and a namespace with the walkers' arrays ``u, v, num_u, num_v,
    coef_u, coef_v`` (u the observed unit residual, v random directions orthogonal to it).
    """
    from types import SimpleNamespace

    from seism_stats.selection import _sphere
    data = simulate_dataset(40, 25, consensus="GAT", beta=0.5, random_state=13)
    features = make_features(kmer_count_matrix(encode_sequences(data.sequences), 3), 3, 1.0, revcomp=True)
    basis = residual_basis(check_covariates(None, 40))
    selection = select_motifs(features, data.y, basis, n_motifs)
    replay = SelectionReplay(features, selection.event)
    u = np.tile(selection.unit_residual, (m, 1))
    v = samplers.sphere_points(np.random.default_rng(seed), m, basis, 40)
    _sphere.orthonormal_directions(v, u)
    return replay, SimpleNamespace(u=u, v=v, num_u=replay.numerators(u), num_v=replay.numerators(v),
                                   coef_u=replay.coefficients(u), coef_v=replay.coefficients(v))


@pytest.mark.parametrize("n_motifs", [1, 2, 3])
def test_exact_event_arcs_match_a_fine_scan(n_motifs):
    m = 6
    replay, w = circles_from_the_observation(n_motifs, m, 0)
    lo, hi = replay.circle_arcs(w.num_u, w.num_v, w.coef_u, w.coef_v, np.arange(m))
    assert np.all(lo <= 0) and np.all(hi >= 0)
    grid = np.linspace(-np.pi, np.pi, 2001)
    for r in range(m):
        rows = np.full(grid.size, r)
        inside, _ = replay.check_circle(w.num_u, w.num_v, w.coef_u, w.coef_v, rows, np.cos(grid), np.sin(grid))
        # Scan outwards from t = 0: the first rejected angles on each side bound the arc.
        zero = grid.size // 2
        right = zero + np.argmin(inside[zero:]) if not inside[zero:].all() else grid.size - 1
        left = zero - np.argmin(inside[zero::-1]) if not inside[zero::-1].all() else 0
        step = grid[1] - grid[0]
        assert grid[right - 1] - step <= hi[r] <= grid[right] + step
        assert grid[left] - step <= lo[r] <= grid[left + 1] + step


@pytest.mark.parametrize("n_motifs", [1, 3])
def test_certified_moves_equal_the_replay_and_rotations(n_motifs):
    # The fused step (statistics, then point, numerators and coefficients rotated) must give
    # what the full replay and separate rotations give for points inside the exact arcs.
    from seism_stats.selection import _replay
    replay, walkers = circles_from_the_observation(n_motifs, 5, 1)
    rows = np.array([0, 2, 3])
    lo, hi = replay.circle_arcs(walkers.num_u, walkers.num_v, walkers.coef_u, walkers.coef_v, rows)
    theta = lo + 0.3 * (hi - lo)
    c, s = np.cos(theta), np.sin(theta)
    accepted, expected = replay.check_circle(walkers.num_u, walkers.num_v, walkers.coef_u, walkers.coef_v,
                                             rows, c, s)
    assert accepted.all()
    moved = {name: getattr(walkers, name).copy() for name in ("u", "num_u", "coef_u")}
    for name, direction in (("u", walkers.v), ("num_u", walkers.num_v), ("coef_u", walkers.coef_v)):
        _replay.rotate_rows(moved[name], direction, rows, c, s)
    stats = replay.certified_moves(walkers, rows, c, s)
    assert np.array_equal(stats, expected)
    for name, value in moved.items():
        assert np.array_equal(getattr(walkers, name), value)


@pytest.mark.parametrize("k, n_motifs, with_covariates, n_threads",
                         [(3, 1, True, 1), (3, 3, False, 2), (8, 2, True, 2), (8, 1, False, 1)])
def test_fused_lockstep_step_equals_separate_calls(monkeypatch, k, n_motifs, with_covariates, n_threads):
    # One kernel call for the moves and the new circles (issue 10, item 1) must give, bit for
    # bit, the walkers of certified_moves then restart (sphere_points, orthonormal_directions,
    # the transform, the coefficients, the exact arcs), for the scatter (k = 3) and the gather
    # (k = 8) transforms, with and without covariates.
    from seism_stats.sampling.walkers import ChainGroups, SphereWalkers
    n, walkers_count = 60, 7
    data = simulate_dataset(n, 30, consensus="GATTACAG"[:k], beta=0.5, random_state=21)
    features = make_features(kmer_count_matrix(encode_sequences(data.sequences), k), k, 1.0, revcomp=True,
                             n_threads=n_threads)
    covariates = np.random.default_rng(2).normal(size=(n, 2)) if with_covariates else None
    basis = residual_basis(check_covariates(covariates, n))
    selection = select_motifs(features, data.y, basis, n_motifs)
    runs = {}
    for fused in (True, False):
        if not fused:
            monkeypatch.setattr(SelectionReplay, "fuses_steps", property(lambda self: False))
        replay = SelectionReplay(features, selection.event, n_threads)
        assert replay.fuses_steps is fused
        rngs = [np.random.default_rng(s) for s in (5, 6, 7)]
        walkers = SphereWalkers(replay, np.tile(selection.unit_residual, (walkers_count, 1)), basis,
                                ChainGroups(rngs, walkers_count))
        walkers.restart(np.arange(walkers_count))
        total = np.array([6, 3, 6, 1, 5, 6, 4])
        moves = np.zeros(walkers_count, dtype=np.int64)
        trace = []
        active = np.arange(walkers_count)
        while active.size:
            moved, stats = walkers.step(active, moves + 1 < total)
            moves[moved] += 1
            trace.append((moved.copy(), stats.copy(), walkers.theta.copy(), walkers.lower.copy(),
                          walkers.upper.copy()))
            active = np.flatnonzero(moves < total)
        runs[fused] = (trace, [getattr(walkers, a).copy() for a in ("u", "v", "num_u", "num_v", "coef_u", "coef_v")],
                       replay.n_replays, replay.n_arcs)
    (trace_f, state_f, replays_f, arcs_f), (trace_s, state_s, replays_s, arcs_s) = runs[True], runs[False]
    assert (replays_f, arcs_f) == (replays_s, arcs_s) and len(trace_f) == len(trace_s) == 6
    for step_f, step_s in zip(trace_f, trace_s):
        for a, b in zip(step_f, step_s):
            assert np.array_equal(a, b)
    for a, b in zip(state_f, state_s):
        assert np.array_equal(a, b)


def test_exact_and_shrinking_brackets_agree(small_problem):
    _, features, basis, selection = small_problem
    draws = {}
    for bracket in ("exact", "shrink"):
        replay = SelectionReplay(features, selection.event)
        sample = samplers.sample_sphere_mcmc(replay, selection.unit_residual, basis,
                                             [np.random.default_rng(s) for s in range(4)], 3000,
                                             burn_in=100, thin=5, n_chains=32, bracket=bracket)
        draws[bracket] = sample.draws[:, 0]
        if bracket == "exact":
            assert sample.acceptance_rate > 0.9  # proposals fall in the exact arc
    assert ks_2samp(draws["exact"], draws["shrink"]).pvalue > 0.01


def test_auto_null_switches_to_permutations_for_heavy_tails():
    from seism_stats.inference.options import choose_null
    basis = residual_basis(check_covariates(None, 400))
    rng = np.random.default_rng(8)
    assert choose_null(rng.standard_normal(400), basis)[0] == "sphere"
    null, reason = choose_null(rng.standard_t(3, 400), basis)
    assert null == "permutation" and "heavy-tailed" in reason
    assert choose_null((rng.random(400) < 0.3).astype(float), basis) == ("permutation", "binary response")


def test_tree_design_places_the_observation_and_counts_it_once(small_problem):
    _, features, basis, selection = small_problem
    replay = SelectionReplay(features, selection.event)
    sample = samplers.sample_sphere_mcmc(replay, selection.unit_residual, basis, np.random.default_rng(3), 99,
                                         burn_in=3, n_chains=5)
    chain, slot = sample.observed_slot
    assert sample.statistics.shape == (5, 20, 1) and sample.n_draws == 99
    assert sample.statistics[chain, slot, 0] == selection.statistics[0]
    assert not np.isnan(sample.statistics).any()
    # The p-value is the mean indicator over all recorded nodes, the observation's included.
    p, se = selective_pvalues(sample, selection.statistics)
    count = (sample.draws[:, 0] >= selection.statistics[0] * (1 - 1e-9)).sum()
    assert p[0] == pytest.approx((1 + count) / 100) and se[0] > 0
    start = samplers.sample_sphere_mcmc(SelectionReplay(features, selection.event), selection.unit_residual,
                                        basis, np.random.default_rng(3), 100, burn_in=3, n_chains=5,
                                        design="start")
    assert start.observed_slot is None and start.n_draws == 100


def test_ties_with_the_observed_statistic_count_as_exceedances():
    from seism_stats.sampling.pvalues import monte_carlo_pvalues
    observed = np.array([0.3])
    rounding = observed * (1 - 1e-13)  # the same value, computed in another order
    stats = np.r_[np.full(50, rounding[0]), np.full(49, 0.1)].reshape(1, 99, 1)
    sample = samplers.NullSample("rejection", stats, 99, 99, 0, 1, 0.0)
    assert monte_carlo_pvalues(sample, observed).pvalues[0] == pytest.approx(51 / 100)


def test_monte_carlo_error_at_the_floor_is_an_upper_bound_not_p():
    from seism_stats.sampling.pvalues import monte_carlo_pvalues
    stats = np.linspace(0.1, 0.2, 999).reshape(1, 999, 1)
    sample = samplers.NullSample("rejection", stats, 999, 999, 0, 1, 0.0)
    mc = monte_carlo_pvalues(sample, np.array([0.5]))
    assert mc.pvalues[0] == pytest.approx(1e-3)
    assert mc.upper[0] == pytest.approx(1 - 0.05 ** (1 / 999), rel=1e-6)  # about 3 / B
    assert mc.se[0] > 0 and mc.se[0] != pytest.approx(mc.pvalues[0])


def test_merged_rejection_blocks_keep_every_accepted_draw():
    blocks = [samplers.NullSample("rejection", np.full((1, m, 1), 0.2), 100, m, 0, 1, 0.0) for m in (5, 2, 0, 7)]
    merged = samplers.merge_samples(blocks, 0.0)
    assert merged.n_draws == 14 and merged.draws.shape == (14, 1)
    p, se = selective_pvalues(merged, np.array([0.1]))
    assert p[0] == pytest.approx(1.0) and np.isfinite(se[0])


def test_rejection_budget_is_planned_and_a_short_sample_gives_nan():
    # Issue 21.4: a rejection sample that ran out of replays gave a p-value from fewer draws than asked.
    data = simulate_dataset(60, 30, consensus="GATT", random_state=2)  # about 0.4% of null draws accepted
    with pytest.raises(ValueError, match="rejection sampling of 10,000 draws needs at least as many replays"):
        selective_inference(data.sequences, data.y, k=4, method="rejection", n_samples=10_000, max_replays=4096)
    with pytest.raises(ValueError, match=r"\d of a pilot's 256 null candidates fell in the selection event"):
        selective_inference(data.sequences, data.y, k=4, method="rejection", n_samples=1000, max_replays=8000)
    with pytest.warns(RuntimeWarning, match=r"ran out of replays .* with \d+ of 100 draws accepted .*: the "
                                            "selective p-values are NaN"):
        result = selective_inference(data.sequences, data.y, k=4, method="rejection", n_samples=100,
                                     max_replays=10_000, random_state=0)
    assert 0 < result.null_sample.n_draws < 100 and np.isnan(result.pvalues).all()
    assert "ran out of replays" in result.null_sample.shortfall


# -- tail estimates below the floor (seism_stats.stats.tail) ---------------------------------------

def _tail_problem(seed=5, beta=1.1, n_motifs=1):
    from seism_stats.features.grid import grid_features
    from seism_stats.io.sequences import encode_sequences
    from seism_stats.selection.greedy import select_motifs
    from seism_stats.utils.validation import residual_basis
    from simulations.data import simulate_dataset

    data = simulate_dataset(80, 20, consensus="GAT", beta=beta, random_state=seed)
    features = grid_features(encode_sequences(data.sequences), [3], 1.0, "sum", revcomp=True)
    basis = residual_basis(np.ones((80, 1)))
    return data, features, basis, select_motifs(features, data.y, basis, n_motifs)


@pytest.mark.parametrize("n_motifs", [1, 2, 3])
def test_tail_circle_event_is_exactly_the_replayed_event(n_motifs):
    from seism_stats.selection.geometry import circle_segments
    from seism_stats.selection.replay import SelectionReplay

    _, features, basis, selection = _tail_problem(n_motifs=n_motifs)
    replay = SelectionReplay(features, selection.event)
    u = selection.unit_residual
    numerators, coefficients = replay.numerators(u[None])[0], replay.coefficients(u[None])[0]
    rng = np.random.default_rng(0)
    for j in range(n_motifs):
        q = selection.event.basis[:, j]
        d = u - coefficients[j] * q
        d /= np.linalg.norm(d)
        segments = circle_segments(selection, numerators, coefficients, j)
        ends = segments[np.isfinite(segments)]
        x = np.concatenate([rng.standard_t(3, 300), ends * (1 + 1e-7), ends * (1 - 1e-7)])
        points = (x[:, None] * q[None] + d[None]) / np.sqrt(1 + x[:, None] ** 2)
        accepted, _ = replay.check_points(points)
        inside = ((x[:, None] >= segments[:, 0]) & (x[:, None] <= segments[:, 1])).any(axis=1)
        np.testing.assert_array_equal(accepted, inside)
        assert 0 < accepted.sum() < accepted.size


def test_tail_estimate_agrees_with_long_rejection_sampling():
    from seism_stats.inference.pipeline import selective_inference
    from seism_stats.stats.tail import tail_pvalues

    data, features, basis, selection = _tail_problem()
    exact = selective_inference(data.sequences, data.y, k=3, n_motifs=1, method="rejection", n_samples=30000,
                                refine=False, random_state=5)
    estimate = tail_pvalues(features, selection, basis, [0], 256, np.random.default_rng(1))
    assert 0.002 < exact.pvalues[0] < 0.05
    gap = abs(estimate.pvalues[0] - exact.pvalues[0])
    assert gap < 3 * np.hypot(estimate.se[0], exact.pvalues_se[0]), (estimate, exact.pvalues, exact.pvalues_se)
    assert estimate.n_draws == 256 and 0 < estimate.se[0] < estimate.pvalues[0]


def test_step_side_bounds_rows_matches_side_bounds():
    # Each row's step line (numerator off the earlier motifs, scaled) built in the kernel,
    # then both sides: the same ends as side_bounds on that line built here, in the
    # kernel's order of operations; inactive rows are empty.
    from seism_stats.selection import _replay
    rng = np.random.default_rng(3)
    numerators, coefficients = rng.standard_normal((5, 60)), rng.standard_normal((5, 2))
    cross_t, slopes = rng.standard_normal((2, 60)), rng.standard_normal(40)
    slopes[7] = 30.0  # the selected cell wins for large |x|: non-empty intervals too
    cells = np.sort(rng.choice(60, 40, replace=False)).astype(np.int64)
    scale = rng.uniform(0.5, 2.0, 40)
    active = np.array([1, 1, 0, 1, 1], dtype=np.uint8)
    for s in (0, 1, 2):
        lo, hi = _replay.step_side_bounds_rows(numerators, coefficients, cross_t, s, cells, scale, slopes, 7,
                                               active, 2)
        for r in range(5):
            line = np.empty(40)
            for i, cell in enumerate(cells):
                acc = 0.0
                for m in range(s):
                    acc = acc + coefficients[r, m] * cross_t[m, cell]
                line[i] = (numerators[r, cell] - acc) * scale[i]
            for side, sign in enumerate((1.0, -1.0)):
                one_lo, one_hi = _replay.side_bounds(np.vstack([line, slopes, np.zeros(40)]), 7, sign, np.zeros(1))
                want = (one_lo[0], one_hi[0]) if active[r] else (np.inf, -np.inf)
                assert (lo[r, side], hi[r, side]) == want
        assert (hi > lo).any() and not (hi > lo).all()
    with pytest.raises(ValueError, match="slopes"):
        _replay.step_side_bounds_rows(numerators, coefficients, cross_t, 0, cells, scale, slopes[:-1], 7, active)


@pytest.mark.parametrize("method, binary", [("mcmc", False), ("mcmc", True), ("cmc", False), ("rejection", False),
                                            ("rejection", True)])
def test_sampled_pvalues_do_not_depend_on_the_order_of_the_records(method, binary):
    # random numbers over rows are drawn in the rows' canonical order (issue 21, item 4), for every sampler
    data = simulate_dataset(80, 20, consensus="GATT", beta=0.8, random_state=3)
    y = np.asarray(data.y, dtype=float)
    if binary:
        y = (y > np.median(y)).astype(float)
    order = np.random.default_rng(1).permutation(80)
    kwargs = dict(k=4, n_motifs=1 if method == "rejection" else 2, method=method, n_samples=100, random_state=5,
                  max_replays=10**6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = selective_inference(data.sequences, y, **kwargs)
        again = selective_inference([data.sequences[i] for i in order], y[order], **kwargs)
    assert first.settings["null"] == ("permutation" if binary else "sphere")
    np.testing.assert_allclose(first.pvalues, again.pvalues, rtol=1e-8)
