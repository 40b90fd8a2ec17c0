"""Selective confidence intervals and estimates for the selected motifs' coefficients (issue 13).

Target
------
For motif j, the coefficient ``theta_j`` of its grid feature ``phi_j`` in the
selected model ``y = W beta + Phi_S theta + sigma eps``: the OLS coefficient of
the noise-free mean on the covariates and the selected motifs' features (the
projection target). The interval holds ``theta_j`` with probability
``1 - alpha`` *given the selection event*: the same quantized event (the ordered
grid cells) that the selective p-values condition on.

Route (and why this one)
------------------------
The polyhedral route of Lee, Sun, Sun and Taylor (2016), "Exact post-selection
inference, with application to the lasso", in its saturated-model form (the one
R's ``selectiveInference`` uses): condition on everything in the data except the
tested direction, which leaves a one-dimensional truncated Gaussian.

* Write ``X_-j = [W, Phi_{S minus j}]``, ``eta = P_-j phi_j`` (motif j's feature
  off the covariates and the other selected motifs;
  ``theta_hat_j = <eta, y> / ||eta||^2`` is the OLS coefficient) and split the
  data into ``x = <eta_hat, y>`` and the rest, ``y - x eta_hat``. With Gaussian
  noise the two are independent, ``x ~ N(theta_j ||eta||, sigma^2)``, and the
  rest fixes a line ``y(x) = F + x eta_hat + z_obs w_hat`` through the data.
* Every step score of the greedy selection is ``<g, y>^2 / d`` with ``g`` and
  ``d`` fixed by the event, so "cell c does not beat the selected cell at step
  s" is ``(L_s - L_c)(L_s + L_c) >= 0`` with ``L = <g, y> / sqrt(d)`` affine in
  x. The event on the line is an exact union of segments (two roots per cell and
  step), computed once for the whole grid in a few vectorised passes; it does not
  depend on the tested value.
* Given the event, x is ``N(b ||eta||, sigma^2)`` truncated to those segments
  under ``H0: theta_j = b``; the pivot ``G(b) = P_b(x >= x_obs | event)`` is
  uniform, and increases with b (monotone likelihood ratio), so
  ``{b : alpha/2 <= G(b) <= 1 - alpha/2}`` is an interval whose ends are found by
  bracketing and Brent's method. ``G(b) = 1/2`` gives the median-unbiased
  estimate; ``2 min(G(0), 1 - G(0))`` the selected-model p-value of ``theta_j = 0``.
* ``sigma`` is estimated by the selected model's residual scale
  ``||w|| / sqrt(n - p - q)``, a function of the conditioning part only (as in
  ``selectiveInference`` with an estimated sigma). When the selected model
  leaves part of the mean unexplained this estimate grows, which widens the
  intervals rather than shrinking them.

Why not the alternatives: Fithian, Sun and Taylor's (2014) unknown-sigma test
conditions on ``||P_-j (y - b phi_j)||``; restricted to one dimension it gives
intervals that are infinite whenever the event is a short segment around the
data (measured here on null data with near-tied cells), and without that
restriction it needs an MCMC run on a different shifted sphere for every tested
value. Tilting one set of null draws needs a known sigma as well and brings
Monte-Carlo error into the interval ends. The truncated-Gaussian route is exact
given sigma, needs no sampling and no random seed, and with no constraint
binding it returns the ordinary z-interval ``theta_hat +/- z sigma_hat / ||eta||``.

The sphere-based p-values of the package test the global null (no motif
matters); the intervals are about the coefficient in the selected model, so
near the threshold "the interval excludes 0" and "p < alpha" can differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from .selection import Selection, residualize

#: Bracketing steps, doubling from one OLS standard error, before an end is declared infinite.
MAX_BRACKET_DOUBLINGS = 60


@dataclass(frozen=True)
class TruncatedGaussianPivot:
    """The conditional law of one motif's coefficient statistic, as a function of the tested value ``b``.

    On the line ``y(x) = F + x eta_hat + z_obs w_hat`` the statistic ``x = <eta_hat, y>``
    is ``N(b ||eta||, sigma^2)`` truncated to the segments of the line that lie in
    the selection event; ``sigma`` is estimated by the selected model's residual
    scale. Built by :func:`motif_pivots`; small enough to be saved with the results.

    Attributes
    ----------
    segments : ndarray (r, 2)
        Ranges of ``x`` that keep the selection (they contain ``x_obs``).
    x_obs, z_obs : float
        Observed residual coordinates along ``eta_hat`` and ``w_hat``.
    eta_norm : float
        ``||eta||``.
    df_resid : int
        Residual degrees of freedom of the selected model (``sigma_hat = z_obs / sqrt(df_resid)``).
    """

    segments: np.ndarray
    x_obs: float
    z_obs: float
    eta_norm: float
    df_resid: int

    @property
    def sigma(self) -> float:
        """Residual scale of the selected model."""
        return self.z_obs / np.sqrt(self.df_resid)

    @property
    def estimate_ols(self) -> float:
        """``theta_hat_j``: the OLS coefficient."""
        return self.x_obs / self.eta_norm

    @property
    def bse_ols(self) -> float:
        """The OLS standard error of ``theta_hat_j``."""
        return self.sigma / self.eta_norm

    @property
    def truncation(self) -> np.ndarray:
        """``(r, 2)`` ranges of ``theta_hat_j`` (coefficient units) that keep the selection."""
        return self.segments / self.eta_norm

    def log_masses(self, b: float) -> tuple[float, float]:
        """Log probabilities of the event below and above the observed statistic under ``theta_j = b``."""
        standard = (self.segments - b * self.eta_norm) / self.sigma
        observed = (self.x_obs - b * self.eta_norm) / self.sigma
        below = np.column_stack([standard[:, 0], np.minimum(standard[:, 1], observed)])
        above = np.column_stack([np.maximum(standard[:, 0], observed), standard[:, 1]])
        return _log_normal_mass(below), _log_normal_mass(above)

    def log_odds(self, b: float) -> float:
        """``logit G(b)``: log odds of a coefficient at least as large as observed, under ``theta_j = b``."""
        below, above = self.log_masses(b)
        return above - below

    def pivot(self, b: float) -> float:
        """``G(b)``, uniform on (0, 1) under ``theta_j = b`` given the selection event."""
        return float(special.expit(self.log_odds(b)))

    def solve(self, level: float) -> float:
        """The ``b`` where ``G(b) = level``; G increases with b (monotone likelihood ratio)."""
        target = float(special.logit(level))

        def gap(b):
            return self.log_odds(b) - target

        start, step = self.estimate_ols, self.bse_ols
        at_start = gap(start)
        if at_start == 0:
            return start
        direction = -1.0 if at_start > 0 else 1.0
        inner = start
        for i in range(MAX_BRACKET_DOUBLINGS):
            outer = start + direction * step * 2.0**i
            if np.sign(gap(outer)) != np.sign(at_start):
                lo, hi = sorted((inner, outer))
                return float(optimize.brentq(gap, lo, hi, xtol=1e-9 * step, rtol=1e-12))
            inner = outer
        return direction * np.inf

    def interval(self, alpha: float) -> tuple[float, float]:
        """Equal-tailed selective interval at level ``1 - alpha``."""
        return self.solve(alpha / 2.0), self.solve(1.0 - alpha / 2.0)

    def pvalue_zero(self) -> float:
        """Two-sided selected-model p-value of ``theta_j = 0``."""
        g = self.pivot(0.0)
        return float(min(1.0, 2.0 * min(g, 1.0 - g)))


def motif_pivots(features, y: np.ndarray, covariate_basis: np.ndarray,
                 selection: Selection) -> tuple[TruncatedGaussianPivot, ...]:
    """One :class:`TruncatedGaussianPivot` per selected motif.

    Parameters
    ----------
    features : KroneckerFeatures, DenseFeatures or UnionFeatures
        The grid the selection ran on.
    y : ndarray (n,)
        Response.
    covariate_basis : ndarray (n, p)
        Orthonormal basis of the covariates.
    selection : Selection
        The observed selection.
    """
    event = selection.event
    q = event.n_selected
    residual = residualize(np.asarray(y, dtype=np.float64), covariate_basis)
    df_resid = residual.shape[0] - covariate_basis.shape[1] - q
    if q and df_resid < 1:
        raise ValueError(f"selective intervals need residual degrees of freedom: n={residual.shape[0]} "
                         f"sequences, {covariate_basis.shape[1]} covariates and {q} motifs")
    # Selected features off the covariates: the selected model's span in the residual space.
    columns = [residualize(features.column(int(c)), covariate_basis) for c in event.cells]
    pivots = []
    for j in range(q):
        others = np.column_stack(columns[:j] + columns[j + 1:]) if q > 1 else np.zeros((residual.shape[0], 0))
        others_basis = np.linalg.qr(others)[0]
        eta = residualize(columns[j], others_basis)
        eta_norm = float(np.linalg.norm(eta))
        eta_hat = eta / eta_norm
        rest = residualize(residual, others_basis)
        x_obs = float(eta_hat @ rest)
        w = rest - x_obs * eta_hat
        z_obs = float(np.linalg.norm(w))
        plane = np.vstack([residual - rest, eta_hat, w / z_obs])
        segments = _event_segments(_step_lines(features, event, plane), z_obs)
        pivots.append(TruncatedGaussianPivot(segments, x_obs, z_obs, eta_norm, int(df_resid)))
    return tuple(pivots)


def _step_lines(features, event, plane: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """Per step, ``<g_c, v> / sqrt(d_c)`` for the three plane vectors ``v`` and every cell."""
    numerators = features.project(plane)  # (3, G): <phi_c, v>
    coefficients = plane @ event.basis  # (3, q): <q_m, v>
    lines = []
    for s, cell in enumerate(event.cells):
        step = numerators - coefficients[:, :s] @ event.cross[:, :s].T
        lines.append((step * np.sqrt(event.inv_den[s])[None, :], int(cell)))
    return lines


def _event_segments(lines, z_obs: float) -> np.ndarray:
    """``(r, 2)`` segments of ``x`` where ``F + x eta_hat + z_obs w_hat`` keeps the selection.

    At step s, cell c does not beat the selected cell ``c_s`` iff
    ``(L_s - L_c)(L_s + L_c) >= 0``: two affine functions of x, one root each.
    """
    starts, ends = [], []
    for step_lines, selected in lines:
        at_line = np.vstack([step_lines[0] + step_lines[2] * z_obs, step_lines[1]])  # a + c x
        chosen = at_line[:, selected][:, None]
        for factors in _sign_changes(chosen - at_line, chosen + at_line):
            starts.append(factors[0])
            ends.append(factors[1])
    return _complement(np.concatenate(starts), np.concatenate(ends))


def _sign_changes(first: np.ndarray, second: np.ndarray):
    """Segments of x where ``(a1 + c1 x)(a2 + c2 x) < 0`` (inputs: (2, G) rows a and c)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        roots = np.column_stack([-first[0] / first[1], -second[0] / second[1]])
    roots[~np.isfinite(roots)] = np.nan
    cut = np.isfinite(roots).any(axis=1)  # a cell with no root keeps one sign: that at the observation
    roots, first, second = roots[cut], first[:, cut], second[:, cut]
    lo = np.fmin(roots[:, 0], roots[:, 1])
    hi = np.fmax(roots[:, 0], roots[:, 1])
    # The product is negative on one side of a single root, or between / outside two roots.
    for left, right in ((np.full(lo.shape, -np.inf), lo), (lo, hi), (hi, np.full(hi.shape, np.inf))):
        middle = np.where(np.isfinite(left) & np.isfinite(right), 0.5 * (left + right),
                          np.where(np.isfinite(left), left + 1.0, right - 1.0))
        product = (first[0] + first[1] * middle) * (second[0] + second[1] * middle)
        negative = (product < 0) & (right > left)
        yield left[negative], right[negative]


def _complement(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The real line minus the union of the segments ``[starts, ends]``, as ``(r, 2)`` segments."""
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], np.maximum.accumulate(ends[order]) if ends.size else ends
    gap_starts = np.concatenate([[-np.inf], ends])
    gap_ends = np.concatenate([starts, [np.inf]])
    keep = gap_ends > gap_starts
    return np.column_stack([gap_starts[keep], gap_ends[keep]])


def _log_normal_mass(segments: np.ndarray) -> float:
    """``log sum P(lo <= Z <= hi)`` over standardised segments, stable far in the tails."""
    segments = segments[segments[:, 1] > segments[:, 0]]
    if segments.shape[0] == 0:
        return -np.inf
    lo, hi = segments[:, 0], segments[:, 1]
    mirror = lo > 0  # use the left tail, where log_ndtr is accurate
    lo, hi = np.where(mirror, -hi, lo), np.where(mirror, -lo, hi)
    log_hi, log_lo = special.log_ndtr(hi), special.log_ndtr(lo)
    with np.errstate(divide="ignore"):
        masses = log_hi + np.log(-np.expm1(log_lo - log_hi))
    return float(special.logsumexp(masses))


def selective_intervals(pivots, alpha: float = 0.05) -> np.ndarray:
    """``(q, 2)`` selective intervals at level ``1 - alpha``, one row per pivot."""
    return np.array([p.interval(alpha) for p in pivots], dtype=np.float64).reshape(len(pivots), 2)


def selective_estimates(pivots) -> np.ndarray:
    """Median-unbiased selective estimates (``G(b) = 1/2``), one per pivot."""
    return np.array([p.solve(0.5) for p in pivots], dtype=np.float64)
