"""The null sampling planned before it starts: replays against ``max_replays``, and the time it takes.

A sampler cut short by its replay budget gives no valid p-value: a rank from an
incomplete tree of chains (:mod:`seism_stats.sampling.exchangeable`) is not one (measured:
P(p <= 5/22) = 0.27-0.28 instead of 0.227 over 700 null data sets), and a
rejection sample of fewer draws than asked is not what was asked. So the work
is planned before any draw:

* :func:`check_budget` (before any work): every MCMC move replays one candidate
  at least, so a tree of ``C`` chains of ``burn_in + thin * L`` moves needs at
  least ``C * (burn_in + thin * L)`` replays; rejection sampling needs at least
  ``n_samples``. A plan above ``max_replays`` is refused with a ValueError.
* :func:`plan_mcmc` and :func:`plan_rejection` (before sampling): a short pilot
  (draws that are not part of any estimate, from a fixed seed) measures the time
  per move or per replay, the replays per move of the shrinking bracket, and the
  acceptance rate of rejection sampling. A rejection plan that even a high
  acceptance rate could not finish within ``max_replays`` is refused with the
  estimated time; a plan longer than :data:`LONG_SAMPLING_SECONDS` gets a warning
  with its estimate before sampling starts.

Where the plan cannot be exact (a shrinking bracket needs one or more replays
per move; a rejection sample's acceptance count is random), a sampler that
still runs out of replays returns its draws with ``NullSample.shortfall`` set,
and :func:`~seism_stats.sampling.pvalues.monte_carlo_pvalues` gives NaN p-values with a
warning: never a rank from an incomplete sample.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import beta

#: Sampling planned to take longer than this (seconds) is announced by a warning before it starts.
LONG_SAMPLING_SECONDS = 3600.0
#: Walkers and lockstep steps of the MCMC timing pilot.
PILOT_WALKERS = 8
PILOT_STEPS = 2
#: Candidates of the rejection pilot (acceptance rate and time per replay).
PILOT_POINTS = 256
#: The pilot's draws are in no estimate; a fixed seed keeps every run's plan (and warnings) reproducible.
PILOT_SEED = 24
#: Confidence of the acceptance rate's upper bound below which a rejection plan is refused.
REFUSAL_CONFIDENCE = 0.99


@dataclass(frozen=True)
class SamplingPlan:
    """The work a null sample is planned to take.

    Attributes
    ----------
    replays : float
        Replays expected (MCMC: moves times the pilot's replays per move; rejection:
        draws over the pilot's acceptance rate).
    seconds : float
        Estimated wall time of the sampling.
    at_least : bool
        Whether the estimates are lower bounds (a rejection pilot that accepted nothing).
    """

    replays: float
    seconds: float
    at_least: bool = False

    def describe(self) -> str:
        about = "at least" if self.at_least else "about"
        return f"{about} {self.replays:,.0f} replays, est. {'at least ' * self.at_least}{format_seconds(self.seconds)}"


def format_seconds(seconds: float) -> str:
    """``"under 1 s"``, ``"40 s"``, ``"12 min"``, ``"3.5 h"``, ``"2.1 days"``."""
    if not np.isfinite(seconds):
        return "forever"
    if seconds < 1:
        return "under 1 s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def tree_moves(n_samples: int, n_chains: int, burn_in: int, thin: int, design: str = "tree") -> int:
    """Moves of every chain of the MCMC design: each of its chains walks ``burn_in + thin * L`` moves."""
    from .exchangeable import TreeLayout

    return TreeLayout.for_draws(n_samples, n_chains, burn_in, thin, design).total_moves


def check_budget(method: str, n_samples: int, n_chains: int, burn_in: int, thin: int, design: str,
                 max_replays: int, n_motifs: int = 1) -> int:
    """Refuse, before any work, a sample that cannot finish within ``max_replays``.

    Returns the replays needed at least (0 for methods without a replay budget). For
    ``method="circles"`` a replay is a direction (one transform): ``n_motifs x n_samples``
    at least; ``method="tilted"`` replays its draws and its pilot, per motif.

    Raises
    ------
    ValueError
        Naming ``max_replays`` and the replays needed, when the plan exceeds it.
    """
    if method == "mcmc":
        moves = tree_moves(n_samples, n_chains, burn_in, thin, design)
        if moves > max_replays:
            raise ValueError(f"the MCMC chains need at least {moves:,} replays (one per move: {n_chains} chains x "
                             f"(burn_in + thin x draws per chain)) but max_replays is {max_replays:,}: lower "
                             "n_samples (or burn_in, thin) or raise max_replays; a tree of chains cut short by "
                             "the budget gives no valid p-value")
        return moves
    if method == "circles":
        directions = n_motifs * n_samples
        if directions > max_replays:
            raise ValueError(f"the exact circle p-values need at least {directions:,} directions ({n_motifs} "
                             f"motif(s) x n_samples={n_samples:,}; one transform each) but max_replays is "
                             f"{max_replays:,}: lower n_samples or raise max_replays")
        return directions
    if method == "tilted":
        replays = n_motifs * (n_samples + pilot_draws(n_samples))
        if replays > max_replays:
            raise ValueError(f"the tilted permutation p-values may replay up to {replays:,} candidates ({n_motifs} "
                             "motif(s) "
                             f"x (n_samples={n_samples:,} + a pilot of {pilot_draws(n_samples)})) but max_replays is "
                             f"{max_replays:,}: lower n_samples or raise max_replays")
        return replays
    if method == "rejection":
        if n_samples > max_replays:
            raise ValueError(f"rejection sampling of {n_samples:,} draws needs at least as many replays, but "
                             f"max_replays is {max_replays:,}: lower n_samples, raise max_replays or use "
                             "method='mcmc'")
        return n_samples
    return 0


def plan_mcmc(make_walkers: Callable, start: np.ndarray, moves: int, replay, n_chains: int) -> SamplingPlan:
    """Time a few lockstep moves of pilot walkers started at ``start`` and scale them to ``moves``.

    ``make_walkers`` must build walkers on ``replay`` (a replay object of the pilot's
    own, whose count is the pilot's replays).
    """
    n_walkers = max(1, min(n_chains, PILOT_WALKERS))
    walkers = make_walkers(np.repeat(start[None], n_walkers, axis=0), np.random.default_rng(PILOT_SEED))
    everyone = np.arange(n_walkers)
    walkers.restart(everyone)
    goes_on = np.ones(n_walkers, dtype=bool)
    replays_before, moved_total, clock = replay.n_replays, 0, time.perf_counter()
    for _ in range(50 * PILOT_STEPS):  # a shrinking bracket may need several steps per move
        moved, _ = walkers.step(everyone, goes_on)
        moved_total += moved.size
        if moved_total >= PILOT_STEPS * n_walkers:
            break
    seconds_per_move = (time.perf_counter() - clock) / max(moved_total, 1)
    replays_per_move = max(1.0, (replay.n_replays - replays_before) / max(moved_total, 1))
    return SamplingPlan(moves * replays_per_move, moves * seconds_per_move)


def plan_rejection(replay, draw_points: Callable, n_samples: int, max_replays: int) -> SamplingPlan:
    """Acceptance rate and time per replay from a pilot of :data:`PILOT_POINTS` candidates.

    Raises
    ------
    ValueError
        When even the rate's upper confidence bound (:data:`REFUSAL_CONFIDENCE`)
        needs more than ``max_replays`` replays, with the estimated replays and time.
    """
    rng = np.random.default_rng(PILOT_SEED)
    clock = time.perf_counter()
    accepted, _ = replay.check_points(draw_points(rng, PILOT_POINTS), count=False)
    seconds_per_replay = (time.perf_counter() - clock) / PILOT_POINTS
    hits = int(accepted.sum())
    optimistic = float(beta.ppf(REFUSAL_CONFIDENCE, hits + 1, PILOT_POINTS - hits)) if hits < PILOT_POINTS else 1.0
    rate = hits / PILOT_POINTS if hits else optimistic  # no hit: only a bound on the rate is known
    plan = SamplingPlan(n_samples / rate, n_samples / rate * seconds_per_replay, at_least=not hits)
    if n_samples / optimistic > max_replays:
        raise ValueError(f"rejection sampling of {n_samples:,} draws would need {plan.describe()}: {hits} of a "
                         f"pilot's {PILOT_POINTS} null candidates fell in the selection event, so even at "
                         f"{optimistic:.1%} accepted it needs more than max_replays={max_replays:,}. Use "
                         "method='mcmc', lower n_samples or raise max_replays")
    return plan


def announce(plan: SamplingPlan, max_replays: int, what: str) -> None:
    """Warn, before sampling, about a plan that is long or likely to run out of replays."""
    if plan.replays > max_replays:
        warnings.warn(f"{what} is likely to run out of replays ({plan.describe()}, max_replays={max_replays:,}); "
                      "if it does, the selective p-values are NaN: raise max_replays or lower n_samples",
                      RuntimeWarning, stacklevel=3)
    elif plan.seconds > LONG_SAMPLING_SECONDS:
        warnings.warn(f"{what} is planned to take {format_seconds(plan.seconds)} ({plan.describe()}, from a "
                      "pilot); lower n_samples (or k, n_chains x burn_in) for a quicker fit, or interrupt it",
                      RuntimeWarning, stacklevel=3)


def shortfall_of_tree(statistics: np.ndarray, n_replays: int, max_replays: int) -> str:
    """Why an MCMC tree gives no valid p-value ('' when it does).

    A node left NaN means the budget stopped the walkers first; a complete tree
    that used more than ``max_replays`` counts as over budget too, so that the
    outcome does not depend on how the budget was checked in each process
    (``n_jobs``): the tree is valid exactly when its replays fit the budget.
    """
    missing = int(np.isnan(statistics[..., 0]).sum()) if statistics.shape[-1] else 0
    if missing:
        return (f"MCMC sampling spent max_replays={max_replays:,} before its tree of chains was complete "
                f"({missing:,} of {statistics[..., 0].size:,} nodes missing)")
    if n_replays > max_replays:
        return (f"the MCMC tree of chains needed {n_replays:,} replays, more than max_replays={max_replays:,} "
                "(moves of the shrinking bracket can need several)")
    return ""


def shortfall_of_rejection(n_kept: int, n_samples: int, n_replays: int, max_replays: int) -> str:
    """Why a rejection sample gives no p-value of the size asked ('' when it does)."""
    if n_kept >= n_samples:
        return ""
    rate = n_kept / n_replays if n_replays else 0.0
    need = f"about {n_samples / rate:,.0f} replays needed" if rate > 0 else "no candidate was accepted"
    return (f"rejection sampling ran out of replays (max_replays={max_replays:,}) with {n_kept:,} of "
            f"{n_samples:,} draws accepted (acceptance rate {rate:.2%}: {need})")


#: Draws of the pilot that places the mixture (replayed against the event, then discarded): at most this
#: many, no more than the estimate's own draws but never fewer than 64 (so more than B when B < 64):
#: :func:`pilot_draws`.
PILOT_DRAWS = 512


def pilot_draws(n_draws: int) -> int:
    """The pilot's size for ``n_draws`` draws per motif: :data:`PILOT_DRAWS`, at most ``n_draws`` (at least 64;
    none when there is nothing to draw)."""
    return 0 if n_draws == 0 else min(PILOT_DRAWS, max(64, n_draws))
