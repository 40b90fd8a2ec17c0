"""A null sampler run as independently seeded blocks, in this process or spread over processes.

The MCMC tree (:mod:`~seism_stats.sampling.exchangeable`) and the rejection sampler
(:mod:`~seism_stats.sampling.samplers`) are cut into blocks with their own generators, so
that the draws do not depend on ``n_jobs`` or the backend (:mod:`seism_stats.utils.parallel`);
a pilot (:mod:`~seism_stats.sampling.budget`) plans the work first.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace

import numpy as np
from joblib import delayed
from tqdm.auto import tqdm

from ..selection.greedy import Selection
from ..selection.replay import SelectionReplay
from ..utils.parallel import run_tasks
from . import budget, samplers
from .exchangeable import TreeLayout, hub_chains, run_design
from .walkers import walker_factory


@dataclass(frozen=True)
class SamplerSpec:
    """Settings of the null sampler."""

    method: str
    null: str
    n_samples: int
    burn_in: int
    thin: int
    n_chains: int
    max_replays: int
    bracket: str
    design: str
    #: The rows' canonical order (:mod:`seism_stats.utils.canonical`): random numbers over rows are drawn in
    #: it, so that the sample does not depend on the order of the input rows (None: row order).
    order: np.ndarray | None = None


def sample_null(features, selection: Selection, basis: np.ndarray, spec: SamplerSpec,
                 tree_rng: np.random.Generator, block_rngs: list[np.random.Generator], n_threads: int,
                 n_jobs: int, progress: bool, backend: str = "joblib", client=None) -> samplers.NullSample:
    """Run the sampler as independently seeded blocks, in one process or spread over ``n_jobs``.

    MCMC (:mod:`seism_stats.sampling.exchangeable`): the observation's chain and the walk back
    to the hub run here; the chains walked from the hub are split into blocks with
    their own generators (:class:`~seism_stats.sampling.walkers.ChainGroups`). In one process
    the blocks advance in lockstep (larger batches for the kernels), in several each
    process runs some of them; the draws are the same. Rejection blocks each draw
    ``ceil(n_samples / blocks)`` accepted samples. A pilot (:mod:`seism_stats.sampling.budget`)
    plans the work first; a sample cut short by ``max_replays`` carries a
    ``shortfall`` (its p-values are NaN), decided on the replays of all pieces
    together so that it does not depend on ``n_jobs``.
    """
    together = n_jobs == 1 and backend == "joblib"  # else one task per block
    start = time.perf_counter()
    pilot = SelectionReplay(features, selection.event, n_threads)  # the plan's own replays, counted apart
    if spec.method == "rejection":
        plan = budget.plan_rejection(pilot, _candidates(selection, basis, spec.null, spec.order),
                                     spec.n_samples,
                                     spec.max_replays)
        _announce(plan, spec, progress)
        per_block = -(-spec.n_samples // len(block_rngs))
        tasks = [delayed(_rejection_block)(features, selection, basis, spec, rng, per_block,
                                           spec.max_replays // len(block_rngs),
                                           n_threads if together else 1, progress and b == 0)
                 for b, rng in enumerate(block_rngs)]
        sample = samplers.merge_samples(run_tasks(tasks, n_jobs, backend, client), time.perf_counter() - start)
        return replace(sample, shortfall=budget.shortfall_of_rejection(
            sample.n_draws, spec.n_samples, sample.n_replays, spec.max_replays))

    layout = TreeLayout.for_draws(spec.n_samples, spec.n_chains, spec.burn_in, spec.thin, spec.design)
    start_state = _start_state(selection, spec.null)
    plan = budget.plan_mcmc(walker_factory(pilot, basis, spec.null, selection.unit_residual, spec.bracket,
                                           spec.order),
                            start_state, layout.total_moves, pilot, spec.n_chains)
    _announce(plan, spec, progress)
    replay = SelectionReplay(features, selection.event, n_threads)

    def walk_from_hub(hub, n_from_hub):
        n_blocks = min(len(block_rngs), n_from_hub)
        sizes = [len(c) for c in np.array_split(np.arange(n_from_hub), n_blocks)]
        jobs = [(block_rngs[:n_blocks], n_from_hub)] if together else \
            [([block_rngs[b]], sizes[b]) for b in range(n_blocks)]
        # Every piece may spend all that is left: the tree counts as complete only if the replays of
        # all pieces together fit max_replays (budget.shortfall_of_tree), whatever n_jobs is.
        budget_left = max(0, spec.max_replays - replay.n_replays)
        tasks = [delayed(_hub_block)(features, selection, basis, spec, hub, layout, rngs, chains, budget_left,
                                     n_threads if together else 1, progress and i == 0)
                 for i, (rngs, chains) in enumerate(jobs)]
        return run_tasks(tasks, n_jobs, backend, client)

    walkers = walker_factory(replay, basis, spec.null, selection.unit_residual, spec.bracket, spec.order)
    tree = run_design(walkers, start_state,
                      selection.statistics, layout, spec.design, tree_rng, walk_from_hub,
                      samplers.replay_budget(replay, spec.max_replays), progress)
    method = "mcmc" if spec.null == "sphere" else "permutation-mcmc"
    n_replays = replay.n_replays + tree.n_replays_elsewhere
    return samplers.NullSample(method, tree.statistics, n_replays, tree.n_accepted, spec.burn_in, spec.thin,
                               time.perf_counter() - start, tree.observed_slot,
                               budget.shortfall_of_tree(tree.statistics, n_replays, spec.max_replays))


def _announce(plan: budget.SamplingPlan, spec: SamplerSpec, progress: bool) -> None:
    """The plan on the progress lines, and a warning before a long or over-budget sampling."""
    if progress:
        tqdm.write(f"seism          plan: {plan.describe()}", file=sys.stderr)
    budget.announce(plan, spec.max_replays, f"{spec.method} sampling of {spec.n_samples:,} draws")


def _start_state(selection: Selection, null: str) -> np.ndarray:
    """The observation's state: its unit residual (sphere) or the identity permutation."""
    return selection.unit_residual if null == "sphere" else np.arange(selection.unit_residual.shape[0])


def _hub_block(features, selection: Selection, basis: np.ndarray, spec: SamplerSpec, hub: np.ndarray,
               layout: TreeLayout, rngs, n_chains: int, max_replays: int, n_threads: int,
               progress: bool) -> tuple[np.ndarray, int, int]:
    """Chains walked from the hub: (statistics, accepted moves, replays)."""
    features.n_threads = n_threads
    replay = SelectionReplay(features, selection.event, n_threads)
    walkers = walker_factory(replay, basis, spec.null, selection.unit_residual, spec.bracket, spec.order)
    stats, accepted = hub_chains(walkers, hub, n_chains, layout, rngs,
                                 selection.event.n_selected, samplers.replay_budget(replay, max_replays), progress)
    return stats, accepted, replay.n_replays


def _rejection_block(features, selection: Selection, basis: np.ndarray, spec: SamplerSpec,
                     rng: np.random.Generator, n_samples: int, max_replays: int, n_threads: int,
                     progress: bool) -> samplers.NullSample:
    features.n_threads = n_threads
    replay = SelectionReplay(features, selection.event, n_threads)
    return samplers.sample_rejection(replay, _candidates(selection, basis, spec.null, spec.order), rng, n_samples,
                                     max_replays=max_replays, progress=progress, method=f"{spec.null}-rejection")


def _candidates(selection: Selection, basis: np.ndarray, null: str, order: np.ndarray | None = None):
    """``draw(rng, m)``: m i.i.d. null candidates (sphere points, or permuted residuals)."""
    n = selection.unit_residual.shape[0]
    if null == "sphere":
        return lambda g, m: samplers.sphere_points(g, m, basis, n, order)
    return lambda g, m: samplers.permutation_points(g, m, selection.unit_residual, basis, order)
