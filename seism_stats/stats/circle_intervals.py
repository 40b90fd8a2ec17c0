r"""Selective confidence intervals exact with sigma unknown, by inverting the circle test (issue 23).

Target: ``theta_j``, the coefficient of motif j's grid feature ``phi_j`` in the selected
model ``y = W gamma + sum_i theta_i phi_i + sigma eps`` (the covariates and the selected
motifs), given the selection event ``E``.

Route
-----
Test ``H0_b: theta_j = b`` exactly as :mod:`seism_stats.stats.circle_tests` tests
``theta_j = 0``: ``y - b phi_j`` follows the model without motif j, so with
``S = span(W, phi_i, i != j)``, ``eta`` motif j's unit feature off ``S`` and
``||eta_raw||`` its norm before normalising, the sufficient statistics
``P_S (y - b phi_j)`` and ``rho_b = ||(I - P_S)(y - b phi_j)||`` are conditioned on
and the direction of ``(I - P_S)(y - b phi_j)`` is uniform on its sphere. Writing the
residual ``(I - P_S) y = a eta + s d_0`` (``a = <eta, y>``, ``s`` the length of the
rest), under ``H0_b``

    ``y = P_S y + b ||eta_raw|| eta + rho_b (cos w eta + sin w d)``,   ``rho_b^2 = (a - b ||eta_raw||)^2 + s^2``:

the circles of ``H0_b`` have the same directions ``d`` as those of ``H0_0`` (the
direction ``d_0`` orthogonal to ``eta`` does not depend on ``b``); only their
offset and the observed angle ``cot w_b = (a - b ||eta_raw||) / s`` change. So one
set of directions ``d_1 .. d_B`` serves every ``b``. The statistic is the signed
``T = cot w`` (``sqrt(df) T`` is the t statistic of ``theta_j - b``), and with
``N^+_b(d)`` the event mass of ``T >= cot w_b`` on the circle of ``d``,

    ``G(b) = sum_{k=0..B} N^+_b(d_k) / sum_{k=0..B} D_b(d_k)``

(the observed direction counted) is, by the theorem of
:mod:`seism_stats.stats.circle_tests` applied to the one-sided statistic, uniform on
(0, 1) under ``H0_b`` given ``E`` and the directions, for every ``B``: an exact pivot
with sigma unknown (the residual length is conditioned on, not estimated). The
directions are uniform on the sphere of ``K`` (no conditioning subspace, see below),
which keeps the pivot exact.

Theorem. ``C = {b : alpha/2 < G(b) < 1 - alpha/2}`` holds ``theta_j`` with
probability ``1 - alpha`` given ``E``, exactly, at every ``n`` and ``B``.
Proof: ``theta_j in C`` iff ``alpha/2 < G(theta_j) < 1 - alpha/2``, and
``G(theta_j)`` is uniform given ``E`` (above). []

``C`` need not be an interval: ``G`` is not monotone in general, because each tested
value conditions on its own residual length ``rho_b`` (a different circle, not a tilt
of one law), and far from the estimate the circles' mass moves to directions that
select the same cells on their own. So the reported interval is the hull of ``C``
over a scan of ``b`` at ``estimate +/- 2^i`` OLS standard errors (``i = 0 ..``
:data:`SCAN_DOUBLINGS`, and ``G``'s limits read at ``2^``:data:`LIMIT_DOUBLINGS`: ``G``
need not tend to 0 and 1), its ends refined by Brent's method between the farthest
scanned value inside ``C`` and the next one outside; an end inside ``C`` at the
limit is infinite. The hull contains ``C`` up to what falls between scanned values,
so it keeps the coverage. Where ``G`` is undefined at a value tried (NaN: the
observation on its own event's boundary in rounding, which a very thin event, such as
31 motifs of a 32-cell grid, can give), that value counts as inside ``C``: the end is
then found by bisection instead of Brent's method and placed at the first defined
value outside, so the hull errs wide. The root of ``G = 1/2`` nearest the OLS estimate is the
reported estimate: median-unbiased where ``G`` is monotone around it.

The directions of the intervals are drawn with no conditioning subspace (``V``
empty, level 0), whatever the p-value used: a level chosen by pilots on the circles
of ``b = 0`` would depend, under ``theta_j = b != 0``, on the tested statistic itself
(the circles of ``b = 0`` move with it), and ``G(b)`` would not be exactly uniform.

Monte-Carlo error of an end: ``se(G) / G'(b)`` at the root (delta method, ``G'``
from the neighbouring evaluations), stated with the interval.

Cost: the circles of every ``b`` through one direction ``d`` lie in the one plane
``{P_S u + x eta + z d}`` (centre ``(shift_b, 0)``, radius ``rho_b``), where the selection
event is one fixed set. :meth:`CircleFamily.span` lists once, per direction, step and
side, the few cells whose constraints bound that set inside a square holding every
circle of the scan up to ``2^SCAN_DOUBLINGS`` standard errors
(:meth:`CircleTests.planes`); each evaluation of ``G`` there intersects each circle with
those cells only: the same arcs as with every cell, except in slivers at most
``2e-12`` of the square's size thick (:mod:`seism_stats.stats._circles`; on real fits
the pivots are bit-identical). A circle outside the square (the limits' and any
refinement beyond the scan) is intersected with every cell, its drawn circles screened
as the p-values' are (:mod:`seism_stats.stats.circle_tests`, "Screening", with ``N_0``
the smaller of the observed circle's masses of ``T >= T_obs`` and ``T <= T_obs``, both
computed first): what is dropped moves each of the sums of ``G``'s numerator and of its
complement by less than a relative ``4.3e-18``, below the rounding of a double.

What is stored: the evaluations ``(b, logit G(b))`` of the scan and the root
finding (a few dozen numbers per motif) in a :class:`CirclePivot`; ``conf_int(alpha)``
at a level that was solved (alpha = 0.05 and 0.1: :data:`ALPHAS`) is exact, at
another its ends are interpolated (``logit G`` linear) between evaluations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from ..selection.geometry import segment_log_masses
from .circle_tests import CircleAxis, CircleTests, DirectionLaw, screen_cut

#: Levels 1 - alpha of the intervals solved at fit time (the others are interpolated).
ALPHAS = (0.05, 0.1)
#: The scan of ``G`` reaches ``estimate +/- 2^SCAN_DOUBLINGS`` OLS standard errors; an end inside ``C`` there is infinite.
SCAN_DOUBLINGS = 7
#: ``G``'s limits are read at ``estimate +/- 2^LIMIT_DOUBLINGS`` OLS standard errors (about a million): ``G`` need
#: not tend to 0 and 1, and where a limit lies inside ``(alpha/2, 1 - alpha/2)`` the set ``C`` holds a half-line.
LIMIT_DOUBLINGS = 20
#: Tolerance of a root, in OLS standard errors.
ROOT_TOLERANCE = 1e-2


class _Undefined(Exception):
    """``G(b)`` was NaN (undefined) at a value Brent's method tried (:func:`circle_pivot`)."""


@dataclass(frozen=True)
class CirclePivot:
    """The exact pivot ``G(b)`` of one motif's coefficient, as evaluated while solving its levels.

    Attributes
    ----------
    tested : ndarray
        Values ``b`` at which ``G`` was evaluated (sorted).
    log_odds : ndarray
        ``logit G(b)`` there.
    se : ndarray
        Monte-Carlo standard errors of ``G(b)`` there.
    estimate_ols, bse_ols : float
        The OLS coefficient of the motif in the selected model and its standard error.
    df_resid : int
        Residual degrees of freedom of the selected model.
    n_draws : int
        Directions drawn for the pivot (besides the observed one).
    """

    tested: np.ndarray
    log_odds: np.ndarray
    se: np.ndarray
    estimate_ols: float
    bse_ols: float
    df_resid: int
    n_draws: int

    def log_odds_at(self, b: float) -> float:
        """``logit G(b)``, interpolated linearly between evaluations (exact at evaluated values)."""
        finite = np.isfinite(self.log_odds)
        return float(np.interp(b, self.tested[finite], self.log_odds[finite]))

    def pivot(self, b: float) -> float:
        """``G(b)``: uniform on (0, 1) under ``theta_j = b`` given the selection."""
        return float(special.expit(self.log_odds_at(b)))

    def solve(self, level: float) -> float:
        """The root of ``G(b) = level`` nearest the OLS estimate (the median-unbiased estimate for 1/2)."""
        target = float(special.logit(level))
        b, gap = self._finite()
        gap = gap - target
        cross = np.flatnonzero(np.sign(gap[:-1]) != np.sign(gap[1:]))
        if not cross.size:
            return np.nan
        i = cross[np.argmin(np.abs(b[cross] - self.estimate_ols))]
        return float(b[i] + (b[i + 1] - b[i]) * gap[i] / (gap[i] - gap[i + 1]))

    def interval(self, alpha: float) -> tuple[float, float]:
        """The hull of ``{b : alpha/2 < G(b) < 1 - alpha/2}`` over the evaluations (module docstring)."""
        b, log_odds = self._finite()
        low, high = float(special.logit(alpha / 2.0)), -float(special.logit(alpha / 2.0))
        inside = (log_odds > low) & (log_odds < high)
        if not inside.any():
            return np.nan, np.nan
        first, last = np.flatnonzero(inside)[[0, -1]]
        undefined = self.tested[np.isnan(self.log_odds)]
        ends = []
        for at, outer in ((first, first - 1), (last, last + 1)):
            if outer < 0 or outer >= b.size:
                ends.append(-np.inf if outer < 0 else np.inf)
                continue
            if np.any((undefined > min(b[at], b[outer])) & (undefined < max(b[at], b[outer]))):
                ends.append(float(b[outer]))  # undefined values before it count as inside: the end errs wide
                continue
            target = low if log_odds[outer] <= low else high
            gap_in, gap_out = log_odds[at] - target, log_odds[outer] - target
            ends.append(float(b[at] + (b[outer] - b[at]) * gap_in / (gap_in - gap_out)))
        return ends[0], ends[1]

    def _finite(self) -> tuple[np.ndarray, np.ndarray]:
        finite = np.isfinite(self.log_odds)
        return self.tested[finite], self.log_odds[finite]

    def end_se(self, alpha: float, upper: bool) -> float:
        """Monte-Carlo standard error of an end of the ``1 - alpha`` interval: ``se(G) / |G'|`` there."""
        b = self.interval(alpha)[int(upper)]
        finite = np.isfinite(self.log_odds) & np.isfinite(self.se)
        tested, log_odds, errors = self.tested[finite], self.log_odds[finite], self.se[finite]
        if not np.isfinite(b) or tested.size < 2:
            return np.nan
        i = int(np.clip(np.searchsorted(tested, b), 1, tested.size - 1))
        lo, hi = i - 1, i
        g = special.expit(log_odds[[lo, hi]])
        slope = (g[1] - g[0]) / (tested[hi] - tested[lo])
        se = float(np.interp(b, tested[[lo, hi]], errors[[lo, hi]]))
        return abs(se / slope) if slope != 0 else np.nan

    def pvalue_zero(self) -> float:
        """Two-sided (equal-tailed) selected-model p-value of ``theta_j = 0`` from the pivot."""
        g = self.pivot(0.0)
        return float(min(1.0, 2.0 * min(g, 1.0 - g)))


class CircleFamily:
    """The circles of every tested value ``b`` of one motif, over one set of directions.

    Parameters
    ----------
    tests : CircleTests
        Motif hypothesis.
    axis : CircleAxis
        The motif's circles at ``b = 0``.
    law : DirectionLaw or None
        The directions' law (None: the observed direction alone).
    n_draws : int
    rng : numpy.random.Generator
    """

    def __init__(self, tests: CircleTests, axis: CircleAxis, law: DirectionLaw | None, n_draws: int,
                 rng: np.random.Generator):
        if tests.hypothesis != "motif":
            raise ValueError("selective intervals invert the selected-model (motif) hypothesis")
        self.tests, self.axis = tests, axis
        self.n_draws = 0 if law is None else int(n_draws)
        observed = tests.direction_terms(axis.direction)
        numerators = np.empty((1 + self.n_draws, observed[0].shape[1]))  # the drawn rows' transforms in place
        numerators[0] = observed[0][0]
        coefficients = observed[1]
        if self.n_draws:
            coefficients = np.vstack([coefficients, law.draw(rng, self.n_draws, out=numerators[1:])[1]])
        self.rows = (numerators, coefficients)
        self.scale = tests.selection.residual_norm / axis.eta_norm  # b = shift x scale
        self.planes = None

    def release(self) -> None:
        """Free the circles' transforms (``(1 + B)`` grid vectors) once the pivot is computed.

        SciPy's root finder keeps the objective in a reference cycle, so without this the family
        would outlive its pivot until the garbage collector runs, and every motif's circles would
        be held at once (measured: all three motifs' at the intervals' peak).
        """
        self.rows, self.planes = None, None

    def span(self, reach: float) -> None:
        """List once the cells that can bind in each direction's plane, for every ``|b| <= reach``.

        The circles of every ``b`` through one direction lie in one plane, where the
        event is a fixed set (:meth:`CircleTests.planes`); each later :meth:`evaluate`
        then intersects a handful of cells per step: the same arcs, but for slivers thinner
        than ``2e-12`` of the square's size (:func:`_circles.plane_cells`).
        """
        if np.isfinite(reach) and self.axis.size > 0:  # size 0: the observation on the axis, no plane
            self.planes = self.tests.planes(self.axis, self.rows, reach)

    def evaluate(self, b: float) -> tuple[float, float]:
        """``logit G(b)`` and the Monte-Carlo s.e. of ``G(b)`` (delta method over the drawn directions).

        A circle outside the planes' square is intersected with every cell, the drawn ones
        screened as the p-values' circles are (:meth:`CircleTests.arcs`, ``cut``), against the
        observed circle's smaller exceedance mass (module docstring, "Cost").
        """
        tested = self.axis.tested(b / self.scale)
        planes = self.planes if self.planes is not None and self.planes.holds(tested) else None
        if planes is None and self.n_draws and self.tests.screens:
            numerators, coefficients = self.rows
            observed = self._log_masses(tested, (numerators[:1], coefficients[:1]))
            cut = screen_cut(min(observed[1][0], observed[2][0]), self.n_draws)
            drawn = self._log_masses(tested, (numerators[1:], coefficients[1:]), cut=cut)
            log_den, log_up, log_low = (np.concatenate(pair) for pair in zip(observed, drawn))
        else:
            log_den, log_up, log_low = self._log_masses(tested, self.rows, planes)
        if not np.isfinite(log_den[0]):  # the observation on its event's boundary (rounding)
            return np.nan, np.nan
        shift = float(np.max(log_den))
        den, up = np.exp(log_den - shift), np.exp(log_up - shift)
        g = up.sum() / den.sum()
        se = float(np.sqrt(np.sum((up[1:] - g * den[1:]) ** 2)) / den.sum())
        return float(special.logsumexp(log_up) - special.logsumexp(log_low)), se

    def _log_masses(self, tested: CircleAxis, rows: tuple, planes=None,
                    cut: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``log D``, ``log N^+`` (``T >= T_obs``) and ``log N^-`` (``T <= T_obs``) of each row's circle."""
        lo, hi, owner, count = self.tests.segments(tested, rows, planes, cut)
        threshold = tested.cos_obs / tested.sin_obs
        log_den, log_up = segment_log_masses(lo, hi, owner, count, tested.df, threshold, "upper")
        log_low = segment_log_masses(lo, hi, owner, count, tested.df, threshold, "lower")[1]
        return log_den, log_up, log_low


def circle_pivot(family: CircleFamily, estimate_ols: float, bse_ols: float, alphas=ALPHAS) -> CirclePivot:
    """Scan ``G`` outward from the OLS estimate, refine the hull ends of each ``alpha``'s set and the median."""
    cache: dict[float, tuple[float, float]] = {}

    def log_odds(b: float) -> float:
        if b not in cache:
            cache[b] = family.evaluate(b)
        return cache[b][0]

    step = bse_ols if np.isfinite(bse_ols) and bse_ols > 0 else 1.0
    family.span(abs(estimate_ols) + step * 2.0**SCAN_DOUBLINGS)  # the limits' circles: every cell
    for b in [0.0, estimate_ols] + [estimate_ols + side * step * 2.0**i for side in (-1.0, 1.0)
                                    for i in list(range(SCAN_DOUBLINGS + 1)) + [LIMIT_DOUBLINGS]]:
        log_odds(b)

    def refine(b_in: float, b_out: float, target: float) -> None:
        gap_in, gap_out = log_odds(b_in) - target, log_odds(b_out) - target
        if not (np.isfinite(gap_in) and np.isfinite(gap_out) and np.sign(gap_in) != np.sign(gap_out)):
            return

        def gap(b: float) -> float:
            value = log_odds(b) - target
            if np.isnan(value):
                raise _Undefined
            return value

        try:
            optimize.brentq(gap, *sorted((b_in, b_out)), xtol=ROOT_TOLERANCE * step)
        except _Undefined:  # bisection instead, an undefined value counted on b_in's side (module docstring)
            inside, outside = b_in, b_out
            while abs(outside - inside) > ROOT_TOLERANCE * step:
                middle = 0.5 * (inside + outside)
                value = log_odds(middle) - target
                if np.isnan(value) or np.sign(value) == np.sign(gap_in):
                    inside = middle
                else:
                    outside = middle

    def scanned() -> tuple[np.ndarray, np.ndarray]:
        tested = np.array(sorted(cache))
        values = np.array([cache[b][0] for b in tested])
        finite = np.isfinite(values)
        return tested[finite], values[finite]

    for alpha in alphas:
        low, high = float(special.logit(alpha / 2.0)), -float(special.logit(alpha / 2.0))
        b, values = scanned()
        inside = np.flatnonzero((values > low) & (values < high))
        if inside.size:
            for at, outer in ((inside[0], inside[0] - 1), (inside[-1], inside[-1] + 1)):
                if 0 <= outer < b.size:
                    refine(b[at], b[outer], low if values[outer] <= low else high)
    b, values = scanned()
    cross = np.flatnonzero(np.sign(values[:-1]) != np.sign(values[1:]))
    if cross.size:  # the median-unbiased estimate: the root of G = 1/2 nearest the OLS estimate
        i = cross[np.argmin(np.abs(b[cross] - estimate_ols))]
        refine(b[i], b[i + 1], 0.0)
    tested = np.array(sorted(cache))
    values = np.array([cache[v] for v in tested]).reshape(-1, 2)
    return CirclePivot(tested, values[:, 0], values[:, 1], float(estimate_ols), float(bse_ols),
                       int(family.axis.df), family.n_draws)


def circle_pivots(tests: CircleTests, order: np.ndarray, n_draws: int, rng: np.random.Generator,
                  estimates: np.ndarray, bse: np.ndarray) -> tuple[CirclePivot, ...]:
    """One :class:`CirclePivot` per selected motif, over ``n_draws`` fresh directions uniform on ``K``.

    No conditioning subspace (module docstring): a level chosen at ``b = 0`` would not keep
    the pivot exact at other ``b``.
    """
    pivots = []
    for j, axis in enumerate(tests.axes):
        family = CircleFamily(tests, axis, DirectionLaw(tests, axis, np.zeros((tests.n, 0)), order), n_draws, rng)
        try:
            pivots.append(circle_pivot(family, float(estimates[j]), float(bse[j])))
        finally:
            family.release()
    return tuple(pivots)

