r"""Exact selective p-values under the permutation null, valid at every number of draws (issue 22).

The default for binary responses (foreground against background) and for any fit under the
permutation null: ``method="tilted"``.

Setting
-------
Under the permutation null the response's residual values ``r`` (the response off the
covariates, scaled to unit length) are exchangeable: the observed arrangement is a uniformly
random permutation ``x_0`` of them. The null law of a permutation is ``P`` (uniform), and the
selective test conditions on the selection event ``E``: the greedy selection replayed on the
permuted residual returns the same cells, and each selected motif's association has the
observed sign (enriched or depleted in the top group; see *Signs* below). Motif j's statistic
``T_j`` is its step score (the fraction of the residual sum of squares it explains), as in
``method="mcmc"``.

Split the values at their mean: the *top group* (for a 0/1 response with an intercept, the
positives) holds ``m`` values. A permutation is then (i) the set ``A`` of rows that receive a
top value and (ii) the order of the values inside each group; under ``P``, ``A`` is a uniform
``m``-subset and the orders are uniform and independent of it.

Proposal (tilted labels)
------------------------
The draws come from a mixture ``Q = sum_k a_k Q_k``. Under ``Q_k`` the set ``A`` is a
*conditional Poisson* sample (Hajek 1964; Chen, Dempster and Liu 1994): ``m`` rows drawn with
probability proportional to ``prod_{i in A} exp(lambda_k(i))``, then the top values are put on
``A`` and the others on the rest in uniformly random orders. The log-weight ``lambda_k`` is
``theta_k`` times the tested motif's feature off the covariates and the earlier motifs (its
sign-adjusted ``q_j``), averaged over the cells of a partition of the rows (quantile bins of that
feature, :data:`FINE_LEVELS`), so that the normaliser is cheap. Writing
``p_g = expit(lambda_k(g) + a)`` with ``a`` such that ``sum_g n_g p_g = m``,

    ``Q_k(A) = prod_g p_g^{c_g} (1 - p_g)^{n_g - c_g} / P(sum_g C_g = m)``,  ``C_g ~ Binomial(n_g, p_g)`` independent,

where ``c_g`` counts the rows of ``A`` in cell g. The normaliser is a convolution of ``G``
binomial laws (exact, no Monte Carlo), and a draw is the cell counts (one cell at a time, from
the suffix convolutions) followed by uniform rows inside each cell. Every ``Q_k`` gives every
permutation a positive probability. ``P(x) / Q(x) = 1 / (binom(n, m) Q(A))``: it depends on ``A``
only. ``theta_k`` runs over a ladder of tilts (:data:`LADDER`, in standard deviations of the
tested motif's sum): where a discarded pilot finds the event's mass (most of the draws) and
beyond it, up to :data:`Z_CAP`, so that strong motifs' tiny p-values are reached too.

Several motifs: conditioning on a little more
---------------------------------------------
A draw must also let the *other* selected motifs win their steps, which it seldom does when
they sit at the edge of the event. So motif j is tested given also the top group's count in
each of a few *strata*: each other motif's tails, cut finely (:data:`TAIL_LEVELS` of its
feature), and the rest cut by :data:`BULK_LEVELS`. The strata depend on the selected cells only;
under the null the top group is uniform given its counts in them, so the theorem below holds
word for word with ``P`` the permutation law given those counts and ``Q_k`` a product of
conditional Poisson laws, one per stratum (like the circles' conditioning subspace,
:mod:`seism_stats.stats.circle_tests`; conditioning on more never costs validity, only a little power).
Measured on ``benchmarks/bench_tilted.py``'s data, this carries two motifs; with three or more
the other motifs' sums still drift in the bulk and few draws reach the event, so
``method="auto"`` keeps the permutation MCMC there (:data:`MAX_AUTO_MOTIFS`).

What the proposal may depend on
-------------------------------
The partition, the tilts, the ladder, the pilot and the allocation ``a_k`` depend on the data
only through what the test conditions on: the selected cells (hence their features and
``q_j``), the signs, and the multiset of residual values (which every permutation keeps). The
pilot's draws are replayed against ``E``, which is a function of those; they are not in the
estimate. The observed labels are never used to build ``Q``.

Theorem (Harrison 2012, Biometrika 99:57-69; exact at every B)
--------------------------------------------------------------
Let ``x_0 ~ P(. | E)`` (the null, given the selection), ``x_1, ..., x_B`` i.i.d. from ``Q``,
independent of ``x_0``, with ``Q(x) > 0`` wherever ``P(x) 1_E(x) > 0``, and
``w(x) = c 1_E(x) P(x) / Q(x)`` for any constant ``c > 0``. Then for every ``B >= 0`` and
``alpha`` in (0, 1)

    ``p = sum_{b=0..B} w(x_b) 1{T(x_b) >= T(x_0)} / sum_{b=0..B} w(x_b)``  satisfies  ``P(p <= alpha | E) <= alpha``,

and the randomised ``p_U = sum_b w(x_b) [1{T(x_b) > T(x_0)} + U 1{T(x_b) = T(x_0)}] / sum_b w(x_b)``,
``U`` uniform on (0, 1) and independent, satisfies ``P(p_U <= alpha | E) = alpha``.

Proof. Put the ``B + 1`` points in a uniformly random order: ``y = (y_0, ..., y_B)`` and ``K``
the position of ``x_0``. Given ``E``, for any ``y`` and ``k``,
``P(Y = y, K = k) = (B + 1)^{-1} P(y_k | E) prod_{l != k} Q(y_l)
= (B + 1)^{-1} [w(y_k) / (c P(E))] prod_l Q(y_l)``, because ``P(y_k | E) = w(y_k) Q(y_k) / (c P(E))``.
The product does not depend on ``k``, so ``P(K = k | Y = y) = w(y_k) / sum_l w(y_l)``: given
``Y = y``, the observed statistic ``T(y_K)`` has the discrete law that puts mass
``w(y_l) / sum w`` on ``T(y_l)``, and ``p = G_y(T(y_K))`` with ``G_y`` that law's survival
function. For any random variable ``X`` with survival function ``G``, ``P(G(X) <= alpha) <= alpha``,
with equality for the randomised version ``G(X+) + U (G(X) - G(X+))`` (the probability
integral transform of a discrete law). Both hold given ``Y``, hence given ``E``. []

What the proof needs and the code keeps: the draws are i.i.d. from one ``Q`` fixed before
they are drawn (the mixture is drawn as a mixture: a component per draw, at random) and
independent of ``x_0``; ``B`` is fixed in advance; the weights are ``P / Q`` of the mixture, with
exact normalisers; the observation's own weight is counted. Without it the ratio is only
consistent (``tests/test_tilted_permutations.py`` shows it failing the same binomial check).

Where the null is exact
-----------------------
With the intercept as the only covariate, permuting the residuals is permuting the response:
the p-value is exactly valid for exchangeable responses (a foreground/background comparison
with no covariates; a binary response's permutations are its labellings with the same number
of positives). With covariates the values permuted are the residuals off them (Freedman and
Lane 1983), as ``method="mcmc"`` does: the theorem then holds for that reference law, which is
exact when the residuals are exchangeable and an approximation otherwise (residuals off
covariates are not exactly exchangeable; the approximation is good when n is large against the
number of covariates). A binary response's residuals off covariates are not 0/1; the top group
is then the rows whose residual is above the mean.

Signs
-----
The event includes each selected motif's sign: enriched (positive association) or depleted.
Conditioning on more keeps a test valid (Fithian, Sun and Taylor 2014; Lee et al. 2016 condition
on the signs too) and lets one tilt serve the whole event; with one motif and a balanced
design (as many foreground as background sequences, no covariates) exchanging the groups maps
one sign onto the other with the same statistic, so the p-value is the same as without the
signs (with several motifs the exchange maps a sign pattern only onto its opposite, not onto
the others, and the signed p-value can differ).

Ties
----
``ties="conservative"`` (default) counts draws whose statistic ties with the observed one
(to :data:`~seism_stats.sampling.pvalues.TIE_RTOL`) as exceedances, as SPEC 6 asks: valid, and
conservative where ties carry mass (few distinct feature values, max pooling, small n, a
draw equal to the observed labelling). ``ties="randomised"`` breaks them with one uniform
``U`` per motif drawn from the fit's seed: exactly uniform under the null. The weighted share
of ties (``tie_mass``) is reported either way: the conservative p-value minus it is the
strict-inequality one, so the user sees what the choice costs.

Monte-Carlo error
-----------------
The delta-method error of the ratio over the drawn terms (the observation's term is not
random given the draws' set), :func:`seism_stats.sampling.pvalues.ratio_pvalue`; the effective
sample size of the weights in :attr:`TiltedEstimate.ess`. ``benchmarks/bench_tilted.py``
compares it with the spread over seeds.

That s.e. is estimated from the same terms that make the numerator. Far in the tail (n = 20,000,
p near 1e-63 or 1e-9) a handful of draws beyond the observed statistic, and the observation's own
term, carry most of it: the numerator's effective number of terms
(:attr:`WeightedPValue.numerator_ess`) was 2.9 and 31.5, and the stated s.e. 1.3-1.7 times
smaller than the spread over ten seeds; at n = 2000 (330 and 673 terms) it matched within the
spread's own error (``benchmarks/bench_tilted_output.txt``). The weights' ESS, taken over all
draws, need not see this. Below :data:`MIN_NUMERATOR_ESS` the summary says that the s.e. is
likely too small. The p-value stays exact either way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from scipy import optimize, special, stats
from tqdm.auto import tqdm

from ..features.memory import TILTED_BLOCK
from ..sampling import budget
from ..sampling.budget import PILOT_DRAWS, pilot_draws
from ..sampling.pvalues import TIE_RTOL, exceeds, log_weight_ess, ratio_pvalue
from ..sampling.walkers import residual_points
from ..selection.greedy import Selection
from ..selection.replay import SelectionReplay
from ..utils.canonical import inverse_permutation, uniform_rows
from ..utils.parallel import single_threaded_blas
from . import _subsets

TIES = ("conservative", "randomised")
#: Draws replayed together (defined where the memory estimate counts them).
BLOCK = TILTED_BLOCK
#: Competitors per step whose scores screen the draws before the replay (:class:`EventScreen`).
SCREEN_CELLS = 64
#: Relative margin by which a screened competitor must beat the selected cell (far above rounding).
SCREEN_MARGIN = 1e-9
#: ``method="auto"`` uses the tilted permutations up to this many motifs (the permutation MCMC beyond: with
#: three motifs on the benchmark's data few tilted draws reach the event; see the module docstring).
MAX_AUTO_MOTIFS = 2
#: Realised tilts (standard deviations of the tested motif's sum over the top group) of the ladder:
#: finely spaced around the usual edge of the event, then every 1.25 up to :data:`Z_CAP`.
LADDER = tuple(np.round(np.concatenate([np.arange(1.5, 6.01, 0.5), np.arange(7.0, 40.0, 1.25)]), 2))
#: Highest tilt of the ladder: p-values far beyond it (below about 1e-80) keep their validity but
#: lose relative precision.
Z_CAP = 20.0
#: Share of the draws allocated by the pilot's estimate of where the event's mass lies (the rest: evenly).
EDGE_SHARE = 0.6
#: Tilts nearest the pilot's estimate of where the event's mass lies share :data:`EDGE_SHARE` of the draws.
EDGE_COMPONENTS = 3
#: Quantile levels of the bins of the tested feature: equal counts in the bulk, finer in the tails.
FINE_LEVELS = np.unique(np.concatenate([[0.001, 0.002, 0.005, 0.01, 0.02, 0.035], np.linspace(0.05, 0.95, 31),
                                        [0.965, 0.98, 0.99, 0.995, 0.998, 0.999]]))
#: Strata of several motifs (the test of a motif conditions on the top group's count in each): each
#: other motif's tails (below and above these quantile levels of its feature) are strata of their own,
#: cut at these levels, since a motif's sum is made there; the remaining rows are cut by
#: :data:`BULK_LEVELS` of each other motif's feature (their product; coarser with more motifs).
TAIL_LEVELS = np.array([0.002, 0.01, 0.03, 0.1, 0.9, 0.97, 0.99, 0.998])
BULK_LEVELS = {2: np.array([0.3, 0.5, 0.7]), 3: np.array([0.3, 0.7])}
#: Bulk levels from four motifs on.
MANY_MOTIF_BULK_LEVELS = np.array([0.5])
#: Suffix convolutions are kept where they exceed this fraction of their largest entry (paths
#: below it have probability < 1e-30 and are never drawn). The normalisers are computed over the
#: same trimmed bands, so they are those of the law the sampler draws from; the density of a count
#: vector outside the bands (which that law never draws) is not set to 0 but is below 1e-30 of
#: the largest, which changes a weight by less than that relative amount.
TRIM = 1e-30


@dataclass(frozen=True)
class Cells:
    """A partition of the rows into cells of (nearly) equal tested-feature values, inside strata.

    Cells are quantile bins of the tested motif's feature; with several motifs they lie
    inside *strata*, quantile bins of each other selected motif's feature (their product).
    Both are fixed by the selected cells.

    Attributes
    ----------
    index : ndarray of int64 (n,)
        Cell of each row.
    sizes : ndarray of int64 (G,)
    rows : ndarray of int64 (n,)
        Rows sorted by cell (stable); cell g is ``rows[starts[g]:starts[g + 1]]``.
    starts : ndarray of int64 (G + 1,)
    means : ndarray (G,)
        Mean of the tested feature over each cell.
    strata : ndarray of int64 (G,)
        Stratum of each cell (cells of a stratum are contiguous).
    """

    index: np.ndarray
    sizes: np.ndarray
    rows: np.ndarray
    starts: np.ndarray
    means: np.ndarray
    strata: np.ndarray

    @classmethod
    def from_directions(cls, tested: np.ndarray, others: list) -> "Cells":
        """:data:`FINE_LEVELS` bins of ``tested`` inside the strata of ``others`` (:func:`_strata`).

        Rows with equal values share a bin; empty cells are dropped.
        """
        stratum = _strata(tested.shape[0], others)
        codes = stratum.astype(np.int64) * (FINE_LEVELS.shape[0] + 1) + _quantile_bins(tested, FINE_LEVELS)
        cell_codes, index = np.unique(codes, return_inverse=True)
        index = index.astype(np.int64)
        sizes = np.bincount(index).astype(np.int64)
        rows = np.argsort(index, kind="stable").astype(np.int64)
        means = np.bincount(index, weights=tested) / sizes
        strata = (cell_codes // (FINE_LEVELS.shape[0] + 1)).astype(np.int64)
        return cls(index, sizes, rows, np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64), means, strata)

    @property
    def n_cells(self) -> int:
        return int(self.sizes.shape[0])

    @property
    def n_strata(self) -> int:
        return int(self.strata[-1]) + 1

    def stratum_counts(self, counts: np.ndarray) -> np.ndarray:
        """Rows per stratum from rows per cell: (B, S)."""
        return np.add.reduceat(counts, np.flatnonzero(np.diff(np.concatenate([[-1], self.strata]))), axis=1)

    def counts(self, subsets: np.ndarray) -> np.ndarray:
        """Rows of each subset (rows of a boolean (B, n) array) in each cell: (B, G)."""
        ordered = subsets[:, self.rows].astype(np.int64)
        return np.add.reduceat(ordered, self.starts[:-1], axis=1)

    def fill(self, counts: np.ndarray, keys: np.ndarray, n_threads: int = 1,
             order: np.ndarray | None = None) -> np.ndarray:
        """Subsets with ``counts[b, g]`` rows in cell g: the rows of smallest ``keys`` in each cell.

        With ``keys`` i.i.d. uniform, the rows are a uniform ``counts[b, g]``-subset of each cell
        (:func:`_subsets.fill_smallest`: a quickselect per cell and draw, draws in parallel).
        With ``order`` (the rows' canonical order), column k of ``keys`` is row ``order[k]``'s key
        (as drawn: the subsets of :func:`~seism_stats.utils.canonical.uniform_rows`' keys).
        """
        key_rows = None if order is None else inverse_permutation(order)[self.rows].astype(np.int64)
        return _subsets.fill_smallest(np.ascontiguousarray(keys, dtype=np.float64), self.rows, self.starts,
                                      np.ascontiguousarray(counts, dtype=np.int64), n_threads, key_rows)


def _strata(n: int, others: list) -> np.ndarray:
    """Stratum of each row: the first other motif in whose tail the row lies (:data:`TAIL_LEVELS` bins of its
    feature), else the product of :data:`BULK_LEVELS` bins of every other motif's feature. One stratum without
    other motifs."""
    code = np.full(n, -1, dtype=np.int64)
    tail_bins = TAIL_LEVELS.shape[0] + 1
    middle = int(np.searchsorted(TAIL_LEVELS, 0.5))  # the bin between the lower and upper tails
    for i, values in enumerate(others):
        bins = _quantile_bins(values, TAIL_LEVELS)
        fresh = (code < 0) & (bins != middle)
        code[fresh] = i * tail_bins + bins[fresh]
    bulk = np.zeros(n, dtype=np.int64)
    levels = BULK_LEVELS.get(len(others) + 1, MANY_MOTIF_BULK_LEVELS)
    for values in others:
        bulk = bulk * (levels.shape[0] + 1) + _quantile_bins(values, levels)
    code = np.where(code < 0, len(others) * tail_bins + bulk, code)
    return np.unique(code, return_inverse=True)[1].astype(np.int64)


def _quantile_bins(values: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Bin of each value between the quantiles at ``levels`` (equal values share a bin)."""
    return np.searchsorted(np.unique(np.quantile(values, levels)), values, side="right").astype(np.int64)


class ConditionalPoisson:
    """``m`` of the rows of some cells, a row of cell g with odds ``p_g / (1 - p_g)`` (the tilted law in a stratum).

    The counts ``C_g`` are independent Binomial(n_g, p_g) conditioned on ``sum C_g = m``; with
    ``p_g = expit(log_weight_g + a)`` and ``a`` the saddle point, ``P(sum C_g = m)`` is near the mode
    of the convolution and is computed exactly (suffix convolutions, :data:`TRIM` of their peak kept).
    """

    def __init__(self, sizes: np.ndarray, log_weight: np.ndarray, m: int):
        self.sizes, self.m = sizes, int(m)
        self.log_p, self.log_q = tilt_probabilities(log_weight, sizes, self.m)
        G = sizes.shape[0]
        self.pmfs, self.pmf_lo = _binomial_bands(sizes, self.log_p, self.log_q)
        self.suffix, self.suffix_lo = [None] * (G + 1), np.zeros(G + 1, dtype=np.int64)
        self.suffix[G] = np.ones(1)
        log_scale = np.zeros(G + 1)
        for g in range(G - 1, -1, -1):
            full = np.convolve(self.pmfs[g], self.suffix[g + 1])
            lo = self.pmf_lo[g] + self.suffix_lo[g + 1]
            if lo > self.m:
                raise RuntimeError("the tilted law cannot reach the size of the top group; please report this")
            full = full[:self.m + 1 - lo]
            top = float(full.max())
            keep = np.flatnonzero(full >= TRIM * top)
            self.suffix[g] = full[keep[0]:keep[-1] + 1] / top
            self.suffix_lo[g] = lo + keep[0]
            log_scale[g] = log_scale[g + 1] + np.log(top)
        at = self.m - self.suffix_lo[0]
        if not 0 <= at < self.suffix[0].shape[0] or self.suffix[0][at] <= 0:
            raise RuntimeError("the tilted law's normaliser vanished; please report this")
        self.log_norm = float(np.log(self.suffix[0][at]) + log_scale[0])

    def sample_counts(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Cell counts of ``size`` draws, one cell at a time given the rows left (suffix convolutions)."""
        G = self.sizes.shape[0]
        counts = np.zeros((size, G), dtype=np.int64)
        left = np.full(size, self.m, dtype=np.int64)
        uniforms = rng.random((size, G))
        for g in range(G):
            pmf, lo = self.pmfs[g], self.pmf_lo[g]
            c = lo + np.arange(pmf.shape[0])
            rest = left[:, None] - c[None, :] - self.suffix_lo[g + 1]
            nxt = self.suffix[g + 1]
            inside = (rest >= 0) & (rest < nxt.shape[0])
            weight = pmf[None, :] * np.where(inside, nxt[np.clip(rest, 0, nxt.shape[0] - 1)], 0.0)
            cumulative = np.cumsum(weight, axis=1)
            total = cumulative[:, -1]
            if np.any(total <= 0):
                raise RuntimeError("a tilted draw reached a state of probability 0; please report this")
            pick = np.minimum((cumulative < uniforms[:, g:g + 1] * total[:, None]).sum(axis=1), pmf.shape[0] - 1)
            counts[:, g] = c[pick]
            left -= c[pick]
        return counts


class TiltedLaw:
    """Conditional Poisson sampling of the top group with probability ``prod exp(log_weight[cell])``, per stratum.

    Parameters
    ----------
    cells : Cells
    log_weight : ndarray (G,)
        Log-weight of a row of each cell (any additive constant per stratum).
    m : ndarray of int (S,)
        Rows drawn in each stratum (the observed top group's).
    """

    def __init__(self, cells: Cells, log_weight: np.ndarray, m: np.ndarray):
        self.cells = cells
        log_weight = np.asarray(log_weight, dtype=np.float64)
        bounds = np.concatenate([np.flatnonzero(np.diff(np.concatenate([[-1], cells.strata]))), [cells.n_cells]])
        self.parts = [(lo, hi, ConditionalPoisson(cells.sizes[lo:hi], log_weight[lo:hi], int(m[s])))
                      for s, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:]))]
        self.log_p = np.concatenate([part.log_p for _, _, part in self.parts])
        self.log_q = np.concatenate([part.log_q for _, _, part in self.parts])
        self.log_norm = float(sum(part.log_norm for _, _, part in self.parts))

    def sample_counts(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Cell counts of ``size`` draws (each stratum's in turn)."""
        return np.concatenate([part.sample_counts(rng, size) for _, _, part in self.parts], axis=1)

    def log_density(self, counts: np.ndarray) -> np.ndarray:
        """``log Q(A)`` of subsets with these cell counts (B, G)."""
        with np.errstate(invalid="ignore"):  # 0 * -inf in strata with every row or none drawn
            terms = np.where(counts > 0, counts * self.log_p, 0.0) + \
                np.where(counts < self.cells.sizes, (self.cells.sizes - counts) * self.log_q, 0.0)
        return terms.sum(axis=1) - self.log_norm


def tilt_probabilities(log_weight: np.ndarray, sizes: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """``log p_g`` and ``log(1 - p_g)``, ``p_g = expit(log_weight_g + a)`` with ``sum_g n_g p_g = m``.

    ``a`` is the saddle point: the independent binomials' total has mean m, so the
    normaliser ``P(sum C_g = m)`` sits at the mode of their convolution.
    """
    if m == 0 or m == int(sizes.sum()):  # every row or none: probability 1 whatever the weights
        certain, never = np.zeros(sizes.shape), np.full(sizes.shape, -np.inf)
        return (certain, never) if m else (never, certain)

    def excess(a):
        return float(np.sum(sizes * special.expit(log_weight + a)) - m)
    lo, hi = -float(np.max(log_weight)) - 60.0, -float(np.min(log_weight)) + 60.0
    shift = float(optimize.brentq(excess, lo, hi, xtol=1e-13, maxiter=500))
    return special.log_expit(log_weight + shift), special.log_expit(-(log_weight + shift))


def _binomial_bands(sizes: np.ndarray, log_p: np.ndarray, log_q: np.ndarray) -> tuple[list, np.ndarray]:
    """Each Binomial(n_g, p_g) pmf where it exceeds :data:`TRIM` of its mode, and the first count kept.

    From ``log p`` and ``log(1 - p)`` (exact for p near 0 or 1), all cells at once.
    """
    c = np.arange(int(sizes.max()) + 1)[None, :]
    n = sizes[:, None].astype(np.float64)
    with np.errstate(invalid="ignore"):  # 0 * -inf where p is 0 or 1, and counts above n_g
        log_pmf = (special.gammaln(n + 1.0) - special.gammaln(c + 1.0) - special.gammaln(np.maximum(n - c, 0) + 1.0)
                   + np.where(c > 0, c * log_p[:, None], 0.0) + np.where(c < n, (n - c) * log_q[:, None], 0.0))
    log_pmf = np.where(c <= n, log_pmf, -np.inf)
    top = np.max(log_pmf, axis=1, keepdims=True)
    scaled = np.exp(log_pmf - top)
    pmfs, first = [], np.zeros(sizes.shape[0], dtype=np.int64)
    for g in range(sizes.shape[0]):
        keep = np.flatnonzero(scaled[g] >= TRIM)
        pmfs.append(scaled[g, keep[0]:keep[-1] + 1] * np.exp(top[g, 0]))
        first[g] = keep[0]
    return pmfs, first


@dataclass(frozen=True)
class PermutationTarget:
    """The values permuted under the null and the observed top group.

    Attributes
    ----------
    values : ndarray (n,)
        The observed unit residual (the response off the covariates, unit length).
    top : ndarray of bool (n,)
        Rows of the top group (value above the mean): the positives of a 0/1 response.
    top_values, bottom_values : ndarray
        Each group's values, sorted.
    exact : bool
        Whether the null is the exact permutation null (intercept only) rather than
        Freedman-Lane's residual permutation.
    """

    values: np.ndarray
    top: np.ndarray
    top_values: np.ndarray
    bottom_values: np.ndarray
    exact: bool

    @classmethod
    def from_selection(cls, selection: Selection, covariate_basis: np.ndarray) -> "PermutationTarget":
        values = np.asarray(selection.unit_residual, dtype=np.float64)
        top = values > values.mean()
        if not 0 < top.sum() < values.shape[0]:
            raise ValueError("the response's residual takes one value: there is nothing to permute")
        n = values.shape[0]
        exact = covariate_basis.shape[1] == 0 or (covariate_basis.shape[1] == 1 and np.allclose(
            np.abs(covariate_basis[:, 0]), 1.0 / np.sqrt(n), rtol=1e-10, atol=0.0))
        return cls(values, top, np.sort(values[top]), np.sort(values[~top]), bool(exact))

    @property
    def m(self) -> int:
        return int(self.top.sum())

    @property
    def two_valued(self) -> bool:
        """Whether each group holds one value (a 0/1 response with the intercept alone), to rounding."""
        scale = float(np.max(np.abs(self.values)))
        return bool(np.ptp(self.top_values) <= 1e-12 * scale and np.ptp(self.bottom_values) <= 1e-12 * scale)

    def responses(self, subsets: np.ndarray, keys: np.ndarray | None) -> np.ndarray:
        """The permuted residuals: top values on each subset's rows, the others elsewhere, in the order of ``keys``."""
        if self.two_valued:  # np.where's values, 4x faster as a lookup by the 0/1 flags
            values = np.array([self.bottom_values.mean(), self.top_values.mean()])
            return np.take(values, np.ascontiguousarray(subsets, dtype=bool).view(np.uint8))
        out = np.empty(subsets.shape)
        order = np.argsort(keys + 2.0 * ~subsets, axis=1)  # the subset's rows first, each group by key
        m = self.m
        rows = np.arange(subsets.shape[0])[:, None]
        out[rows, order[:, :m]] = self.top_values[None, :]
        out[rows, order[:, m:]] = self.bottom_values[None, :]
        return out


@dataclass(frozen=True)
class TiltedNullLaw:
    """The law of one motif's statistic given the selection and the draws (the theorem's ``G``).

    A discrete law on the statistics of the terms inside the event (the observation's
    included) with their normalised weights; the conservative p-value is its survival
    function at the observed statistic.

    Attributes
    ----------
    statistics, weights : ndarray
        The statistics of the terms inside the event and their weights (summing to 1).
    observed : float
    """

    statistics: np.ndarray
    weights: np.ndarray
    observed: float

    @classmethod
    def from_terms(cls, terms: "MotifTerms") -> "TiltedNullLaw":
        inside = np.isfinite(terms.log_weight)
        weights = np.exp(terms.log_weight[inside] - np.max(terms.log_weight[inside]))
        return cls(terms.statistic[inside], weights / weights.sum(), float(terms.statistic[0]))

    def survival(self, t: float) -> float:
        """``P(T >= t)`` under the law (ties to :data:`~seism_stats.sampling.pvalues.TIE_RTOL` included)."""
        return float(np.sum(self.weights[exceeds(self.statistics, t)]))


@dataclass(frozen=True)
class TiltedEstimate:
    """Exact selective p-values of every selected motif under the permutation null.

    Attributes
    ----------
    pvalues, se, upper : ndarray (q,)
        The p-values, their Monte-Carlo standard errors and one-sided 95% Monte-Carlo upper
        bounds (``p + 1.645 se``, at most 1).
    ess : ndarray (q,)
        Effective sample size of the weights over the B + 1 terms (misses weigh 0).
    tie_mass : ndarray (q,)
        Weighted share of the terms whose statistic ties with the observed one (the
        observation's own included).
    hit_rate : ndarray (q,)
        Share of each motif's draws that fell in the event.
    components : list of list of float
        Each motif's tilts (realised standard deviations of its sum) in the mixture.
    strata : ndarray of int (q,)
        Strata of the other motifs' features each motif's test conditions on (1 with one motif).
    ties : str
    exact_null : bool
        Exact permutation null (intercept only) or Freedman-Lane residual permutation.
    n_draws : int
        Draws per motif in the estimate (B).
    n_replays : int
        Replays in all, pilots included.
    seconds : float
    null_laws : tuple of TiltedNullLaw
        Each motif's weighted null law of its statistic (for plots).
    numerator_ess : ndarray (q,)
        Effective number of terms in each p-value's numerator (the observation's included):
        below :data:`MIN_NUMERATOR_ESS` the stated s.e. is likely too small (module docstring).
    """

    pvalues: np.ndarray
    se: np.ndarray
    upper: np.ndarray
    ess: np.ndarray
    tie_mass: np.ndarray
    hit_rate: np.ndarray
    components: list
    strata: np.ndarray
    ties: str
    exact_null: bool
    n_draws: int
    n_replays: int
    seconds: float
    null_laws: tuple = ()
    numerator_ess: np.ndarray = field(default_factory=lambda: np.zeros(0))


class EventScreen:
    """A cheap sufficient condition for leaving the event, checked before the full replay.

    The step scores of each step's :data:`SCREEN_CELLS` competitors most correlated with the
    selected feature are computed from their stored feature columns (the replay's formula:
    ``(<phi_c, u> - sum_{i<j} cross_ci <q_i, u>)^2 / ||P_j phi_c||^2``); a draw where one of
    them beats the selected cell by more than a relative :data:`SCREEN_MARGIN` (far above
    rounding), after its score is lowered by the same margin times the square of the terms its
    residual is made of (so that a competitor nearly collinear with earlier motifs, whose small
    residual rounds like its large terms, is never screened on rounding), selects something else, so it is outside the event without a replay. The
    others are replayed. On the benchmark's data this spares about 90% of the replays of
    draws outside the event; the weights and the p-value are the same as with every draw
    replayed.
    """

    def __init__(self, features, event, covariate_basis: np.ndarray):
        q = event.n_selected
        chosen = []
        for j in range(q):
            correlation = np.abs(event.cross[:, j]) * np.sqrt(event.inv_den[j])
            correlation[event.cells] = 0.0
            chosen.append(np.argsort(-correlation, kind="stable")[:SCREEN_CELLS])
        self.cells = np.unique(np.concatenate(chosen + [event.cells]))
        columns = np.column_stack([features.column(int(c)) for c in self.cells])
        self.columns = np.asfortranarray(columns - covariate_basis @ (covariate_basis.T @ columns))
        self.cross = event.cross[self.cells]
        self.inv_den = event.inv_den[:, self.cells]
        self.selected = np.searchsorted(self.cells, event.cells)

    def outside(self, points: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
        """Draws (rows of unit residual ``points``, their ``<q_i, u>``) surely outside the event."""
        # One single-threaded product: a multithreaded BLAS product of these shapes took 20-80 ms on a loaded
        # machine (n = 2000, 64 draws), the products one column at a time 2 ms (145 ms at n = 20,000), one
        # single-threaded product 0.8 ms (10 ms). A screen: rounding is covered by its margin.
        with single_threaded_blas():
            numerators = points @ self.columns
        out = np.zeros(points.shape[0], dtype=bool)
        for j in range(self.inv_den.shape[0]):
            residual = numerators - coefficients[:, :j] @ self.cross[:, :j].T
            scores = residual**2 * self.inv_den[j][None, :]
            # Absolute slack too: a competitor nearly collinear with earlier motifs has a small residual made of
            # large terms, whose rounding scales with those terms, not with its score.
            magnitude = (np.abs(numerators) + np.abs(coefficients[:, :j]) @ np.abs(self.cross[:, :j]).T) ** 2
            scores -= SCREEN_MARGIN * magnitude * self.inv_den[j][None, :]
            selected = residual[:, self.selected[j]] ** 2 * self.inv_den[j, self.selected[j]]
            scores[:, self.selected] = 0.0
            out |= scores.max(axis=1) > selected * (1.0 + SCREEN_MARGIN) + SCREEN_MARGIN * np.finfo(float).tiny
        return out


class _MotifTest:
    """The event, the statistic and the proposal of one motif's test."""

    def __init__(self, replay: SelectionReplay, target: PermutationTarget, covariate_basis: np.ndarray,
                 signs: np.ndarray, j: int, order: np.ndarray, screen: EventScreen | None = None):
        event = replay.event
        self.replay, self.target, self.basis, self.signs, self.j, self.order, self.screen = \
            replay, target, covariate_basis, signs, j, order, screen
        self.direction = signs[j] * event.basis[:, j]
        others = [signs[i] * event.basis[:, i] for i in range(event.n_selected) if i != j]
        self.cells = Cells.from_directions(self.direction, others)
        # The test conditions on the top group's count in each stratum (one stratum with one motif).
        self.m = self.cells.stratum_counts(self.cells.counts(target.top[None, :]))[0]
        # Mean and sd of the tested sum under the permutation null given those counts.
        cells, d = self.cells, self.direction
        stratum_of_row = cells.strata[cells.index]
        sizes = np.bincount(stratum_of_row).astype(np.float64)
        means = np.bincount(stratum_of_row, weights=d) / sizes
        squares = np.bincount(stratum_of_row, weights=(d - means[stratum_of_row]) ** 2)
        m = self.m.astype(np.float64)
        self.centre = float(np.sum(m * means))
        with np.errstate(invalid="ignore", divide="ignore"):
            variance = np.where(sizes > 1, m * (sizes - m) / (sizes * (sizes - 1.0)) * squares, 0.0)
        self.sd = float(np.sqrt(max(variance.sum(), np.finfo(float).tiny)))

    def log_weight(self, tilt: float) -> np.ndarray:
        """Log-weight of each cell for a nominal tilt (in standard deviations of the tested sum)."""
        return tilt / self.sd * self.cells.means

    def law(self, tilt: float) -> TiltedLaw:
        return TiltedLaw(self.cells, self.log_weight(tilt), self.m)

    def realised(self, tilt: float) -> float:
        """How many standard deviations up the tested sum is on average under a tilt (approximately)."""
        weight, mean = self.log_weight(tilt), 0.0
        for s in range(self.cells.n_strata):
            mine = self.cells.strata == s
            log_p, _ = tilt_probabilities(weight[mine], self.cells.sizes[mine], int(self.m[s]))
            mean += float(np.sum(self.cells.sizes[mine] * np.exp(log_p) * self.cells.means[mine]))
        return (mean - self.centre) / self.sd

    def law_at(self, z: float) -> TiltedLaw | None:
        """The component whose tested sum is ``z`` standard deviations up on average (None if out of reach)."""
        def gap(tilt):
            return self.realised(tilt) - z
        if gap(0.0) >= 0:
            return self.law(0.0)
        high = max(z, 1.0)
        while gap(high) <= 0:
            high *= 2.0
            if high > 1e6:
                return None
        return self.law(optimize.brentq(gap, 0.0, high, xtol=1e-3))

    def standardised(self, subsets: np.ndarray) -> np.ndarray:
        """The tested sum of each subset in standard deviations from its null mean."""
        return (subsets @ self.direction - self.centre) / self.sd

    def draw(self, laws: list, allocation: np.ndarray, rng: np.random.Generator, size: int):
        """``size`` i.i.d. draws of the mixture: their subsets, keys and the mixture's log density."""
        _, counts = self.draw_counts(laws, allocation, rng, size)
        subsets, value_keys = self.fill(counts, rng)
        return subsets, value_keys, self.log_mixture(laws, allocation, counts)

    def draw_counts(self, laws: list, allocation: np.ndarray, rng: np.random.Generator,
                    size: int) -> tuple[np.ndarray, np.ndarray]:
        """Components and cell counts of ``size`` i.i.d. draws of the mixture."""
        labels = rng.choice(len(laws), size=size, p=allocation)
        counts = np.zeros((size, self.cells.n_cells), dtype=np.int64)
        for k, law in enumerate(laws):
            mine = np.flatnonzero(labels == k)
            if mine.size:
                counts[mine] = law.sample_counts(rng, mine.size)
        return labels, counts

    def fill(self, counts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        """Uniform rows in each cell (and the keys ordering the values inside each group)."""
        keys = rng.random((counts.shape[0], self.order.shape[0]))  # uniform_rows' draws, read in place
        subsets = self.cells.fill(counts, keys, self.replay.n_threads, self.order)
        value_keys = None if self.target.two_valued else uniform_rows(rng, counts.shape[0], self.order)
        return subsets, value_keys

    def log_mixture(self, laws: list, allocation: np.ndarray, counts: np.ndarray) -> np.ndarray:
        terms = np.stack([np.log(a) + law.log_density(counts) for a, law in zip(allocation, laws)])
        return special.logsumexp(terms, axis=0)

    def replay_draws(self, subsets: np.ndarray, value_keys) -> tuple[np.ndarray, np.ndarray]:
        """In-event flags (same cells, same signs) and the tested statistic of each draw.

        Draws with another sign, or that the :class:`EventScreen` finds outside the event, are
        not replayed (their statistic is left at 0: they weigh nothing).
        """
        points = residual_points(self.target.responses(subsets, value_keys), self.basis)
        coefficients = self.replay.coefficients(points)
        candidate = np.all(coefficients * self.signs[None, :] > 0, axis=1)
        if self.screen is not None and candidate.any():
            candidate[candidate] = ~self.screen.outside(points[candidate], coefficients[candidate])
        inside, statistic = np.zeros(points.shape[0], dtype=bool), np.zeros(points.shape[0])
        if candidate.any():
            accepted, statistics = self.replay.check_points(points[candidate])
            inside[candidate], statistic[candidate] = accepted, statistics[:, self.j]
        return inside, statistic


def design_mixture(test: _MotifTest, rng: np.random.Generator,
                   pilot: int = PILOT_DRAWS) -> tuple[list, np.ndarray, list, int]:
    """The mixture of one motif's test, from pilot draws replayed against the event and discarded.

    ``pilot`` draws of the even mixture of the whole ladder (:data:`LADDER`, up to
    :data:`Z_CAP` and 0.9 of the largest reachable tilt) are replayed; the mean of the tested
    motif's standardised sum over the hits, weighted by ``P / Q_pilot``, estimates where the
    event's mass lies. The :data:`EDGE_COMPONENTS` tilts nearest it share :data:`EDGE_SHARE` of
    the draws; tilts below them are dropped and the rest of the draws are spread evenly over
    the tilts kept, so that the tail, where strong motifs' statistics lie, is always reached.
    (The even mixture is kept when no pilot draw reached the event: valid, imprecise.)

    Returns the laws, their allocation, their realised tilts and the pilot's draws.
    """
    reach = test.realised(1e4)
    laws, tilts = [], []
    for z in LADDER:
        if z > min(Z_CAP, 0.9 * reach):
            break
        law = test.law_at(float(z))
        if law is None:
            break
        laws.append(law)
        tilts.append(float(z))
    if not laws:
        laws, tilts = [test.law(0.0)], [0.0]
    even = np.full(len(laws), 1.0 / len(laws))
    if pilot == 0:
        return laws, even, tilts, 0
    subsets, keys, log_q = test.draw(laws, even, rng, pilot)
    inside = np.concatenate([test.replay_draws(subsets[i:i + BLOCK], None if keys is None else keys[i:i + BLOCK])[0]
                             for i in range(0, pilot, BLOCK)])
    if not inside.any():
        return laws, even, tilts, pilot
    z = test.standardised(subsets[inside])
    weight = np.exp(-log_q[inside] - np.max(-log_q[inside]))
    centre = float(np.sum(weight * z) / np.sum(weight))
    nearest = np.sort(np.argsort(np.abs(np.asarray(tilts) - centre), kind="stable")[:EDGE_COMPONENTS])
    laws, tilts = laws[nearest[0]:], tilts[nearest[0]:]
    allocation = np.full(len(laws), (1.0 - EDGE_SHARE) / len(laws))
    allocation[nearest - nearest[0]] += EDGE_SHARE / nearest.shape[0]
    return laws, allocation, tilts, pilot


@dataclass(frozen=True)
class MotifTerms:
    """The B + 1 terms of one motif's ratio: the observation's first.

    Attributes
    ----------
    log_weight : ndarray (B + 1,)
        ``log(P / Q)`` of each term up to a common constant, ``-inf`` for draws outside the event.
    statistic : ndarray (B + 1,)
        The motif's statistic of each term.
    tilts : list of float
        The mixture's tilts (realised standard deviations of the tested motif's sum).
    strata : int
        Strata the test conditions on (1 with one motif).
    """

    log_weight: np.ndarray
    statistic: np.ndarray
    tilts: list
    strata: int = 1

    @property
    def hit_rate(self) -> float:
        """Share of the draws (not the observation) inside the event."""
        return float(np.isfinite(self.log_weight[1:]).mean()) if self.log_weight.shape[0] > 1 else float("nan")


def motif_terms(test: _MotifTest, n_draws: int, rng: np.random.Generator, bar=None,
                first_block=None) -> MotifTerms:
    """Design one motif's mixture (pilot), then draw and replay ``n_draws`` draws of it.

    ``first_block(seconds_per_draw)`` is called once, after the first block of draws.
    """
    laws, allocation, tilts, _ = design_mixture(test, rng, pilot_draws(n_draws))
    observed_point = residual_points(test.target.values[None, :], test.basis)
    accepted, observed_stats = test.replay.check_points(observed_point, count=False)
    if not accepted[0]:
        raise RuntimeError("the observed response does not replay to its own selection")
    log_weight = [-test.log_mixture(laws, allocation, test.cells.counts(test.target.top[None, :]))]
    statistic = [observed_stats[:, test.j]]
    _, counts = test.draw_counts(laws, allocation, rng, n_draws)
    log_q = test.log_mixture(laws, allocation, counts)
    for first in range(0, n_draws, BLOCK):
        clock = time.perf_counter()
        size = min(BLOCK, n_draws - first)
        subsets, keys = test.fill(counts[first:first + size], rng)
        inside, stat = test.replay_draws(subsets, keys)
        log_weight.append(np.where(inside, -log_q[first:first + size], -np.inf))
        statistic.append(stat)
        if bar is not None:
            bar.update(size)
        if first == 0 and first_block is not None:
            first_block((time.perf_counter() - clock) / size)
    return MotifTerms(np.concatenate(log_weight), np.concatenate(statistic), tilts, test.cells.n_strata)


#: Below this effective number of terms in a p-value's numerator the summary warns that its stated s.e. is
#: likely too small (module docstring: measured 1.3-1.7x too small at 2.9 and 31.5, right at 330 and 673).
MIN_NUMERATOR_ESS = 100.0


class WeightedPValue(NamedTuple):
    """One motif's p-value from its terms (:func:`weighted_pvalue`).

    Attributes
    ----------
    pvalue, se : float
        The theorem's p-value and its Monte-Carlo standard error.
    ess : float
        Effective sample size of the weights over the B + 1 terms.
    tie_mass : float
        Weighted share of the terms that tie with the observed statistic.
    numerator_ess : float
        Effective number of terms in the p-value's numerator (those at or beyond the observed
        statistic, weighted; the observation's own included): below :data:`MIN_NUMERATOR_ESS` the
        s.e., estimated from those same few terms, is likely too small (module docstring).
    """

    pvalue: float
    se: float
    ess: float
    tie_mass: float
    numerator_ess: float


def weighted_pvalue(terms: MotifTerms, ties: str = "conservative", uniform: float | None = None) -> WeightedPValue:
    """The theorem's p-value from the terms, with its s.e., the weights' ESS, the tie mass and the numerator's ESS.

    Ties with the observed statistic (to :data:`~seism_stats.sampling.pvalues.TIE_RTOL`, the observation's own
    term included) count fully (``"conservative"``) or by ``uniform`` (``"randomised"``).
    """
    log_weight, statistic = terms.log_weight, terms.statistic
    observed = statistic[0]
    at_least = exceeds(statistic, observed)
    tie = np.isfinite(log_weight) & at_least & \
        (statistic <= observed + TIE_RTOL * max(abs(observed), np.finfo(float).tiny))
    tie[0] = True
    share = (at_least & ~tie) + tie * (1.0 if ties == "conservative" else float(uniform))
    with np.errstate(divide="ignore"):
        log_num = log_weight + np.log(share)
    p, se, ess = ratio_pvalue(log_num, log_weight)
    weights = np.exp(log_weight - np.max(log_weight))
    return WeightedPValue(p, se, ess, float(weights[tie].sum() / weights.sum()), log_weight_ess(log_num))


def tilted_pvalues(features, selection: Selection, covariate_basis: np.ndarray, n_draws: int,
                   rng: np.random.Generator, order: np.ndarray, ties: str = "conservative",
                   n_threads: int = 1, progress: bool = False) -> TiltedEstimate:
    """Exact selective p-values of every selected motif under the permutation null (module docstring).

    Parameters
    ----------
    features : feature map of the grid
    selection : Selection
    covariate_basis : ndarray (n, p)
    n_draws : int
        Tilted draws per motif (B >= 0) besides the observation.
    rng : numpy.random.Generator
    order : ndarray of int64 (n,)
        Canonical order of the rows (:func:`seism_stats.utils.canonical.canonical_order`).
    ties : {"conservative", "randomised"}
    n_threads : int
    progress : bool
        A progress bar over the draws.

    Returns
    -------
    TiltedEstimate
    """
    start = time.perf_counter()
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}; got {ties!r}")
    q = selection.event.n_selected
    target = PermutationTarget.from_selection(selection, covariate_basis)
    pvalues, se, ess, tie_mass, hit_rate, numerator_terms = (np.full(q, np.nan) for _ in range(6))
    if q == 0:
        return TiltedEstimate(pvalues, se, pvalues.copy(), ess, tie_mass, hit_rate, [], np.zeros(0, dtype=np.int64),
                              ties, target.exact, int(n_draws), 0, time.perf_counter() - start,
                              numerator_ess=numerator_terms)
    replay = SelectionReplay(features, selection.event, n_threads)
    observed_point = residual_points(target.values[None, :], covariate_basis)
    signs = np.sign(replay.coefficients(observed_point)[0])
    screen = EventScreen(features, selection.event, covariate_basis)
    planned = q * n_draws

    def announce(per_draw: float) -> None:  # a long plan is announced after the first block, as circles do
        budget.announce(budget.SamplingPlan(planned, planned * per_draw), np.inf,
                        f"tilted permutation sampling of {planned:,} draws")

    components, strata, laws = [], np.ones(q, dtype=np.int64), []
    with tqdm(total=planned, disable=not progress, desc="tilted permutations", unit="draw") as bar:
        for j in range(q):
            test = _MotifTest(replay, target, covariate_basis, signs, j, order, screen)
            terms = motif_terms(test, n_draws, rng, bar, announce if j == 0 else None)
            uniform = rng.random() if ties == "randomised" else None
            pvalues[j], se[j], ess[j], tie_mass[j], numerator_terms[j] = weighted_pvalue(terms, ties, uniform)
            hit_rate[j], strata[j] = terms.hit_rate, terms.strata
            components.append(terms.tilts)
            laws.append(TiltedNullLaw.from_terms(terms))
    upper = np.minimum(1.0, pvalues + stats.norm.ppf(0.95) * se)
    return TiltedEstimate(pvalues, se, upper, ess, tie_mass, hit_rate, components, strata, ties, target.exact,
                          int(n_draws), int(replay.n_replays), time.perf_counter() - start, tuple(laws),
                          numerator_terms)
