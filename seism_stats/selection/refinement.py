"""Continuous refinement of a selected motif = training the one-layer CNN filter (SPEC 3, 4).

A motif ``z`` is a k x 4 matrix. A window ``x_l`` (one-hot, k x 4) is compared to
it with the Gaussian kernel ``exp(-lam/2 ||x_l - z||^2)``, which factorises over
positions: ``prod_p exp(-lam/2 (||z_p||^2 + 1 - 2 z_p[x_lp]))``. For a one-hot ``z``
this is ``exp(-lam * Hamming)``, the grid feature.

The filter is parameterised by a row-wise softmax (``z_p = softmax(theta_p)``), so
the refined filter is a position probability matrix (PPM) that can be drawn as a
logo and exported to MEME/JASPAR. Gradient ascent of the association score
(L-BFGS on ``-log s``, analytic gradient) starts from the selected grid k-mer;
the quantizer maps the refined filter back to its grid cell (row-wise argmax is
the nearest one-hot k-mer).

The refinement stays inside the selected cell: at each position the selected letter's
logit is 0 and the others' are ``-softplus(eta)`` with ``softplus(eta) >= log``
:data:`MIN_LETTER_RATIO` (``eta >= 0`` for the ratio 2): every other letter is at most half as
likely as the selected one, so the refined PPM's row-wise argmax is the selected k-mer with a
visible margin (without it the optimum sat on the cell's boundary, the top two letters equal to
1e-5, and a JASPAR file's rounded counts read back as another k-mer; with it they read back as
the tested k-mer from 5 sites up, while 2-4 sites can tie), and a letter the data prefer shows
as a close second. If the optimiser ends below the grid k-mer's own score, the one-hot k-mer is
kept. The p-values are about that cell, and the refined PPM is what the report draws and the
MEME/JASPAR files carry with the
p-value as ``E=``: a filter free to move could end at another k-mer (a new user's tested
AAATAA was exported as a near-uniform ``tcctct``), pairing a p-value with a motif it is not
about. Within the cell the refinement still shows which positions matter and which letters
the data tolerate beside the selected one.

Project choice (documented in the README): the selection event that the
p-values condition on is the sequence of grid cells found by the exhaustive
scan; refinement is reported beside it (``refined_cell``) but not replayed on
null draws, which would cost one optimisation per candidate response.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from scipy import special

from ..features import _kmers
from ..features.kmers import compact_csr, csr_arrays, digits_to_kmer, kmer_digits, reverse_complement_index
from ..io.sequences import EncodedSequences
from ..utils.parallel import single_threaded_blas

#: Probability given to the selected letter at the start of refinement.
START_CONFIDENCE = 0.85
#: Within the selected cell, the selected letter is at least this many times as likely as any other.
MIN_LETTER_RATIO = 2.0


@dataclass(frozen=True)
class RefinedMotif:
    """A refined continuous motif.

    Attributes
    ----------
    ppm : ndarray (k, 4)
        Refined filter, rows are positions, columns A, C, G, T (rows sum to 1).
    score : float
        Association score of the refined filter (same units as the grid score).
    start_score : float
        Score of the grid k-mer it started from.
    refined_cell : int
        Grid cell of the refined filter (the quantizer: row-wise argmax).
    converged : bool
        Whether the optimiser reported convergence.
    """

    ppm: np.ndarray
    score: float
    start_score: float
    refined_cell: int
    converged: bool


class CountMatrix:
    """A sequences x distinct k-mers count matrix and its transpose, for products in parallel.

    Both are held in CSR form with sorted indices, int32 indices and float32 counts
    (:func:`~seism_stats.features.kmers.compact_csr`): half the memory of SciPy's
    float64 arrays, which each product streams. ``C @ g`` and ``C.T @ h`` are
    computed by :func:`_kmers.row_products`, rows in parallel, with the sums of
    SciPy's ``C @ g`` and ``C.T @ h`` bit for bit.

    Parameters
    ----------
    counts : scipy.sparse array
        The counts (whole numbers below 2^24).
    n_threads : int
        OpenMP threads of the products (their results do not depend on it).
    """

    def __init__(self, counts, n_threads: int = 1):
        counts = sp.csr_array(counts)
        counts.sum_duplicates()
        self.shape = counts.shape
        self.n_threads = max(1, int(n_threads))
        self._rows = compact_csr(counts)
        # Rows of C^T (the sequences holding each k-mer, in order) by one counting sort: the arrays
        # of SciPy's counts.T.tocsr() after sort_indices and compact_csr.
        self._columns = _kmers.transpose_compact(*csr_arrays(counts), counts.shape[1])

    @property
    def nnz(self) -> int:
        """Stored entries of ``C``."""
        return int(self._rows[1].shape[0])

    def to_scipy(self) -> sp.csr_array:
        """``C`` as a SciPy CSR array (float64 counts)."""
        indptr, indices, data = self._rows
        return sp.csr_array((data.astype(np.float64), indices, indptr), shape=self.shape)

    def dot(self, g: np.ndarray) -> np.ndarray:
        """``C @ g`` (one value per sequence)."""
        return _kmers.row_products(*self._rows, self._vector(g, 1), self.n_threads)

    def rdot(self, h: np.ndarray) -> np.ndarray:
        """``C.T @ h`` (one value per distinct k-mer)."""
        return _kmers.row_products(*self._columns, self._vector(h, 0), self.n_threads)

    def _vector(self, x: np.ndarray, axis: int) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.shape != (self.shape[axis],):
            raise ValueError(f"expected a vector of length {self.shape[axis]}, got shape {x.shape}")
        return x


class WindowDesign:
    """The k-mer windows of the sequences, reduced to the distinct k-mers present.

    Parameters
    ----------
    encoded : EncodedSequences
    k : int
    pooling : {"sum", "max"}
    revcomp : bool
        Also scan the reverse-complement strand (the merged grid's features).
    n_threads : int
        OpenMP threads of the sum-pooled products (results do not depend on it).
    grid_counts : scipy.sparse CSR array (n x 4^k), optional
        With sum pooling: the k-mer counts of the grid's features for the same ``k`` and
        ``revcomp`` (:attr:`~seism_stats.features.grid.KroneckerFeatures.counts`, merged over
        both strands with ``revcomp``), used instead of counting the windows again: they are
        the same counts (a window adds 1 to its k-mer, and to its reverse complement's with
        ``revcomp``), so the same design.
    """

    def __init__(self, encoded: EncodedSequences, k: int, pooling: str = "sum", revcomp: bool = False,
                 n_threads: int = 1, grid_counts: sp.csr_array | None = None):
        self.k = int(k)
        self.n = len(encoded)
        self.pooling = pooling
        if pooling == "sum" and grid_counts is not None:
            if grid_counts.shape != (self.n, 4**self.k):
                raise ValueError(f"grid counts of shape {grid_counts.shape} for {self.n} sequences and k = {k}")
            self.kmers = np.flatnonzero(np.bincount(grid_counts.indices, minlength=4**self.k)).astype(np.int64)
            present = grid_counts if self.kmers.shape[0] == 4**self.k else grid_counts[:, self.kmers]
            self.counts = CountMatrix(present, n_threads)
            return
        rows, cols = _kmers.window_kmers(encoded.codes, encoded.offsets, k)
        if revcomp:
            rows = np.concatenate([rows, rows])
            cols = np.concatenate([cols, reverse_complement_index(k)[cols]])
        self.kmers, window_kmer = present_kmers(cols, self.k)
        if pooling == "sum":
            self.counts = CountMatrix(sp.csr_array((np.ones(rows.shape[0]), (rows, window_kmer)),
                                                   shape=(self.n, self.kmers.shape[0])), n_threads)
        elif pooling == "max":
            order = np.argsort(rows, kind="stable")
            self.window_rows = rows[order]
            self.window_kmer = window_kmer[order]
            self.row_starts = np.searchsorted(self.window_rows, np.arange(self.n))
            self.has_window = np.bincount(self.window_rows, minlength=self.n) > 0
        else:
            raise ValueError(f"pooling must be 'sum' or 'max', got {pooling!r}")

    def kmer_weights(self, z: np.ndarray, lam: float) -> np.ndarray:
        """Kernel value ``exp(-lam/2 ||x - z||^2)`` of each distinct k-mer ``x`` (length m)."""
        sq = np.sum(z**2, axis=1)  # (k,)
        per_letter = np.exp(-0.5 * lam * (sq[:, None] + 1.0 - 2.0 * z))  # (k, 4): each position's factor by letter
        values = np.empty(self.kmers.shape[0])
        _kmers.kmer_products(self.kmers, np.ascontiguousarray(per_letter), values)
        return values

    def features(self, g: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Pooled feature of every sequence, and (max pooling) the winning k-mer of each."""
        if self.pooling == "sum":
            return self.counts.dot(g), None
        values = g[self.window_kmer]
        phi = np.zeros(self.n)
        winner = np.full(self.n, -1, dtype=np.int64)
        rows = np.flatnonzero(self.has_window)
        phi[rows] = np.maximum.reduceat(values, self.row_starts[rows])
        # First window attaining the maximum (subgradient choice).
        is_max = values == phi[self.window_rows]
        first = np.flatnonzero(is_max)
        seq_of_first = self.window_rows[first]
        keep = np.r_[True, seq_of_first[1:] != seq_of_first[:-1]]
        winner[seq_of_first[keep]] = self.window_kmer[first[keep]]
        return phi, winner

    def pullback(self, grad_phi: np.ndarray, winner: np.ndarray | None) -> np.ndarray:
        """Gradient with respect to the distinct k-mers' kernel values, from one on the features."""
        if self.pooling == "sum":
            return self.counts.rdot(grad_phi)
        out = np.zeros(self.kmers.shape[0])
        rows = winner >= 0
        np.add.at(out, winner[rows], grad_phi[rows])
        return out


#: Up to this k the distinct k-mers are found by counting over all 4^k (linear time); above, by sorting.
COUNTED_K = 10


def present_kmers(kmers: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of ``kmers`` (sorted, int64) and each entry's position among them.

    ``np.unique(kmers, return_inverse=True)``, by a count over the 4^k k-mers up to
    :data:`COUNTED_K` (10 s of sorting saved at n = 100,000, L = 200, k = 8).
    """
    kmers = np.asarray(kmers, dtype=np.int64)
    if k > COUNTED_K:
        values, inverse = np.unique(kmers, return_inverse=True)
        return values.astype(np.int64, copy=False), inverse.reshape(-1).astype(np.int64, copy=False)
    present = np.bincount(kmers, minlength=4**k) > 0
    rank = np.cumsum(present, dtype=np.int64) - 1
    return np.flatnonzero(present).astype(np.int64), rank[kmers]


def kmer_ppm(cell: int, k: int, confidence: float = 1.0) -> np.ndarray:
    """PPM with ``confidence`` on the letters of k-mer ``cell`` and the rest spread evenly."""
    ppm = np.full((k, 4), (1.0 - confidence) / 3.0)
    ppm[np.arange(k), kmer_digits(np.array([cell]), k)[0]] = confidence
    return ppm


def quantize(ppm: np.ndarray) -> int:
    """Grid cell of a filter: the nearest one-hot k-mer is the row-wise argmax (SPEC 4)."""
    return int(digits_to_kmer(np.argmax(ppm, axis=1)))


def _residual_feature(z: np.ndarray, design: WindowDesign, lam: float, basis: np.ndarray):
    """Kernel values of the distinct k-mers, max-pooling winners, and ``P phi_z``."""
    g = design.kmer_weights(z, lam)
    phi, winner = design.features(g)
    f = phi - basis @ (basis.T @ phi) if basis.shape[1] else phi
    return g, winner, f


def _score_and_gradient(theta: np.ndarray, design: WindowDesign, lam: float,
                        residual: np.ndarray, basis: np.ndarray) -> tuple[float, np.ndarray, float]:
    k = design.k
    logits = theta.reshape(k, 4)
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    z /= z.sum(axis=1, keepdims=True)
    g, winner, f = _residual_feature(z, design, lam, basis)
    num = float(f @ residual)
    den = float(f @ f)
    if den <= 0 or num == 0:
        return 0.0, np.zeros_like(theta), 0.0
    score = num * num / den
    # d log s / d f = 2 r / num - 2 f / den, then back through the projection.
    grad_f = 2.0 * residual / num - 2.0 * f / den
    if basis.shape[1]:
        grad_f = grad_f - basis @ (basis.T @ grad_f)
    grad_g = design.pullback(grad_f, winner) * g  # chain through g = exp(sum of per-position terms)
    # d(per-position term)/d z_p[b] = lam * ([x_p == b] - z_p[b])
    total = grad_g.sum()
    grad_z = lam * (_kmers.letter_sums(design.kmers, grad_g, k) - total * z)
    grad_theta = z * (grad_z - np.sum(grad_z * z, axis=1, keepdims=True))
    return float(np.log(score)), grad_theta.ravel(), score


def refine_motif(design: WindowDesign, lam: float, residual: np.ndarray, basis: np.ndarray,
                 cell: int, max_iter: int = 200) -> RefinedMotif:
    """Refine the grid motif ``cell`` by gradient ascent of its association score.

    Parameters
    ----------
    design : WindowDesign
    lam : float
        Kernel bandwidth.
    residual : ndarray (n,)
        Response projected off the covariates (and the earlier motifs).
    basis : ndarray (n, r)
        Orthonormal basis projected off the features (covariates and earlier motifs).
    cell : int
        Selected grid cell to start from.
    max_iter : int
        L-BFGS iterations.
    """
    k = design.k
    others = np.ones((k, 4), dtype=bool)
    others[np.arange(k), kmer_digits(np.array([cell]), k)[0]] = False  # the letters below the selected one

    def logits_of(eta):
        logits = np.zeros((k, 4))
        logits[others] = -np.logaddexp(0.0, eta)  # -softplus: strictly below the selected letter's 0
        return logits

    # Start at START_CONFIDENCE on the selected letters: each other letter's logit is log((1 - c) / 3 / c).
    gap = np.log(START_CONFIDENCE) - np.log((1.0 - START_CONFIDENCE) / 3.0)
    eta0 = np.full(3 * k, gap + np.log(-np.expm1(-gap)))  # softplus^-1(gap)

    def objective(eta):
        value, grad, _ = _score_and_gradient(logits_of(eta).ravel(), design, lam, residual, basis)
        # d logit / d eta = -sigmoid(eta) for the other letters; the selected letters' logits are fixed.
        return -value, grad.reshape(k, 4)[others] * special.expit(eta)

    start_score = _score_of(kmer_ppm(cell, k), design, lam, residual, basis)
    lowest = float(np.log(np.expm1(np.log(MIN_LETTER_RATIO))))  # softplus(lowest) = log(MIN_LETTER_RATIO)
    with single_threaded_blas():  # skinny products (n x covariates) between the count products' threads
        result = scipy.optimize.minimize(objective, np.maximum(eta0, lowest), jac=True, method="L-BFGS-B",
                                         bounds=[(lowest, 30.0)] * eta0.size,
                                         options={"maxiter": max_iter})
    logits = logits_of(result.x)
    ppm = np.exp(logits - logits.max(axis=1, keepdims=True))
    ppm /= ppm.sum(axis=1, keepdims=True)
    score = _score_of(ppm, design, lam, residual, basis)
    if score < start_score:  # the optimiser did worse than where the selection stood: keep the k-mer
        ppm, score = kmer_ppm(cell, k), start_score
    return RefinedMotif(ppm, score, start_score, quantize(ppm), bool(result.success))


def _score_of(z: np.ndarray, design: WindowDesign, lam: float, residual: np.ndarray,
              basis: np.ndarray) -> float:
    """Association score of the filter ``z`` (k x 4, any real entries)."""
    _, _, f = _residual_feature(z, design, lam, basis)
    den = float(f @ f)
    return float((f @ residual) ** 2 / den) if den > 0 else 0.0


def consensus(ppm: np.ndarray, threshold: float = 0.5) -> str:
    """IUPAC-free consensus: the top letter per position, lower case when its probability < threshold."""
    letters = np.array(list("ACGT"))
    top = np.argmax(ppm, axis=1)
    return "".join(letters[t] if ppm[p, t] >= threshold else letters[t].lower()
                   for p, t in enumerate(top))
