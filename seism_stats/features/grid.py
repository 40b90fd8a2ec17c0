"""Motif features of every grid cell: phi_z(x) for all 4^k k-mers z (SPEC 2 and 7).

Two feature maps share one interface (``project``, ``sq_norms``, ``column``):

* :class:`KroneckerFeatures` (sum pooling, default) never forms the dense
  n x 4^k matrix: ``Phi^T u = K (C^T u)`` through k mode products.
* :class:`DenseFeatures` holds Phi explicitly. It is the exact path for max
  pooling (through a min-plus Hamming distance transform) and the naive baseline
  that the benchmark compares against.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from ..utils.validation import check_lam
from . import _kmers, _kron
from .kmers import (canonical_mask, csr_arrays, hamming_to_all, kmer_count_matrix, merge_reverse_complements,
                    reverse_complement_index, with_int64_indices)

#: The pass over the feature norms reports progress this many times.
NORM_PROGRESS_STEPS = 100
#: Sequences per pass of the norms' tiles (:func:`_kron.feature_sq_norms`: a tile's running sums are
#: read and written back once per pass).
NORM_BLOCK = 64
#: Dense feature matrices above this size are refused with a clear error.
DENSE_LIMIT_BYTES = 4 * 2**30


def kernel_decay(lam: float) -> float:
    """``e = exp(-lam)``: the kernel value per mismatching position."""
    lam = check_lam(lam)
    return float(np.exp(-lam))


class KroneckerFeatures:
    """Sum-pooled Gaussian-kernel features ``phi_z(x) = sum_l exp(-lam * H(x_l, z))``.

    Parameters
    ----------
    counts : scipy.sparse CSR array (n x 4^k)
        k-mer counts (:func:`seism_stats.features.kmers.kmer_count_matrix`).
    k : int
        Motif length.
    lam : float
        Kernel bandwidth, finite and positive; a large value (say 20) counts
        exact matches only.
    n_threads : int
        OpenMP threads for the kernels.
    grid_mask : bool array (4^k,), optional
        The cells in the grid (the canonical k-mers when strands are merged).
    strands_merged : bool
        Whether ``counts`` are merged over both strands
        (:func:`~seism_stats.features.kmers.merge_reverse_complements`), so that columns
        z and rc(z) are equal: the transform then gathers half of ``C^T``'s non-zeros (except
        where one chunk's tiled transform is faster, see :meth:`_csr_transposed`).
    """

    pooling = "sum"

    def __init__(self, counts: sp.csr_array, k: int, lam: float, n_threads: int = 1,
                 grid_mask: np.ndarray | None = None, strands_merged: bool = False):
        self.counts = counts
        self.grid_mask = grid_mask
        self.strands_merged = bool(strands_merged)
        self.k = int(k)
        self.lam = float(lam)
        self.decay = kernel_decay(lam)
        self.n_threads = int(n_threads)
        self._sq_norms: np.ndarray | None = None
        self.progress = False  # progress bar over the norm pass (set by selective_inference)
        self._shared_rows: np.ndarray | None = None  # rows whose norms the full pass also sums
        self._shared_norms: np.ndarray | None = None
        self._transposed: tuple | None = None  # C^T by chunks of sequences (built at the first transform)

    @property
    def n_sequences(self) -> int:
        return self.counts.shape[0]

    @property
    def n_cells(self) -> int:
        return 4**self.k

    def _csr(self):
        c = self.counts
        return c.indptr, c.indices, c.data

    def _csr_transposed(self):
        """``C^T`` by chunks of sequences for :meth:`project` from k = 8 (built once, see
        :func:`transposed_chunks`; chunks of :func:`_kron.gather_chunk` sequences)."""
        if self._transposed is None:
            chunk = _kron.gather_chunk()
            # Half the gather with merged strands, except where one chunk's tiled transform is
            # faster (from k = 9: 1.1-2x in one process at n = 1000-5000; at k = 8 the mirror
            # won 1.2-3x, and 1.8-2x with several chunks).
            tiled = self.n_sequences <= chunk and self.k > 8
            mirror = strand_mirror(self.k) if self.strands_merged and not tiled else None
            self._transposed = transposed_chunks(self.counts, chunk, mirror)
        return self._transposed

    def project(self, weights: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``out[r, z] = <phi_z, weights[r]>`` for every row of ``weights`` (R x n).

        ``out`` (R x G, C-contiguous float64) is filled in place when given.
        """
        weights = np.ascontiguousarray(np.atleast_2d(weights), dtype=np.float64)
        csr, kernel, transposed = self.transform_arrays()
        return _kron.project_rows(weights, *csr, *kernel, self.n_threads, out, *transposed)

    def transform_arrays(self) -> tuple[tuple, tuple, tuple]:
        """What the transform kernels take: C's CSR arrays, ``(k, diag, off)`` of ``K1 = diag I +
        off 1 1^T``, and ``C^T`` by chunks (from k = 8, see :func:`_kron.uses_gather`; else Nones)."""
        transposed = self._csr_transposed() if _kron.uses_gather(self.k) else (None, None, None, 0, None)
        return self._csr(), (self.k, 1.0 - self.decay, self.decay), transposed

    def share_norms_with(self, rows: np.ndarray) -> None:
        """Let the pass that computes :meth:`sq_norms` also sum the norms over ``rows``.

        :meth:`subset` on the same rows (the data split's selection part) then reuses
        them instead of a second pass over the sequences; both sums run in sequence
        order, so the numbers are the same as separate passes.
        """
        self._shared_rows = np.asarray(rows, dtype=np.int64)

    def sq_norms(self) -> np.ndarray:
        """``||phi_z||^2`` for every cell (computed once, without storing Phi).

        With ``progress`` set, a progress bar follows the pass over the sequences
        (shown once it has run for a couple of seconds; the sums are the same).
        """
        if self._sq_norms is None:
            n, block = self.n_sequences, NORM_BLOCK
            flags = None
            if self._shared_rows is not None:
                flags = np.zeros(n, dtype=np.uint8)
                flags[self._shared_rows] = 1
            sums = np.zeros(self.n_cells)
            part = np.zeros(self.n_cells if flags is not None else 1)
            tiles, copied, sources = norm_mirror(self.k) if self.strands_merged else (None, None, None)
            chunk = block * max(1, -(-n // (NORM_PROGRESS_STEPS * block)))  # whole blocks: same sums as one pass
            with tqdm(total=n, disable=not self.progress, delay=2.0, unit="seq",
                      desc=f"feature norms (k={self.k})") as bar:
                for first in range(0, n, chunk):
                    last = min(first + chunk, n)
                    _kron.feature_sq_norms(*self._csr(), self.k, 1.0 - self.decay, self.decay, self.n_threads,
                                           block, flags, first, last, sums, part, tiles)
                    bar.update(last - first)
            if copied is not None:
                sums[copied] = sums[sources]
                if flags is not None:
                    part[copied] = part[sources]
            self._sq_norms = sums
            if flags is not None:
                self._shared_norms = part
        return self._sq_norms

    def column(self, cell: int) -> np.ndarray:
        """Feature ``phi_cell`` of every sequence (length n)."""
        powers = self.decay ** np.arange(self.k + 1, dtype=np.float64)  # decay^h for every Hamming distance h
        weights = powers[hamming_to_all(cell, self.k)]
        return self.counts @ weights

    def subset(self, rows: np.ndarray) -> "KroneckerFeatures":
        """Features of the sequences at positions ``rows`` (for sample splitting)."""
        rows = np.asarray(rows, dtype=np.int64)
        counts = with_int64_indices(self.counts[rows].tocsr())
        part = KroneckerFeatures(counts, self.k, self.lam, self.n_threads, self.grid_mask, self.strands_merged)
        if self._shared_norms is not None and np.array_equal(rows, self._shared_rows):
            part._sq_norms = self._shared_norms
        return part

    def dense(self) -> np.ndarray:
        """The full n x 4^k matrix (small problems, tests and baselines only)."""
        _check_dense_size(self.n_sequences, self.n_cells)
        return _kron.feature_rows(*self._csr(), 0, self.n_sequences, self.k,
                                  1.0 - self.decay, self.decay, self.n_threads)


class DenseFeatures:
    """Features held as a dense n x 4^k matrix (max pooling, naive baseline).

    Parameters
    ----------
    matrix : ndarray (n x 4^k)
        ``matrix[i, z] = phi_z(x_i)``.
    k : int
        Motif length.
    lam : float
        Kernel bandwidth (kept for reporting).
    pooling : {"sum", "max"}
        How the matrix was pooled.
    """

    def __init__(self, matrix: np.ndarray, k: int, lam: float, pooling: str,
                 grid_mask: np.ndarray | None = None):
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float64)
        self.grid_mask = grid_mask
        self.k = int(k)
        self.lam = float(lam)
        self.pooling = pooling
        self.n_threads = 1
        self.progress = False  # the norms are one einsum: nothing to follow
        self._sq_norms = None

    @classmethod
    def max_pooling(cls, counts: sp.csr_array, k: int, lam: float, n_threads: int = 1):
        """``phi_z(x) = max_l exp(-lam * H(x_l, z))`` via a min-plus distance transform."""
        n = counts.shape[0]
        _check_dense_size(n, 4**k)
        distance = _kron.min_hamming_rows(counts.indptr, counts.indices, k, n_threads)
        decay = kernel_decay(lam)
        matrix = decay**distance
        matrix[distance > k] = 0.0  # sequences without any valid window
        return cls(matrix, k, lam, "max")

    @classmethod
    def from_kronecker(cls, features: KroneckerFeatures):
        """Materialise sum-pooled features (the naive dense baseline)."""
        return cls(features.dense(), features.k, features.lam, "sum", features.grid_mask)

    @property
    def n_sequences(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_cells(self) -> int:
        return self.matrix.shape[1]

    def project(self, weights: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``out[r, z] = <phi_z, weights[r]>`` (a dense matrix product; into ``out`` when given)."""
        weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
        if out is not None:
            return np.matmul(weights, self.matrix, out=out)
        return np.ascontiguousarray(weights @ self.matrix)

    def sq_norms(self) -> np.ndarray:
        if self._sq_norms is None:
            self._sq_norms = np.einsum("iz,iz->z", self.matrix, self.matrix)
        return self._sq_norms

    def column(self, cell: int) -> np.ndarray:
        return self.matrix[:, cell].copy()

    def share_norms_with(self, rows: np.ndarray) -> None:
        """Nothing to share: dense norms are one cheap product."""

    def subset(self, rows: np.ndarray) -> "DenseFeatures":
        """Features of the sequences at positions ``rows`` (for sample splitting)."""
        return DenseFeatures(self.matrix[np.asarray(rows, dtype=np.int64)], self.k, self.lam, self.pooling,
                             self.grid_mask)


def transposed_chunks(counts: sp.csr_array, chunk: int, mirror: np.ndarray | None = None) -> tuple:
    """``C^T`` of each chunk of ``chunk`` sequences, in the layout of ``_kron.project_rows``.

    Chunks keep the transform's gather in cache at large n. Returns ``(indptr,
    indices, data, chunk, mirror)``: one row of 4^k + 1 offsets per chunk, int32 sequence
    numbers within the chunk (increasing for each k-mer) and float32 counts
    (exact for whole counts below 2^24, checked).

    ``mirror`` (int64, one cell per cell) is for counts whose column z equals
    column ``mirror[z]`` (merged over both strands: ``mirror[z] = min(z, rc(z))``,
    :func:`strand_mirror`): only the cells with ``mirror[z] == z`` are stored, and
    the transform copies the others' sums (the same bits, half the gather's non-zeros). The
    mirror's values are checked here; the kernels check only its length.
    """
    n = counts.shape[0]
    stored = None
    if mirror is not None:
        mirror = np.ascontiguousarray(mirror, dtype=np.int64)
        cells = np.arange(counts.shape[1])
        if mirror.shape != cells.shape or mirror.min() < 0 or mirror.max() >= cells.shape[0] \
                or not np.array_equal(mirror[mirror], mirror):
            raise ValueError("the mirror of C^T must map each cell to a stored cell (one that maps to itself)")
        stored = mirror == cells
    indptr, indices, data, offset = [], [], [], 0
    arrays = csr_arrays(counts)
    for first in range(0, max(n, 1), chunk):
        # One counting sort per chunk (_kmers.transpose_compact): the arrays of SciPy's tocsc,
        # sort_indices and compact_csr, the unstored cells' entries left out.
        part_indptr, part_indices, part_data = _kmers.transpose_compact(*arrays, counts.shape[1], first,
                                                                        min(first + chunk, n), stored)
        indptr.append(part_indptr + offset)
        indices.append(part_indices)
        data.append(part_data)
        offset += part_indices.shape[0]
    return np.vstack(indptr), np.concatenate(indices), np.concatenate(data), int(chunk), mirror


def norm_mirror(k: int) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """The norms' tiles to compute with counts merged over both strands, the cells to copy and their sources.

    ``||phi_z|| = ||phi_rc(z)||`` there, and ``rc`` reverses a cell's letters and complements them,
    so it maps the tile of end letters ``(a, b)`` (:func:`_kron.norm_tiles`) onto the tile of
    ``(rc(b), rc(a))``, whose code is the reverse complement of the tile's code as a word of
    ``2 outer`` letters, and a cell's middle letters (its place in the tile) onto their reverse
    complement. The tiles with a code at most its reverse complement's are computed; each cell of
    the others is copied from its reverse complement, which lies in a computed tile.
    ``(None, None, None)`` when the tiles are the whole grid.
    """
    outer, modes = _kron.norm_tiles(k)
    if not outer:
        return None, None, None
    codes = np.arange(4 ** (2 * outer), dtype=np.int64)
    mirror = reverse_complement_index(2 * outer)
    copied = codes[codes > mirror]
    sources = _kron.norm_tile_cells(k, mirror[copied]).reshape(copied.size, 4**modes)
    return codes[codes <= mirror], _kron.norm_tile_cells(k, copied), sources[:, reverse_complement_index(modes)].ravel()


def strand_mirror(k: int) -> np.ndarray:
    """``min(z, rc(z))`` for every k-mer z: where counts merged over both strands repeat a column."""
    return np.minimum(np.arange(4**k, dtype=np.int64), reverse_complement_index(k))


def _check_dense_size(n: int, n_cells: int) -> None:
    size = 8 * n * n_cells
    if size > DENSE_LIMIT_BYTES:
        raise ValueError(
            f"a dense feature matrix of {n} sequences x {n_cells} cells needs "
            f"{size / 2**30:.1f} GiB (limit {DENSE_LIMIT_BYTES / 2**30:.0f} GiB): use sum "
            "pooling, a smaller k, or fewer sequences"
        )


def make_features(counts: sp.csr_array, k: int, lam: float, pooling: str = "sum",
                  n_threads: int = 1, revcomp: bool = False):
    """Build the feature map for a pooling mode (``"sum"`` or ``"max"``).

    With ``revcomp=True`` a k-mer and its reverse complement share one cell:
    the features are computed on both strands' counts (exact, see
    :func:`~seism_stats.features.kmers.merge_reverse_complements`) and only the
    canonical member of each pair stays in the grid (``grid_mask``).
    """
    grid_mask = None
    if revcomp:
        counts = merge_reverse_complements(counts, k)
        grid_mask = canonical_mask(k)
    if pooling == "sum":
        return KroneckerFeatures(counts, k, lam, n_threads, grid_mask, strands_merged=revcomp)
    if pooling == "max":
        features = DenseFeatures.max_pooling(counts, k, lam, n_threads)
        features.grid_mask = grid_mask
        return features
    raise ValueError(f"pooling must be 'sum' or 'max', got {pooling!r}")


def grid_size(features) -> int:
    """Number of cells in the grid (canonical k-mers only when reverse complements are merged)."""
    mask = features.grid_mask
    return int(features.n_cells if mask is None else mask.sum())


class UnionFeatures:
    """The grids of several motif lengths side by side: one selection over all of them.

    Cells are numbered grid after grid (all k-mers of the first length, then of the
    next, ...). Scores ``<P phi, P y>^2 / ||P phi||^2`` do not depend on the scale of
    a feature, so motifs of different lengths compete fairly; the selection event is
    defined on the whole union, so the selective p-values stay valid.

    Parameters
    ----------
    parts : list of KroneckerFeatures or DenseFeatures
        One feature map per motif length, in increasing k.
    """

    def __init__(self, parts: list):
        self.parts = list(parts)
        self.ks = [part.k for part in self.parts]
        self.lam = self.parts[0].lam
        self.pooling = self.parts[0].pooling
        masks = [np.ones(p.n_cells, dtype=bool) if p.grid_mask is None else p.grid_mask for p in self.parts]
        self.grid_mask = np.concatenate(masks)

    @property
    def n_threads(self) -> int:
        return self.parts[0].n_threads

    @n_threads.setter
    def n_threads(self, value: int) -> None:
        for part in self.parts:
            part.n_threads = value

    @property
    def progress(self) -> bool:
        return self.parts[0].progress

    @progress.setter
    def progress(self, value: bool) -> None:
        for part in self.parts:
            part.progress = value

    @property
    def n_sequences(self) -> int:
        return self.parts[0].n_sequences

    @property
    def n_cells(self) -> int:
        return sum(part.n_cells for part in self.parts)

    def project(self, weights: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Every length's numerators side by side, each part's block written into ``out`` as it comes
        (one part's block at a time beside ``out``, not every part's and their concatenation)."""
        weights = np.atleast_2d(weights)
        if out is None:
            out = np.empty((weights.shape[0], self.n_cells))
        elif out.shape != (weights.shape[0], self.n_cells):
            raise ValueError(f"out must be ({weights.shape[0]}, {self.n_cells}); got {out.shape}")
        start = 0
        for part in self.parts:
            block = part.project(weights)
            out[:, start:start + block.shape[1]] = block
            start += block.shape[1]
            del block
        return out

    def sq_norms(self) -> np.ndarray:
        return np.concatenate([part.sq_norms() for part in self.parts])

    def column(self, cell: int) -> np.ndarray:
        k, index = locate_cell(cell, self.ks)
        return self.parts[self.ks.index(k)].column(index)

    def share_norms_with(self, rows: np.ndarray) -> None:
        for part in self.parts:
            part.share_norms_with(rows)

    def subset(self, rows: np.ndarray) -> "UnionFeatures":
        return UnionFeatures([part.subset(rows) for part in self.parts])


def grid_features(encoded, ks, lam: float, pooling: str = "sum", n_threads: int = 1, revcomp: bool = False):
    """Feature map of one motif length, or the :class:`UnionFeatures` of several."""
    parts = [make_features(kmer_count_matrix(encoded, k), k, lam, pooling, n_threads, revcomp=revcomp)
             for k in ks]
    return parts[0] if len(parts) == 1 else UnionFeatures(parts)


def sum_pooled_counts(features, k: int) -> sp.csr_array | None:
    """The k-mer counts behind the sum-pooled grid of length ``k`` (merged over both strands when
    the grid merges them), or None when that grid is not sum-pooled."""
    parts = features.parts if isinstance(features, UnionFeatures) else [features]
    for part in parts:
        if part.k == k and isinstance(part, KroneckerFeatures):
            return part.counts
    return None


def locate_cell(cell: int, ks) -> tuple[int, int]:
    """``(k, k-mer index)`` of a cell of the grid of motif lengths ``ks`` (one length: the cell itself)."""
    ks = list(ks)
    if len(ks) == 1:
        return ks[0], int(cell)
    offsets = np.concatenate([[0], np.cumsum([4**k for k in ks])])
    g = int(np.searchsorted(offsets, cell, side="right") - 1)
    return ks[g], int(cell - offsets[g])
