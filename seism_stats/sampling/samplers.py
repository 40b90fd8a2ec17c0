"""Null samplers conditioned on the selection event (SPEC 5).

Every sampler returns the statistics of draws inside the selection event ``E``:

* :func:`sample_rejection` - i.i.d. candidates (uniform on the residual sphere,
  or permuted residuals), kept when they replay to the same cells. Exact, slow
  when ``E`` is rare.
* :func:`sample_sphere_mcmc` - hit-and-run on great circles inside ``E``
  (:class:`~seism_stats.sampling.walkers.SphereWalkers`), many chains in lockstep, laid
  out as the exchangeable tree of :mod:`seism_stats.sampling.exchangeable` so that the
  p-value is exactly valid for every number of draws. Default.
* :func:`sample_permutation_mcmc` - Metropolis on permutations of the residuals
  restricted to ``E`` (binary/non-Gaussian y), in the same tree.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from ..selection.replay import SelectionReplay
from ..utils.diagnostics import effective_sample_size
from . import budget, exchangeable
from .walkers import residual_points, sphere_points, walker_factory

__all__ = ["NullSample", "sample_rejection", "sample_sphere_mcmc", "sample_permutation_mcmc",
           "sphere_points", "permutation_points", "merge_samples"]


@dataclass(frozen=True)
class NullSample:
    """Statistics of the null draws that fell in the selection event.

    Attributes
    ----------
    method : str
        ``"rejection"``, ``"mcmc"`` or ``"permutation-mcmc"``/``"permutation-rejection"``.
    statistics : ndarray (n_chains, n_per_chain, q)
        ``T_j`` of each recorded node (rejection sampling counts as one chain).
        NaN where a replay budget ran out before the node was reached. With the
        tree design, slot ``observed_slot`` holds the observed statistics.
    n_replays : int
        Candidates replayed (the cost of the sampler).
    n_moves : int
        Candidates accepted into the event (burn-in included).
    burn_in, thin : int
        Per chain.
    seconds : float
        Wall time.
    observed_slot : tuple (chain, index) or None
        Where the observation sits among the recorded nodes (exchangeable tree
        design, :mod:`seism_stats.sampling.exchangeable`); None when the draws are i.i.d.
        or the chains started at the observation (``design="start"``).
    shortfall : str
        Why the sample gives no valid p-value ('' when it does): the replay budget
        ran out before the tree of chains was complete, or before the draws asked
        for were accepted (:mod:`seism_stats.sampling.budget`). The p-values of such a sample
        are NaN.
    """

    method: str
    statistics: np.ndarray
    n_replays: int
    n_moves: int
    burn_in: int
    thin: int
    seconds: float
    observed_slot: tuple | None = None
    shortfall: str = ""

    @property
    def n_chains(self) -> int:
        return self.statistics.shape[0]

    @property
    def recorded(self) -> np.ndarray:
        """Nodes that were reached (not left NaN by a spent budget), shaped (chains, per_chain)."""
        if not self.statistics.shape[2]:
            return np.ones(self.statistics.shape[:2], dtype=bool)
        return ~np.isnan(self.statistics[:, :, 0])

    @property
    def draw_mask(self) -> np.ndarray:
        """Recorded nodes that are null draws (not the observation, not missing), shaped (chains, per_chain)."""
        mask = self.recorded
        if self.observed_slot is not None:
            mask[self.observed_slot] = False
        return mask

    @property
    def n_draws(self) -> int:
        """Number of null draws B."""
        return int(self.draw_mask.sum())

    @property
    def draws(self) -> np.ndarray:
        """Statistics of the null draws as a (B, q) array."""
        return self.statistics[self.draw_mask]

    @property
    def acceptance_rate(self) -> float:
        """Fraction of replayed candidates that were in the selection event."""
        return self.n_moves / self.n_replays if self.n_replays else float("nan")

    def complete_columns(self) -> int:
        """Leading recorded positions present in every chain (the rectangular part, for ESS)."""
        complete = self.recorded.all(axis=0)
        return self.statistics.shape[1] if complete.all() else int(np.argmin(complete))

    def effective_sample_size(self, values: np.ndarray | None = None) -> np.ndarray:
        """ESS of each statistic (or of ``values``, shaped like ``statistics``)."""
        values = self.statistics if values is None else values
        if self.method.endswith("rejection"):
            return np.full(values.shape[2], float(self.n_draws))
        values = values[:, : self.complete_columns()]
        if values.shape[1] == 0:
            return np.zeros(values.shape[2])
        return np.array([effective_sample_size(values[:, :, j]) for j in range(values.shape[2])])


def replay_budget(replay: SelectionReplay, max_replays: int) -> Callable[[], bool]:
    """``out_of_budget()`` for MCMC walkers: True once ``max_replays`` are spent.

    A sample cut short says so in ``NullSample.shortfall`` (its p-values are then NaN,
    with a warning: :func:`~seism_stats.sampling.pvalues.monte_carlo_pvalues`).
    """
    return lambda: replay.n_replays >= max_replays


def permutation_points(rng: np.random.Generator, m: int, residual: np.ndarray,
                       covariate_basis: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """``m`` random permutations of the residuals, projected off the covariates and normalised.

    With an intercept only this is the exact permutation null; with more
    covariates it is the Freedman-Lane residual permutation. With the rows' canonical
    ``order`` the permutations are drawn over canonical positions (position ``order[k]``
    receives the value of row ``order[s_k]``, ``s`` a uniform permutation), so they do not
    depend on the order of the input rows.
    """
    keys = rng.random((m, residual.shape[0]))
    if order is None:
        perms = np.argsort(keys, axis=1)
    else:
        perms = np.empty(keys.shape, dtype=np.int64)
        perms[:, order] = order[np.argsort(keys, axis=1)]
    return residual_points(residual[perms], covariate_basis)


def sample_rejection(replay: SelectionReplay, draw_points: Callable[[np.random.Generator, int], np.ndarray],
                     rng: np.random.Generator, n_samples: int, block_size: int = 256,
                     max_replays: int = 2_000_000, progress: bool = False,
                     method: str = "rejection") -> NullSample:
    """Keep i.i.d. candidates that replay to the same selection.

    Parameters
    ----------
    replay : SelectionReplay
    draw_points : callable ``(rng, m) -> (m, n)`` unit residual candidates
    rng : numpy.random.Generator
    n_samples : int
        Draws to keep.
    block_size : int
        Candidates replayed per batch.
    max_replays : int
        Budget. When it runs out first, the draws accepted are returned with
        ``shortfall`` set: their p-values are NaN, not a p-value of fewer draws.
    """
    start_time = time.perf_counter()
    q = replay.n_selected
    kept: list[np.ndarray] = []
    n_kept = 0
    with tqdm(total=n_samples, disable=not progress, desc="rejection sampling", unit="draw") as bar:
        while n_kept < n_samples:
            if replay.n_replays >= max_replays:
                break
            accepted, stats = replay.check_points(draw_points(rng, block_size))
            new = stats[accepted][: n_samples - n_kept]
            kept.append(new)
            n_kept += new.shape[0]
            bar.update(new.shape[0])
    draws = np.concatenate(kept) if kept else np.zeros((0, q))
    return NullSample(method, draws[None, :, :], replay.n_replays, n_kept, 0, 1,
                      time.perf_counter() - start_time,
                      shortfall=budget.shortfall_of_rejection(n_kept, n_samples, replay.n_replays, max_replays))


def _observed_statistics(replay: SelectionReplay, point: np.ndarray) -> np.ndarray:
    """Statistics of the observed point, with the replay's arithmetic (not counted as a replay)."""
    accepted, stats = replay.check_points(point[None, :], count=False)
    if not accepted[0]:
        raise RuntimeError("the observed response does not replay to its own selection")
    return stats[0]


def sample_tree(make_walkers: Callable, replay: SelectionReplay, start: np.ndarray, observed: np.ndarray,
                rngs, n_samples: int, burn_in: int, thin: int, n_chains: int, max_replays: int,
                progress: bool, method: str, design: str = "tree",
                tree_rng: np.random.Generator | None = None) -> NullSample:
    """Run an MCMC null sample in one process (see :mod:`seism_stats.sampling.exchangeable`).

    Parameters
    ----------
    make_walkers : callable ``(states, rngs) -> walkers``
    replay : SelectionReplay
    start : ndarray
        The observation's state.
    observed : ndarray (q,)
        Its statistics.
    rngs : numpy.random.Generator or sequence of them
        Generators of the chains walked from the hub (one per chain group).
    design : {"tree", "start"}
        Exchangeable tree (exact p-values, default) or chains started at the
        observation (asymptotically valid only).
    tree_rng : numpy.random.Generator, optional
        Generator of the observation's chain (default: spawned from the first of ``rngs``).
    """
    start_time = time.perf_counter()
    budget.check_budget("mcmc", n_samples, n_chains, burn_in, thin, design, max_replays)
    rngs = [rngs] if isinstance(rngs, np.random.Generator) else list(rngs)
    layout = exchangeable.TreeLayout.for_draws(n_samples, n_chains, burn_in, thin, design)
    out_of_budget = replay_budget(replay, max_replays)

    def walk_from_hub(hub, n_from_hub):
        stats, accepted = exchangeable.hub_chains(make_walkers, hub, n_from_hub, layout,
                                                  rngs[: min(len(rngs), n_from_hub)], observed.shape[0],
                                                  out_of_budget, progress)
        return [(stats, accepted, 0)]

    tree_rng = rngs[0].spawn(1)[0] if tree_rng is None else tree_rng
    tree = exchangeable.run_design(make_walkers, start, observed, layout, design, tree_rng, walk_from_hub,
                                   out_of_budget, progress)
    return NullSample(method, tree.statistics, replay.n_replays, tree.n_accepted, burn_in, thin,
                      time.perf_counter() - start_time, tree.observed_slot,
                      budget.shortfall_of_tree(tree.statistics, replay.n_replays, max_replays))


def sample_sphere_mcmc(replay: SelectionReplay, start: np.ndarray, covariate_basis: np.ndarray,
                       rngs, n_samples: int, burn_in: int = 50, thin: int = 1,
                       n_chains: int = 16, max_replays: int = 2_000_000,
                       progress: bool = False, bracket: str = "exact", design: str = "tree",
                       tree_rng: np.random.Generator | None = None) -> NullSample:
    """Great-circle slice moves on the residual sphere restricted to the event, as an exchangeable tree.

    Parameters
    ----------
    replay : SelectionReplay
    start : ndarray (n,)
        Observed unit residual ``P y / ||P y||`` (in ``E`` by construction).
    covariate_basis : ndarray (n, p)
        Orthonormal covariate basis (directions stay in its orthogonal complement).
    rngs : numpy.random.Generator or sequence of them
        One generator per group of chains walked from the hub.
    n_samples : int
        Recorded nodes (the observation's included; rounded up to a multiple of ``n_chains``).
    burn_in, thin : int
        Unrecorded moves between the hub and a chain's first recorded node, and between
        recorded nodes.
    n_chains : int
        Chains advanced in lockstep.
    max_replays : int
        Budget of replayed candidates.
    progress : bool
        Show progress bars over moves.
    bracket : {"exact", "shrink"}
        Move on a circle: uniform on the exact in-event arc (default) or the
        shrinking bracket of SPEC 5 (see :class:`~seism_stats.sampling.walkers.SphereWalkers`).
    design : {"tree", "start"}
        See :func:`sample_tree`.
    tree_rng : numpy.random.Generator, optional
        Generator of the observation's chain.
    """
    if bracket not in ("exact", "shrink"):
        raise ValueError(f"bracket must be 'exact' or 'shrink', got {bracket!r}")

    make_walkers = walker_factory(replay, covariate_basis, "sphere", start, bracket)
    observed = _observed_statistics(replay, start)
    return sample_tree(make_walkers, replay, start, observed, rngs, n_samples, burn_in, thin, n_chains,
                       max_replays, progress, "mcmc", design, tree_rng)


def sample_permutation_mcmc(replay: SelectionReplay, residual: np.ndarray, covariate_basis: np.ndarray,
                            rngs, n_samples: int, burn_in: int = 50, thin: int = 1,
                            n_chains: int = 16, max_replays: int = 2_000_000,
                            progress: bool = False, design: str = "tree",
                            tree_rng: np.random.Generator | None = None) -> NullSample:
    """Metropolis chains on permutations of the residuals restricted to the event, as an exchangeable tree.

    See :class:`~seism_stats.sampling.walkers.PermutationWalkers` for the move and
    :func:`sample_sphere_mcmc` for the parameters.
    """
    make_walkers = walker_factory(replay, covariate_basis, "permutation", residual)
    identity = np.arange(residual.shape[0])
    observed = _observed_statistics(replay, residual_points(residual[None, :], covariate_basis)[0])
    return sample_tree(make_walkers, replay, identity, observed, rngs, n_samples, burn_in, thin, n_chains,
                       max_replays, progress, "permutation-mcmc", design, tree_rng)


def merge_samples(parts: list[NullSample], seconds: float) -> NullSample:
    """Join independently seeded sampler blocks (their chains side by side, in order).

    Every recorded node is kept: blocks that ran out of replays first leave NaN
    in their missing nodes (shorter rejection blocks are padded with NaN). The
    first block's observation slot (if any) and the first shortfall are kept
    (the caller restates it for the whole sample).
    """
    if not parts:
        raise ValueError("no sampler blocks to merge")
    length = max(p.statistics.shape[1] for p in parts)
    padded = [np.pad(p.statistics, ((0, 0), (0, length - p.statistics.shape[1]), (0, 0)), constant_values=np.nan)
              for p in parts]
    first = parts[0]
    return NullSample(first.method, np.concatenate(padded, axis=0), sum(p.n_replays for p in parts),
                      sum(p.n_moves for p in parts), first.burn_in, first.thin, seconds, first.observed_slot,
                      next((p.shortfall for p in parts if p.shortfall), ""))
