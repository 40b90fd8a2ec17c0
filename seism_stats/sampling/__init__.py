"""Null sampling in the selection event: walkers, MCMC trees, rejection, budget, Monte-Carlo p-values.

Owns: :mod:`.walkers` (reversible moves, many walkers in lockstep), :mod:`.exchangeable`
(exactly valid MCMC: the observation hidden in a tree of chains), :mod:`.samplers`
(rejection and MCMC samplers, :class:`~.samplers.NullSample`), :mod:`.blocks` (a sampler
run as independently seeded blocks, in one process or many), :mod:`.budget` (the plan
against ``max_replays``), :mod:`.pvalues` (rank and weighted-ratio p-values). A new null
is a walker or a sampler here.

May import: :mod:`seism_stats.selection`, :mod:`seism_stats.features`, :mod:`seism_stats.io`,
:mod:`seism_stats.utils`.
"""
