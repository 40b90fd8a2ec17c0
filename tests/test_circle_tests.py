"""The default exact selective p-values on great circles (seism_stats.stats.circle_tests, issue 21)."""

import warnings

import numpy as np
import pytest
from scipy import integrate, stats

from seism_stats import selective_inference
from seism_stats.features.grid import grid_features
from seism_stats.features.kmers import reverse_complement_index, string_to_kmer
from seism_stats.io.sequences import encode_sequences
from seism_stats.selection.greedy import select_motifs
from seism_stats.stats import _circles, circle_tests
from seism_stats.stats.circle_tests import CircleTests, circle_pvalues
from seism_stats.utils.canonical import gaussian_rows
from simulations.data import simulate_dataset
from simulations.tilted import fit_parts


def _fit_parts(sequences, y, k, n_motifs, covariates=None):
    return fit_parts(sequences, np.asarray(y, float), k, n_motifs, covariates)[:4]


@pytest.mark.parametrize("hypothesis", ["motif", "global"])
def test_arcs_are_where_replaying_the_selection_keeps_the_cells(hypothesis):
    # The numpy twin of the kernel: rebuild y(w) on each circle and run the greedy selection on it.
    data = simulate_dataset(70, 25, consensus="GAT", beta=0.6, random_state=2)
    features, selection, basis, order = _fit_parts(data.sequences, data.y, 3, 2)
    tests = CircleTests(features, selection, basis, hypothesis)
    event, u = selection.event, selection.unit_residual
    off = basis if hypothesis == "global" else np.hstack([basis, event.basis])
    g = gaussian_rows(np.random.default_rng(0), 3, order)
    g -= (g @ off) @ off.T
    checked = 0
    for axis in tests.axes:
        eta = event.basis[:, axis.j] if hypothesis == "global" else None
        if eta is None:  # motif hypothesis: the motif's feature off the other selected features
            others = np.delete(event.basis @ event.cross[event.cells, :].T, axis.j, axis=1)
            q_others = np.linalg.qr(others)[0]
            column = event.basis @ event.cross[event.cells[axis.j], :]
            eta = column - q_others @ (q_others.T @ column)
            eta /= np.linalg.norm(eta)
            rest = u - q_others @ (q_others.T @ u)
        else:
            rest = u
        rho = np.linalg.norm(rest)
        offset = (u - rest) / rho
        directions = g - np.outer(g @ eta, eta)
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        arcs, counts = tests.arcs(axis, tests.direction_terms(directions))
        for r, d in enumerate(directions):
            ends = arcs[r, :counts[r]]
            for w in np.linspace(0.01, 2 * np.pi, 90, endpoint=False):
                if ends.size and np.min(np.abs(ends - w)) < 1e-6:
                    continue
                inside = bool(np.any((ends[:, 0] <= w) & (w <= ends[:, 1])))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    again = select_motifs(features, offset + np.cos(w) * eta + np.sin(w) * d, basis, 2)
                assert inside == (again.cells.shape[0] == 2 and np.array_equal(again.cells, event.cells))
                checked += 1
    assert checked > 400


def _dense_event(alpha, beta, gamma, selected, w):
    """Where ``|L_s(w)| >= |L_c(w)|`` for every cell c, on the points ``w`` (rows x points)."""
    lines = alpha[None, :, None] + beta[None, :, None] * np.cos(w) + gamma[:, :, None] * np.sin(w)
    return np.all(np.abs(lines[:, selected:selected + 1]) >= np.abs(lines), axis=1)


@pytest.mark.parametrize("flat", [False, True])
def test_step_arcs_are_the_event_of_every_cell_across_chunks(flat):
    # Thousands of cells (several of the kernel's chunks), cells that bind in late chunks: the arcs are
    # where the selected cell wins against every cell (dense evaluation); flat lines (offset and axis 0,
    # the global hypothesis' later steps) give the whole circle or nothing.
    rng = np.random.default_rng(3)
    n_rows, n_cells, selected = 40, 3000, 1700
    alpha = np.zeros(n_cells) if flat else rng.normal(size=n_cells)
    beta = np.zeros(n_cells) if flat else rng.normal(size=n_cells)
    gamma = rng.normal(size=(n_rows, n_cells))
    if not flat:
        alpha[selected], beta[selected] = 4.0, 1.5
        gamma[:, selected] *= 0.5
    else:
        gamma[:, selected] = np.where(np.arange(n_rows) % 2 == 0, 10.0, 0.5)  # wins on even rows, loses on odd
    arcs = np.zeros((n_rows, _circles.max_arcs(), 2))
    arcs[:, 0, 1] = 2.0 * np.pi
    counts = np.ones(n_rows, dtype=np.int64)
    _circles.step_arcs(arcs, counts, alpha, beta, gamma, selected, 2)
    w = np.linspace(0.0, 2.0 * np.pi, 4001)[:-1] + 1e-4
    inside = _dense_event(alpha, beta, gamma, selected, w)
    checked = 0
    for r in range(n_rows):
        ends = arcs[r, :counts[r]]
        kernel = np.any((ends[:, :1] <= w) & (w <= ends[:, 1:]), axis=0) if counts[r] else np.zeros(w.size, bool)
        far = np.min(np.abs(ends.ravel()[:, None] - w), axis=0) > 1e-6 if counts[r] else np.ones(w.size, bool)
        assert np.array_equal(kernel[far], inside[r, far])
        checked += int(far.sum())
    assert checked > 0.99 * n_rows * w.size
    if flat:
        assert np.array_equal(counts > 0, np.arange(n_rows) % 2 == 0)
    else:
        length = np.array([np.sum(np.diff(arcs[r, :counts[r]], axis=1)) for r in range(n_rows)])
        assert np.all(length < 2.0 * np.pi - 0.1) and np.all(length > 0)  # cut, but not away


@pytest.mark.parametrize("half_width", [1e-9, 1e-7, 1e-5, 1e-3])
def test_a_cell_that_binds_inside_a_narrow_arc_cuts_it(half_width):
    # The skip from the smallest arc holding the event must not pass over a cell that binds inside a
    # narrow one (its bound, 2 sin(h/2) times the cell's reach, computed as 2 (1 - cos h) lost every
    # digit there). Selected line 1, cell a + cos(w): the event near pi/2 starts at arccos(1 - a).
    middle = 0.5 * np.pi
    arcs = np.zeros((1, _circles.max_arcs(), 2))
    arcs[0, 0] = (middle - half_width, middle + half_width)
    counts = np.ones(1, dtype=np.int64)
    a = 1.0 - np.sin(0.5 * half_width)  # the event's lower end halfway inside the arc
    _circles.step_arcs(arcs, counts, np.array([1.0, a]), np.array([0.0, 1.0]), np.zeros((1, 2)), 0, 1)
    assert counts[0] == 1
    assert arcs[0, 0, 0] == pytest.approx(np.arccos(1.0 - a), abs=1e-6 * half_width)
    assert arcs[0, 0, 1] == middle + half_width


def test_the_summary_warns_that_a_low_ess_states_too_small_an_error():
    # The honesty table's far-tail case (benchmarks/bench_circle_precision.py): a strong first motif
    # beside a second, 500 circles; its weights' ESS is below 30, where the stated s.e. was half the
    # spread over seeds. The summary says so, for that motif only.
    from seism_stats import SelectiveMotifModel
    data = simulate_dataset(400, 60, consensus="GATTAC", beta=1.15, fraction=0.4, random_state=5)
    res = SelectiveMotifModel(data.y, data.sequences, k=6, n_motifs=2).fit(n_samples=500, random_state=100,
                                                                          progress=False)
    ess = res.inference.settings["circle_ess"]
    assert ess[0] < 30 <= ess[1]
    text = " ".join(res.summary().extra_txt.split())
    assert f"for {res.param_names[0]} (weights' effective sample size below 30)" in text
    assert "its stated s.e. too small" in text and res.param_names[1] not in text.split("[!] Few")[1]


def test_kernel_refuses_inconsistent_shapes():
    arcs = np.zeros((2, _circles.max_arcs(), 2))
    counts = np.ones(2, dtype=np.int64)
    with pytest.raises(ValueError, match="offsets"):
        _circles.step_arcs(arcs, counts, np.zeros(3), np.zeros(4), np.zeros((2, 4)), 0)
    with pytest.raises(ValueError, match="selected cell"):
        _circles.step_arcs(arcs, counts, np.zeros(4), np.zeros(4), np.zeros((2, 4)), 4)
    with pytest.raises(ValueError, match="arcs must be"):
        _circles.step_arcs(arcs[:1], counts, np.zeros(4), np.zeros(4), np.zeros((2, 4)), 0)


def _null_pvalues(n_sets, n_draws, n_motifs, beta=0.0, seed=0, grow=False):
    """Motif p-values (motif hypothesis) and naive OLS p-values of the last motif on simulated data sets.

    With ``beta`` > 0 the response follows the GATT cell's feature, so where that cell is
    selected first the hypothesis of motif 2 holds; other data sets are skipped.
    """
    cell = string_to_kmer("GATT")
    cell = min(cell, int(reverse_complement_index(4)[cell]))
    selective, naive, draws = [], [], []
    for i in range(n_sets):
        rng = np.random.default_rng(seed + i)
        data = simulate_dataset(60, 24, consensus="GATT", beta=0.0, random_state=rng)
        encoded = encode_sequences(data.sequences)
        phi = grid_features(encoded, [4], 1.0, "sum", 1, revcomp=True).column(cell)
        y = beta * (phi - phi.mean()) / phi.std() + rng.standard_normal(60)
        features, selection, basis, order = _fit_parts(data.sequences, y, 4, n_motifs)
        if selection.event.n_selected < n_motifs or (beta and selection.cells[0] != cell):
            continue
        estimate = circle_pvalues(features, selection, basis, n_draws, np.random.default_rng(10_000 + i), order,
                                  grow=grow)
        selective.append(estimate.pvalues[-1])
        draws.append(estimate.draws[-1])
        t = estimate.statistics[-1]
        naive.append(2 * stats.t.sf(abs(t), estimate.df[-1]))
    if grow:
        return np.array(selective), np.array(naive), np.array(draws)
    return np.array(selective), np.array(naive)


def _binomial_ok(pvalues, alpha, level=0.001):
    """One-sided binomial test that P(p <= alpha) <= alpha."""
    return stats.binom.sf(int(np.sum(pvalues <= alpha)) - 1, pvalues.size, alpha) >= level


@pytest.mark.parametrize("n_draws", [1, 10])
def test_exact_at_tiny_B_under_the_global_null(n_draws):
    # Two motifs on pure noise: every motif's hypothesis holds. With one or ten circles the
    # p-values must already be valid (the observed circle is counted); the same check rejects
    # the naive p-values of the same data sets, so it has teeth.
    selective, naive = _null_pvalues(400, n_draws, 2, seed=100 * n_draws)
    assert selective.size > 350 and np.all((selective > 0) & (selective <= 1))
    for alpha in (0.05, 0.1, 0.2):
        assert _binomial_ok(selective, alpha), (alpha, np.mean(selective <= alpha))
    assert not _binomial_ok(naive, 0.05)


def test_exact_at_one_mirrored_pair():
    # Three motifs on pure noise at n = 100, k = 4: most motifs are tested given a conditioning level
    # (V not empty), where the circles come in mirrored pairs V b +- s r and the observed direction's
    # mirror is counted with it (module docstring, "Mirrored pairs"). One pair (B = 2) must already be
    # exact; the same check rejects the naive p-values. (It cannot tell whether the observed mirror is
    # counted: at these sizes dropping it, or counting the observed pair twice, moved the rejection
    # rates by under 0.01; test_mirrored_pairs_are_the_drawn_circles_and_their_mirrors checks the sums.)
    selective, naive, mirrored = [], [], 0
    for i in range(300):
        rng = np.random.default_rng(70_000 + i)
        data = simulate_dataset(100, 30, consensus="GATT", beta=0.0, random_state=rng)
        features, selection, basis, order = _fit_parts(data.sequences, data.y, 4, 3)
        if selection.event.n_selected < 3:
            continue
        estimate = circle_pvalues(features, selection, basis, 2, np.random.default_rng(i), order)
        selective.extend(estimate.pvalues)
        naive.extend(2 * stats.t.sf(np.abs(estimate.statistics), estimate.df))
        mirrored += int(np.sum(estimate.pairs))
        assert np.array_equal(estimate.pairs, estimate.neighbours > 0)
    selective, naive = np.array(selective), np.array(naive)
    assert selective.size > 850 and mirrored > 0.6 * selective.size
    for alpha in (0.05, 0.1, 0.2):
        assert _binomial_ok(selective, alpha), (alpha, np.mean(selective <= alpha))
        # exact, not only valid: P(p <= alpha) is not below alpha either
        assert stats.binom.cdf(int(np.sum(selective <= alpha)), selective.size, alpha) >= 0.001
    assert not _binomial_ok(naive, 0.05)


def test_noise_motifs_beside_a_real_one_are_not_rejected_at_one_mirrored_pair(monkeypatch):
    # The same scenario where the noise motifs' circles come in mirrored pairs: three motifs at n = 100,
    # motif 1 planted along the GATT cell (data sets where it is selected first), motifs 2 and 3 noise
    # given it (their hypotheses hold whatever motif 1's effect), one pair each (B = 2). Here the default
    # ladder tests about 80% of them at level 0 (V empty, no pairs), so the ladder starts at 4
    # competitors per step: a level chosen by the same rule from other levels, so exact all the same.
    monkeypatch.setattr(circle_tests, "NEIGHBOUR_LADDER", (4, 16, 32, 64, 128, 256, 512))
    cell = string_to_kmer("GATT")
    cell = min(cell, int(reverse_complement_index(4)[cell]))
    selective, naive, mirrored = [], [], 0
    for i in range(300):
        rng = np.random.default_rng(80_000 + i)
        data = simulate_dataset(100, 30, consensus="GATT", beta=0.0, random_state=rng)
        phi = grid_features(encode_sequences(data.sequences), [4], 1.0, "sum", 1, revcomp=True).column(cell)
        y = (phi - phi.mean()) / phi.std() + rng.standard_normal(100)
        features, selection, basis, order = _fit_parts(data.sequences, y, 4, 3)
        if selection.event.n_selected < 3 or selection.cells[0] != cell:
            continue
        estimate = circle_pvalues(features, selection, basis, 2, np.random.default_rng(i), order)
        selective.extend(estimate.pvalues[1:])
        naive.extend(2 * stats.t.sf(np.abs(estimate.statistics[1:]), estimate.df[1:]))
        mirrored += int(np.sum(estimate.pairs[1:]))
    selective, naive = np.array(selective), np.array(naive)
    assert selective.size > 400 and mirrored > 0.9 * selective.size
    for alpha in (0.05, 0.1, 0.2):
        assert _binomial_ok(selective, alpha), (alpha, np.mean(selective <= alpha))
    assert not _binomial_ok(naive, 0.05)


@pytest.mark.parametrize("n_draws", [70, 7])
def test_mirrored_pairs_are_the_drawn_circles_and_their_mirrors(n_draws):
    # The estimate of a motif tested at a conditioning level sums N and D over the observed circle,
    # its mirror 2 V b - d_0 and the drawn pairs V b +- s r (one transform per pair, the second
    # half of each block the negated first half); its s.e. and ESS are over the pairs' sums. 70
    # circles take three blocks (and motif 1 the timing path's first block); an odd number given is
    # drawn exactly, singly.
    from scipy import special
    from seism_stats.sampling.pvalues import ratio_pvalue
    data = simulate_dataset(100, 30, consensus="GATT", beta=0.0, random_state=np.random.default_rng(70_003))
    features, selection, basis, order = _fit_parts(data.sequences, data.y, 4, 3)
    estimate = circle_pvalues(features, selection, basis, n_draws, np.random.default_rng(5), order)
    tests, rng = estimate.tests, np.random.default_rng(5)
    assert np.any(estimate.neighbours > 0) and np.all(estimate.draws[estimate.neighbours >= 0] == n_draws)
    assert np.array_equal(estimate.pairs, (estimate.neighbours > 0) & (n_draws % 2 == 0))
    for j, (axis, law) in enumerate(zip(tests.axes, estimate.laws)):
        if law is None:
            continue
        rows = [tests.direction_terms(axis.direction)]
        if estimate.pairs[j]:
            mirror = 2.0 * law.fixed - axis.direction
            space = law.off[:, axis.off.shape[1]:]
            assert np.isclose(np.linalg.norm(mirror), 1.0) and np.allclose(axis.off.T @ mirror, 0)
            assert np.allclose(space.T @ mirror, space.T @ axis.direction)
            rows.append(tests.direction_terms(mirror))
        sizes = [min(circle_tests.BLOCK, n_draws - i) for i in range(0, n_draws, circle_tests.BLOCK)]
        for size in sizes:
            drawn = law.draw(rng, size, antithetic=bool(estimate.pairs[j]))
            if estimate.pairs[j]:
                half = size // 2
                r = (drawn[0][:half] - law.fixed_terms[0]) / law.scale
                assert np.allclose(drawn[0][half:], law.fixed_terms[0] - law.scale * r)
            rows.append(drawn)
        den, num = tests.log_masses(axis, (np.vstack([r[0] for r in rows]), np.vstack([r[1] for r in rows])))
        if estimate.pairs[j]:  # the observed pair, then each block's pairs (rows i and size / 2 + i)
            terms, first = [(np.logaddexp(den[0], den[1]), np.logaddexp(num[0], num[1]))], 2
            for size in sizes:
                d, n = den[first:first + size].reshape(2, -1), num[first:first + size].reshape(2, -1)
                terms.extend(zip(np.logaddexp(*d), np.logaddexp(*n)))
                first += size
            den, num = np.array([t[0] for t in terms]), np.array([t[1] for t in terms])
            assert den.size == 1 + n_draws // 2
        p, se, ess = ratio_pvalue(num, den)
        assert np.isclose(estimate.pvalues[j], np.exp(special.logsumexp(num) - special.logsumexp(den)), rtol=1e-12)
        assert np.isclose(estimate.se[j], se, rtol=1e-9) and np.isclose(estimate.ess[j], ess, rtol=1e-9)


def test_the_summary_says_which_motifs_drew_mirrored_pairs():
    from seism_stats import SelectiveMotifModel
    data = simulate_dataset(100, 30, consensus="GATT", beta=0.0, random_state=np.random.default_rng(70_003))
    res = SelectiveMotifModel(data.y, data.sequences, k=4, n_motifs=3).fit(random_state=0, progress=False)
    s = res.inference.settings
    assert s["circle_pairs"] == [v > 0 for v in s["circle_neighbours"]] and any(s["circle_pairs"])
    paired = ", ".join(f"motif {j + 1}" for j, v in enumerate(s["circle_pairs"]) if v)
    text = " ".join(res.summary().as_text().split())
    assert "Mirrored pairs: where a motif's circles are drawn given part of their direction" in text
    assert f"count pairs (P>|t| sel.: {paired})" in text
    both = SelectiveMotifModel(data.y, data.sequences, k=4, n_motifs=3).fit(random_state=0, progress=False,
                                                                         hypothesis="both")
    s = both.inference.settings
    global_paired = ", ".join(f"motif {j + 1}" for j, v in enumerate(s["circle_global_pairs"]) if v)
    assert global_paired  # the global null's levels hold the other selected features: pairs from level 0
    assert f"count pairs (P>|t| sel.: {paired}; P global: {global_paired})" in " ".join(both.summary().as_text().split())


@pytest.mark.parametrize("grown, most, expected", [(33, 40, 34), (33, 33, 32), (40, 40, 40)])
def test_a_grown_odd_number_of_circles_is_rounded_to_pairs_within_the_cap(monkeypatch, grown, most, expected):
    monkeypatch.setattr(circle_tests, "estimate_draws", lambda *args: grown)
    monkeypatch.setattr(circle_tests, "most_draws", lambda *args: most)
    data = simulate_dataset(100, 30, consensus="GATT", beta=0.0, random_state=np.random.default_rng(70_003))
    features, selection, basis, order = _fit_parts(data.sequences, data.y, 4, 3)
    estimate = circle_pvalues(features, selection, basis, 2, np.random.default_rng(5), order, grow=True)
    paired = estimate.neighbours > 0
    assert paired.any() and np.all(estimate.pairs == paired)
    assert np.all(estimate.draws[paired] == expected) and np.all(estimate.draws[~paired] == grown)


def test_antithetic_blocks_must_be_even(monkeypatch):
    # An odd block would leave a +r without its -r (the pilots' weights would then differ between b and -b).
    from seism_stats.stats.circle_tests import DirectionLaw, _log_masses_of_law
    data = simulate_dataset(100, 30, consensus="GATT", beta=0.8, random_state=np.random.default_rng(4))
    features, selection, basis, order = _fit_parts(data.sequences, data.y, 4, 2)
    tests = CircleTests(features, selection, basis)
    law = DirectionLaw(tests, tests.axes[1], np.zeros((tests.n, 0)), order)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="even block sizes"):
        _log_masses_of_law(tests, tests.axes[1], law, 7, rng, antithetic=True)
    monkeypatch.setattr(circle_tests, "PILOT_FIRST_BLOCK", 7)
    with pytest.raises(ValueError, match=r"even block sizes; got 40 directions, blocks of 32 \(first 7\)"):
        _log_masses_of_law(tests, tests.axes[1], law, 40, rng, antithetic=True, pilot=True)


def test_pilot_pairs_with_no_conditioning_are_resolved_once_and_blocks_keep_the_pairs():
    # With V empty the circle of -r is the circle of r: a pilot resolves each antithetic pair once and
    # copies its D and N, which must be what resolving -r gives. The pilot's first block is smaller
    # (PILOT_FIRST_BLOCK) than the others: the circles are the same whatever the blocks.
    from seism_stats.stats.circle_tests import DirectionLaw, _log_masses_of_law
    data = simulate_dataset(100, 30, consensus="GATT", beta=0.8, random_state=np.random.default_rng(4))
    features, selection, basis, order = _fit_parts(data.sequences, data.y, 4, 2)
    tests = CircleTests(features, selection, basis)
    axis = tests.axes[1]
    law = DirectionLaw(tests, axis, np.zeros((tests.n, 0)), order)
    den, num = _log_masses_of_law(tests, axis, law, 40, np.random.default_rng(3), antithetic=True, pilot=True)
    rows = law.draw(np.random.default_rng(3), 40, antithetic=True)  # one block: the same 20 pairs
    full_den, full_num = tests.log_masses(axis, rows)
    assert np.isfinite(full_den).sum() > 10
    assert circle_tests.PILOT_FIRST_BLOCK == 8
    order_of_blocks = np.r_[0:4, 20:24, 4:20, 24:40]  # blocks of 8 then 32: (+r 4, -r 4), (+r 16, -r 16)
    assert np.allclose(den, full_den[order_of_blocks], rtol=1e-9, atol=0)
    assert np.allclose(num, full_num[order_of_blocks], rtol=1e-9, atol=0)


def test_exact_when_the_pilots_choose_the_number_of_draws(monkeypatch):
    # The default number of circles grows where a motif's pilots predict few effective ones
    # (estimate_draws): B is then a function of the pilots, not fixed, and the p-values must stay
    # valid. Two requested draws per motif and a target of 4 effective circles: B = 4 / the
    # pilots' ESS per direction, from 4 to the cap of 32, varies with the data set.
    # (The second pilot, which the rule runs whenever the first predicts fewer than 2 effective
    # circles, i.e. always here, is cut to 64 directions to keep the test short.)
    monkeypatch.setattr(circle_tests, "TARGET_ESS", 4.0)
    monkeypatch.setattr(circle_tests, "GROWTH_PILOT", 64)
    selective, naive, draws = _null_pvalues(400, 2, 2, seed=900, grow=True)
    assert selective.size > 350 and np.all((selective > 0) & (selective <= 1))
    drawn = draws[draws > 0]  # 0: a motif tested given all of its direction
    assert drawn.size > 300 and drawn.min() >= 4 and drawn.max() <= 2 * circle_tests.MAX_GROWTH
    assert np.unique(drawn).size > 5
    for alpha in (0.05, 0.1, 0.2):
        assert _binomial_ok(selective, alpha), (alpha, np.mean(selective <= alpha))
    assert not _binomial_ok(naive, 0.05)


def test_default_draws_grow_for_a_far_tail_motif_and_an_explicit_number_is_exact():
    # The honesty table's far-tail data set (bench_circle_precision): motif 1's weights are heavy-tailed
    # and its pilots predict about 34 effective circles from 1000, so by default it draws more.
    from seism_stats import SelectiveMotifModel
    data = simulate_dataset(400, 60, consensus="GATTAC", beta=1.15, fraction=0.4, random_state=5)
    model = SelectiveMotifModel(data.y, data.sequences, k=6, n_motifs=2)
    res = model.fit(random_state=0, progress=False)
    grown, s = res.inference, res.inference.settings
    assert s["n_samples"] == 1000 and s["circle_draws"][0] > 1000 and s["circle_draws"][1] == 1000
    assert s["circle_draws"][0] <= 1000 * circle_tests.MAX_GROWTH and s["circle_grow"] is True
    # every direction drawn: the levels' pilots (128 each), motif 1's second pilot, the estimates
    pilots = s["circle_directions"] - sum(s["circle_draws"]) - circle_tests.GROWTH_PILOT
    assert pilots > 0 and pilots % circle_tests.PILOT == 0
    assert res.sampler_info["draws"] == s["circle_draws"][0]  # "Null draws (B)": the most drawn
    exact = selective_inference(data.sequences, data.y, k=6, n_motifs=2, random_state=0, n_samples=1000)
    assert exact.settings["circle_draws"] == [1000, 1000] and exact.settings["circle_grow"] is False
    assert exact.settings["circle_ess"][0] < grown.settings["circle_ess"][0]
    text = res.summary().as_text().replace("\n  ", " ")
    assert f"over {s['circle_draws'][0]}, 1000 random great circles (motifs in order; 1000 by default" in text


@pytest.mark.slow
def test_default_draws_rule_is_calibrated_on_null_data_sets():
    # The default fit, whose number of circles the pilots set (67% and 55% of these fits grew, up
    # to 16,000), on 400 null data sets no fast test uses (n = 150, L = 40, k = 5, two motifs):
    # both motifs' p-values uniform. About 3 minutes; 2026-12-07: rejections 0.0475 and 0.045 at
    # 0.05, KS p 0.22 and 0.43.
    pvalues, draws = [], []
    for i in range(400):
        data = simulate_dataset(150, 40, consensus="GATTA", beta=0.0, random_state=50_000 + i)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = selective_inference(data.sequences, data.y, k=5, n_motifs=2, random_state=i)
        pvalues.append(result.pvalues)
        draws.append(result.settings["circle_draws"])
    pvalues, draws = np.array(pvalues), np.array(draws)
    assert (draws > 1000).mean() > 0.3  # the rule was exercised
    for j in range(2):
        for alpha in (0.01, 0.05, 0.1, 0.2):
            assert _binomial_ok(pvalues[:, j], alpha), (j, alpha, np.mean(pvalues[:, j] <= alpha))
        assert stats.kstest(pvalues[:, j], "uniform").pvalue > 0.01


@pytest.mark.parametrize("n_draws, rate, grow, expected", [
    (1000, 0.2, True, 1000),      # 200 effective circles predicted: as requested
    (1000, 0.05, True, 2000),     # 50 predicted: 100 / 0.05
    (1000, 0.001, True, 16000),   # capped at the most allowed
    (1000, 0.0, True, 16000),     # a (second) pilot that met no event: the most allowed
    (1000, 0.05, False, 1000),    # an explicit n_samples is drawn exactly
    (1000, float("nan"), True, 1000),  # no pilot (the observed direction alone)
    (0, 0.05, True, 0),           # B = 0 stays 0
])
def test_estimate_draws_reaches_the_target_ess_within_the_cap(n_draws, rate, grow, expected):
    assert circle_tests.TARGET_ESS == 100
    assert circle_tests.estimate_draws(n_draws, rate, grow, 16000) == expected
    assert circle_tests.estimate_draws(n_draws, rate, grow, 500) == n_draws  # never fewer than requested


@pytest.mark.parametrize("n_draws, n, cells, limit, expected", [
    (1000, 1000, 32896, None, 16000),     # n = 1000, k = 8: 16 times
    (1000, 4000, 2080, None, 4000),       # 16 million sequence-directions
    (1000, 100_000, 2080, None, 1000),    # a large data set keeps the draws it asked for
    (1000, 400, 131_328, None, 4088),     # k = 9: 2^29 cell-directions
    (1000, 400, 524_800, None, 1023),     # k = 10: barely
    (1000, 400, 2080, 3000, 3000),        # the motif's share of max_replays
    (1000, 400, 2080, 10, 1000),          # never fewer than requested
])
def test_most_draws_caps_growth_by_work(n_draws, n, cells, limit, expected):
    assert circle_tests.MAX_GROWTH == 16 and circle_tests.MAX_GROWTH_WORK == 16_000_000
    assert circle_tests.MAX_GROWTH_CELLS == 2**29
    assert circle_tests.most_draws(n_draws, n, cells, limit) == expected


def test_the_draws_rule_depends_on_the_data_not_on_the_seed_and_reaches_every_run():
    # B is a function of the pilots (fixed seeds): the same for every random_state; the global
    # null's run beside (hypothesis="both") grows by the same rule and is recorded.
    data = simulate_dataset(300, 60, consensus="GATTA", beta=0.8, random_state=0)  # the README's example
    fits = [selective_inference(data.sequences, data.y, k=5, n_motifs=2, random_state=seed, hypothesis="both")
            for seed in (0, 1)]
    assert fits[0].settings["circle_draws"] == fits[1].settings["circle_draws"]
    assert fits[0].settings["circle_global_draws"] == fits[1].settings["circle_global_draws"]
    assert max(fits[0].settings["circle_draws"]) > 1000 and max(fits[0].settings["circle_global_draws"]) > 1000
    assert fits[0].settings["circle_grow"] is True
    assert not np.array_equal(fits[0].pvalues, fits[1].pvalues)  # the estimates' own draws do differ
    # the growth stays within max_replays (each run's motifs share it)
    data = simulate_dataset(400, 60, consensus="GATTAC", beta=1.15, fraction=0.4, random_state=5)
    capped = selective_inference(data.sequences, data.y, k=6, n_motifs=2, random_state=0, max_replays=3000)
    assert capped.settings["circle_draws"] == [1500, 1000]


def test_a_noise_motif_beside_a_real_one_is_not_rejected():
    # The scenario: motif 1 real (planted along its grid cell), motif 2 noise given it.
    # The global null's p-value of motif 2 rejected 9-13% at 0.05; the per-motif test must not.
    selective, naive = _null_pvalues(400, 1, 2, beta=1.0, seed=7)
    assert selective.size > 250
    for alpha in (0.05, 0.1, 0.2):
        assert _binomial_ok(selective, alpha), (alpha, np.mean(selective <= alpha))
    assert not _binomial_ok(naive, 0.05)


def test_observed_direction_alone_is_exact_without_monte_carlo_error():
    data = simulate_dataset(80, 30, consensus="GATT", beta=1.0, random_state=1)
    result = selective_inference(data.sequences, data.y, k=4, n_motifs=2, n_samples=0, random_state=0)
    assert result.settings["method"] == "circles" and result.settings["n_samples"] == 0
    assert np.all(result.pvalues_se == 0) and np.all((result.pvalues > 0) & (result.pvalues <= 1))
    # The summary says why the s.e. is 0 (a new user read it as a suspiciously precise p-value).
    from seism_stats import SelectiveMotifModel
    res = SelectiveMotifModel(data.y, data.sequences, k=4, n_motifs=1).fit(n_samples=0, random_state=0,
                                                                          progress=False)
    assert "n_samples = 0: each motif is tested given all of its observed direction" in \
        res.summary().as_text().replace("\n  ", " ")


def test_null_law_survival_at_the_observation_is_the_pvalue():
    data = simulate_dataset(80, 30, consensus="GATT", beta=0.8, random_state=3)
    result = selective_inference(data.sequences, data.y, k=4, n_motifs=1, n_samples=50, random_state=0)
    law = result.null_laws[0]
    ends = np.unique(np.clip(law.segments[np.isfinite(law.segments)], -60, 60))
    pieces = np.concatenate([[-60.0], ends, [60.0]])
    t = abs(law.observed)
    total = tail = 0.0
    for lo, hi in zip(pieces[:-1], pieces[1:]):
        if hi > lo:
            total += integrate.quad(law.density, lo, hi, limit=200)[0]
            for a, b in ((max(lo, t), hi), (lo, min(hi, -t))):
                if b > a:
                    tail += integrate.quad(law.density, a, b, limit=200)[0]
    assert total == pytest.approx(1.0, rel=1e-4)
    assert tail == pytest.approx(result.pvalues[0], rel=1e-3)


def test_pvalues_do_not_depend_on_the_order_of_the_records():
    data = simulate_dataset(90, 30, consensus="GATT", beta=0.8, random_state=4)
    order = np.random.default_rng(1).permutation(90)
    kwargs = dict(k=4, n_motifs=2, n_samples=40, random_state=5, hypothesis="both")
    first = selective_inference(data.sequences, data.y, **kwargs)
    again = selective_inference([data.sequences[i] for i in order], np.asarray(data.y)[order], **kwargs)
    # The same draws reach the same rows; sums over the rows in another order differ at rounding level.
    np.testing.assert_allclose(first.pvalues, again.pvalues, rtol=1e-9)
    np.testing.assert_allclose(first.pvalues_global, again.pvalues_global, rtol=1e-9)
    np.testing.assert_allclose(first.pvalues_split, again.pvalues_split, rtol=1e-9)


def test_pvalues_and_intervals_do_not_depend_on_the_threads():
    # k = 7 (the screen's grid size), two motifs, an even number of circles (mirrored pairs): the kernels
    # split rows and blocks over threads, and every sum is taken in the same order whatever the split.
    data = simulate_dataset(200, 40, consensus="GATTACA", beta=1.0, random_state=6)
    kwargs = dict(k=7, n_motifs=2, n_samples=64, random_state=2)
    one = selective_inference(data.sequences, data.y, n_threads=1, **kwargs)
    two = selective_inference(data.sequences, data.y, n_threads=2, **kwargs)
    assert one.settings["circle_draws"] == two.settings["circle_draws"]
    for a, b in ((one.pvalues, two.pvalues), (one.pvalues_se, two.pvalues_se)):
        assert np.array_equal(a, b)
    for a, b in zip(one.pivots, two.pivots):
        assert np.array_equal(a.tested, b.tested) and np.array_equal(a.log_odds, b.log_odds, equal_nan=True)


def test_hypothesis_is_checked_against_the_method():
    data = simulate_dataset(40, 20, consensus="GAT", random_state=4)
    with pytest.raises(ValueError, match="needs method='circles'"):
        selective_inference(data.sequences, data.y, k=3, method="mcmc", hypothesis="motif")
    with pytest.raises(ValueError, match="hypothesis must be one of"):
        selective_inference(data.sequences, data.y, k=3, hypothesis="local")
    with pytest.raises(ValueError, match="asked by hypothesis='both', needs method='circles'"):
        selective_inference(data.sequences, data.y, k=3, method="cmc", hypothesis="both")
    glob = selective_inference(data.sequences, data.y, k=3, hypothesis="global", n_samples=20, random_state=0)
    assert glob.hypothesis == "global" and glob.pvalues_global is None
    assert np.array_equal(glob.pvalues_global_null, glob.pvalues)
    # The global null's p-values beside the motif hypothesis' only on request ("both"): the motif
    # hypothesis' own p-values are the same either way (its circles are drawn first).
    kwargs = dict(k=3, n_motifs=2, n_samples=20, random_state=0)
    default = selective_inference(data.sequences, data.y, **kwargs)
    both = selective_inference(data.sequences, data.y, hypothesis="both", **kwargs)
    assert default.hypothesis == both.hypothesis == "motif"
    assert default.pvalues_global is None and not default.settings["global_beside"]
    assert np.all(np.isnan(default.pvalues_global_null))
    assert both.settings["global_beside"] and np.all((both.pvalues_global > 0) & (both.pvalues_global <= 1))
    np.testing.assert_array_equal(default.pvalues, both.pvalues)
    assert both.settings["circle_directions"] > default.settings["circle_directions"]
    # the global null tested with several motifs: its circles and the motif hypothesis' (for the intervals)
    tested_global = selective_inference(data.sequences, data.y, hypothesis="global", **kwargs)
    assert tested_global.settings["circle_directions"] == both.settings["circle_directions"]
    from seism_stats import SelectiveMotifModel
    model = SelectiveMotifModel(data.y, data.sequences, k=3, n_motifs=2)
    texts = [model.fit(hypothesis=h, n_samples=20, random_state=0, progress=False).summary().as_text()
             for h in ("motif", "both")]
    assert "P global" not in texts[0] and "P global: the same construction for the global null" in texts[1]


def test_binary_response_defaults_to_the_tilted_permutations():
    data = simulate_dataset(60, 20, consensus="GAT", beta=1.0, response="binary", random_state=2)
    result = selective_inference(data.sequences, data.y, k=3, n_samples=40, random_state=0)
    assert result.settings["method"] == "tilted" and result.settings["null"] == "permutation"
    assert result.settings["method_reason"].startswith("permutation null")
    with pytest.raises(ValueError, match="needs the sphere null"):
        selective_inference(data.sequences, data.y, k=3, method="circles", n_samples=10)
    mcmc = selective_inference(data.sequences, data.y, k=3, method="mcmc", n_samples=40, random_state=0)
    assert mcmc.settings["method"] == "mcmc" and np.isfinite(mcmc.pvalues).all()


def test_selective_intervals_cover_with_few_sequences(monkeypatch):
    # Issue 23: with n = 40 the truncated-Gaussian pivot (sigma estimated) missed too often. The circle
    # intervals condition on the residual length instead: exact at any n and any number of circles.
    import pandas as pd
    from simulations import intervals

    monkeypatch.setattr(intervals, "INTERVAL_DRAWS", 10)
    rows = pd.DataFrame([r for i in range(120) for beta in (0.0, 1.0)
                         for r in intervals.interval_rows(intervals.IntervalSetting(n=40, n_motifs=2, beta=beta),
                                                          np.random.SeedSequence(500 + i))])
    selective = rows[rows["method"] == "selective"]
    assert len(selective) > 400
    for tail in ("miss_below", "miss_above"):  # each tail at 2.5%
        assert stats.binom.sf(selective[tail].sum() - 1, len(selective), 0.025) >= 0.001, selective[tail].mean()
    naive = rows[rows["method"] == "naive"]  # the same check rejects the naive intervals
    assert stats.binom.sf((~naive["covered"]).sum() - 1, len(naive), 0.05) < 0.001


def test_the_level_does_not_depend_on_which_representative_of_the_observation_is_used():
    # (w, d) and (2 pi - w, -d) are the same observation; antithetic pilots keep the level a function of +-b.
    from dataclasses import replace

    from seism_stats.stats.circle_tests import choose_level, growth_rate
    data = simulate_dataset(100, 30, consensus="GATT", beta=1.0, random_state=7)
    features, selection, basis, order = _fit_parts(data.sequences, data.y, 4, 3)
    second = 0
    for hypothesis in ("motif", "global"):
        tests = CircleTests(features, selection, basis, hypothesis)
        for axis in tests.axes:
            flipped = replace(axis, direction=-axis.direction)
            chosen, mirrored = choose_level(tests, axis, order), choose_level(tests, flipped, order)
            assert chosen[1] == mirrored[1] and chosen[3] == pytest.approx(mirrored[3], rel=1e-9, nan_ok=True)
            # so is the number of draws: the second pilot, where one is run, measures the same rate
            rates = [growth_rate(tests, a, law, rate, 1000, True, 16000)
                     for a, (law, _, _, rate) in ((axis, chosen), (flipped, mirrored))]
            assert rates[0][1] == rates[1][1] and rates[0][0] == pytest.approx(rates[1][0], rel=1e-9, nan_ok=True)
            second += rates[0][1] > 0
    assert second > 0  # the second pilot ran at least once


def test_a_second_pilot_runs_only_where_the_first_predicts_under_half_the_target(monkeypatch):
    calls = []

    def masses(tests, axis, law, m, rng, **kwargs):
        calls.append((m, kwargs))
        return np.r_[np.zeros(8), np.full(m - 8, -np.inf)], None  # log weights: ESS 8 of m

    monkeypatch.setattr(circle_tests, "_log_masses_of_law", masses)

    law, room = object(), 1000 + circle_tests.GROWTH_PILOT
    assert circle_tests.growth_rate(None, None, law, 0.06, 1000, True, room) == (0.06, 0)  # 60 >= 50
    assert circle_tests.growth_rate(None, None, law, 0.04, 1000, False, room) == (0.04, 0)  # an explicit n_samples
    assert circle_tests.growth_rate(None, None, None, 0.04, 1000, True, room) == (0.04, 0)  # the observed direction
    assert circle_tests.growth_rate(None, None, law, 0.04, 1000, True, room - 1) == (0.04, 0)  # too little room
    assert not calls
    rate, drawn = circle_tests.growth_rate(None, None, law, 0.04, 1000, True, room)
    assert drawn == circle_tests.GROWTH_PILOT and rate == pytest.approx(8 / circle_tests.GROWTH_PILOT)
    assert calls == [(circle_tests.GROWTH_PILOT, {"antithetic": True, "pilot": True})]


def test_ratio_is_never_zero_and_its_error_is_unknown_without_drawn_mass():
    from seism_stats.sampling.pvalues import ratio_pvalue
    p, se, _ = ratio_pvalue(np.array([-2000.0, -2000.0]), np.array([0.0, -1.0]))  # p ~ exp(-2000) underflows
    assert 0 < p < 1e-300 and np.isfinite(se)
    p, se, ess = ratio_pvalue(np.array([-1.0, -np.inf, -np.inf]), np.array([-0.5, -np.inf, -np.inf]))
    assert p == pytest.approx(np.exp(-0.5)) and np.isnan(se) and ess == 1.0  # no drawn circle met the event
    p, se, _ = ratio_pvalue(np.array([-1.0]), np.array([-0.5]))  # B = 0: exact, no Monte-Carlo error
    assert se == 0.0
    # Drawn circles that meet the event with weights far below the observed one's (a strong motif
    # at large n): their error is tiny, not 0 and not unknown, whether their weights' squares or
    # the weights themselves underflow.
    for gap in (400.0, 800.0):
        p, se, _ = ratio_pvalue(np.array([-1.0, -gap - 3.0, -gap - 2.0]), np.array([-0.5, -gap, -gap]))
        assert p == pytest.approx(np.exp(-0.5)) and 0.0 < se < 1e-150
    p, se, _ = ratio_pvalue(np.array([-1.0, -401.0]), np.array([-0.5, -400.0]))
    expected = np.exp(-400.0) * abs(np.exp(-1.0) - p) / (np.exp(-0.5) + np.exp(-400.0))
    assert se == pytest.approx(expected, rel=1e-9)  # the delta method's value, in log space
    # A p-value near exp(-400) with ordinary weights (a strong motif at large n): its s.e. was 0
    # (the terms' squares underflowed); it is the delta method's value, computed rescaled here.
    log_den, log_num = np.array([0.0, -0.1, -0.2, -0.3]), np.array([-400.0, -401.0, -399.5, -400.2])
    p, se, _ = ratio_pvalue(log_num, log_den)
    den, scaled = np.exp(log_den), np.exp(log_num + 400.0)  # N_b e^400
    scaled_p = scaled.sum() / den.sum()
    assert p == pytest.approx(scaled_p * np.exp(-400.0), rel=1e-12)
    expected = np.sqrt(np.sum((scaled[1:] - scaled_p * den[1:]) ** 2)) / den.sum() * np.exp(-400.0)
    assert se == pytest.approx(expected, rel=1e-9)


def test_log_weight_ess_edge_cases():
    from seism_stats.sampling.pvalues import log_weight_ess
    assert log_weight_ess(np.log([1.0, 1.0, 2.0])) == pytest.approx(16 / 6)
    assert log_weight_ess(np.array([-1e4, -1e4])) == pytest.approx(2.0)  # however small, in log space
    assert log_weight_ess(np.array([-np.inf, -np.inf])) == 0.0 and log_weight_ess(np.zeros(0)) == 0.0
    assert np.isnan(log_weight_ess(np.array([0.0, np.nan])))  # never a silent "no terms"


def test_ratio_at_its_boundary_one_states_a_binomial_error_not_zero():
    # every drawn term's mass at or above the observed statistic: p = 1, and the delta method's 0 is not the error
    from seism_stats.sampling.pvalues import ratio_pvalue
    log_den = np.log(np.array([0.2, 1.0, 0.5, 0.8, 0.1]))
    p, se, ess = ratio_pvalue(log_den.copy(), log_den)
    moved = (ess + 0.5) / (ess + 1.0)
    assert p == 1.0 and se == pytest.approx(np.sqrt(moved * (1 - moved) / ess)) and se > 0.05
    # one drawn term below: the delta method's error, unchanged
    log_num = log_den.copy()
    log_num[2] = np.log(0.25)
    p, se, _ = ratio_pvalue(log_num, log_den)
    den = np.exp(log_den)
    num = np.exp(log_num)
    assert p < 1 and se == pytest.approx(np.sqrt(np.sum((num[1:] - p * den[1:]) ** 2)) / den.sum())


def _plane_lines(rng, n_cells, n_rows, homogeneous=False):
    """Random step lines of one plane: fixed part, axis, and each row's direction (rows = numerators)."""
    fixed = np.zeros(n_cells) if homogeneous else rng.normal(size=n_cells)
    axis = rng.normal(size=n_cells)
    gamma = rng.normal(size=(n_rows, n_cells))
    selected = int(np.argmax(np.abs(fixed + axis + 0.3 * gamma[0])))
    fixed[selected] += np.sign(fixed[selected]) * 2.0
    axis[selected] *= 2.0
    gamma[:, 3] = gamma[:, selected]  # a cell with the selected one's direction line
    axis[4], fixed[4] = axis[selected], fixed[selected] * 0.5
    return fixed, axis, gamma, selected


def _listed_against_every_cell(fixed, axis, gamma, selected, half_width, circles, plane_scale=0.5):
    """The largest gap between the arcs of every cell and of the listed cells over the circles, and the lists."""
    n_rows, n_cells = gamma.shape
    cells = np.arange(n_cells, dtype=np.int64)
    coef, cross, ones = np.zeros((n_rows, 1)), np.zeros((1, n_cells)), np.ones(n_cells)
    listed, listed_gamma, n_listed, selected_gamma = _circles.plane_cells(
        fixed, axis, gamma, coef, cross, 0, cells, ones, selected, half_width, plane_scale, 2)
    assert np.array_equal(selected_gamma, gamma[:, selected])
    # the chunks' pre-pass passes over only cells that the examination of each would pass over
    for every, pre in zip(_circles.plane_cells(fixed, axis, gamma, coef, cross, 0, cells, ones, selected, half_width,
                                               plane_scale, 2, prepass=False), (listed, listed_gamma, n_listed)):
        assert np.array_equal(every, pre)
    gap, arcs_met = 0.0, 0
    for shift, rho in circles:
        assert abs(shift) + rho <= half_width
        full = np.zeros((n_rows, _circles.max_arcs(), 2))
        full[:, 0, 1] = 2.0 * np.pi
        full_counts = np.ones(n_rows, dtype=np.int64)
        fast, fast_counts = full.copy(), full_counts.copy()
        alpha = (fixed + shift * axis) / rho
        _circles.step_arcs(full, full_counts, alpha, axis, gamma, selected, 2)
        _circles.step_arcs_listed(fast, fast_counts, alpha, axis, listed, listed_gamma, n_listed, selected_gamma,
                                  gamma, coef, cross, 0, cells, ones, selected, 2)
        for r in range(n_rows):
            a, b = full[r, :max(full_counts[r], 0)], fast[r, :max(fast_counts[r], 0)]
            length = abs(np.sum(a[:, 1] - a[:, 0]) - np.sum(b[:, 1] - b[:, 0]))
            ends = np.abs(a - b).max(initial=0.0) if a.shape == b.shape else np.inf
            gap = max(gap, length, ends)
        arcs_met += int(full_counts.sum())
    return gap, n_listed, arcs_met


@pytest.mark.parametrize("homogeneous", [False, True])
def test_plane_cells_give_the_arcs_of_every_cell(homogeneous):
    # Every circle of one direction lies in one plane; the cells listed there give the arcs all cells give.
    rng = np.random.default_rng(3 + homogeneous)
    fixed, axis, gamma, selected = _plane_lines(rng, 300, 40, homogeneous)
    circles = [(0.0, 1.0), (0.7, 0.5), (-3.0, 3.2), (40.0, 41.0), (-2e3, 3e3), (0.0, 9e3)]
    gap, n_listed, arcs_met = _listed_against_every_cell(fixed, axis, gamma, selected, 1e4, circles)
    assert (n_listed >= 0).all() and n_listed.max() < 40
    assert gap <= 1e-9 and arcs_met > 2 * 40  # the circles met the event in many arcs


def test_plane_cells_list_what_bounds_degenerate_sides():
    # All lines through the origin and a side's cone empty: the polygon shrinks to the apex, a point; the
    # cells that pinched it must be listed, not only the last (which alone leaves a whole wedge).
    fixed, axis, gamma = np.zeros(3), np.array([1.0, 0.0, -3.0]), np.array([[0.0, 1.0, 1.0]])
    circles = [(0.5, 1.0), (0.0, 2.0), (-1.0, 1.5)]
    gap, n_listed, _ = _listed_against_every_cell(fixed, axis, gamma, 0, 10.0, circles)
    assert gap == 0.0 and (n_listed == 2).all()
    # A near-copy of the selected cell: its half-plane cuts deep, but its line is known only to its rounding.
    fixed = np.array([-0.4316533455947616, -0.43165334559474333, -0.4316533455951963])
    axis = np.array([-1.0572758699119627, -1.0572758699119627, -1.05727586991302])
    gamma = np.array([[1.5300532577009178, 1.5300532577009178, 1.530053257702448]])
    gap, n_listed, _ = _listed_against_every_cell(fixed, axis, gamma, 2, 2707.737991544256,
                                                  [(0.0, 1.0), (0.5, 1.3), (-1.0, 2.0)])
    assert gap <= 1e-9 and n_listed[0, 1] == 2  # the near copy is listed
    # Near copies of the selected cell known only to their rounding, which the circle kernel rounds otherwise
    # (from (f + shift a) / rho): one ulp off in the fixed part; one that cuts and is then clipped away or
    # leaves a strip a later cell cuts; one whose circles have centres far from the polygon.
    rng = np.random.default_rng(0)
    cases = [(np.array([1.0, np.nextafter(1.0, 2.0), 0.0]), np.array([1.0, 1.0, 0.0]), np.array([[0.0, 0.0, 1.0]]),
              10.0, [(float(a), float(r)) for a, r in zip(rng.uniform(-1, 1, 100), rng.uniform(0.5, 3, 100))]),
             (np.array([1.0, 1.0 - 1e-15, 0.0]), np.array([0.0, 1e-15, 1 / 0.95]), np.zeros((1, 3)), 10.0,
              [(float(a), float(r)) for a, r in zip(rng.uniform(-0.5, 0.5, 100), rng.uniform(0.5, 1.5, 100))]),
             (np.array([1.0, 1.0 - 1e-15, 0.9]), np.array([0.0, 1e-15, 0.1 / 1.05]), np.zeros((1, 3)), 10.0,
              [(float(a), float(r)) for a, r in zip(rng.uniform(-0.5, 0.5, 100), rng.uniform(0.5, 1.7, 100))]),
             (np.array([1.0, 1.0 - 2.5e-14, -1.0, 0.5]), np.array([1.0, 1.0 + 1e-14, 2.0, 0.0]),
              np.array([[0.0, 0.0, 0.0, 1.0]]), 2e4,
              [(-float(a), float(a + r)) for a, r in zip(rng.uniform(2500, 5000, 100), rng.uniform(0.3, 2.0, 100))])]
    for fixed, axis, gamma, half_width, circles in cases:
        assert _listed_against_every_cell(fixed, axis, gamma, 0, half_width, circles)[0] <= 1e-9
    # A regular 2N-gon: N = 65 lines overflow the polygon's vertices, and the row falls back on every cell.
    for sides, fallback in ((40, False), (65, True)):
        theta = np.sort(np.random.default_rng(0).uniform(0, np.pi, sides))
        fixed, axis = np.r_[1.0, np.zeros(sides)], np.r_[0.0, np.cos(theta)]
        gamma = np.vstack([np.r_[0.0, np.sin(theta)]] * 3)
        gap, n_listed, _ = _listed_against_every_cell(fixed, axis, gamma, 0, 10.0, [(0.0, 1.0), (0.2, 0.9), (-3, 4)])
        assert gap == 0.0 and bool((n_listed[:, 0] < 0).all()) == fallback


@pytest.mark.parametrize("n_motifs, covariate", [(1, 0.0), (3, 0.5)])
def test_planes_of_a_fit_give_its_circles_arcs_and_pivot(n_motifs, covariate, monkeypatch):
    from seism_stats.stats.circle_intervals import CircleFamily, circle_pivot
    from seism_stats.stats.circle_tests import DirectionLaw
    data = simulate_dataset(120, 30, consensus="GATT", beta=0.6, covariate=covariate, random_state=9)
    features, selection, basis, order = fit_parts(data.sequences, data.y, 4, n_motifs,
                                                  data.covariates if covariate else None)[:4]
    tests = CircleTests(features, selection, basis, "motif")
    values = (-5.0, -0.2, 0.0, 0.4, 3.0, 2e3)
    for axis in tests.axes:
        law = DirectionLaw(tests, axis, np.zeros((tests.n, 0)), order)
        family = CircleFamily(tests, axis, law, 30, np.random.default_rng(axis.j))
        direct = [family.evaluate(b) for b in values]
        family.span(2e3)
        assert family.planes is not None
        np.testing.assert_allclose([family.evaluate(b) for b in values], direct, rtol=1e-9, atol=1e-12)
        with pytest.raises(ValueError, match="leaves the square"):
            tests.arcs(axis.tested(1e9), family.rows, family.planes)
        # The pivot as the intervals compute it (planes for the scan, every cell beyond) equals the direct one.
        through_planes = circle_pivot(CircleFamily(tests, axis, law, 30, np.random.default_rng(axis.j)), 0.3, 0.1)
        with monkeypatch.context() as patch:
            patch.setattr(CircleFamily, "span", lambda self, reach: None)
            every_cell = circle_pivot(CircleFamily(tests, axis, law, 30, np.random.default_rng(axis.j)), 0.3, 0.1)
        np.testing.assert_array_equal(through_planes.tested, every_cell.tested)
        np.testing.assert_allclose(through_planes.log_odds, every_cell.log_odds, rtol=1e-9, atol=1e-12)


def test_plane_kernels_refuse_inconsistent_inputs():
    rng = np.random.default_rng(0)
    fixed, axis, gamma, selected = _plane_lines(rng, 20, 3)
    cells, ones, coef, cross = np.arange(20, dtype=np.int64), np.ones(20), np.zeros((3, 1)), np.zeros((1, 20))
    with pytest.raises(ValueError, match="half_width"):
        _circles.plane_cells(fixed, axis, gamma, coef, cross, 0, cells, ones, selected, 0.0, 1.0)
    with pytest.raises(ValueError, match="plane_scale"):
        _circles.plane_cells(fixed, axis, gamma, coef, cross, 0, cells, ones, selected, 10.0, np.inf)
    with pytest.raises(ValueError, match="fixed lines"):
        _circles.plane_cells(fixed[:5], axis, gamma, coef, cross, 0, cells, ones, selected, 10.0, 1.0)
    listed, listed_gamma, n_listed, selected_gamma = _circles.plane_cells(
        fixed, axis, gamma, coef, cross, 0, cells, ones, selected, 10.0, 1.0)
    arcs = np.zeros((3, _circles.max_arcs(), 2))
    counts = np.ones(3, dtype=np.int64)
    listed[0, 0, 0], n_listed[0, 0] = 25, max(n_listed[0, 0], 1)
    with pytest.raises(ValueError, match="outside the 20"):
        _circles.step_arcs_listed(arcs, counts, fixed, axis, listed, listed_gamma, n_listed, selected_gamma,
                                  gamma, coef, cross, 0, cells, ones, selected)
    with pytest.raises(ValueError, match="as plane_cells returns them"):
        _circles.step_arcs_listed(arcs, counts, fixed, axis, listed[:2], listed_gamma, n_listed, selected_gamma,
                                  gamma, coef, cross, 0, cells, ones, selected)


def test_the_screen_drops_only_circles_that_cannot_change_the_ratio(monkeypatch):
    # Three motifs at k = 6 (more competing cells than the screen's leading ones): the screen drops
    # circles (it has work to save), only circles whose mass is below its cut, and leaves the others'
    # masses bit for bit; the fit's p-values and errors are those computed without it.
    from seism_stats.stats import circle_tests
    from seism_stats.stats.circle_tests import DirectionLaw, screen_cut
    monkeypatch.setattr(circle_tests, "SCREEN_MIN_CELLS", 0)  # k = 6 is below the size where it runs by default
    data = simulate_dataset(300, 50, consensus="GATTAC", beta=0.0, fraction=0.4, random_state=2)
    features, selection, basis, order = _fit_parts(data.sequences, data.y, 6, 3)
    rng = np.random.default_rng(4)
    dropped = 0
    for hypothesis in ("motif", "global"):
        tests = CircleTests(features, selection, basis, hypothesis)
        assert tests.steps[0][0].size > 1 + circle_tests.LEADING_CELLS
        for axis in tests.axes:
            rows = DirectionLaw(tests, axis, np.zeros((tests.n, 0)), order).draw(rng, 64)
            full_den, full_num = tests.log_masses(axis, rows)
            cut = screen_cut(tests.log_masses(axis, tests.direction_terms(axis.direction))[1][0], 1000)
            den, num = tests.log_masses(axis, rows, cut=cut)
            kept = np.isfinite(den)
            np.testing.assert_array_equal(den[kept], full_den[kept])
            np.testing.assert_array_equal(num[kept], full_num[kept])
            assert np.all(full_den[~kept] < cut)
            dropped += int(np.sum(~kept & np.isfinite(full_den)))
    assert dropped > 20
    fits = []
    for screened in (True, False):
        if not screened:  # neither the estimate's circles nor the pilots
            monkeypatch.setattr(circle_tests, "screen_cut", lambda *args: None)
            monkeypatch.setattr(circle_tests, "SCREEN_MARGIN", np.inf)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = selective_inference(data.sequences, data.y, k=6, n_motifs=3, n_samples=200, random_state=1,
                                         hypothesis="both")
        fits.append(np.r_[result.pvalues, result.pvalues_se, result.pvalues_global, result.settings["circle_ess"],
                          result.settings["circle_neighbours"], result.settings["circle_global_neighbours"]])
    np.testing.assert_array_equal(fits[0], fits[1])


def test_the_sliver_exit_drops_only_what_lies_where_the_sine_is_small():
    # step_arcs_rows(sliver=s) empties a side once its arcs lie where |sin w| < s: what it drops lies
    # there, and it drops something (the arcs differ on some rows); sliver 0 gives step_arcs' arcs.
    rng = np.random.default_rng(8)
    fixed, axis, gamma, selected = _plane_lines(rng, 200, 300)
    n_rows, n_cells = gamma.shape
    cells, coef = np.arange(n_cells, dtype=np.int64), np.zeros((n_rows, 1))
    cross, ones = np.zeros((1, n_cells)), np.ones(n_cells)

    def run(sliver):
        arcs = np.zeros((n_rows, _circles.max_arcs(), 2))
        arcs[:, 0, 1] = 2.0 * np.pi
        counts = np.ones(n_rows, dtype=np.int64)
        _circles.step_arcs_rows(arcs, counts, fixed, axis, 3.0 * gamma, coef, cross, 0, cells, ones, selected, 2,
                                sliver)
        return arcs, counts

    reference = np.zeros((n_rows, _circles.max_arcs(), 2))
    reference[:, 0, 1] = 2.0 * np.pi
    reference_counts = np.ones(n_rows, dtype=np.int64)
    _circles.step_arcs(reference, reference_counts, fixed, axis, 3.0 * gamma, selected, 2)
    full, full_counts = run(0.0)
    np.testing.assert_array_equal(full_counts, reference_counts)
    np.testing.assert_array_equal(full, reference)
    s = 0.6
    cut, cut_counts = run(s)
    differ = 0
    grid = np.linspace(0.0, 2.0 * np.pi, 20001)
    for r in range(n_rows):
        inside = lambda arcs, count: np.any((arcs[:count, :1] <= grid) & (grid <= arcs[:count, 1:]), axis=0)  # noqa: E731
        kept, every = inside(cut[r], cut_counts[r]), inside(full[r], full_counts[r])
        assert not np.any(kept & ~every)
        assert np.all(np.abs(np.sin(grid[every & ~kept])) < s)
        differ += int(np.any(every & ~kept))
    assert differ > 5


def test_sliver_sine_bounds_the_mass_where_the_sine_is_small():
    # {|sin w| < s} is {|t| > sqrt(df) sqrt(1 - s^2) / s}: its mass is I_{s^2}(df / 2, 1 / 2) exactly.
    from scipy import special

    from seism_stats.stats.circle_tests import sliver_sine
    checked = 0
    for df in (3, 30, 300, 3000, 100_000):
        for cut in (-5.0, -40.0, -200.0, -600.0, -689.0):
            s = sliver_sine(cut, df)
            if s > 0:
                mass = special.betainc(df / 2.0, 0.5, s * s)
                assert 0.5 * np.exp(cut) <= mass <= np.exp(cut)
                checked += 1
        assert sliver_sine(-720.0, df) == 0.0  # subnormal masses: off
    assert checked >= 20


@pytest.mark.parametrize("dim, esses, expected", [
    (800, [0.06], 0),                             # passes the light bar at once
    (800, [0.03, 0.06], 4),                       # between the bars with a light level next: passed over
    (800, [0.03, 0.03, 0.03, 0.03], 32),          # the last light level (the next is heavy) has the 1% bar
    (800, [0.005, 0.005, 0.005, 0.005, 0.02], 64),  # a heavy level, 1% bar
    (800, [0.03, 0.005, 0.005, 0.005, 0.005], -1),  # not monotone: nothing passes later, the observed direction
    (80, [0.03], 0),                              # level 4 is heavy at this dimension: the 1% bar, as before
])
def test_the_level_rule_stops_at_the_first_level_that_passes_its_bar(monkeypatch, dim, esses, expected):
    from seism_stats.stats import circle_tests
    ladder, sizes = (0, 4, 16, 32, 64), (0, 12, 48, 96, 192)  # V's dimension per level (three motifs)

    class Tests:
        n = dim + 2

        def conditioning_space(self, axis, count, features=None):
            return np.zeros((1, sizes[ladder.index(count)]))

    class Axis:
        off = np.zeros((dim + 2, 2))

    scripted = iter(esses)
    monkeypatch.setattr(circle_tests, "NEIGHBOUR_LADDER", ladder)
    monkeypatch.setattr(circle_tests, "DirectionLaw", lambda tests, axis, space, order: space.shape[1])
    monkeypatch.setattr(circle_tests, "_log_masses_of_law", lambda *args, **kwargs: (np.zeros(1), None))
    monkeypatch.setattr(circle_tests, "log_weight_ess", lambda log_den: next(scripted) * circle_tests.PILOT)
    law, level, drawn, rate = circle_tests.choose_level(Tests(), Axis(), None)
    assert level == expected
    assert np.isnan(rate) if expected == -1 else rate == pytest.approx(esses[ladder.index(expected)])
    assert drawn == circle_tests.PILOT * (len(esses) if expected == -1 else ladder.index(expected) + 1)


@pytest.mark.parametrize("rows, first", [(6, 3), (7, 4), (5, 5), (4, 2)])
def test_mirrored_affine_rows_are_numpys_scaled_rows_and_their_mirrors(rows, first):
    # The one-pass kernel of DirectionLaw.draw: shift + scale t for the drawn rows and shift - scale t for
    # the mirrors, the bits of NumPy's in-place product then sum on the rows and their negations.
    rng = np.random.default_rng(rows)
    terms = rng.standard_normal((first, 50))
    shift, scale = rng.standard_normal(50), 0.37
    expected = np.vstack([terms, -terms[:rows - first]])
    unshifted = expected.copy()
    expected *= scale
    expected += shift
    out = np.zeros((rows, 50))
    out[:first] = terms
    _circles.mirrored_affine_rows(out, first, scale, shift, 2)
    assert np.array_equal(out, expected)
    out = np.zeros((rows, 50))
    out[:first] = terms
    _circles.mirrored_affine_rows(out, first, 1.0, None, 2)  # V empty: the rows kept, the mirrors negated
    assert np.array_equal(out, unshifted)
    with pytest.raises(ValueError, match="mirrors"):
        _circles.mirrored_affine_rows(np.zeros((rows, 50)), (rows - 1) // 2, scale, shift)  # more mirrors than rows
    with pytest.raises(ValueError, match="shift"):
        _circles.mirrored_affine_rows(out, first, scale, shift[1:])


@pytest.mark.parametrize("n", [0, 1, 2, 255, 256])
def test_chunk_pre_pass_lists_the_cells_the_scalar_test_lists(n):
    # The SSE2 pre-pass of _row_step (two cells at a time, and the scalar loop for an odd last cell) lists
    # exactly the cells failing both skips of a side, computed in NumPy with the kernel's operation order,
    # including cells on the tests' boundaries, zero and negative floors, and a NaN line (whose comparisons
    # are all false, so that it is passed over, as by the scalar test before the SSE2 lanes).
    rng = np.random.default_rng(n)
    alpha, beta, gamma = (rng.standard_normal(n) for _ in range(3))
    if n >= 4:
        alpha[0], beta[0], gamma[0] = 0.5, 0.3, 0.4  # room^2 == r2 at floor 1.0: exactly on the circle's skip
        alpha[1] = np.nan
        beta[2] = gamma[2] = 0.0
    for sides in (np.array([1.0, 0.6, 0.8, 0.3, 0.2, -0.6, 0.8, 0.05]),
                  np.array([0.0, 1.0, 0.0, 0.0, -1.0, 0.0, 1.0, 2.0]),
                  np.array([np.inf, 1.0, 0.0, 0.0, np.inf, 1.0, 0.0, 0.0])):
        def needs(floor, cm, sm, spread):
            with np.errstate(invalid="ignore"):
                r2 = beta * beta + gamma * gamma
                room = floor - np.abs(alpha)
                centre = alpha + beta * cm + gamma * sm
                hull_room = floor - np.abs(centre)
                return ((room < 0) | (room * room < r2)) & ((hull_room < 0) | (hull_room * hull_room < spread * r2))
        expected = np.flatnonzero(needs(*sides[:4]) | needs(*sides[4:]))
        assert np.array_equal(_circles.chunk_needs(alpha, beta, gamma, sides), expected)
    with pytest.raises(ValueError, match="sides"):
        _circles.chunk_needs(alpha, beta, gamma, np.zeros(7))


def test_an_interval_end_where_the_pivot_is_undefined_errs_wide():
    # A very thin event (31 motifs of a 32-cell grid) left G(b) NaN at values the root finder tried
    # (the observation on its own event's boundary, in rounding), and scipy's brentq raised "the
    # function value is NaN". Undefined values now count as inside C: the end is the first defined
    # value outside them (not an interpolation across them, which could be too narrow), while an end
    # with no undefined value near it is the root itself.
    from types import SimpleNamespace

    from scipy import special

    from seism_stats.stats.circle_intervals import circle_pivot

    estimate, bse = 1.0, 0.5

    class Family:
        axis, n_draws = SimpleNamespace(df=20), 10

        def span(self, reach):
            pass

        def evaluate(self, b):  # logit G decreasing through the 2.5% level at estimate + 2.15 bse
            if estimate + 2.01 * bse < b < estimate + 3.99 * bse:
                return np.nan, np.nan
            return -1.7 * (b - estimate) / bse, 0.01

    pivot = circle_pivot(Family(), estimate, bse)
    low, high = pivot.interval(0.05)
    assert estimate + 3.99 * bse <= high <= estimate + 4 * bse  # past every undefined value
    root = estimate + float(special.logit(0.025)) / 1.7 * bse  # the lower end: the root, where G is defined
    assert abs(low - root) < 0.01 * bse
    assert np.isnan(pivot.log_odds).any()  # the undefined values tried are kept as such
