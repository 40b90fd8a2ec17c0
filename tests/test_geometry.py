"""The selection event's geometry and masses (seism_stats.selection.geometry), on cases with a closed form."""

import numpy as np
from scipy import special, stats

from seism_stats.selection.geometry import (
    arc_statistic_segments,
    grouped_logsumexp,
    log_interval_masses,
    log_t_cdf,
    segment_log_masses,
)


def test_interval_masses_match_the_normal_law_and_stay_exact_in_the_tails():
    lo, hi = np.array([-1.0, 0.5, 40.0, 3.0]), np.array([2.0, 0.7, 41.0, 3.0])
    masses = log_interval_masses(lo, hi, special.log_ndtr)
    np.testing.assert_allclose(np.exp(masses[:2]), stats.norm.cdf(hi[:2]) - stats.norm.cdf(lo[:2]), rtol=1e-12)
    np.testing.assert_allclose(masses[2], stats.norm.logsf(40.0), rtol=1e-9)  # mirrored: no cancellation
    assert masses[3] == -np.inf  # an empty segment


def test_t_log_cdf_matches_the_t_law_and_its_tail():
    u = np.array([-3.0, 0.0, 2.5])
    np.testing.assert_allclose(log_t_cdf(u, 7.0), stats.t.logcdf(u, 7.0), rtol=1e-12)
    far = log_t_cdf(np.array([-1e30]), 7.0)
    assert np.isfinite(far).all() and far[0] < -300


def test_a_whole_circle_has_mass_one_and_the_t_tail_beyond_the_threshold():
    arcs = np.array([[[0.0, 2.0 * np.pi]]])
    lo, hi, owner = arc_statistic_segments(arcs, np.array([1]))
    assert owner.tolist() == [0, 0] and np.isinf(lo).all() and np.isinf(hi).all()
    df, threshold = 9, 0.8
    log_d, log_n = segment_log_masses(lo, hi, owner, 1, df, threshold)
    np.testing.assert_allclose(log_d, [0.0], atol=1e-12)
    np.testing.assert_allclose(np.exp(log_n), 2 * stats.t.sf(threshold * np.sqrt(df), df), rtol=1e-10)


def test_grouped_logsumexp_of_groups_empty_and_far_apart():
    values = np.array([0.0, np.log(3.0), -1000.0, -1001.0])
    out = grouped_logsumexp(values, np.array([0, 0, 2, 2]), 3)
    np.testing.assert_allclose(out[[0, 2]], [np.log(4.0), -1000.0 + np.log1p(np.exp(-1.0))])
    assert out[1] == -np.inf
