"""Exact selective p-values under the permutation null by tilted label permutations (issue 22)."""

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from seism_stats import SelectiveMotifModel, selective_inference
from seism_stats.selection.replay import SelectionReplay
from seism_stats.stats.tilted_permutations import (Cells, EventScreen, MotifTerms, PermutationTarget, TiltedLaw,
                                                   _MotifTest, motif_terms, pilot_draws, tilted_pvalues,
                                                   weighted_pvalue)
from seism_stats.sampling.walkers import residual_points
from simulations import tilted as experiment
from simulations.data import simulate_dataset


def _binomial_ok(pvalues, alpha, level=0.001):
    """One-sided binomial test that P(p <= alpha) <= alpha."""
    return stats.binom.sf(int(np.sum(pvalues <= alpha)) - 1, pvalues.size, alpha) >= level


def _subsets(n, m):
    for rows in itertools.combinations(range(n), m):
        subset = np.zeros(n, dtype=bool)
        subset[list(rows)] = True
        yield subset


@pytest.mark.parametrize("with_strata", [False, True])
def test_conditional_poisson_law_is_its_density(with_strata):
    # Every subset of the top group's size (and stratum counts) enumerated: the densities sum to 1,
    # and the sampler's cell counts follow them (chi-square).
    rng = np.random.default_rng(0)
    n, m = 10, 4
    tested = rng.standard_normal(n)
    others = [rng.standard_normal(n)] if with_strata else []
    cells = Cells.from_directions(tested, others)
    observed = np.zeros(n, dtype=bool)
    observed[:m] = True
    per_stratum = cells.stratum_counts(cells.counts(observed[None, :]))[0]
    law = TiltedLaw(cells, 1.7 * cells.means / cells.means.std(), per_stratum)
    support = [s for s in _subsets(n, m)
               if np.array_equal(cells.stratum_counts(cells.counts(s[None, :]))[0], per_stratum)]
    counts = cells.counts(np.array(support))
    density = np.exp(law.log_density(counts))
    assert density.sum() == pytest.approx(1.0, rel=1e-10)
    keys, index = np.unique(counts, axis=0, return_inverse=True)
    expected = np.bincount(index.ravel(), weights=density)
    draws = law.sample_counts(np.random.default_rng(1), 20000)
    observed_counts = np.array([np.sum(np.all(draws == key, axis=1)) for key in keys])
    assert observed_counts.sum() == 20000  # every draw has a count vector of the support
    keep = expected * 20000 >= 5
    chi2 = np.sum((observed_counts[keep] - 20000 * expected[keep]) ** 2 / (20000 * expected[keep]))
    assert stats.chi2.sf(chi2, keep.sum() - 1) > 1e-3


def test_cells_fill_draws_uniform_rows_inside_each_cell():
    rng = np.random.default_rng(2)
    cells = Cells.from_directions(np.repeat([0.0, 1.0], 5), [])  # two cells of five rows
    counts = np.tile([[2, 3]], (6000, 1))
    subsets = cells.fill(counts, rng.random((6000, 10)))
    assert np.array_equal(cells.counts(subsets), counts)
    frequency = subsets.mean(axis=0)
    np.testing.assert_allclose(frequency[cells.index == 0], 0.4, atol=0.03)
    np.testing.assert_allclose(frequency[cells.index == 1], 0.6, atol=0.03)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_fill_selects_the_rows_a_sort_selects(n_threads):
    # The quickselect kernel takes, in each cell, the rows whose key is at most the count-th
    # smallest: the rows a sort of each cell's keys gives, ties included (integer keys). Cells of
    # 64 rows or more first count uniform keys in buckets of [0, 1) (the large cells here): ties
    # inside a bucket, keys next to 1, and keys outside [0, 1) (the plain quickselect) included.
    rng = np.random.default_rng(5)
    for cells in (Cells.from_directions(rng.standard_normal(300), [rng.standard_normal(300)]),
                  Cells.from_directions(np.repeat([0.0, 1.0], 150), [])):
        counts = np.stack([rng.integers(0, cells.sizes + 1) for _ in range(40)])
        outside = rng.random((40, 300))
        outside[3, 7], outside[5, 200] = 1.5, -0.25
        for keys in (rng.random((40, 300)), rng.integers(0, 4, (40, 300)).astype(np.float64),
                     np.round(rng.random((40, 300)), 2), 1.0 - rng.integers(1, 4, (40, 300)) * 2.0**-53, outside):
            expected = np.zeros(keys.shape, dtype=bool)
            for g in range(cells.n_cells):
                members = cells.rows[cells.starts[g]:cells.starts[g + 1]]
                for b in range(keys.shape[0]):
                    if counts[b, g]:
                        expected[b, members] = keys[b, members] <= np.sort(keys[b, members])[counts[b, g] - 1]
            assert np.array_equal(cells.fill(counts, keys, n_threads), expected)
    # Keys as drawn, column k for row order[k] (the canonical order), read in place: the subsets
    # of the keys put in row order first.
    order = rng.permutation(300)
    drawn = rng.random((40, 300))
    in_rows = np.empty_like(drawn)
    in_rows[:, order] = drawn
    assert np.array_equal(cells.fill(counts, drawn, n_threads, order), cells.fill(counts, in_rows, n_threads))
    with pytest.raises(ValueError, match="between 0 and its cell's size"):
        cells.fill(counts + cells.sizes[None, :], rng.random((40, 300)))
    with pytest.raises(ValueError, match="one partition"):
        cells.fill(counts, rng.random((40, 299)))


def _null_pvalues(n_sets, n_draws, setting, seed=0):
    """Tilted p-values (conservative, randomised), the ratio without the observation and naive p-values."""
    rows = []
    for i in range(n_sets):
        rng = np.random.default_rng(seed + i)
        data = simulate_dataset(setting.n, setting.length, consensus="AAAA", random_state=rng)
        y, w = experiment.null_labels(setting, rng)
        features, selection, basis, order, design = experiment.fit_parts(data.sequences, y, 4, 1, w)
        target = PermutationTarget.from_selection(selection, basis)
        replay = SelectionReplay(features, selection.event)
        signs = np.sign(replay.coefficients(residual_points(target.values[None, :], basis))[0])
        fit_rng = np.random.default_rng(10_000 + seed + i)
        terms = motif_terms(_MotifTest(replay, target, basis, signs, 0, order), n_draws, fit_rng)
        row = experiment.motif_pvalues(terms, fit_rng)
        row["naive"] = float(experiment.naive_tests(features, y, design, selection.cells).pvalues[0])
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("n_draws", [1, 10])
def test_exact_at_tiny_B(n_draws):
    # Null data (the labels independent of the sequences): with one or ten tilted draws the p-values
    # must already be valid (the observation is counted with its own weight), and the randomised one
    # exactly uniform (lower binomial bounds too); the naive p-values fail the same check.
    table = _null_pvalues(250, n_draws, experiment.Setting("balanced", n=60), seed=1000 * n_draws)
    for alpha in (0.05, 0.1, 0.2):
        assert _binomial_ok(table["tilted"].to_numpy(), alpha)
        assert _binomial_ok(table["tilted-randomised"].to_numpy(), alpha)
        assert stats.binom.cdf(int(np.sum(table["tilted-randomised"] <= alpha)), len(table), alpha) >= 0.001
    assert np.all((table["tilted"] > 0) & (table["tilted"] <= 1))
    assert np.all(table["tilted"] >= table["tilted-randomised"])
    assert not _binomial_ok(table["naive"].to_numpy(), 0.05)


def test_the_ratio_without_the_observation_fails_where_the_theorem_holds():
    # 10% positives and a covariate, B = 20: the same weights without the observation's own term
    # reject too often (simulations/tilted_calibration_output.txt has it at 3,000 data sets); the
    # theorem's p-value passes the same check on the same data sets.
    setting = experiment.Setting("10%, covariate", positives=0.1, covariate=True)
    table = _null_pvalues(250, 20, setting, seed=5000)
    assert _binomial_ok(table["tilted"].to_numpy(), 0.01) and _binomial_ok(table["tilted"].to_numpy(), 0.05)
    assert not (_binomial_ok(table["no-observation"].to_numpy(), 0.01)
                and _binomial_ok(table["no-observation"].to_numpy(), 0.05))


def test_ten_percent_positives_two_motifs_and_a_covariate_are_calibrated():
    # A small version of simulations/tilted.py's calibration (3,000 data sets per setting, committed
    # output): B = 20 and 100, one-sided binomial bounds at 0.01 and 0.05.
    settings = [experiment.Setting("2 motifs, 10%, covariate", positives=0.1, n_motifs=2, covariate=True)]
    _, rates = experiment.calibration(100, seed=77, settings=settings)
    tilted = rates[rates["kind"].str.startswith("tilted")]
    assert len(tilted) == 2 * 2 * 2 and tilted["valid"].all(), tilted.to_string()
    assert not rates[rates["kind"] == "naive"]["valid"].any()


def test_observation_alone_and_ties():
    # B = 0: only the observation, whose statistic ties with itself: conservative p = 1 (exact,
    # no Monte-Carlo error), randomised p = U. Ties count fully or by U; the tie mass says how much.
    terms = MotifTerms(np.array([-3.0]), np.array([0.2]), [4.0])
    assert weighted_pvalue(terms) == (1.0, 0.0, 1.0, 1.0, 1.0)  # the observation alone: one term in the numerator
    assert weighted_pvalue(terms, "randomised", 0.3)[0] == pytest.approx(0.3)
    terms = MotifTerms(np.log([1.0, 2.0, 1.0, 4.0, 1.0]), np.array([0.2, 0.2, 0.1, 0.3, -np.inf]), [4.0])
    p, se, ess, tie, in_numerator = weighted_pvalue(terms)
    assert p == pytest.approx(7 / 9) and tie == pytest.approx(3 / 9) and se > 0
    assert in_numerator == pytest.approx(7**2 / (1 + 4 + 16))  # N = 1, 2, 0, 4, 0 (weights 1, 2, 1, 4, 1)
    assert weighted_pvalue(terms, "randomised", 0.5)[0] == pytest.approx((4 + 1.5) / 9)


def _binary_fit(**kwargs):
    data = simulate_dataset(120, 30, consensus="GATTA", beta=1.5, response="binary", random_state=3)
    return data, selective_inference(data.sequences, data.y, k=4, random_state=0, **kwargs)


def test_binary_default_records_its_settings():
    data, result = _binary_fit(n_samples=300)
    s = result.settings
    assert s["method"] == "tilted" and s["null"] == "permutation" and s["hypothesis"] == "global"
    assert s["ties"] == "conservative" and s["permutation_exact"] is True
    assert len(s["tilted_ess"]) == len(s["tilted_tilts"]) == result.n_selected
    # draws and pilot, less those the screen discards
    assert 0 < s["tilted_replays"] <= result.n_selected * (300 + pilot_draws(300))
    assert np.all((result.pvalues > 0) & (result.pvalues <= 1)) and np.all(result.pvalues_se > 0)
    assert np.all(result.pvalues_upper >= result.pvalues)
    law = result.null_laws[0]
    assert law.survival(law.observed) == pytest.approx(result.pvalues[0])
    again = selective_inference(data.sequences, data.y, k=4, random_state=0, n_samples=300)
    np.testing.assert_array_equal(result.pvalues, again.pvalues)


def test_summary_flags_a_pvalue_made_of_few_terms(tmp_path):
    # The weights' ESS can be fine while a few terms (the observation's among them) make the numerator: the
    # stated s.e. is then too small (module docstring). The summary says so, per motif, once.
    data = simulate_dataset(120, 30, consensus="GATTA", beta=1.5, response="binary", random_state=3)
    res = SelectiveMotifModel(data.y, data.sequences, k=4, n_motifs=2).fit(n_samples=300, random_state=0,
                                                                          progress=False)
    s = res.inference.settings
    assert len(s["tilted_numerator_ess"]) == res.n_selected == 2
    assert all(1.0 <= v <= 301 for v in s["tilted_numerator_ess"])
    s["tilted_ess"], s["tilted_numerator_ess"] = [500.0, 500.0], [20.0, 400.0]
    notes = " ".join(res.summary().extra_txt.split())
    first, second = res.param_names[-2:]
    assert "Few weighted permutations are at least as extreme" in notes
    assert f"about 20 for {first};" in notes and f"for {second}" not in notes
    s["tilted_ess"] = [10.0, 500.0]  # flagged by the weights' ESS already: not twice
    assert "Few weighted permutations" not in " ".join(res.summary().extra_txt.split())
    # Results saved before the numerator's ESS was recorded load and summarise without it.
    s["tilted_ess"] = [500.0, 500.0]
    del s["tilted_numerator_ess"]
    res.save(tmp_path / "older.npz")
    again = type(res).load(tmp_path / "older.npz")
    assert "Few weighted permutations" not in " ".join(again.summary().extra_txt.split())


def test_pvalues_do_not_depend_on_the_order_of_the_records():
    data = simulate_dataset(90, 30, consensus="GATT", beta=1.0, response="binary", random_state=4)
    order = np.random.default_rng(1).permutation(90)
    kwargs = dict(k=4, n_motifs=2, n_samples=60, random_state=5)
    first = selective_inference(data.sequences, data.y, **kwargs)
    again = selective_inference([data.sequences[i] for i in order], np.asarray(data.y)[order], **kwargs)
    assert first.settings["method"] == "tilted"
    np.testing.assert_allclose(first.pvalues, again.pvalues, rtol=1e-8)


def test_covariates_are_the_freedman_lane_approximation_and_say_so():
    data = simulate_dataset(100, 30, consensus="GATT", beta=1.0, response="binary", covariate=0.5,
                            random_state=6)
    frame = pd.DataFrame({"seq": data.sequences, "y": data.y, "w": data.covariates[:, 0]})
    res = SelectiveMotifModel.from_formula("y ~ w + motifs(seq, k=4)", frame).fit(n_samples=100, random_state=0,
                                                                                   progress=False)
    assert res.method == "tilted" and res.inference.settings["permutation_exact"] is False
    text = res.summary().as_text()
    # the header and the p-values' kind say the null is Freedman-Lane's approximation, not "exact"
    assert "tilted (Freedman-Lane)" in text and "tilted (exact)" not in text
    assert "approximate null" in res.pvalue_kinds.iloc[-1] and "exact" not in res.pvalue_kinds.iloc[-1]
    # the pilot (min(512, B) = 100 draws) and the draws the event screen did not discard are replayed
    assert 0 < res.sampler_info["replays"] <= 200 and np.isfinite(res.sampler_info["acceptance_rate"])


def test_two_motifs_are_tested_given_strata_of_the_other():
    data = simulate_dataset(150, 30, consensus="GATTA", beta=2.0, response="binary", random_state=3)
    features, selection, basis, order, _ = experiment.fit_parts(data.sequences, data.y, 4, 2)
    estimate = tilted_pvalues(features, selection, basis, 200, np.random.default_rng(0), order)
    assert np.all(estimate.strata > 1) and np.all((estimate.pvalues > 0) & (estimate.pvalues <= 1))
    assert np.all(estimate.hit_rate > 0)


@pytest.mark.parametrize("n_motifs", [1, 2])
def test_the_screen_only_discards_draws_the_replay_rejects(n_motifs, monkeypatch):
    # The screen's cheap scores of each step's nearest competitors: a draw it puts outside the event
    # is outside by the full replay; the p-values are those of replaying every draw.
    data = simulate_dataset(150, 30, consensus="GATTA", beta=1.5, response="binary", random_state=8)
    features, selection, basis, order, _ = experiment.fit_parts(data.sequences, data.y, 5, n_motifs)
    target = PermutationTarget.from_selection(selection, basis)
    replay = SelectionReplay(features, selection.event)
    signs = np.sign(replay.coefficients(residual_points(target.values[None, :], basis))[0])
    screen = EventScreen(features, selection.event, basis)
    test = _MotifTest(replay, target, basis, signs, 0, order)
    laws = [test.law_at(z) for z in (2.0, 3.0, 4.0, 6.0)]
    subsets, keys, _ = test.draw(laws, np.full(4, 0.25), np.random.default_rng(0), 2000)
    points = residual_points(target.responses(subsets, keys), basis)
    outside = screen.outside(points, replay.coefficients(points))
    accepted, _ = replay.check_points(points)
    assert outside.sum() > 200 and not np.any(outside & accepted)
    with_screen = tilted_pvalues(features, selection, basis, 200, np.random.default_rng(1), order)
    monkeypatch.setattr(EventScreen, "outside", lambda self, points, coefficients: np.zeros(points.shape[0], bool))
    without = tilted_pvalues(features, selection, basis, 200, np.random.default_rng(1), order)
    np.testing.assert_array_equal(with_screen.pvalues, without.pvalues)
    assert with_screen.n_replays < without.n_replays


def test_methods_and_nulls_are_checked():
    data = simulate_dataset(60, 20, consensus="GAT", beta=1.0, response="binary", random_state=2)
    with pytest.raises(ValueError, match="use null='permutation'"):
        selective_inference(data.sequences, data.y, k=3, method="tilted", null="sphere")
    with pytest.raises(ValueError, match="ties must be one of"):
        selective_inference(data.sequences, data.y, k=3, ties="random")
    with pytest.raises(ValueError, match="max_replays"):
        selective_inference(data.sequences, data.y, k=3, n_samples=500, max_replays=600)
    gaussian = simulate_dataset(60, 20, consensus="GAT", beta=1.0, random_state=2)
    result = selective_inference(gaussian.sequences, gaussian.y, k=3, method="tilted", n_samples=30, random_state=0)
    assert result.settings["null"] == "permutation" and result.settings["permutation_exact"] is True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        three = selective_inference(data.sequences, data.y, k=3, n_motifs=3, n_samples=30, random_state=0)
    assert three.settings["method"] == "mcmc" and "more than 2 motifs" in three.settings["method_reason"]
    randomised = selective_inference(data.sequences, data.y, k=3, n_samples=30, random_state=0, ties="randomised")
    conservative = selective_inference(data.sequences, data.y, k=3, n_samples=30, random_state=0)
    assert np.all(randomised.pvalues <= conservative.pvalues)


@pytest.mark.slow
def test_calibration_with_3000_null_data_sets_per_setting():
    # simulations/tilted.py calibration (output committed in simulations/tilted_calibration_output.txt):
    # eight settings, B = 20 and 100, one-sided binomial bounds at 0.01 and 0.05.
    _, rates = experiment.calibration(3000)
    assert (rates["pvalues"] >= 2900).all()
    assert rates[rates["kind"].str.startswith("tilted")]["valid"].all()
    assert not rates[rates["kind"] == "no-observation"]["valid"].all()
    assert not rates[rates["kind"] == "naive"]["valid"].any()


@pytest.mark.slow
def test_power_is_not_lower_than_the_mcmc_and_the_split():
    table = experiment.power(200)
    found = table[table["found"]]
    rate = {m: np.mean(found[m] <= 0.05) for m in ("tilted", "mcmc", "split")}
    se = np.sqrt(0.25 / len(found))
    assert rate["tilted"] >= rate["mcmc"] - 2 * se and rate["tilted"] >= rate["split"] - 2 * se, rate


def test_explicit_tilted_beyond_two_motifs_and_draws_missing_the_event_are_announced():
    data = simulate_dataset(60, 20, consensus="GATT", beta=1.0, response="binary", random_state=2)
    with pytest.warns(UserWarning, match="method='tilted' with 3 motifs"):
        selective_inference(data.sequences, data.y, k=3, n_motifs=3, method="tilted", n_samples=5, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = selective_inference(data.sequences, data.y, k=3, n_motifs=3, method="tilted", n_samples=5,
                                     random_state=0)
    missed = [w for w in caught if "no tilted permutation reached the selection event" in str(w.message)]
    hits = np.asarray(result.settings["tilted_hit_rate"])
    assert np.any(hits == 0) and len(missed) == 1  # on these data motif 3's draws all miss the event
    assert np.all(np.isfinite(result.pvalues_se[hits > 0]))
