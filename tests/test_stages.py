"""The stages of the functional API, one by one (seism_stats.inference.stages), and their composition."""

import numpy as np
import pytest

from seism_stats import selective_inference
from seism_stats.inference import stages
from seism_stats.inference.options import check_options
from seism_stats.selection.greedy import select_motifs
from simulations.data import simulate_dataset

DEFAULTS = dict(k=4, n_motifs=2, lam=1.0, pooling="sum", revcomp=True, method="auto", hypothesis=None, null="auto",
                n_samples=None, burn_in=50, thin=1, n_chains=16, bracket="exact", mcmc_design="tree",
                max_replays=2_000_000, ties="conservative", max_memory=None, tail_draws=256, interval_draws=None,
                split_fraction=0.5, refine=True, add_intercept=True, covariate_names=None, random_state=5,
                n_threads=1, n_jobs=1, backend="joblib", client=None, progress=False)


def options(**changes):
    return check_options(**{**DEFAULTS, **changes})


@pytest.fixture(scope="module")
def data():
    return simulate_dataset(80, 30, consensus="GATT", beta=1.0, random_state=3)


def test_check_options_refuses_a_bad_argument_and_records_a_fresh_seed():
    with pytest.raises(ValueError, match="method must be one of"):
        options(method="bootstrap")
    with pytest.raises(ValueError, match="n_motifs"):
        options(n_motifs=0)
    fresh = options(random_state=None)
    assert isinstance(fresh.seed_repr, int) and fresh.random_state == fresh.seed_repr
    assert options().seed_repr == 5 and options().n_threads == 1


def test_prepare_data_checks_and_encodes(data):
    prepared = stages.prepare_data(data.sequences, data.y, None, options())
    assert prepared.n == 80 and prepared.ks == [4] and prepared.k == 4
    assert prepared.names == ["Intercept"] and prepared.design.shape == (80, 1)
    np.testing.assert_allclose(prepared.basis.T @ prepared.basis, np.eye(1))
    with pytest.raises(ValueError):
        stages.prepare_data(data.sequences, data.y[:10], None, options())


def test_plan_fit_chooses_the_null_and_the_method(data):
    prepared = stages.prepare_data(data.sequences, data.y, None, options())
    plan = stages.plan_fit(prepared, options())
    assert (plan.null, plan.method, plan.hypothesis, plan.selective) == ("sphere", "circles", "motif", True)
    assert plan.n_samples == 1000 and plan.interval_draws == 50
    binary = stages.prepare_data(data.sequences, (data.y > np.median(data.y)).astype(float), None, options())
    plan = stages.plan_fit(binary, options())
    assert (plan.null, plan.method, plan.hypothesis) == ("permutation", "tilted", "global")
    assert not stages.plan_fit(prepared, options(method="split")).selective
    with pytest.raises(ValueError, match="method='tilted' samples permutations"):
        stages.plan_fit(prepared, options(method="tilted", null="sphere"))
    with pytest.raises(ValueError, match="max_replays"):
        stages.plan_fit(prepared, options(method="mcmc", n_samples=10**9))


def test_random_streams_are_reproducible_and_split_the_rows(data):
    prepared = stages.prepare_data(data.sequences, data.y, None, options())
    first = stages.RandomStreams.draw(np.random.default_rng(1), prepared, 0.5)
    again = stages.RandomStreams.draw(np.random.default_rng(1), prepared, 0.5)
    assert first.tree.random() == again.tree.random() and first.interval.random() == again.interval.random()
    assert first.tail().random() == again.tail().random()
    rows = np.concatenate(first.rows)
    assert sorted(rows.tolist()) == list(range(80)) and len(first.blocks) == 4
    assert sorted(first.order.tolist()) == list(range(80))


def fitted(data, **changes):
    opts = options(**changes)
    prepared = stages.prepare_data(data.sequences, data.y, None, opts)
    plan = stages.plan_fit(prepared, opts)
    features = stages.build_features(prepared, opts)
    streams = stages.RandomStreams.draw(opts.rng, prepared, opts.split_fraction)
    features.share_norms_with(streams.rows[0])
    selection = select_motifs(features, prepared.y, prepared.basis, opts.n_motifs)
    return opts, prepared, plan, features, streams, selection


def test_the_stages_by_hand_give_what_selective_inference_gives(data):
    opts, prepared, plan, features, streams, selection = fitted(data, n_samples=32)
    refined = stages.refine_selected(selection, prepared, opts)
    assert len(refined) == selection.event.n_selected == 2
    tests = stages.selective_pvalues_of(features, selection, prepared, plan, opts, streams, stages.StageLines(False, 5))
    assert tests.circles is not None and tests.null_sample is None
    assert stages.tail_estimate(features, selection, prepared, plan, opts, tests, streams) is None  # circles: no floor
    naive, split = stages.classical_tests(features, selection, prepared, opts.n_motifs, streams.rows)
    quiet = stages.StageLines(False, 5)
    pivots = stages.selective_pivots(features, selection, prepared, plan, tests, streams, naive, quiet)
    tails = stages.check_residual_tails(selection, prepared, plan)
    settings = stages.fit_settings(opts, plan, prepared, features, tests, None, tails)
    whole = selective_inference(data.sequences, data.y, k=4, n_motifs=2, n_samples=32, random_state=5, n_threads=1)
    np.testing.assert_array_equal(tests.pvalues, whole.pvalues)
    np.testing.assert_array_equal(naive.pvalues, whole.naive.pvalues)
    np.testing.assert_array_equal(split.tests.pvalues, whole.split.tests.pvalues)
    assert [p.interval(0.05) for p in pivots] == [p.interval(0.05) for p in whole.pivots]
    assert np.isnan(settings.pop("cmc_ess")) and np.isnan(whole.settings["cmc_ess"])
    assert settings == {k: v for k, v in whole.settings.items() if k != "cmc_ess"}
    assert [m.ppm.tolist() for m in refined] == [m.ppm.tolist() for m in whole.refined]


def test_methods_without_sampling_give_no_selective_pvalues(data):
    opts, prepared, plan, features, streams, selection = fitted(data, method="split")
    tests = stages.selective_pvalues_of(features, selection, prepared, plan, opts, streams, stages.StageLines(False, 3))
    assert np.isnan(tests.pvalues).all() and tests.circles is None and tests.null_sample is None
    naive, _ = stages.classical_tests(features, selection, prepared, opts.n_motifs, streams.rows)
    quiet = stages.StageLines(False, 3)
    assert stages.selective_pivots(features, selection, prepared, plan, tests, streams, naive, quiet) == ()


def test_the_mcmc_sample_gets_the_tail_estimate_at_its_floor():
    strong = simulate_dataset(150, 30, consensus="GATT", beta=3.0, random_state=4)
    opts, prepared, plan, features, streams, selection = fitted(strong, method="mcmc", n_samples=99, n_chains=4,
                                                                burn_in=10, n_motifs=1, tail_draws=16)
    tests = stages.selective_pvalues_of(features, selection, prepared, plan, opts, streams, stages.StageLines(False, 4))
    assert tests.null_sample is not None
    tail = stages.tail_estimate(features, selection, prepared, plan, opts, tests, streams)
    assert tests.pvalues[0] <= 2.0 / 100 and tail is not None and tail.n_draws == 16  # at the floor 1/(B+1)
    assert 0 < tail.pvalues[0] < tests.pvalues[0]
    opts, prepared, plan, features, streams, selection = fitted(strong, n_samples=99, n_motifs=1)
    tests = stages.selective_pvalues_of(features, selection, prepared, plan, opts, streams, stages.StageLines(False, 4))
    assert stages.tail_estimate(features, selection, prepared, plan, opts, tests, streams) is None  # circles: no floor


def test_timings_and_stage_lines(capsys):
    timings = stages.Timings()
    timings.stop("first")
    timings.start()
    timings.stop("second")
    assert list(timings) == ["first", "second"] and all(v >= 0 for v in timings.values())
    lines = stages.StageLines(True, 2)
    lines("one")
    assert "seism [1/2" in capsys.readouterr().err
