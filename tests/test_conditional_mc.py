"""Conditional Monte-Carlo p-values (method="cmc"): agreement with exact rejection sampling,
resolution below 1/(B+1), reproducibility, and clear errors where it does not apply."""

import warnings

import numpy as np
import pytest

from seism_stats.inference.pipeline import selective_inference
from seism_stats.selection.geometry import grouped_logsumexp
from seism_stats.stats.conditional_mc import ratio_estimate
from simulations.data import simulate_dataset


def fit(data, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return selective_inference(data.sequences, data.y, data.covariates, refine=False, n_threads=1, **kwargs)


@pytest.mark.parametrize("seed, beta", [(5, 0.6), (8, 0.0)])
def test_cmc_agrees_with_rejection_sampling(seed, beta):
    # Rejection sampling is exact (i.i.d. draws in the event); the two estimates of the
    # same selective p-value must agree within their Monte-Carlo errors.
    data = simulate_dataset(60, 25, consensus="GAT", beta=beta, covariate=0.5, random_state=seed)
    cmc = fit(data, k=3, method="cmc", n_samples=3000, random_state=1)
    exact = fit(data, k=3, method="rejection", n_samples=6000, random_state=2)
    assert cmc.kmers == exact.kmers
    p, se = cmc.pvalues[0], cmc.pvalues_se[0]
    q, q_se = exact.pvalues[0], exact.pvalues_se[0]
    assert 0 < se < 0.25 * max(p, 0.01)
    assert abs(p - q) < 4 * np.hypot(se, q_se), (p, se, q, q_se)


def test_cmc_resolves_p_values_below_the_floor():
    data = simulate_dataset(150, 40, consensus="GATTA", beta=1.5, random_state=3)
    result = fit(data, k=4, method="cmc", n_samples=200, random_state=0)
    p, se = result.pvalues[0], result.pvalues_se[0]
    assert p < 1e-4 < 1.0 / 201  # far below what 200 rank draws could show
    assert 0 < se < 0.5 * p
    assert p <= result.pvalues_upper[0] <= 1


def test_cmc_is_reproducible_and_takes_a_generator():
    data = simulate_dataset(60, 25, consensus="GAT", beta=0.3, random_state=4)
    first = fit(data, k=3, method="cmc", n_samples=300, random_state=7)
    again = fit(data, k=3, method="cmc", n_samples=300, random_state=7)
    other = fit(data, k=3, method="cmc", n_samples=300, random_state=np.random.default_rng(8))
    assert first.pvalues[0] == again.pvalues[0]
    assert first.pvalues[0] != other.pvalues[0]
    assert first.null_sample is None and first.settings["cmc_ess"] > 1


def test_cmc_refuses_the_permutation_null():
    data = simulate_dataset(60, 25, consensus="GAT", random_state=1)
    binary = simulate_dataset(60, 25, consensus="GAT", response="binary", random_state=1)
    with pytest.raises(ValueError, match="sphere null.*binary"):
        fit(binary, k=3, method="cmc")
    with pytest.raises(ValueError, match="sphere null.*chosen by the user"):
        fit(data, k=3, method="cmc", null="permutation")


def test_cmc_with_auto_null_warns_on_heavy_tails_instead_of_refusing():
    # The kurtosis test behind null="auto" also fires on about 1% of Gaussian data sets: with
    # the Gaussian-model estimator asked for, it is a warning and the sphere null is kept.
    data = simulate_dataset(80, 25, consensus="GAT", random_state=1)
    heavy = np.random.default_rng(0).standard_t(1.5, size=80)
    with pytest.warns(UserWarning, match="residuals have heavier tails than Gaussian"):
        result = selective_inference(data.sequences, heavy, k=3, method="cmc", n_samples=100, random_state=0)
    assert result.settings["null"] == "sphere" and np.isfinite(result.pvalues).all()


def _selection(n_motifs, seed=2, covariate=0.7):
    from seism_stats.features.grid import grid_features
    from seism_stats.io.sequences import encode_sequences
    from seism_stats.selection.greedy import select_motifs
    from seism_stats.utils.validation import check_covariates, residual_basis

    data = simulate_dataset(90, 30, consensus="GATT", beta=0.8, covariate=covariate, random_state=seed)
    features = grid_features(encode_sequences(data.sequences), [4], 1.0, "sum", revcomp=True)
    basis = residual_basis(check_covariates(data.covariates, 90))
    return features, basis, select_motifs(features, data.y, basis, n_motifs)


def test_conditioned_directions_keep_the_observed_part_and_nothing_else():
    # Motif j's directions d: unit, orthogonal to the covariates and q_j, with V^T d fixed
    # at the observed direction's value; their numerators and coefficients are exact.
    from seism_stats.sampling.walkers import sphere_points
    from seism_stats.stats.conditional_mc import ConditionedDirections, conditioning_basis

    features, basis, selection = _selection(3)
    event, u = selection.event, selection.unit_residual
    for j in range(3):
        space = conditioning_basis(features, selection, basis, j, 8)
        assert space.shape[1] > 2  # the other two motifs and some of their competitors
        np.testing.assert_allclose(space.T @ space, np.eye(space.shape[1]), atol=1e-10)
        np.testing.assert_allclose(space.T @ np.hstack([basis, event.basis[:, [j]]]), 0, atol=1e-10)
        observed = u - (event.basis[:, j] @ u) * event.basis[:, j]
        observed /= np.linalg.norm(observed)
        directions = ConditionedDirections(features, selection, basis, j, 8)
        numerators, coefficients = directions.draw(np.random.default_rng(j), 5)
        rest = sphere_points(np.random.default_rng(j), 5, directions.off, u.shape[0])  # the same draws
        d = directions.scale * rest + space @ (space.T @ observed)
        np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1, atol=1e-12)
        np.testing.assert_allclose(d @ space, np.tile(space.T @ observed, (5, 1)), atol=1e-12)
        np.testing.assert_allclose(d @ np.hstack([basis, event.basis[:, [j]]]), 0, atol=1e-12)
        np.testing.assert_allclose(numerators, features.project(d), atol=1e-9)
        np.testing.assert_allclose(coefficients, d @ event.basis, atol=1e-12)
    assert conditioning_basis(features, _selection(1)[2], basis, 0, 8).shape[1] == 0  # one motif: nothing fixed
    small, large = (conditioning_basis(features, selection, basis, 0, count) for count in (2, 8))
    np.testing.assert_allclose(large @ (large.T @ small), small, atol=1e-10)  # nested levels


def test_cmc_of_the_observed_direction_sees_the_observation():
    # The observed point lies on its own circle, inside the event: the circle's
    # x-segments contain x_obs, and N/D there is the conditional tail beyond it.
    from seism_stats.selection.geometry import circle_log_masses, circle_segments

    features, basis, selection = _selection(2)
    event, u = selection.event, selection.unit_residual
    numerators, coefficients = features.project(u[None])[0], u @ event.basis
    for j in range(2):
        x_obs = coefficients[j] / np.sqrt(1 - coefficients[j] ** 2)
        segments = circle_segments(selection, numerators, coefficients, j)
        assert ((segments[:, 0] <= x_obs) & (x_obs <= segments[:, 1])).any()
        log_den, log_num = circle_log_masses(selection, numerators[None], coefficients[None], j,
                                             u.shape[0] - basis.shape[1])
        assert np.isfinite(log_den[0]) and log_num[0] <= log_den[0]


def test_cmc_with_several_motifs_is_calibrated_where_naive_p_values_are_not():
    # Null data sets (two motifs, a covariate), B = 100 directions per motif: the
    # conditional Monte-Carlo p-values of both ranks are uniform (KS), the naive OLS
    # p-values of the same selected motifs are not, and no rank rejects above alpha.
    from scipy import stats

    cmc, naive = [], []
    for seed in range(300):
        data = simulate_dataset(60, 25, consensus="GAT", beta=0.0, covariate=0.7, random_state=1000 + seed)
        result = fit(data, k=3, n_motifs=2, method="cmc", n_samples=100, null="sphere",
                     random_state=seed)
        cmc.append(result.pvalues)
        naive.append(result.naive.pvalues)
    cmc, naive = np.array(cmc), np.array(naive)
    for rank in range(2):
        assert stats.kstest(cmc[:, rank], "uniform").pvalue > 0.01, rank
        assert np.mean(cmc[:, rank] <= 0.05) < 0.05 + 2.33 * np.sqrt(0.05 * 0.95 / 300)
    assert stats.kstest(naive[:, 0], "uniform").pvalue < 1e-6
    assert np.mean(naive[:, 0] <= 0.05) > 0.3


def test_ratio_estimate_in_log_space():
    rng = np.random.default_rng(0)
    den = rng.random(50) + 0.1
    num = den * rng.random(50)
    p, se, ess = ratio_estimate(np.log(num) - 800.0, np.log(den) - 800.0)  # would underflow outside log space
    assert p == pytest.approx(num.sum() / den.sum())
    assert se == pytest.approx(np.sqrt(np.sum((num - p * den) ** 2)) / den.sum())
    assert ess == pytest.approx(den.sum() ** 2 / np.sum(den**2))
    # A p-value near exp(-600) (a strong motif at large n): its s.e. was 0 (squares underflowed);
    # near exp(-800), below the smallest double, the p-value was 0: now that double.
    small_p, small_se, _ = ratio_estimate(np.log(num) - 600.0, np.log(den))
    assert small_p == pytest.approx(p * np.exp(-600.0), rel=1e-9)
    assert small_se == pytest.approx(se * np.exp(-600.0), rel=1e-9) and small_se > 1e-300
    tiny_p, tiny_se, _ = ratio_estimate(np.log(num) - 800.0, np.log(den))
    assert tiny_p == np.finfo(float).tiny and 0 < tiny_se <= 1e-300
    assert np.isnan(ratio_estimate(np.full(3, -np.inf), np.full(3, -np.inf))[0])
    # No direction reached the statistic: p = 0 with an unknown s.e. (never a 0 s.e.), and
    # its bound is the rule of three on the weights' ESS.
    from seism_stats.stats.conditional_mc import _upper_bound
    zero, zero_se, zero_ess = ratio_estimate(np.full(50, -np.inf), np.log(den))
    assert zero == 0 and np.isnan(zero_se) and zero_ess == pytest.approx(den.sum() ** 2 / np.sum(den**2))
    assert _upper_bound(zero, zero_se, zero_ess) == pytest.approx(3 / zero_ess)
    assert _upper_bound(0.2, 0.01, 40.0) == pytest.approx(0.2 + 1.6448536 * 0.01)
    assert _upper_bound(0.2, np.nan, 40.0) == 1.0


def test_grouped_logsumexp():
    values = np.array([0.0, np.log(3.0), -np.inf, 5.0])
    owner = np.array([0, 0, 2, 2])
    out = grouped_logsumexp(values, owner, 4)
    assert out[0] == pytest.approx(np.log(4.0))
    assert out[1] == -np.inf and out[3] == -np.inf
    assert out[2] == pytest.approx(5.0)


def test_one_motif_tail_estimate_is_the_conditional_monte_carlo():
    # A default (MCMC) fit whose one motif sits at the floor reports, below it, the
    # conditional Monte-Carlo estimate, which agrees with a longer method="cmc" run.
    from seism_stats import SelectiveMotifModel
    data = simulate_dataset(150, 40, consensus="GATTA", beta=1.5, random_state=3)
    res = SelectiveMotifModel(data.y, data.sequences, k=4).fit(method="mcmc", n_samples=200, tail_draws=64,
                                                               random_state=0, progress=False)
    tail = res.pvalues_tail.iloc[0]
    assert 0 < tail < 1 / 201
    notes = " ".join(res.summary().extra_txt.split())
    assert "conditional Monte Carlo, 64 i.i.d. directions" in notes
    cmc = fit(data, k=4, method="cmc", n_samples=2000, random_state=1)
    assert abs(tail - cmc.pvalues[0]) < 4 * np.hypot(res.pvalues_tail_se.iloc[0], cmc.pvalues_se[0])


def test_cmc_with_too_few_directions_says_so():
    from seism_stats import SelectiveMotifModel
    data = simulate_dataset(30, 15, consensus="GAT", beta=0.5, random_state=1)
    res = SelectiveMotifModel(data.y, data.sequences, k=3).fit(method="cmc", n_samples=1, random_state=0,
                                                               progress=False)
    assert np.isnan(res.pvalues_mc_se.iloc[-1]) and res.pvalues_mc_upper.iloc[-1] == 1.0  # never a 0 s.e.
    assert "weights' effective sample size is only" in " ".join(res.summary().extra_txt.split())


def test_the_observed_direction_fallback_is_exact_and_calibrated(monkeypatch):
    # With no level to try, each motif is tested on its observed direction alone:
    # N(d_obs) / D(d_obs), exact (s.e. 0), said in the summary, and uniform under the null.
    from scipy import stats

    from seism_stats import SelectiveMotifModel
    from seism_stats.stats import conditional_mc

    monkeypatch.setattr(conditional_mc, "NEIGHBOUR_LADDER", ())
    pvalues = []
    for seed in range(300):
        data = simulate_dataset(60, 25, consensus="GAT", beta=0.0, random_state=2000 + seed)
        result = fit(data, k=3, n_motifs=2, method="cmc", n_samples=50, null="sphere", random_state=seed)
        assert result.settings["cmc_neighbours"] == [conditional_mc.OBSERVED_DIRECTION] * 2
        assert np.all(result.pvalues_se == 0) and np.array_equal(result.pvalues_upper, result.pvalues)
        pvalues.append(result.pvalues)
    pvalues = np.array(pvalues)
    for rank in range(2):
        assert stats.kstest(pvalues[:, rank], "uniform").pvalue > 0.01, rank
    res = SelectiveMotifModel(data.y, data.sequences, k=3, n_motifs=2).fit(method="cmc", n_samples=50, null="sphere",
                                                                           random_state=0, progress=False)
    assert "the observed direction (exact, MC s.e. 0)" in " ".join(res.summary().extra_txt.split())


def test_several_motifs_estimate_agrees_with_rejection_from_the_conditional_law():
    # Motif j's target P(T_j >= t_obs | E, V^T d = b_obs), estimated independently: draw d
    # from its conditional law and x from its Student t law, replay the selection on
    # u = (x q_j + d) / sqrt(1 + x^2), and count the tail among the points in the event.
    from seism_stats.features.grid import grid_features
    from seism_stats.io.sequences import encode_sequences
    from seism_stats.sampling.walkers import sphere_points
    from seism_stats.selection.greedy import select_motifs
    from seism_stats.selection.replay import SelectionReplay
    from seism_stats.stats.conditional_mc import ConditionedDirections, _log_masses, conditioning_basis
    from seism_stats.utils.validation import check_covariates, residual_basis

    n = 50
    data = simulate_dataset(n, 20, consensus="GAT", beta=0.8, random_state=4)
    features = grid_features(encode_sequences(data.sequences), [3], 1.0, "sum", revcomp=True)
    basis = residual_basis(check_covariates(None, n))
    selection = select_motifs(features, data.y, basis, 2)
    replay = SelectionReplay(features, selection.event)
    u_obs, dim = selection.unit_residual, n - basis.shape[1]
    rng = np.random.default_rng(2)
    for j in range(2):
        directions = ConditionedDirections(features, selection, basis, j, 2)
        log_den, log_num = _log_masses(selection, directions, j, dim, 3000, np.random.default_rng(1))
        p, se, _ = ratio_estimate(log_num, log_den)
        q = selection.event.basis[:, j]
        space = conditioning_basis(features, selection, basis, j, 2)
        observed = u_obs - (q @ u_obs) * q
        fixed = space @ (space.T @ (observed / np.linalg.norm(observed)))
        hits = tail = 0
        for _ in range(10):
            d = directions.scale * sphere_points(rng, 20_000, directions.off, n) + fixed
            x = rng.standard_t(dim - 1, 20_000) / np.sqrt(dim - 1)
            accepted, stats = replay.check_points((x[:, None] * q + d) / np.sqrt(1 + x[:, None] ** 2))
            hits += int(accepted.sum())
            tail += int(np.sum(stats[accepted, j] >= selection.statistics[j] * (1 - 1e-12)))
        exact = tail / hits
        assert hits > 1000
        assert abs(p - exact) < 4 * np.hypot(se, np.sqrt(exact * (1 - exact) / hits)), (j, p, se, exact, hits)


def test_tail_estimate_keeps_mcmc_directions_with_several_motifs():
    # With several motifs the i.i.d. directions estimate a more conditioned p-value, not
    # the rank p-value the tail estimate stands in for: asking for them is an error.
    from seism_stats.stats.tail import tail_pvalues

    features, basis, selection = _selection(2)
    with pytest.raises(ValueError, match="one-motif selection only"):
        tail_pvalues(features, selection, basis, [0], 32, np.random.default_rng(0), directions="iid")


def test_tail_estimate_mean_does_not_underflow():
    # The MCMC tail estimate averages P(T >= t | d, E) over chains: for values near exp(-600)
    # its s.e. was 0 (squares underflowed), near exp(-800) the estimate too. Rescaled, both are
    # the values' mean and spread times the scale; ordinary values are used as they are.
    from seism_stats.stats.tail import _chain_mean
    from seism_stats.utils.diagnostics import effective_sample_size
    rng = np.random.default_rng(3)
    log_values = np.log(rng.random((4, 50)) + 0.05)
    values = np.exp(log_values)
    ess = effective_sample_size(values)
    expected = (values.mean(), values.std(ddof=1) / np.sqrt(max(ess, 1.0)))
    assert _chain_mean(log_values) == expected  # ordinary values: the same numbers as before
    mean, spread = _chain_mean(log_values - 600.0)
    assert mean == pytest.approx(expected[0] * np.exp(-600.0), rel=1e-9)
    assert spread == pytest.approx(expected[1] * np.exp(-600.0), rel=1e-6) and spread > 0
    mean, spread = _chain_mean(log_values - 800.0)
    assert mean == np.finfo(float).tiny and spread == np.finfo(float).tiny
