"""Exactly valid MCMC p-values: the observation hidden in a tree of reversible chains.

Why. A chain started at the observed point ``x0`` and its draws counted as if
they were i.i.d. gives a p-value ``(1 + #{T_b >= T_obs}) / (1 + B)`` that is only
valid as B grows: the draws near the start resemble the observation. Besag and
Clifford (1989, "Generalized Monte Carlo significance tests", Biometrika
76:633-642) make the observation *exchangeable* with the null draws instead,
so the rank p-value is valid for every B and however slowly the chains mix.

The design used here (a star of chains; Besag and Clifford's serial method is
one chain, their parallel method is chains of one recorded node). Fix ``C``
chains of ``L`` recorded nodes each, hanging from an unrecorded *hub*: on chain
c, node i (``i = 0..L-1``) lies ``burn_in + thin * (i + 1)`` moves of a kernel
K from the hub. Draw the observation's place uniformly among the ``C * L``
recorded nodes (chain 0 and a uniform slot s: the chains are exchangeable).
Then

1. from ``x0``, walk ``thin * (L - 1 - s)`` moves forward, recording the nodes
   after it on chain 0;
2. from ``x0``, walk ``thin * (s + 1) + burn_in`` moves *backward* to the hub,
   recording the nodes before it on chain 0. For a kernel reversible with
   respect to the null law restricted to the event, the backward kernel is K
   itself;
3. from the hub, run the other ``C - 1`` chains forward (in lockstep), each
   ``burn_in + thin * L`` moves, recording every ``thin``-th state after
   ``burn_in``.

Theorem (validity). Let pi be the null law restricted to the selection event,
and K reversible for pi. Under H0, x0 ~ pi. A reversible Markov chain on a tree
started from pi at any node has the same joint law whichever node it starts
from (each edge's pair law pi(dx) K(x, dy) is symmetric). So the configuration
built above - x0 at a uniform recorded node R, the rest by propagation along
the edges - has the law of (R uniform, X a stationary tree chain), R
independent of X. With ``p_r = #{recorded s : T(X_s) >= T(X_r)} / N`` (ties
counted as ``>=``, N = C L), ``sum_r 1{p_r <= a} <= a N`` for every a, hence
``P(p_R <= a) = E[sum_r 1{p_r <= a}] / N <= a``: the p-value
``(1 + #{b != R : T_b >= T_obs}) / (1 + B)`` with ``B = N - 1`` is valid for
every B, burn-in, thinning and mixing speed. Mixing changes power and
Monte-Carlo precision only.

Notes. (a) Reversible kernels used: the great-circle slice moves and the
Metropolis permutation moves of :mod:`seism_stats.sampling.walkers` (no adaptation to
the data: a kernel tuned on x0 would break the symmetry). (b) The counts of
all chains are pooled into one rank because all chains belong to ONE tree that
holds the observation once; pooling serial chains that each contain the
observation would not be covered. (c) Burn-in and thinning are unrecorded
nodes of the tree: allowed, they only cost moves.

``design="start"`` keeps the former estimator (chains started at x0, burn-in
discarded, draws counted): asymptotically valid only, kept to show in the
calibration experiments and tests that it is anti-conservative at small B.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

#: Designs of the MCMC null sample.
DESIGNS = ("tree", "start")


@dataclass(frozen=True)
class TreeLayout:
    """Shape of the tree of chains.

    Attributes
    ----------
    n_chains : int
        Chains C (the observation's chain included for ``design="tree"``).
    per_chain : int
        Recorded nodes per chain, L.
    burn_in, thin : int
        Unrecorded moves between the hub and a chain's first recorded node, and
        moves between recorded nodes.
    """

    n_chains: int
    per_chain: int
    burn_in: int
    thin: int

    @classmethod
    def for_draws(cls, n_samples: int, n_chains: int, burn_in: int, thin: int, design: str = "tree") -> TreeLayout:
        """The layout with at least ``n_samples`` null draws.

        The tree records ``C * L >= n_samples + 1`` nodes, one of them the observation;
        ``design="start"`` records ``C * L >= n_samples`` draws.
        """
        nodes = n_samples + (design == "tree")
        return cls(n_chains, max(1, math.ceil(nodes / n_chains)), burn_in, thin)

    @property
    def chain_moves(self) -> int:
        """Moves of one chain walked from the hub."""
        return self.burn_in + self.thin * self.per_chain

    @property
    def total_moves(self) -> int:
        """Moves of the whole design: every chain, the observation's included, makes :attr:`chain_moves`."""
        return self.n_chains * self.chain_moves


class _Schedule:
    """When each lockstep walker stops, and which of its states go to which recorded node."""

    def __init__(self, total_moves, record_start, record_count, chain, first_slot, slot_step,
                 thin: int, store: np.ndarray):
        as_int = lambda a: np.asarray(a, dtype=np.int64)  # noqa: E731
        self.total, self.start, self.count = as_int(total_moves), as_int(record_start), as_int(record_count)
        self.chain, self.first, self.step = as_int(chain), as_int(first_slot), as_int(slot_step)
        self.thin, self.store = thin, store
        self.moves = np.zeros_like(self.total)

    def record(self, walkers: np.ndarray, stats: np.ndarray) -> None:
        """Count a completed move of each of ``walkers``; store the states that are recorded nodes."""
        self.moves[walkers] += 1
        after = self.moves[walkers] - self.start[walkers]
        index = after // self.thin
        keep = (after >= 0) & (after % self.thin == 0) & (index < self.count[walkers])
        w = walkers[keep]
        self.store[self.chain[w], self.first[w] + self.step[w] * index[keep]] = stats[keep]

    @property
    def done(self) -> np.ndarray:
        return self.moves >= self.total


def run_walkers(walkers, schedule: _Schedule, out_of_budget: Callable[[], bool], bar) -> None:
    """Advance ``walkers`` in lockstep until each has made its scheduled moves (or the budget ends)."""
    active = np.flatnonzero(~schedule.done)
    walkers.restart(active)
    while active.size:
        if out_of_budget():
            return
        goes_on = schedule.moves + 1 < schedule.total  # after its next move: restarted in the same call
        moved, stats = walkers.step(active, goes_on)
        schedule.record(moved, stats)
        bar.update(moved.size)
        active = np.flatnonzero(~schedule.done)


@dataclass(frozen=True)
class ObservedChain:
    """Chain 0 of the tree, built around the observation, and the hub it leads to.

    Attributes
    ----------
    statistics : ndarray (1, L, q)
        Chain 0's recorded statistics; slot ``observed_slot`` holds the observed statistic.
    observed_slot : int
    hub : ndarray
        State of the hub (a point of the sphere, or a permutation).
    n_accepted : int
        Accepted moves.
    """

    statistics: np.ndarray
    observed_slot: int
    hub: np.ndarray
    n_accepted: int


def observed_chain(make_walkers: Callable, start: np.ndarray, observed: np.ndarray, layout: TreeLayout,
                   rng: np.random.Generator, out_of_budget: Callable[[], bool],
                   progress: bool = False) -> ObservedChain:
    """Steps 1 and 2 of the tree design: the observation's chain and the walk back to the hub.

    Parameters
    ----------
    make_walkers : callable ``(states (W, ...), rng or rngs) -> walkers``
        Builds lockstep walkers (:mod:`seism_stats.sampling.walkers`) from start states.
    start : ndarray
        State of the observation (unit residual, or the identity permutation).
    observed : ndarray (q,)
        Observed statistics.
    layout : TreeLayout
    rng : numpy.random.Generator
        Draws the observation's slot and every move of this phase.
    out_of_budget : callable
        True when the replay budget is spent.
    """
    L, thin, burn_in = layout.per_chain, layout.thin, layout.burn_in
    slot = int(rng.integers(L))
    store = np.full((1, L, observed.shape[0]), np.nan)
    store[0, slot] = observed
    forward = thin * (L - 1 - slot)
    backward = thin * (slot + 1) + burn_in
    # Walker 0 walks back to the hub (recording slots slot-1 .. 0), walker 1 forward.
    schedule = _Schedule(total_moves=[backward, forward], record_start=[thin, thin],
                         record_count=[slot, L - 1 - slot], chain=[0, 0],
                         first_slot=[slot - 1, slot + 1], slot_step=[-1, 1], thin=thin, store=store)
    walkers = make_walkers(np.stack([start, start]), rng)
    with tqdm(total=backward + forward, disable=not progress, desc="MCMC: observation's chain", unit="move") as bar:
        run_walkers(walkers, schedule, out_of_budget, bar)
    return ObservedChain(store, slot, walkers.state(0), walkers.n_accepted)


def hub_chains(make_walkers: Callable, hub: np.ndarray, n_chains: int, layout: TreeLayout, rngs,
               q: int, out_of_budget: Callable[[], bool], progress: bool = False) -> tuple[np.ndarray, int]:
    """Step 3: ``n_chains`` chains walked forward from the hub in lockstep.

    Returns their recorded statistics ``(n_chains, L, q)`` (NaN where the budget
    ran out first) and the number of accepted moves.
    """
    L = layout.per_chain
    store = np.full((n_chains, L, q), np.nan)
    if n_chains == 0:
        return store, 0
    ones = np.ones(n_chains, dtype=np.int64)
    schedule = _Schedule(total_moves=ones * layout.chain_moves, record_start=ones * (layout.burn_in + layout.thin),
                         record_count=ones * L, chain=np.arange(n_chains), first_slot=0 * ones,
                         slot_step=ones, thin=layout.thin, store=store)
    walkers = make_walkers(np.repeat(hub[None], n_chains, axis=0), rngs)
    with tqdm(total=n_chains * layout.chain_moves, disable=not progress, desc="MCMC: chains from the hub",
              unit="move") as bar:
        run_walkers(walkers, schedule, out_of_budget, bar)
    return store, walkers.n_accepted


@dataclass(frozen=True)
class TreeSample:
    """Recorded statistics of a whole design.

    Attributes
    ----------
    statistics : ndarray (C, L, q)
    observed_slot : tuple (chain, index) or None
    n_accepted : int
    n_replays_elsewhere : int
        Replays counted by the hub-chain runners' own replay objects (other processes).
    """

    statistics: np.ndarray
    observed_slot: tuple | None
    n_accepted: int
    n_replays_elsewhere: int


def run_design(make_walkers: Callable, start: np.ndarray, observed: np.ndarray, layout: TreeLayout,
               design: str, tree_rng: np.random.Generator, run_hub_chains: Callable,
               out_of_budget: Callable[[], bool], progress: bool = False) -> TreeSample:
    """Build the whole design: the observation's chain (``"tree"``) and the chains from the hub.

    Parameters
    ----------
    run_hub_chains : callable ``(hub, n_chains) -> list of (statistics, accepted, replays)``
        Walks the chains from the hub, in this process or spread over several
        (each piece with its own generators); ``replays`` counts those not made
        through this process's replay object.
    design : {"tree", "start"}
        ``"start"`` walks all chains from the observation and records no observation slot.
    """
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {DESIGNS}, got {design!r}")
    pieces, slot, accepted = [], None, 0
    hub, n_from_hub = start, layout.n_chains
    if design == "tree":
        first = observed_chain(make_walkers, start, observed, layout, tree_rng, out_of_budget, progress)
        pieces.append(first.statistics)
        slot, hub, accepted, n_from_hub = (0, first.observed_slot), first.hub, first.n_accepted, n_from_hub - 1
    parts = run_hub_chains(hub, n_from_hub) if n_from_hub else []
    pieces.extend(p[0] for p in parts)
    return TreeSample(np.concatenate(pieces, axis=0), slot, accepted + sum(p[1] for p in parts),
                      sum(p[2] for p in parts))
