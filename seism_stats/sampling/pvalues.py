"""Monte-Carlo selective p-values: rank, ties, standard error and an upper bound (SPEC 6).

``p_j = (1 + #{b : T_j(y'_b) >= T_j(y)}) / (1 + B)``. Ties with the observed
statistic count as ``>=`` to a relative floating-point tolerance
(:data:`TIE_RTOL`): statistics that are mathematically equal (a binary response
with few positives, permutations that only swap equal values) differ in their
last bits, and a strict comparison would then reject far too often.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy.stats import beta

#: Relative tolerance under which a null statistic counts as a tie with the observed one.
TIE_RTOL = 1e-9


def exceeds(values: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """``values >= observed`` with ties to :data:`TIE_RTOL` counted as ``>=`` (NaN gives False).

    ``observed`` broadcasts over the leading axes of ``values`` (its last axis is the motif).
    """
    observed = np.asarray(observed, dtype=np.float64)
    return values >= observed - TIE_RTOL * np.maximum(np.abs(observed), np.finfo(float).tiny)


@dataclass(frozen=True)
class MonteCarloPValues:
    """Selective p-values with their Monte-Carlo uncertainty.

    Attributes
    ----------
    pvalues : ndarray (q,)
        ``(1 + #{T_b >= T_obs}) / (1 + B)``: valid for every B (i.i.d. draws, or the
        exchangeable MCMC tree).
    se : ndarray (q,)
        Monte-Carlo standard error ``sqrt(p (1 - p) / ESS)`` with ESS the effective
        sample size of the exceedance indicator. Where no draw reaches ``T_obs``
        the upper bound replaces p in that formula (never 0, never p itself).
    upper : ndarray (q,)
        One-sided ``1 - alpha`` Monte-Carlo upper bound of the p-value that
        infinitely many draws would give (Clopper-Pearson on the effective counts).
    ess : ndarray (q,)
        The effective sample sizes used.
    """

    pvalues: np.ndarray
    se: np.ndarray
    upper: np.ndarray
    ess: np.ndarray


def monte_carlo_pvalues(null_sample, observed: np.ndarray, alpha: float = 0.05) -> MonteCarloPValues:
    """Selective p-values of ``observed`` (q,) against a :class:`~seism_stats.sampling.samplers.NullSample`.

    With the tree design the observation is one of the recorded nodes; its
    indicator is 1 and the p-value is the mean of the indicators over all
    recorded nodes. The ESS of the indicator (multi-chain, Geyer) sets the
    standard error; when no null draw reaches ``T_obs`` the indicator has no
    variance to measure, and the ESS of the statistic itself is used. A sample
    with a ``shortfall`` (the replay budget ran out: :mod:`seism_stats.sampling.budget`)
    gives NaN, with a RuntimeWarning.
    """
    observed = np.asarray(observed, dtype=np.float64)
    q = observed.shape[0]
    n_draws = null_sample.n_draws
    shortfall = getattr(null_sample, "shortfall", "")
    if shortfall:  # a rank from an incomplete tree, or from fewer draws than asked, is not the p-value asked for
        warnings.warn(f"{shortfall}: the selective p-values are NaN. Raise max_replays or lower n_samples "
                      "(the plan is checked before sampling; a shrinking bracket or a rare selection event can "
                      "still need more replays than planned)", RuntimeWarning, stacklevel=2)
        n_draws = 0
    if n_draws == 0:
        nan = np.full(q, np.nan)
        return MonteCarloPValues(nan, nan, nan, nan)
    stats = null_sample.statistics
    indicator = exceeds(stats, observed[None, None, :])
    draws = null_sample.draw_mask
    count = indicator[draws].sum(axis=0)
    pvalues = (1.0 + count) / (1.0 + n_draws)
    if null_sample.observed_slot is not None:
        indicator[null_sample.observed_slot] = True
    ess_indicator = null_sample.effective_sample_size(indicator.astype(np.float64))
    ess_statistic = null_sample.effective_sample_size()
    ess = np.where(count > 0, ess_indicator, ess_statistic)
    ess = np.clip(np.where(ess > 0, ess, 1.0), 1.0, n_draws)
    effective_count = count / n_draws * ess
    upper = np.where(effective_count >= ess, 1.0,
                     beta.ppf(1.0 - alpha, effective_count + 1.0, np.maximum(ess - effective_count, 1e-12)))
    upper = np.clip(np.maximum(upper, pvalues), None, 1.0)
    p_for_se = np.where(count > 0, pvalues, upper)
    se = np.sqrt(p_for_se * (1.0 - p_for_se) / ess)
    se = np.where(se > 0, se, 1.0 / (1.0 + n_draws))
    return MonteCarloPValues(pvalues, se, upper, ess)


def log_weight_ess(log_weights: np.ndarray) -> float:
    """Effective sample size ``(sum w)^2 / sum w^2`` of weights given by their logarithms.

    0 when every weight vanishes (or there are none), NaN when any logarithm is NaN.
    """
    log_weights = np.asarray(log_weights, dtype=float)
    if np.isnan(log_weights).any():
        return float("nan")
    top = float(np.max(log_weights)) if log_weights.size else -np.inf
    if not np.isfinite(top):
        return 0.0
    w = np.exp(log_weights - top)
    return float(w.sum() ** 2 / np.sum(w**2))


#: Below this size of the largest term, :func:`ratio_se` sums the terms' squares in log space
#: (their squares, below 1e-200, would lose precision or underflow; 0 was reported for p below about 1e-154).
SMALL_TERMS = 1e-100


def _small_terms_se(log_num: np.ndarray, log_den: np.ndarray, shift: float, p: float, total: float) -> float:
    """:func:`ratio_se` from small terms, in log space.

    Term b is ``D_b (N_b / D_b - p)`` (relative to ``exp(shift)``, as ``total``); the s.e. is
    ``sqrt(sum_b term_b^2) / total``, at least the smallest positive double.
    """
    met = np.isfinite(log_den)
    share = np.exp(log_num[met] - log_den[met])  # N_b / D_b, in [0, 1]
    gap = np.abs(share - p)
    kept = gap > 0
    if not kept.any():
        return float(np.finfo(float).tiny)
    log_terms = log_den[met][kept] - shift + np.log(gap[kept])
    log_se = 0.5 * special.logsumexp(2.0 * log_terms) - np.log(total)
    return float(max(np.exp(log_se), np.finfo(float).tiny))


def log_space_ratio(log_num: np.ndarray, log_den: np.ndarray) -> float:
    """``sum N / sum D`` from the logarithms, so that a ratio far below the smallest double is not 0
    (it is clipped to the smallest positive double)."""
    return max(float(np.exp(special.logsumexp(log_num) - special.logsumexp(log_den))), float(np.finfo(float).tiny))


def ratio_se(log_num: np.ndarray, log_den: np.ndarray, shift: float, p: float, total: float) -> float:
    """The delta-method error ``sqrt(sum_b (N_b - p D_b)^2) / total`` of a ratio ``p`` over the terms given.

    ``N_b, D_b`` are ``exp(log_num - shift)``, ``exp(log_den - shift)`` (``total``: the sum of D
    over every term of the ratio, on the same scale). Terms all below :data:`SMALL_TERMS` are
    squared and summed in log space (:func:`_small_terms_se`).
    """
    terms = np.exp(log_num - shift) - p * np.exp(log_den - shift)
    if terms.size and np.max(np.abs(terms)) < SMALL_TERMS:  # squares would lose precision or underflow
        return _small_terms_se(log_num, log_den, shift, p, total)
    return float(np.sqrt(np.sum(terms**2)) / total)


def ratio_pvalue(log_num: np.ndarray, log_den: np.ndarray) -> tuple[float, float, float]:
    """``sum N / sum D`` over all terms, the observed direction's first; its s.e.; the ESS of D.

    The s.e. is the delta-method error of the ratio from the drawn terms (the first,
    observed, term adds no variance); with the observed term alone the ratio is exact: s.e. 0.
    Small drawn terms (a p-value below about 1e-100, or drawn weights far below the observed
    one's) are squared and summed in log space, so the s.e. neither underflows to 0 nor loses
    precision; an error below the smallest double is reported as that double, like the p-value.
    Where no drawn mass lies below the observed statistic (every drawn share ``N / D`` is 1, so
    ``p = 1`` with the observation's conservative term) the delta method says 0, which is not the
    error: the binomial error of the ESS's worth of draws with the share moved half a draw off
    the boundary, ``sqrt(p' (1 - p') / ESS)`` with ``p' = (p ESS + 1/2) / (ESS + 1)``, is
    reported instead.
    """
    shift = float(np.max(log_den))
    if not np.isfinite(shift) or not np.isfinite(log_den[0]):
        return float("nan"), float("nan"), 0.0
    den, num = np.exp(log_den - shift), np.exp(log_num - shift)
    total = den.sum()
    p = min(1.0, log_space_ratio(log_num, log_den))
    if den.size > 1 and not np.isfinite(log_den[1:]).any():  # no drawn circle meets the event: error unknown
        return p, float("nan"), 1.0
    se = ratio_se(log_num[1:], log_den[1:], shift, p, total)
    ess = log_weight_ess(log_den)
    drawn = den[1:] > 0
    shares = num[1:][drawn] / den[1:][drawn]
    if shares.size and np.min(shares) >= 1.0 - 1e-12:  # all the drawn mass at or above: p at its boundary 1
        moved = (p * ess + 0.5) / (ess + 1.0)
        se = max(se, float(np.sqrt(moved * (1.0 - moved) / ess)))
    return p, se, ess
