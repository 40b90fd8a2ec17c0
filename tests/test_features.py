"""Fast scoring (Kronecker mode products) against direct brute-force computation."""

import numpy as np
import pytest

from seism_stats.features.grid import DenseFeatures, make_features, strand_mirror, transposed_chunks
from seism_stats.features.kmers import kmer_count_matrix, kmer_digits, kmer_to_string, string_to_kmer
from seism_stats.io.sequences import encode_sequences


def brute_force_features(sequences, k, lam, pooling="sum"):
    """phi_z(x) = pool_l exp(-lam * Hamming(x_l, z)), windows with N skipped, by explicit loops."""
    grid = ["".join("ACGT"[d] for d in row) for row in kmer_digits(np.arange(4**k), k)]
    out = np.zeros((len(sequences), 4**k))
    for i, s in enumerate(sequences):
        s = s.upper()
        windows = [s[l:l + k] for l in range(len(s) - k + 1) if set(s[l:l + k]) <= set("ACGT")]
        for z, kmer in enumerate(grid):
            values = [np.exp(-lam * sum(a != b for a, b in zip(w, kmer))) for w in windows]
            if values:
                out[i, z] = sum(values) if pooling == "sum" else max(values)
    return out


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("lam", [0.3, 1.0, 2.5])
def test_kronecker_matches_brute_force(random_sequences, k, lam, rng):
    counts = kmer_count_matrix(encode_sequences(random_sequences), k)
    fast = make_features(counts, k, lam, "sum")
    expected = brute_force_features(random_sequences, k, lam)
    np.testing.assert_allclose(fast.dense(), expected, rtol=0, atol=1e-10)
    weights = rng.standard_normal((3, len(random_sequences)))
    np.testing.assert_allclose(fast.project(weights), weights @ expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.sq_norms(), (expected**2).sum(axis=0), rtol=1e-12, atol=1e-10)
    cell = int(rng.integers(0, 4**k))
    np.testing.assert_allclose(fast.column(cell), expected[:, cell], atol=1e-10)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_max_pooling_matches_brute_force(random_sequences, k):
    counts = kmer_count_matrix(encode_sequences(random_sequences), k)
    fast = make_features(counts, k, 0.8, "max")
    assert isinstance(fast, DenseFeatures)
    np.testing.assert_allclose(fast.matrix, brute_force_features(random_sequences, k, 0.8, "max"),
                               rtol=0, atol=1e-10)


def test_ambiguous_letters_contribute_zero():
    counts = kmer_count_matrix(encode_sequences(["ACGNACG", "acgtacg"]), 3)
    features = make_features(counts, 3, 50.0)  # nearly exact-match counting
    acg = string_to_kmer("ACG")
    column = features.column(acg)
    np.testing.assert_allclose(column, [2.0, 2.0], atol=1e-12)
    assert counts[[0], :].sum() == 2  # windows CGN, GNA, NAC are not counted


def test_threads_do_not_change_results(random_sequences, rng):
    counts = kmer_count_matrix(encode_sequences(random_sequences), 4)
    weights = rng.standard_normal((5, len(random_sequences)))
    one = make_features(counts, 4, 1.0, n_threads=1)
    two = make_features(counts, 4, 1.0, n_threads=2)
    assert np.array_equal(one.project(weights), two.project(weights))
    assert np.array_equal(one.sq_norms(), two.sq_norms())


def test_kmer_text_round_trip():
    for kmer in ["A", "T", "GATTACA", "CCGGTTAA"]:
        assert kmer_to_string(string_to_kmer(kmer), len(kmer)) == kmer


def reverse_complement(s):
    return s.translate(str.maketrans("ACGTN", "TGCAN"))[::-1]


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("pooling", ["sum", "max"])
def test_reverse_complement_grid_matches_brute_force(random_sequences, k, pooling, rng):
    from seism_stats.features.kmers import canonical_mask, reverse_complement_index

    counts = kmer_count_matrix(encode_sequences(random_sequences), k)
    merged = make_features(counts, k, 0.7, pooling, revcomp=True)
    forward = brute_force_features(random_sequences, k, 0.7, pooling)
    backward = brute_force_features([reverse_complement(s) for s in random_sequences], k, 0.7, pooling)
    # Scanning both strands: sum pooling adds the strands, max pooling takes the larger.
    expected = forward + backward if pooling == "sum" else np.maximum(forward, backward)
    dense = merged.dense() if pooling == "sum" else merged.matrix
    np.testing.assert_allclose(dense, expected, rtol=0, atol=1e-10)
    rc = reverse_complement_index(k)
    np.testing.assert_allclose(dense, dense[:, rc], atol=1e-12)  # one cell per {z, rc(z)}
    mask = canonical_mask(k)
    palindromes = int((rc == np.arange(4**k)).sum())
    assert mask.sum() == (4**k + palindromes) // 2
    assert np.array_equal(merged.grid_mask, mask)
    if pooling == "sum":
        weights = rng.standard_normal((2, len(random_sequences)))
        np.testing.assert_allclose(merged.project(weights), weights @ expected, atol=1e-10)


@pytest.mark.parametrize("k", [4, 7])  # k = 7: the split's part copied over the strand mirror too
def test_one_norm_pass_serves_the_split(k):
    from simulations.data import simulate_dataset
    data = simulate_dataset(200, 30, random_state=2)
    counts = kmer_count_matrix(encode_sequences(data.sequences), k)
    rows = np.sort(np.random.default_rng(1).permutation(200)[:100])
    shared = make_features(counts, k, 1.0, revcomp=True)
    shared.share_norms_with(rows)
    alone = make_features(counts, k, 1.0, revcomp=True)
    assert np.array_equal(shared.sq_norms(), alone.sq_norms())
    assert np.array_equal(shared.subset(rows).sq_norms(), alone.subset(rows).sq_norms())
    assert shared.subset(rows)._sq_norms is not None  # reused, not recomputed


@pytest.mark.parametrize("k", [4, 7])
def test_norm_pass_in_ranges_gives_the_same_sums(k):
    # The progress bar cuts the pass over the sequences into ranges; the sums must be bit for
    # bit those of one pass (and the split's part too), whatever the ranges and the block.
    from seism_stats.features import _kron
    from simulations.data import simulate_dataset
    data = simulate_dataset(150, 30, random_state=3)
    features = make_features(kmer_count_matrix(encode_sequences(data.sequences), k), k, 1.0)
    args = (*features._csr(), k, 1.0 - features.decay, features.decay, 1)
    flags = (np.arange(150) % 3 == 0).astype(np.uint8)
    whole, whole_part = _kron.feature_sq_norms(*args, 16, flags)
    for bounds, block in (((0, 32, 64, 96, 128, 150), 16), ((0, 7, 30, 31, 101, 150), 5)):
        sums, part = np.zeros(4**k), np.zeros(4**k)
        for first, last in zip(bounds[:-1], bounds[1:]):
            _kron.feature_sq_norms(*args, block, flags, first, last, sums, part)
        assert np.array_equal(sums, whole) and np.array_equal(part, whole_part)
    features.progress = True  # the public path, with its bar, gives the same sums
    assert np.array_equal(features.sq_norms(), _kron.feature_sq_norms(*args, 64))
    with pytest.raises(ValueError, match="outside"):
        _kron.feature_sq_norms(*args, 16, None, 100, 50)


@pytest.mark.parametrize("k", [3, 5, 6, 8])
def test_sparse_row_transform_is_bit_identical_to_the_dense_one(k):
    # Rows of Phi visit only their k-mers' blocks in the first mode products; a row
    # whose indices are not sorted takes the dense path. Both must agree bit for bit,
    # also for a sequence with no k-mer at all.
    import scipy.sparse as sp

    from seism_stats.features import _kron
    from simulations.data import simulate_dataset
    data = simulate_dataset(40, 25, random_state=4)
    sequences = list(data.sequences) + ["N" * 25]
    counts = kmer_count_matrix(encode_sequences(sequences), k)
    assert counts.has_sorted_indices
    scrambled = counts.copy()
    for i in range(scrambled.shape[0]):  # reverse each row's entries: dense path
        lo, hi = scrambled.indptr[i], scrambled.indptr[i + 1]
        scrambled.indices[lo:hi] = scrambled.indices[lo:hi][::-1].copy()
        scrambled.data[lo:hi] = scrambled.data[lo:hi][::-1].copy()
    assert isinstance(scrambled, sp.csr_array) and not scrambled.has_sorted_indices
    n = counts.shape[0]
    rows = [_kron.feature_rows(m.indptr, m.indices, m.data, 0, n, k, 0.6, 0.4) for m in (counts, scrambled)]
    assert np.array_equal(rows[0], rows[1])
    assert not rows[0][-1].any() and rows[0][:-1].all()
    norms = [_kron.feature_sq_norms(m.indptr, m.indices, m.data, k, 0.6, 0.4, 2, 8) for m in (counts, scrambled)]
    assert np.array_equal(norms[0], norms[1])
    np.testing.assert_allclose(norms[0], (rows[0] ** 2).sum(axis=0), rtol=1e-13)


@pytest.mark.parametrize("k", [2, 5, 6, 7, 8])
def test_norm_tiles_and_their_strand_mirror(k):
    # The norms are summed tile by tile (cells sharing their end letters); with merged strands
    # only the tiles whose code is at most its reverse complement's are computed and the other
    # cells copied from their reverse complements. Against the full pass and dense rows: the
    # same norms (to rounding), the copies exact (k >= 6), the same bits with 1 or 2 threads,
    # and the tiles partition the grid.
    from seism_stats.features import _kron
    from seism_stats.features.grid import norm_mirror
    from seism_stats.features.kmers import reverse_complement_index
    from simulations.data import simulate_dataset
    outer, modes = _kron.norm_tiles(k)
    assert 2 * outer + modes == k
    cells = _kron.norm_tile_cells(k, np.arange(4 ** (2 * outer)))
    assert np.array_equal(np.sort(cells), np.arange(4**k))
    data = simulate_dataset(70, 40, random_state=k)
    features = make_features(kmer_count_matrix(encode_sequences(data.sequences), k), k, 0.8, revcomp=True)
    args = (*features._csr(), k, 1.0 - features.decay, features.decay)
    full = _kron.feature_sq_norms(*args, 1, 16)
    assert np.array_equal(full, _kron.feature_sq_norms(*args, 2, 16))
    np.testing.assert_allclose(full, (features.dense() ** 2).sum(axis=0), rtol=1e-13)
    mirrored = features.sq_norms()
    rc = reverse_complement_index(k)
    np.testing.assert_allclose(mirrored, full, rtol=1e-13)
    tiles, copied, sources = norm_mirror(k)
    if outer:  # one tile's sums copied from its pair's (tiles paired with themselves are computed whole)
        assert np.array_equal(sources, rc[copied]) and np.array_equal(mirrored[copied], mirrored[sources])
        assert copied.size == (4 ** (2 * outer) - 4**outer) // 2 * 4**modes  # every tile but the palindromes, halved
        assert not np.isin(sources, copied).any()
        partial = _kron.feature_sq_norms(*args, 2, 16, None, 0, -1, np.zeros(4**k), None, tiles)
        assert (partial[copied] == 0).all() and np.array_equal(np.delete(partial, copied), np.delete(full, copied))
    else:
        assert tiles is None and copied is None and sources is None
    with pytest.raises(ValueError, match="tile codes must lie"):
        _kron.feature_sq_norms(*args, 1, 16, None, 0, -1, None, None, np.array([4 ** (2 * outer)]))
    with pytest.raises(ValueError, match="must not repeat"):
        _kron.feature_sq_norms(*args, 1, 16, None, 0, -1, None, None, np.array([0, 0]))
    assert np.array_equal(_kron.feature_sq_norms(*args, 0, 16), full)  # 0 threads: one, not all


@pytest.mark.parametrize("k", [9, 10])
@pytest.mark.parametrize("revcomp", [False, True])
def test_norms_of_large_grids_match_their_columns(k, revcomp):
    # k = 9 (two end letters each side, tiles of 4^5) and 10 (three, 4^4): a sample of cells'
    # norms, the mirrored ones among them, against their feature columns.
    from simulations.data import simulate_dataset
    data = simulate_dataset(30, 40, random_state=k)
    features = make_features(kmer_count_matrix(encode_sequences(data.sequences), k), k, 0.8, revcomp=revcomp)
    cells = np.random.default_rng(k).choice(4**k, 200, replace=False)
    expected = np.array([np.sum(features.column(int(c)) ** 2) for c in cells])
    np.testing.assert_allclose(features.sq_norms()[cells], expected, rtol=1e-13)


@pytest.mark.parametrize("k", [3, 8])
def test_gather_from_the_transpose_equals_the_scatter(k, rng):
    # From k = 8 the transform gathers from C^T; the sums are the scatter's, in the same
    # order, so both give the same bits (also into a given output array, and with threads).
    # With one chunk (chunk 60 or 1000 here) the gather runs tile by tile with each tile's
    # first mode products right after its sums: the same operations per cell.
    from seism_stats.features import _kron
    from simulations.data import simulate_dataset
    data = simulate_dataset(60, 30, random_state=5)
    features = make_features(kmer_count_matrix(encode_sequences(data.sequences), k), k, 1.0, revcomp=True)
    weights = rng.standard_normal((11, 60))
    args = (weights, *features._csr(), k, 1.0 - features.decay, features.decay)
    scattered = _kron.project_rows(*args, 1)
    gathered = _kron.project_rows(*args, 2, None, *features._csr_transposed())
    assert np.array_equal(scattered, gathered)
    for chunk in (7, 60, 1000):  # C^T by chunks of sequences: partial sums carried over in order
        chunked = _kron.project_rows(*args, 2, None, *transposed_chunks(features.counts, chunk))
        assert np.array_equal(scattered, chunked)
        # Strands merged: only the canonical cells' columns stored, the others' sums copied.
        halved = transposed_chunks(features.counts, chunk, strand_mirror(k))
        assert halved[1].shape[0] < 0.6 * features.counts.nnz
        assert np.array_equal(scattered, _kron.project_rows(*args, 2, None, *halved))
        # One thread: a full block of 8 rows (sums kept in registers) and a block of 3.
        assert np.array_equal(scattered, _kron.project_rows(*args, 1, None, *halved))
        assert np.array_equal(scattered, _kron.project_rows(*args, 1, None, *transposed_chunks(features.counts, chunk)))
    with pytest.raises(ValueError, match="mirror"):
        transposed_chunks(features.counts, 7, np.arange(4**k)[::-1].copy())  # maps cells to cells not stored
    with pytest.raises(ValueError, match="mirror"):
        _kron.project_rows(*args, 2, None, *transposed_chunks(features.counts, 7)[:4], np.arange(4**k - 1))
    out = np.empty_like(scattered)
    assert features.project(weights, out=out) is out and np.array_equal(out, scattered)
    assert _kron.uses_gather(k) == (k >= 8)
    with pytest.raises(ValueError, match="expected"):
        features.project(weights, out=np.empty((3, 4**k)))


@pytest.mark.parametrize("k", [1, 2, 5, 8])
def test_merged_strands_are_scipys_sum_of_the_counts_and_their_mirror(random_sequences, k):
    # merge_reverse_complements builds C + C[:, rc] row by row (_kmers.merge_strands): the same
    # CSR arrays as SciPy's sum in canonical form, empty rows and palindromes included.
    import scipy.sparse as sp

    from seism_stats.features import _kmers
    from seism_stats.features.kmers import merge_reverse_complements, reverse_complement_index
    sequences = list(random_sequences) + ["ACGT" * k, "A" * k, "GATC" * k]  # palindromic k-mers, one k-mer
    counts = kmer_count_matrix(encode_sequences(sequences), k)
    merged = merge_reverse_complements(counts, k)
    rc = reverse_complement_index(k)
    reference = (counts + counts[:, rc]).tocsr()
    reference.sum_duplicates()
    assert merged.has_canonical_format and merged.indices.dtype == np.int64 and merged.indptr.dtype == np.int64
    np.testing.assert_array_equal(merged.indptr, reference.indptr)
    np.testing.assert_array_equal(merged.indices, reference.indices)
    np.testing.assert_array_equal(merged.data, reference.data)
    # a matrix with repeated counts and an empty last row, against the kernel directly
    rng = np.random.default_rng(3)
    dense = rng.integers(0, 3, size=(6, 4**k)) * (rng.random((6, 4**k)) < 0.3)
    dense[-1] = 0
    matrix = sp.csr_array(dense.astype(np.float64))
    indptr, indices, data = _kmers.merge_strands(matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64),
                                                 matrix.data, rc)
    np.testing.assert_array_equal(sp.csr_array((data, indices, indptr), shape=dense.shape).toarray(),
                                  dense + dense[:, rc])


def test_merge_strands_rejects_arrays_that_are_not_one_matrix():
    from seism_stats.features import _kmers
    mirror = np.arange(4, dtype=np.int64)[::-1].copy()
    ok = (np.array([0, 1], dtype=np.int64), np.array([2], dtype=np.int64), np.array([1.0]))
    with pytest.raises(ValueError, match="non-zeros by indptr"):
        _kmers.merge_strands(ok[0], ok[1], np.array([1.0, 2.0]), mirror)
    with pytest.raises(ValueError, match="outside the 4 columns"):
        _kmers.merge_strands(ok[0], np.array([7], dtype=np.int64), ok[2], mirror)
    with pytest.raises(ValueError, match="must not decrease"):
        _kmers.merge_strands(np.array([0, 1, 0, 1], dtype=np.int64), ok[1], ok[2], mirror)


def test_transpose_compact_is_scipys_transpose_and_compact_csr(rng):
    import scipy.sparse as sp

    from seism_stats.features import _kmers
    from seism_stats.features.kmers import compact_csr
    dense = rng.integers(0, 4, size=(9, 16)) * (rng.random((9, 16)) < 0.4)
    dense[3] = 0  # an empty row
    dense[:, 5] = 0  # an empty column
    matrix = sp.csr_array(dense.astype(np.float64))
    arrays = (matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64), matrix.data)
    keep = (np.arange(16) % 3 != 0).astype(np.uint8)
    for first, last, flags in ((0, 9, None), (2, 7, None), (4, 9, keep), (5, 5, None)):
        got = _kmers.transpose_compact(*arrays, 16, first, last, flags)
        part = dense[first:last] * (1 if flags is None else flags[None, :])
        reference = sp.csr_array(part.astype(np.float64)).T.tocsr()
        reference.sort_indices()
        want = compact_csr(reference)
        assert len(got) == 3
        for a, b in zip(got, want):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="whole numbers below 2"):
        _kmers.transpose_compact(arrays[0], arrays[1], arrays[2] + 0.1, 16)
    with pytest.raises(ValueError, match="outside the 9 rows"):
        _kmers.transpose_compact(*arrays, 16, 4, 12)
    with pytest.raises(ValueError, match="outside the 8 columns"):
        _kmers.transpose_compact(*arrays, 8)
    with pytest.raises(ValueError, match="keep has 3 flags"):
        _kmers.transpose_compact(*arrays, 16, 0, 9, np.ones(3, dtype=np.uint8))


def test_several_lengths_project_into_one_output_and_check_its_shape():
    # UnionFeatures.project writes each length's block into the output as it comes; the numerators are
    # each length's own, side by side, and an output of the wrong shape is refused (not left unfilled).
    from seism_stats.features.grid import grid_features
    rng = np.random.default_rng(0)
    encoded = encode_sequences(["".join(rng.choice(list("ACGT"), 30)) for _ in range(40)])
    union = grid_features(encoded, [3, 4], 1.0, "sum", 1, revcomp=True)
    weights = rng.standard_normal((5, 40))
    parts = np.hstack([part.project(weights) for part in union.parts])
    assert np.array_equal(union.project(weights), parts)
    out = np.full((5, union.n_cells), np.nan)
    assert union.project(weights, out) is out and np.array_equal(out, parts)
    assert union.project(weights[0]).shape == (1, union.n_cells)
    with pytest.raises(ValueError, match="out must be"):
        union.project(weights, np.empty((5, union.n_cells + 1)))
