"""Selective p-values below the Monte-Carlo floor ``1/(B+1)`` (issue 9, item 5).

The selective p-value of motif j is ``p = P(T_j >= t_obs | E)`` for ``u`` uniform
on the residual sphere restricted to the selection event ``E``, with
``T_j(u) = <q_j, u>^2`` (``q_j``: the selected feature off the covariates and the
earlier motifs). Write ``u = cos(w) q_j + sin(w) d`` with ``d`` the unit direction
of the part of ``u`` orthogonal to ``q_j``. On the sphere, ``w`` and ``d`` are
independent and ``x = cot(w)`` has density proportional to ``(1 + x^2)^(-m/2)``
(``x sqrt(m - 1)`` is Student t with ``m - 1`` degrees of freedom, ``m`` the
dimension of the residual space). So

    ``p = E[ g(d) | E ]``,  ``g(d) = P(|x| >= x_obs | d, E)``,

and ``g(d)`` is exact and cheap: on the half circle through ``q_j`` and ``d``,
every step score of the selection is ``(a x + b)^2 / sin(w)^-2``, so the event is
an exact union of intervals of ``x`` (the half-line intersections of
:func:`seism_stats.selection.geometry.line_event_segments`), and ``g`` is a ratio of
Student-t masses computed in log space, however small.

With one selected motif the directions are drawn i.i.d. instead and ``p`` is the
ratio ``E[N(d)] / E[D(d)]`` of :mod:`seism_stats.stats.conditional_mc` (no chain; its
error does not blow up far in the tail). With several motifs a uniform direction
almost never re-selects the other motifs; the conditional Monte Carlo then conditions
on more (another p-value, not an estimate of the rank p-value), so the tail estimate
of an MCMC fit uses the MCMC directions of the rest of this docstring.

Averaging ``g`` over directions ``d`` of MCMC draws in ``E`` (Rao-Blackwellisation
along the motif's own direction) estimates ``p`` with a Monte-Carlo error that
scales with ``p`` itself rather than with ``1/B``. How large that error is depends
on how much ``g`` varies between directions: about 20% for a p-value near 2e-7
from 256 draws at n = 1000, k = 8, but as large as the estimate itself at 1e-24
(``benchmarks/bench_tail.py``). The draws come from chains started at the
observation after a short burn-in; the reported error uses their effective
sample size. Far in the tail ``g`` is heavy-tailed across directions (a few rare
directions carry most of the mean), and then a typical estimate falls below the
p-value and its error does not show it: on one data set with p near 3e-10, ten
seeds of 256 draws gave 2.6e-11 to 1.7e-9 (median 6e-11), each with a reported
s.e. of about half its estimate. Down to about 1e-4 it matched 10^6-draw rejection
runs; below about 1e-8 read it as an order of magnitude. It is an *estimate* of
the exactly valid p-value, not a test valid at any B (a conditional expectation
of a valid p-value need not be one), so the package keeps the rank p-value of
:mod:`seism_stats.sampling.pvalues` as ``pvalues`` and reports this estimate beside it for
motifs whose rank p-value sits at its floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..sampling.pvalues import SMALL_TERMS
from ..sampling.walkers import walker_factory
from ..selection.geometry import circle_log_masses
from ..selection.greedy import Selection
from ..selection.replay import SelectionReplay
from ..utils.diagnostics import effective_sample_size
from .conditional_mc import BLOCK, conditional_pvalues

#: Draws of the Rao-Blackwellised estimate: chains x draws per chain, burn-in and thinning.
TAIL_CHAINS = 8
TAIL_BURN_IN = 30
TAIL_THIN = 3


@dataclass(frozen=True)
class TailEstimate:
    """Rao-Blackwellised estimates of selective p-values.

    Attributes
    ----------
    pvalues, se : ndarray (q,)
        Estimate and Monte-Carlo standard error (NaN for motifs not estimated).
    n_draws : int
        Draws averaged.
    """

    pvalues: np.ndarray
    se: np.ndarray
    n_draws: int


def tail_pvalues(features, selection: Selection, covariate_basis: np.ndarray, motifs, n_draws: int,
                 rng: np.random.Generator, n_threads: int = 1, directions: str = "auto",
                 order: np.ndarray | None = None) -> TailEstimate:
    """Rao-Blackwellised estimates of the selective p-values of ``motifs`` (indices).

    Parameters
    ----------
    features : feature map of the grid
    selection : Selection
    covariate_basis : ndarray (n, p)
    motifs : sequence of int
        Motifs to estimate (the others get NaN).
    n_draws : int
        Draws in the event to average over (spread over ``TAIL_CHAINS`` chains).
    rng : numpy.random.Generator
    n_threads : int
    directions : {"auto", "iid", "mcmc"}
        Where the directions ``d`` come from: i.i.d. (the conditional Monte Carlo of
        :mod:`seism_stats.stats.conditional_mc`; one motif only, since with several it
        estimates another p-value) or MCMC draws in the event;
        ``"auto"``: i.i.d. for a one-motif selection.
    order : ndarray of int64 (n,), optional
        The rows' canonical order: random directions are drawn in it (order-free results).
    """
    if directions not in ("auto", "iid", "mcmc"):
        raise ValueError(f"directions must be 'auto', 'iid' or 'mcmc', got {directions!r}")
    q = selection.event.n_selected
    estimate, se = np.full(q, np.nan), np.full(q, np.nan)
    motifs = [int(j) for j in motifs]
    if not motifs or n_draws < 1:
        return TailEstimate(estimate, se, 0)
    if directions == "iid" and q > 1:  # the i.i.d. scheme of several motifs conditions on more (another p-value)
        raise ValueError("i.i.d. directions estimate the rank p-value of a one-motif selection only")
    if directions == "iid" or (directions == "auto" and q == 1):  # no chain, no heavy tail of g far out
        single = conditional_pvalues(features, selection, covariate_basis, n_draws, rng, order=order)
        return TailEstimate(single.pvalues, single.se, single.n_draws)
    replay = SelectionReplay(features, selection.event, n_threads)
    points = _draws_in_event(replay, selection, covariate_basis, n_draws, rng, order)  # (chains, per_chain, n)
    chains, per_chain, n = points.shape
    flat = points.reshape(chains * per_chain, n)
    numerators = replay.numerators(flat)  # <phi_c, u> for every draw and cell
    coefficients = replay.coefficients(flat)  # <q_m, u>
    dim = n - covariate_basis.shape[1]
    for j in motifs:
        blocks = [circle_log_masses(selection, numerators[b:b + BLOCK], coefficients[b:b + BLOCK], j, dim,
                                    n_threads) for b in range(0, flat.shape[0], BLOCK)]
        log_g = np.concatenate([log_num - log_den for log_den, log_num in blocks])  # log P(T_j >= t_obs | d, E)
        estimate[j], se[j] = _chain_mean(log_g.reshape(chains, per_chain))
    return TailEstimate(estimate, se, int(flat.shape[0]))


def _draws_in_event(replay: SelectionReplay, selection: Selection, covariate_basis: np.ndarray,
                    n_draws: int, rng: np.random.Generator, order: np.ndarray | None = None) -> np.ndarray:
    """Points of ``TAIL_CHAINS`` exact-arc chains started at the observation, after a burn-in."""
    per_chain = -(-n_draws // TAIL_CHAINS)
    start = np.repeat(selection.unit_residual[None], TAIL_CHAINS, axis=0)
    walkers = walker_factory(replay, covariate_basis, "sphere", selection.unit_residual, order=order)(start, rng)
    total = TAIL_BURN_IN + TAIL_THIN * per_chain
    moves = np.zeros(TAIL_CHAINS, dtype=np.int64)
    out = np.empty((TAIL_CHAINS, per_chain, start.shape[1]))
    active = np.arange(TAIL_CHAINS)
    walkers.restart(active)
    while active.size:
        moved, _ = walkers.step(active, moves + 1 < total)  # the walkers that go on get their next circle
        moves[moved] += 1
        after = moves[moved] - TAIL_BURN_IN
        keep = (after > 0) & (after % TAIL_THIN == 0)
        for w, slot in zip(moved[keep], after[keep] // TAIL_THIN - 1):
            out[w, slot] = walkers.state(int(w))  # the point: a new circle leaves it unchanged
        active = np.flatnonzero(moves < total)
    return out


def _chain_mean(log_values: np.ndarray) -> tuple[float, float]:
    """Mean of chains' values given by their logarithms, and its s.e. (the values' spread over their ESS).

    Values all below ``SMALL_TERMS`` (a p-value below about 1e-100) are rescaled by the largest
    before the mean, spread and ESS (which do not depend on the scale), so that neither the
    estimate nor its error underflows (both were 0 below about 1e-154 and 1e-308); the results
    are then clipped to the smallest double. Otherwise the values are used as they are.
    """
    top = float(np.max(log_values)) if log_values.size else -np.inf
    rescaled = bool(np.isfinite(top) and np.exp(top) < SMALL_TERMS)
    values = np.exp(log_values - top) if rescaled else np.exp(log_values)
    mean = float(values.mean())
    ess = effective_sample_size(values) if np.ptp(values) > 0 else values.size
    spread = float(values.std(ddof=1) / np.sqrt(max(ess, 1.0))) if values.size > 1 else np.nan
    if rescaled:
        tiny = float(np.finfo(float).tiny)
        mean = max(float(np.exp(np.log(mean) + top)), tiny)
        spread = spread if not np.isfinite(spread) or spread == 0 else max(float(np.exp(np.log(spread) + top)), tiny)
    return mean, spread
