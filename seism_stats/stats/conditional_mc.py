"""Selective p-values by conditional Monte Carlo, ``method="cmc"`` (issue 9, items 4, 5 and 7).

For a selected motif j the residual sphere splits exactly as in :mod:`seism_stats.stats.tail`:
``u = cos(w) q_j + sin(w) d`` with ``q_j`` the selected feature (off the covariates
and the earlier motifs) and ``d`` the unit direction of the rest. Under the null
``u`` is uniform on the sphere, so ``d`` is uniform on the sphere of the residual
space orthogonal to ``q_j``, and ``x = cot(w)`` is independent of it with
``x sqrt(m - 1) ~ t(m - 1)``. The event ``E`` (the same cells selected) and
``T_j = cos(w)^2`` are exact functions of ``x`` on each half circle: ``E`` is a
union of x-intervals (:func:`circle_segments`). With

    ``D(d) = P(x in E(d))``,   ``N(d) = P(x in E(d), T_j >= t_obs)``

(Student-t masses, in log space, however small) the selective p-value is

    ``p = P(T_j >= t_obs | E) = E[N(d)] / E[D(d)]``  over ``d`` uniform.

So ``d_1 .. d_B`` are drawn **i.i.d.** (one Kronecker transform each; no chain,
no burn-in, no correlation) and ``p_hat = sum N(d_b) / sum D(d_b)``: a
self-normalised importance-sampling (ratio) estimator in which the motif's own
coordinate is integrated exactly (Rao-Blackwellised). Its standard error is the
usual delta-method one, ``sqrt(sum (N_b - p_hat D_b)^2) / sum D_b``. Its relative
error does not grow as ``p`` shrinks (strong motifs have ``N(d) = P(|x| >= x_obs)``
for nearly every ``d``; the error comes from how much ``D`` varies between
directions), so p-values far below ``1/(B+1)`` come with a stated error.

Several motifs: conditioning on a little more. A uniform ``d`` almost never lets
the *other* motifs win their steps (``D(d) = 0`` for 99% of directions with three
motifs on issue 9's data set): their nearest competitors, cells one or two
mismatches away, are beaten only by the observed rest of the response. So motif j
is tested given ``b = V^T d``, the part of ``d`` in a subspace ``V`` (orthogonal
to the covariates and ``q_j``) spanned by the other selected features and, for
each, the features of its most correlated competitors. ``V`` depends only on the
selected cells. Because ``w`` and ``d`` are independent under the null, ``w`` is
independent of any function of ``d``, so

    ``p_V = P(T_j >= t_obs | E, V^T d = b_obs) = E[N(d) | b_obs] / E[D(d) | b_obs]``

is a selective p-value exactly as valid as ``p`` (uniform under the null given
``E`` and ``b``), and ``d`` given ``b`` is ``V b + sqrt(1 - |b|^2) r`` with ``r``
uniform on the unit sphere orthogonal to ``V`` and ``q_j``: i.i.d. again, one
transform each (:class:`ConditionedDirections`). It is a different p-value from
the MCMC's ``p`` (it conditions on more, like the polyhedral tests of Lee et al.
2016, which condition on all of ``d``), so the two differ on the same data; both
are valid under the package's null. How much ``V`` holds is chosen per motif from
nested levels (:data:`NEIGHBOUR_LADDER`: 0, 4, 16, 32, ... competitors per other
motif): the first whose weights reach an effective sample size of
:data:`MIN_PILOT_ESS` per direction, on a pilot and then on the estimate's own
directions. Every run at a level depends on the data only through that level's
``b``, and the levels are nested, so the level used is a function of the finest
``b`` and of independent draws; conditioning on it keeps the p-value valid. If no
level qualifies, the motif is tested on the observed direction alone (``V`` = all
of ``d``): ``N(d_obs) / D(d_obs)``, exact, with no Monte-Carlo error. With one
motif ``V`` is empty and ``p_V = p``.

What it is and is not. ``p_hat`` is a consistent estimate of the selective
p-value with a stated Monte-Carlo error, not a rank p-value exactly valid at
every B (that is ``method="mcmc"``); a ratio estimator's bias is of order 1/B,
small against its error at the default B. ``python -m simulations validity``
checks its rejection rates at B = 100 on null data sets, with one to three motifs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import stats
from tqdm.auto import tqdm

from ..features.memory import CMC_BLOCK
from ..sampling.pvalues import log_space_ratio, log_weight_ess, ratio_se
from ..sampling.walkers import sphere_points
from ..selection.geometry import NEIGHBOUR_LADDER, OBSERVED_DIRECTION, circle_log_masses
from ..selection.greedy import Selection

#: Directions whose numerators are computed in one transform call (defined where the memory estimate counts them).
BLOCK = CMC_BLOCK
#: Directions of each level's pilot run (drawn, then discarded).
PILOT = 128
#: A level is kept when its pilot's weights have at least this effective sample size per direction.
MIN_PILOT_ESS = 0.05
#: Below this effective sample size of the weights the summary warns that the standard
#: error (a delta-method estimate from the same draws) may understate the error.
MIN_WEIGHT_ESS = 30.0


@dataclass(frozen=True)
class ConditionalEstimate:
    """Conditional Monte-Carlo estimate of a one-motif selective p-value.

    Attributes
    ----------
    pvalues, se, upper : ndarray (q,)
        Estimate, Monte-Carlo standard error and one-sided 95% Monte-Carlo upper
        bound (``p + 1.645 se``, at most 1); NaN where no motif was selected.
    n_draws : int
        Directions drawn (B).
    ess : float
        Effective sample size of the importance weights ``D(d_b)`` (the smallest over
        the motifs estimated by directions).
    seconds : float
    neighbours : ndarray of int (q,)
        Competing cells per other motif in each motif's conditioning subspace (0 with
        one motif; :data:`OBSERVED_DIRECTION` where the motif was tested on the
        observed direction alone, exactly: s.e. 0).
    n_directions : int
        Directions drawn for all motifs, pilots and discarded levels included (one
        Kronecker transform each).
    """

    pvalues: np.ndarray
    se: np.ndarray
    upper: np.ndarray
    n_draws: int
    ess: float
    seconds: float
    neighbours: np.ndarray
    n_directions: int = 0


def check_sphere_null(null: str, null_reason: str = "", method: str = "cmc") -> None:
    """Raise ``ValueError`` unless ``method`` applies (it needs the sphere null)."""
    if null != "sphere":
        why = f" ({null_reason})" if null_reason else ""
        raise ValueError(f"method={method!r} needs the sphere null (Gaussian linear model), but the null is "
                         f"{null!r}{why}; use method='tilted' (exact at any number of draws) or method='mcmc'")


def conditional_pvalues(features, selection: Selection, covariate_basis: np.ndarray, n_draws: int,
                        rng: np.random.Generator, progress: bool = False,
                        order: np.ndarray | None = None) -> ConditionalEstimate:
    """Conditional Monte-Carlo estimates of the selective p-values of every selected motif.

    Parameters
    ----------
    features : feature map of the grid (``project`` gives the numerators of points, ``column`` a cell's feature)
    selection : Selection
    covariate_basis : ndarray (n, p)
    n_draws : int
        Directions drawn i.i.d. per motif (B).
    rng : numpy.random.Generator
    progress : bool
        A progress bar over the directions.
    order : ndarray of int64 (n,), optional
        The rows' canonical order (:mod:`seism_stats.utils.canonical`): directions are drawn in
        it, so that the estimate does not depend on the order of the input rows.

    Returns
    -------
    ConditionalEstimate
        With several motifs, motif j's estimate is of ``P(T_j >= t_obs | E, P_V d)``
        for the level of ``V`` its pilots chose (module docstring); ``ess`` is the
        smallest over the motifs estimated by directions.
    """
    start = time.perf_counter()
    q = selection.event.n_selected
    nan = np.full(q, np.nan)
    if q == 0 or n_draws < 1:
        return ConditionalEstimate(nan, nan.copy(), nan.copy(), 0, float("nan"), time.perf_counter() - start,
                                   np.zeros(q, dtype=np.int64))
    pvalues, se, upper, ess = nan.copy(), nan.copy(), nan.copy(), np.full(q, np.inf)
    neighbours = np.zeros(q, dtype=np.int64)
    drawn = np.zeros(q, dtype=np.int64)
    with tqdm(total=n_draws * q, disable=not progress, desc="conditional MC", unit="direction") as bar:
        for j in range(q):
            pvalues[j], se[j], ess[j], neighbours[j], drawn[j] = _motif_estimate(
                features, selection, covariate_basis, j, n_draws, rng, bar if q == 1 else None, order)
            upper[j] = _upper_bound(pvalues[j], se[j], ess[j])
            if q > 1:
                bar.update(n_draws)
    smallest = float(np.min(ess)) if np.isfinite(ess).any() else float("nan")
    return ConditionalEstimate(pvalues, se, upper, int(n_draws), smallest, time.perf_counter() - start, neighbours,
                               int(drawn.sum()))


def _upper_bound(p: float, se: float, ess: float) -> float:
    """One-sided 95% Monte-Carlo bound: ``p + 1.645 se``; where no direction reached the
    statistic (``p = 0``, no s.e.), ``3 / ESS`` (the rule of three); 1 where nothing is known."""
    if p == 0 and np.isfinite(ess) and ess > 0:
        return min(1.0, 3.0 / ess)
    return min(1.0, p + stats.norm.ppf(0.95) * se) if np.isfinite(se) else 1.0


def _motif_estimate(features, selection: Selection, covariate_basis: np.ndarray, j: int, n_draws: int,
                    rng: np.random.Generator, bar=None,
                    order: np.ndarray | None = None) -> tuple[float, float, float, int, int]:
    """Motif j's estimate, its s.e., the ESS of its weights, its conditioning level and the directions drawn.

    With one motif: ``n_draws`` directions of the residual sphere. With several:
    the levels of :data:`NEIGHBOUR_LADDER` in turn. A level is used when the ESS of
    its weights reaches :data:`MIN_PILOT_ESS` per direction, first on a pilot of
    :data:`PILOT` directions (discarded; it skips hopeless levels cheaply), then on
    the ``n_draws`` directions of the estimate. When every level fails, the motif is
    tested on the observed direction alone: an exact ratio (s.e. 0, ESS inf). The
    levels are nested and each run depends on the data only through that level's
    ``b``, so the level used is a function of the finest ``b`` and of independent
    draws, and conditioning on it keeps the p-value valid (module docstring).
    """
    dim = selection.unit_residual.shape[0] - covariate_basis.shape[1]
    q = selection.event.n_selected
    if q == 1:
        directions = ConditionedDirections(features, selection, covariate_basis, j, 0, order)
        return (*ratio_estimate(*_log_masses(selection, directions, j, dim, n_draws, rng, bar)[::-1]), 0, n_draws)
    drawn = 0
    room = dim - 1 - max(1, dim // 8)  # r keeps at least an eighth of the space orthogonal to q_j
    for count in NEIGHBOUR_LADDER:
        if (q - 1) * (count + 1) > dim:
            break
        directions = ConditionedDirections(features, selection, covariate_basis, j, count, order)
        if directions.rank > room:
            break
        log_den, _ = _log_masses(selection, directions, j, dim, PILOT, rng)
        drawn += PILOT
        if ratio_estimate(log_den, log_den)[2] < MIN_PILOT_ESS * PILOT:
            continue
        log_den, log_num = _log_masses(selection, directions, j, dim, n_draws, rng)
        drawn += n_draws
        p, se, ess = ratio_estimate(log_num, log_den)
        if ess >= MIN_PILOT_ESS * n_draws:
            return p, se, ess, count, drawn
    u = selection.unit_residual
    log_den, log_num = circle_log_masses(selection, features.project(u[None]), (u @ selection.event.basis)[None],
                                         j, dim)
    if not np.isfinite(log_den[0]):  # the observation on the event's boundary to rounding: no answer
        return np.nan, np.nan, np.inf, OBSERVED_DIRECTION, drawn + 1
    return min(1.0, float(np.exp(log_num[0] - log_den[0]))), 0.0, np.inf, OBSERVED_DIRECTION, drawn + 1


def _log_masses(selection: Selection, directions: "ConditionedDirections", j: int, dim: int, n_draws: int,
                rng: np.random.Generator, bar=None) -> tuple[np.ndarray, np.ndarray]:
    """``log D`` and ``log N`` of ``n_draws`` directions, drawn by blocks of :data:`BLOCK`."""
    log_den, log_num = np.empty(n_draws), np.empty(n_draws)
    for first in range(0, n_draws, BLOCK):
        m = min(BLOCK, n_draws - first)
        numerators, coefficients = directions.draw(rng, m)
        block = slice(first, first + m)
        log_den[block], log_num[block] = circle_log_masses(selection, numerators, coefficients, j, dim,
                                                           directions.features.n_threads)
        if bar is not None:
            bar.update(m)
    return log_den, log_num


def conditioning_basis(features, selection: Selection, covariate_basis: np.ndarray, j: int,
                       neighbours: int) -> np.ndarray:
    """Orthonormal basis ``(n, r)`` of motif j's conditioning subspace ``V_j`` (empty with one motif).

    ``V_j`` is spanned by the other selected features ``q_i`` and, for each, the
    ``neighbours`` cells whose step-i residual features are most correlated with
    ``q_i`` (its nearest competitors), all taken off the covariates and ``q_j``. It
    depends on the selected cells only. The features are taken in one fixed order
    (the ``q_i``, then the nearest competitor of each other motif, then the second
    nearest, ...) and orthonormalised one by one (Gram-Schmidt, twice), a feature
    (nearly) inside the span of those before it being dropped; so the basis of a
    level is a prefix of the basis of every larger level, and the levels nest exactly.
    """
    event = selection.event
    q = event.n_selected
    n = selection.unit_residual.shape[0]
    others = [i for i in range(q) if i != j]
    ranked = []
    for i in others:
        correlation = np.abs(event.cross[:, i]) * np.sqrt(event.inv_den[i])
        correlation[event.cells] = 0.0  # the selected cells are in the span already
        nearest = np.argsort(-correlation, kind="stable")[:neighbours]
        ranked.append([int(c) for c in nearest if correlation[c] > 0])
    columns = [event.basis[:, i] for i in others]
    columns += [features.column(cells[rank]) for rank in range(neighbours) for cells in ranked if rank < len(cells)]
    off = np.hstack([covariate_basis, event.basis[:, j:j + 1]])
    basis = np.zeros((n, len(columns)))
    kept = 0
    for column in columns:
        vector = column - off @ (off.T @ column)
        size = np.linalg.norm(vector)
        for _ in range(2):  # twice: one pass loses digits on nearly collinear features
            vector -= off @ (off.T @ vector) + basis[:, :kept] @ (basis[:, :kept].T @ vector)
        if size > 0 and np.linalg.norm(vector) > 1e-6 * size:
            basis[:, kept] = vector / np.linalg.norm(vector)
            kept += 1
    return basis[:, :kept]


class ConditionedDirections:
    """I.i.d. directions ``d`` for motif j given ``b = P_V d`` at its observed value.

    ``d = V b + sqrt(1 - |b|^2) r`` with ``r`` uniform on the unit sphere of the
    residual space orthogonal to ``q_j`` and ``V`` (with one motif ``V`` is empty and
    ``d = r``). :meth:`draw` gives their numerators and coefficients: ``Phi^T V``
    is computed once, so each direction costs one transform, as with one motif.
    """

    def __init__(self, features, selection: Selection, covariate_basis: np.ndarray, j: int, neighbours: int,
                 order: np.ndarray | None = None):
        event = selection.event
        self.features, self.j, self.neighbours, self.order = features, j, neighbours, order
        self.n = selection.unit_residual.shape[0]
        space = conditioning_basis(features, selection, covariate_basis, j, neighbours)
        self.off = np.hstack([covariate_basis, event.basis[:, j:j + 1], space])  # r is orthogonal to these
        self.rank = space.shape[1]
        self.fixed_coefficients = np.zeros(event.n_selected)
        self.fixed_numerators = None
        self.scale = 1.0
        if space.shape[1]:
            u = selection.unit_residual
            observed = u - (event.basis[:, j] @ u) * event.basis[:, j]
            b = space.T @ (observed / np.linalg.norm(observed))
            fixed = space @ b
            self.scale = float(np.sqrt(max(1.0 - b @ b, 0.0)))
            self.fixed_numerators = features.project(fixed[None])[0]
            self.fixed_coefficients = fixed @ event.basis  # <q_i, d> = <q_i, V b>: r is orthogonal to q_i
            self.fixed_coefficients[j] = 0.0  # d is orthogonal to q_j by construction

    def draw(self, rng: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray]:
        """Numerators ``(m, G)`` and coefficients ``(m, q)`` of ``m`` directions."""
        rest = sphere_points(rng, m, self.off, self.n, self.order)
        numerators = self.features.project(rest)
        if self.fixed_numerators is not None:
            numerators *= self.scale
            numerators += self.fixed_numerators
        return numerators, np.tile(self.fixed_coefficients, (m, 1))


def ratio_estimate(log_num: np.ndarray, log_den: np.ndarray) -> tuple[float, float, float]:
    """``sum N / sum D``, its delta-method standard error, and the ESS of the weights D (all in log space).

    The standard error needs two directions at least (NaN with one).
    """
    shift = float(np.max(log_den))
    if not np.isfinite(shift):
        return float("nan"), float("nan"), 0.0
    den, num = np.exp(log_den - shift), np.exp(log_num - shift)
    total = den.sum()
    p = float(num.sum() / total)
    if p == 0.0 and np.isfinite(log_num).any():  # below the smallest double relative to D: in log space
        p = log_space_ratio(log_num, log_den)
    # No direction reached the statistic (p = 0): the delta method would say s.e. 0; it is unknown.
    se = ratio_se(log_num, log_den, shift, p, total) if den.size > 1 and p > 0 else float("nan")
    return min(p, 1.0), se, log_weight_ess(log_den)


