"""Greedy selection, the selection event, and motif refinement."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from seism_stats.features.grid import make_features
from seism_stats.inference.pipeline import selective_inference
from seism_stats.features.kmers import kmer_count_matrix, kmer_to_string
from seism_stats.io.sequences import encode_sequences
from seism_stats.selection.greedy import select_motifs
from seism_stats.selection.refinement import CountMatrix, WindowDesign, _score_and_gradient, refine_motif
from seism_stats.selection.replay import SelectionReplay
from seism_stats.utils.validation import check_covariates, residual_basis
from simulations.data import simulate_dataset


def brute_force_greedy(phi, y, covariates, q, grid=None):
    """Greedy selection with explicit least-squares projections on the dense features."""
    grid = np.ones(phi.shape[1], dtype=bool) if grid is None else grid
    selected = []
    for _ in range(q):
        design = np.column_stack([covariates] + [phi[:, c] for c in selected])
        project = lambda v: v - design @ np.linalg.lstsq(design, v, rcond=None)[0]
        r = project(y)
        scores = np.full(phi.shape[1], -np.inf)
        for z in range(phi.shape[1]):
            if z in selected or not grid[z]:
                continue
            f = project(phi[:, z])
            if f @ f > 1e-9 * (phi[:, z] @ phi[:, z]):
                scores[z] = (f @ r) ** 2 / (f @ f)
        selected.append(int(np.argmax(scores)))
    return selected


@pytest.mark.parametrize("pooling", ["sum", "max"])
@pytest.mark.parametrize("revcomp", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_selection_matches_brute_force(pooling, revcomp, seed):
    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list("ACGT"), 25)) for _ in range(40)]
    y = rng.standard_normal(40)
    x = rng.standard_normal(40)
    design = check_covariates(x, 40)
    features = make_features(kmer_count_matrix(encode_sequences(seqs), 3), 3, 0.9, pooling, revcomp=revcomp)
    phi = features.dense() if pooling == "sum" else features.matrix
    selection = select_motifs(features, y, residual_basis(design), 3)
    assert selection.cells.tolist() == brute_force_greedy(phi, y, design, 3, features.grid_mask)
    if revcomp:
        assert features.grid_mask[selection.cells].all()


def test_observed_response_is_in_its_event(planted_data):
    data = planted_data
    basis = residual_basis(check_covariates(None, len(data.y)))
    features = make_features(kmer_count_matrix(encode_sequences(data.sequences), 5), 5, 1.0)
    selection = select_motifs(features, data.y, basis, 2)
    accepted, stats = SelectionReplay(features, selection.event).check_points(selection.unit_residual)
    assert accepted.all()
    np.testing.assert_allclose(stats[0], selection.statistics)
    # The observed statistics are scores on the unit residual: fractions of explained variance.
    assert np.all((selection.statistics > 0) & (selection.statistics < 1))
    assert kmer_to_string(int(selection.cells[0]), 5) == "GATTA"


def test_a_different_response_leaves_the_event(planted_data):
    data = planted_data
    basis = residual_basis(check_covariates(None, len(data.y)))
    features = make_features(kmer_count_matrix(encode_sequences(data.sequences), 5), 5, 1.0)
    selection = select_motifs(features, data.y, basis, 1)
    flipped = -selection.unit_residual  # same scores: sign does not matter
    other = np.random.default_rng(3).standard_normal(len(data.y))
    other -= other.mean()
    accepted, _ = SelectionReplay(features, selection.event).check_points(
        np.vstack([flipped, other / np.linalg.norm(other)]))
    assert accepted.tolist() == [True, False]


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("shape", [(53, 40), (0, 5), (5, 0)])
def test_count_matrix_products_are_scipys_bit_for_bit(n_threads, shape):
    # The compact parallel products give SciPy's float64 sums exactly (same order, no fused
    # multiply-add): refinement's results do not depend on the kernel or the threads.
    rng = np.random.default_rng(0)
    size = 4000 if min(shape) else 0
    rows = np.concatenate([np.sort(rng.integers(0, 50, size // 2)), np.sort(rng.integers(0, 50, size // 2))])
    columns = rng.integers(0, 40, rows.size)  # rows 50-52 and some columns stay empty
    reference = sp.csr_array((np.ones(rows.size), (rows, columns)), shape=shape)
    compact = CountMatrix(reference, n_threads)
    assert (compact.to_scipy() != reference).nnz == 0
    g, h = rng.standard_normal(shape[1]), rng.standard_normal(shape[0])
    assert np.array_equal(compact.dot(g), reference @ g)
    assert np.array_equal(compact.rdot(h), reference.T @ h)
    with pytest.raises(ValueError, match=f"length {shape[1]}"):
        compact.dot(np.zeros(shape[1] + 1))


def test_count_matrix_refuses_counts_float32_cannot_hold():
    counts = sp.csr_array(np.array([[2.0**24 + 1, 0.0], [1.0, 0.5]]))
    with pytest.raises(ValueError, match="whole numbers below 2\\^24"):
        CountMatrix(counts)


@pytest.mark.parametrize("pooling", ["sum", "max"])
def test_refinement_gradient_and_ascent(planted_data, pooling):
    data = planted_data
    encoded = encode_sequences(data.sequences)
    basis = residual_basis(check_covariates(None, len(data.y)))
    features = make_features(kmer_count_matrix(encoded, 5), 5, 1.0, pooling)
    selection = select_motifs(features, data.y, basis, 1)
    design = WindowDesign(encoded, 5, pooling)
    residual = selection.unit_residual * selection.residual_norm
    theta = np.random.default_rng(0).standard_normal(20)
    value, grad, _ = _score_and_gradient(theta, design, 1.0, residual, basis)
    step = 1e-6
    numeric = [(_score_and_gradient(theta + step * e, design, 1.0, residual, basis)[0]
                - _score_and_gradient(theta - step * e, design, 1.0, residual, basis)[0]) / (2 * step)
               for e in np.eye(20)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)
    refined = refine_motif(design, 1.0, residual, basis, int(selection.cells[0]))
    # The one-hot filter reproduces the grid score; gradient ascent does not lose score.
    assert refined.start_score == pytest.approx(selection.scores[0], rel=1e-10)
    assert refined.score >= refined.start_score
    np.testing.assert_allclose(refined.ppm.sum(axis=1), 1.0)
    assert kmer_to_string(refined.refined_cell, 5) == "GATTA"


@pytest.mark.parametrize("revcomp, n, length, k", [(True, 300, 30, 6), (True, 50, 20, 8), (False, 50, 20, 8),
                                                   (True, 40, 60, 3)])
def test_window_design_from_the_grid_counts_is_the_counted_one(revcomp, n, length, k):
    # The fit's window design reuses the grid's counts (merged over strands with revcomp):
    # the same distinct k-mers and the same CSR arrays as counting the windows, so the same
    # refinement; absent k-mers (few sequences at k = 8) are dropped as when counting.
    from seism_stats.features.grid import grid_features, sum_pooled_counts
    encoded = encode_sequences(simulate_dataset(n, length, random_state=1).sequences)
    features = grid_features(encoded, [k, k + 1], 1.0, revcomp=revcomp)
    counted = WindowDesign(encoded, k, "sum", revcomp=revcomp)
    reused = WindowDesign(encoded, k, "sum", revcomp=revcomp, grid_counts=sum_pooled_counts(features, k))
    assert np.array_equal(counted.kmers, reused.kmers)
    for mine, theirs in zip(counted.counts._rows + counted.counts._columns,
                            reused.counts._rows + reused.counts._columns):
        assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs)
    assert sum_pooled_counts(grid_features(encoded, [k], 1.0, pooling="max"), k) is None
    with pytest.raises(ValueError, match="grid counts"):
        WindowDesign(encoded, k + 1, "sum", grid_counts=sum_pooled_counts(features, k))


def test_fewer_motifs_when_grid_is_exhausted():
    # k = 1 has 4 cells whose features sum to the sequence length: with an
    # intercept and equal lengths only 3 are linearly independent.
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 20)) for _ in range(30)]
    features = make_features(kmer_count_matrix(encode_sequences(seqs), 1), 1, 50.0)
    basis = residual_basis(check_covariates(None, 30))
    with pytest.warns(UserWarning, match="only 3 of 4 motifs"):
        selection = select_motifs(features, rng.standard_normal(30), basis, 4)
    assert selection.cells.shape == (3,)


def test_several_motif_lengths_select_the_best_cell_of_the_union():
    from seism_stats.inference.pipeline import selective_inference
    data = simulate_dataset(150, 40, consensus="GATTA", beta=2.0, random_state=7)
    union = selective_inference(data.sequences, data.y, k=[3, 5], method="naive", random_state=0)
    singles = [selective_inference(data.sequences, data.y, k=k, method="naive", random_state=0) for k in (3, 5)]
    best = max(singles, key=lambda r: r.selection.statistics[0])
    assert union.kmers == best.kmers == ["GATTA"]
    assert union.selection.statistics[0] == pytest.approx(best.selection.statistics[0], rel=1e-10)
    assert union.settings["k"] == [3, 5] and union.settings["n_cells"] == 32 + 512
    with pytest.raises(ValueError, match="k=9 is larger than sequence"):
        selective_inference(["ACGTACGT"] * 5, [1.0, 2.0, 0.5, 0.1, 3.0], k=[3, 9])


def test_union_of_lengths_gives_valid_pvalues():
    import warnings
    from scipy.stats import kstest
    from seism_stats.inference.pipeline import selective_inference
    pvalues = []
    for seed in range(120):
        data = simulate_dataset(60, 20, consensus="GAT", random_state=50_000 + seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = selective_inference(data.sequences, data.y, k=[2, 3], n_samples=60, burn_in=10, refine=False,
                                         random_state=seed, n_threads=1)
        pvalues.append(result.pvalues[0])
    assert kstest(pvalues, "uniform").pvalue > 0.01
    assert np.mean(np.array(pvalues) <= 0.05) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 120)


@pytest.mark.parametrize("k", [1, 3, 7, 8, 10, 12, 13, 16, 29, 31])  # 1 to 8 chunks of 4 letters, partial or not
def test_refinement_kernels_equal_the_vectorised_numpy(k, rng):
    # The kernel values are the exponentials of the per-letter terms' sums (as products of the
    # per-letter factors), and the letter sums those of np.bincount, up to rounding.
    from seism_stats.features import _kmers
    from seism_stats.features.kmers import kmer_digits
    kmers = np.unique(rng.integers(0, 4**k, 5000)).astype(np.int64)
    letters = kmer_digits(kmers, k)
    z = rng.random((k, 4))
    per_letter = -0.5 * 1.3 * (np.sum(z**2, axis=1)[:, None] + 1.0 - 2.0 * z)
    expected = np.exp(per_letter[np.arange(k)[None, :], letters].sum(axis=1))
    values = np.empty(kmers.shape[0])
    _kmers.kmer_products(kmers, np.exp(per_letter), values)
    np.testing.assert_allclose(values, expected, rtol=1e-13, atol=0)
    weights = rng.standard_normal(kmers.shape[0])
    sums = np.array([np.bincount(letters[:, p], weights=weights, minlength=4) for p in range(k)])
    np.testing.assert_allclose(_kmers.letter_sums(kmers, weights, k), sums, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError):
        _kmers.letter_sums(kmers, weights[1:], k)


@pytest.mark.parametrize("k", [3, 11])
def test_present_kmers_is_numpy_unique(k):
    # Counting over the 4^k k-mers (k <= COUNTED_K) and sorting (above) give np.unique's answer.
    from seism_stats.selection.refinement import present_kmers
    kmers = np.random.default_rng(k).integers(0, 4**k, size=5000) // 7 * 7
    values, inverse = present_kmers(kmers, k)
    expected_values, expected_inverse = np.unique(kmers, return_inverse=True)
    assert values.dtype == np.int64 and inverse.dtype == np.int64
    np.testing.assert_array_equal(values, expected_values)
    np.testing.assert_array_equal(inverse, expected_inverse)
    np.testing.assert_array_equal(values[inverse], kmers)


def test_refinement_stays_in_the_tested_cell():
    # A response made of GC content: the free filter drifted far from the tested k-mer (TATGAA became AACACG,
    # CGGGGC became CTAGTC), and the exported motif carried a p-value it is not about. Constrained to the cell,
    # it keeps the tested k-mer as its argmax and still raises the score.
    rng = np.random.default_rng(1)
    sequences = ["".join(rng.choice(list("ACGT"), 60, p=rng.dirichlet([5, 5, 5, 5]))) for _ in range(300)]
    y = np.array([(s.count("G") + s.count("C")) / len(s) for s in sequences])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = selective_inference(sequences, y, k=6, n_motifs=2, n_samples=50, random_state=0)
    table = result.motif_table()
    assert list(table["refined_kmer"]) == list(table["kmer"]) == ["TATGAA", "CGGGGC"]
    assert (table["refined_score"] > table["score"]).all()
    from seism_stats.features.kmers import kmer_digits, string_to_kmer
    from seism_stats.io.motif_files import site_counts
    from seism_stats.selection.refinement import MIN_LETTER_RATIO
    for refined, kmer in zip(result.refined, table["kmer"]):
        digits = kmer_digits(np.array([string_to_kmer(kmer)]), 6)[0]
        ppm = refined.ppm
        np.testing.assert_array_equal(np.argmax(ppm, axis=1), digits)
        others = np.where(np.eye(4, dtype=bool)[digits], 0.0, ppm)
        assert np.all(ppm[np.arange(6), digits] >= MIN_LETTER_RATIO * others.max(axis=1) * (1 - 1e-9))
        for nsites in (5, 20, 100):  # a JASPAR file's counts read back as the tested k-mer
            np.testing.assert_array_equal(np.argmax(site_counts(ppm, nsites), axis=1), digits)


def test_refinement_keeps_the_kmer_when_the_optimiser_does_worse(planted_data, monkeypatch):
    # L-BFGS can end below the grid k-mer's own score: the one-hot k-mer is kept, with its score.
    import scipy.optimize
    from seism_stats.selection import refinement
    data = planted_data
    encoded = encode_sequences(data.sequences)
    basis = residual_basis(check_covariates(None, len(data.y)))
    features = make_features(kmer_count_matrix(encoded, 5), 5, 1.0)
    selection = select_motifs(features, data.y, basis, 1)
    residual = selection.unit_residual * selection.residual_norm
    cell = int(selection.cells[0])

    class Poor:  # every other letter as likely as allowed (half the selected one): a flat, poor filter
        x = np.zeros(3 * 5)
        success = True

    monkeypatch.setattr(scipy.optimize, "minimize", lambda *args, **kwargs: Poor())
    refined = refinement.refine_motif(WindowDesign(encoded, 5), 1.0, residual, basis, cell)
    np.testing.assert_array_equal(refined.ppm, refinement.kmer_ppm(cell, 5))
    assert refined.score == refined.start_score
