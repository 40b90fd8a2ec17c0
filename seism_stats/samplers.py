"""Null samplers conditioned on the selection event (SPEC 5).

Every sampler returns unit residual vectors' statistics for draws inside the
selection event ``E``:

* :func:`sample_rejection` - i.i.d. candidates (uniform on the residual sphere,
  or permuted residuals), kept when they replay to the same cells. Exact, slow
  when ``E`` is rare.
* :func:`sample_sphere_mcmc` - hit-and-run on great circles as a shrinking-bracket
  slice sampler (elliptical slice sampling with the slice equal to ``E``), many
  chains in lockstep. Default.
* :func:`sample_permutation_mcmc` - random-transposition Metropolis chain on
  permutations of the residuals restricted to ``E`` (binary/non-Gaussian y).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from . import _sphere
from .diagnostics import effective_sample_size
from .replay import SelectionReplay


@dataclass(frozen=True)
class NullSample:
    """Statistics of the null draws that fell in the selection event.

    Attributes
    ----------
    method : str
        ``"rejection"``, ``"mcmc"`` or ``"permutation-mcmc"``/``"permutation-rejection"``.
    statistics : ndarray (n_chains, n_per_chain, q)
        ``T_j`` of each retained draw (rejection sampling counts as one chain).
    n_replays : int
        Candidates replayed (the cost of the sampler).
    n_moves : int
        Candidates accepted into the event (burn-in included).
    burn_in, thin : int
        Per chain.
    seconds : float
        Wall time.
    """

    method: str
    statistics: np.ndarray
    n_replays: int
    n_moves: int
    burn_in: int
    thin: int
    seconds: float

    @property
    def n_chains(self) -> int:
        return self.statistics.shape[0]

    @property
    def n_draws(self) -> int:
        """Number of retained draws B."""
        return self.statistics.shape[0] * self.statistics.shape[1]

    @property
    def draws(self) -> np.ndarray:
        """Retained statistics as a (B, q) array."""
        return self.statistics.reshape(-1, self.statistics.shape[2])

    @property
    def acceptance_rate(self) -> float:
        """Fraction of replayed candidates that were in the selection event."""
        return self.n_moves / self.n_replays if self.n_replays else float("nan")

    def effective_sample_size(self, values: np.ndarray | None = None) -> np.ndarray:
        """ESS of each statistic (or of ``values``, shaped like ``statistics``)."""
        values = self.statistics if values is None else values
        if values.shape[1] == 0:
            return np.zeros(values.shape[2])
        if self.method.endswith("rejection"):
            return np.full(values.shape[2], float(values.shape[0] * values.shape[1]))
        return np.array([effective_sample_size(values[:, :, j]) for j in range(values.shape[2])])


class _ChainRecorder:
    """Burn-in, thinning and storage for chains advanced in lockstep."""

    def __init__(self, n_chains: int, burn_in: int, thin: int, per_chain: int, q: int):
        self.burn_in, self.thin, self.per_chain = burn_in, thin, per_chain
        self.steps = np.zeros(n_chains, dtype=np.int64)
        self.kept = np.zeros(n_chains, dtype=np.int64)
        self.store = np.full((n_chains, per_chain, q), np.nan)
        self.total_steps = n_chains * (burn_in + per_chain * thin)

    def record(self, chains: np.ndarray, stats: np.ndarray) -> None:
        self.steps[chains] += 1
        after = self.steps[chains] - self.burn_in
        keep = (after > 0) & (after % self.thin == 0) & (self.kept[chains] < self.per_chain)
        rows = chains[keep]
        self.store[rows, self.kept[rows]] = stats[keep]
        self.kept[rows] += 1

    @property
    def done(self) -> np.ndarray:
        return self.kept >= self.per_chain

    def completed(self) -> np.ndarray:
        """Retained draws, truncated to the shortest chain if a budget ran out."""
        return self.store[:, : int(self.kept.min())]


def _check_budget(replay: SelectionReplay, max_replays: int, what: str) -> bool:
    if replay.n_replays >= max_replays:
        warnings.warn(f"{what} stopped after {replay.n_replays} replays (max_replays): fewer null "
                      "draws than requested", RuntimeWarning, stacklevel=3)
        return True
    return False


def project_on(points: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Projection of each row of ``points`` on the orthonormal columns of ``basis``.

    Row by row in a fixed summation order (see :func:`_sphere.row_dots`), so
    results do not depend on how many rows are processed together.
    """
    points = np.ascontiguousarray(points, dtype=np.float64)
    coefficients = _sphere.row_dots(points, np.asfortranarray(basis))
    return _sphere.row_dots(coefficients, np.asfortranarray(basis.T))  # basis.T of a C array: no copy


def sphere_points(rng: np.random.Generator, m: int, covariate_basis: np.ndarray, n: int) -> np.ndarray:
    """``m`` points uniform on the unit sphere of the residual space of the covariates."""
    g = rng.standard_normal((m, n))
    if covariate_basis.shape[1]:
        g -= project_on(g, covariate_basis)
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    return g


def permutation_points(rng: np.random.Generator, m: int, residual: np.ndarray,
                       covariate_basis: np.ndarray) -> np.ndarray:
    """``m`` random permutations of the residuals, projected off the covariates and normalised.

    With an intercept only this is the exact permutation null; with more
    covariates it is the Freedman-Lane residual permutation.
    """
    perms = np.argsort(rng.random((m, residual.shape[0])), axis=1)
    return _residual_points(residual[perms], covariate_basis)


def _residual_points(values: np.ndarray, covariate_basis: np.ndarray) -> np.ndarray:
    points = values - project_on(values, covariate_basis) if covariate_basis.shape[1] else values.copy()
    norms = np.linalg.norm(points, axis=1, keepdims=True)
    return points / np.where(norms > 0, norms, 1.0)


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
        Budget; a warning is issued when it runs out first.
    """
    start_time = time.perf_counter()
    q = replay.n_selected
    kept: list[np.ndarray] = []
    n_kept = 0
    with tqdm(total=n_samples, disable=not progress, desc="rejection sampling", unit="draw") as bar:
        while n_kept < n_samples:
            if _check_budget(replay, max_replays, "rejection sampling"):
                break
            accepted, stats = replay.check_points(draw_points(rng, block_size))
            new = stats[accepted][: n_samples - n_kept]
            kept.append(new)
            n_kept += new.shape[0]
            bar.update(new.shape[0])
    draws = np.concatenate(kept) if kept else np.zeros((0, q))
    return NullSample(method, draws[None, :, :], replay.n_replays, n_kept, 0, 1,
                      time.perf_counter() - start_time)


class ChainGroups:
    """Chains cut into contiguous groups, each drawing from its own generator.

    Every random number a chain uses comes from its group's generator, in an
    order that depends on that group's chains only. Running all groups in
    lockstep in one process, or each group in its own process (joblib, Dask),
    therefore gives bit-for-bit the same draws.

    Parameters
    ----------
    rngs : sequence of numpy.random.Generator
        One generator per group.
    n_chains : int
        Total chains, split as evenly as possible (``numpy.array_split``).
    """

    def __init__(self, rngs, n_chains: int):
        self.rngs = list(rngs)
        if not 1 <= len(self.rngs) <= n_chains:
            raise ValueError(f"{len(self.rngs)} chain groups for {n_chains} chains")
        sizes = [len(c) for c in np.array_split(np.arange(n_chains), len(self.rngs))]
        self.bounds = np.concatenate([[0], np.cumsum(sizes)])
        self.n_chains = n_chains

    def draw(self, chains: np.ndarray, sample: Callable[[np.random.Generator, np.ndarray], np.ndarray]) -> np.ndarray:
        """``sample(rng_g, chains_in_g)`` for each group, concatenated in the order of ``chains``.

        ``chains`` must be sorted (groups are contiguous ranges, so the pieces
        come back in the same order).
        """
        pieces = []
        for g, rng in enumerate(self.rngs):
            mine = chains[(chains >= self.bounds[g]) & (chains < self.bounds[g + 1])]
            if mine.size:
                pieces.append(sample(rng, mine))
        return np.concatenate(pieces) if pieces else np.zeros(0)

    def group_of(self, chains: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.bounds, chains, side="right") - 1


#: Angles within this distance of an exact arc's ends are checked by a full
#: replay instead of being certified by the arc (guards against rounding).
ARC_MARGIN = 1e-9

def _start_chains(rngs, n_chains: int, n_samples: int, burn_in: int, thin: int,
                  q: int) -> tuple[ChainGroups, _ChainRecorder]:
    """Chain groups and the recorder of ``ceil(n_samples / n_chains)`` draws per chain."""
    groups = ChainGroups([rngs] if isinstance(rngs, np.random.Generator) else rngs, n_chains)
    return groups, _ChainRecorder(n_chains, burn_in, thin, math.ceil(n_samples / n_chains), q)


def sample_sphere_mcmc(replay: SelectionReplay, start: np.ndarray, covariate_basis: np.ndarray,
                       rngs, n_samples: int, burn_in: int = 50, thin: int = 1,
                       n_chains: int = 16, max_replays: int = 2_000_000,
                       progress: bool = False, bracket: str = "exact") -> NullSample:
    """Elliptical-slice hit-and-run on the residual sphere, restricted to the selection event.

    From the current point u, a direction v uniform among unit vectors of the
    residual space orthogonal to u defines the great circle
    ``cos(t) u + sin(t) v``. ``t`` is drawn uniformly in a bracket that starts
    as ``[t0 - 2 pi, t0]`` and shrinks towards 0 after each proposal outside
    ``E``; ``t = 0`` is u itself, so every move ends inside ``E``. The move
    leaves the uniform distribution on the sphere restricted to ``E``
    invariant (Murray, Adams and MacKay, 2010).

    Because grid numerators are linear in the response, each proposal along a
    circle only re-combines two precomputed numerator vectors: the sparse
    product and Kronecker transform are paid once per accepted move.

    Numerators stay in float64: the chain's current point must pass the event
    check on its stored numerators (a collapsed bracket returns to it), and the
    start must reproduce the observed selection exactly; float32 transforms
    could break ties differently from the selection and leave a chain unable
    to accept its own point.

    Parameters
    ----------
    replay : SelectionReplay
    start : ndarray (n,)
        Observed unit residual ``P y / ||P y||`` (in ``E`` by construction).
    covariate_basis : ndarray (n, p)
        Orthonormal covariate basis (directions stay in its orthogonal complement).
    rngs : numpy.random.Generator or sequence of them
        One generator per chain group (see :class:`ChainGroups`).
    n_samples : int
        Total retained draws (rounded up to a multiple of ``n_chains``).
    burn_in, thin : int
        Per chain, counted in accepted moves.
    n_chains : int
        Chains advanced in lockstep (one proposal per chain per replay block).
    max_replays : int
        Budget of replayed candidates.
    progress : bool
        Show a progress bar over moves.
    bracket : {"exact", "shrink"}
        ``"shrink"``: the elliptical-slice bracket ``[t0 - 2 pi, t0]`` shrunk after each
        proposal outside ``E`` (SPEC 5). ``"exact"`` (default): every cell's constraint
        along the circle is ``A + B cos 2t + C sin 2t >= 0``, so the arc of the circle
        around u that stays in ``E`` is computed in closed form
        (:meth:`SelectionReplay.circle_arcs`) and t is drawn uniformly on it: a move to
        a uniform point of that arc (a valid slice move: the arc is the same from any of
        its points), usually accepted at the first proposal. Proposals that rounding
        puts outside ``E`` shrink the bracket as before.
    """
    if bracket not in ("exact", "shrink"):
        raise ValueError(f"bracket must be 'exact' or 'shrink', got {bracket!r}")
    start_time = time.perf_counter()
    groups, recorder = _start_chains(rngs, n_chains, n_samples, burn_in, thin, replay.n_selected)
    n = start.shape[0]
    u = np.tile(start, (n_chains, 1))
    num_u = np.tile(replay.numerators(start[None, :]), (n_chains, 1))
    coef_u = np.tile(replay.coefficients(start[None, :]), (n_chains, 1))
    v = np.empty_like(u)
    num_v = np.empty_like(num_u)
    coef_v = np.empty_like(coef_u)
    theta = np.zeros(n_chains)
    lower = np.zeros(n_chains)
    upper = np.zeros(n_chains)
    arc_lo = np.zeros(n_chains)  # exact arc shrunk by ARC_MARGIN: certified inside E
    arc_hi = np.zeros(n_chains)

    def directions_for(rng: np.random.Generator, chains: np.ndarray) -> np.ndarray:
        directions = sphere_points(rng, chains.shape[0], covariate_basis, n)
        parallel = _sphere.orthonormal_directions(directions, np.ascontiguousarray(u[chains]))
        while parallel.any():  # probability zero in exact arithmetic; redraw to be safe
            redo = sphere_points(rng, int(parallel.sum()), covariate_basis, n)
            _sphere.orthonormal_directions(redo, np.ascontiguousarray(u[chains[parallel]]))
            directions[parallel] = redo
            parallel = np.linalg.norm(directions, axis=1) < 0.5
        return directions

    def new_circles(chains: np.ndarray) -> None:
        directions = groups.draw(chains, directions_for).reshape(chains.shape[0], n)
        v[chains] = directions
        num_v[chains] = replay.numerators(directions)
        coef_v[chains] = replay.coefficients(directions)
        if bracket == "exact":
            lo, hi = replay.circle_arcs(num_u, num_v, coef_u, coef_v, chains)
            fraction = groups.draw(chains, lambda rng, mine: rng.random(mine.shape[0]))
            theta[chains] = lo + fraction * (hi - lo)
            lower[chains], upper[chains] = lo, hi
            arc_lo[chains], arc_hi[chains] = lo + ARC_MARGIN, hi - ARC_MARGIN
        else:
            theta[chains] = groups.draw(chains, lambda rng, mine: rng.uniform(0.0, 2.0 * np.pi, mine.shape[0]))
            lower[chains] = theta[chains] - 2.0 * np.pi
            upper[chains] = theta[chains]

    new_circles(np.arange(n_chains))
    active = np.arange(n_chains)
    with tqdm(total=recorder.total_steps, disable=not progress, desc="sphere MCMC", unit="move") as bar:
        while active.size:
            if _check_budget(replay, max_replays, "MCMC sampling"):
                break
            cos_t, sin_t = np.cos(theta[active]), np.sin(theta[active])
            certain = (theta[active] > arc_lo[active]) & (theta[active] < arc_hi[active])
            if certain.all():
                accepted = certain
                stats = replay.certified(num_u, num_v, coef_u, coef_v, active, cos_t, sin_t)
            else:
                accepted, stats = replay.check_circle(num_u, num_v, coef_u, coef_v, active, cos_t, sin_t)
            moved = active[accepted]
            if moved.size:
                c, s = cos_t[accepted], sin_t[accepted]
                for point, direction in ((u, v), (num_u, num_v), (coef_u, coef_v)):
                    _sphere.rotate_rows(point, direction, moved, c, s, replay.n_threads)
                recorder.record(moved, stats[accepted])
                bar.update(moved.size)
                going_on = moved[~recorder.done[moved]]
                if going_on.size:
                    new_circles(going_on)
            shrink = active[~accepted]
            if shrink.size:
                t = theta[shrink]
                lower[shrink] = np.where(t < 0, t, lower[shrink])
                upper[shrink] = np.where(t < 0, upper[shrink], t)
                # A bracket shrunk to rounding level is t = 0: the current point, which is in E.
                collapsed = upper[shrink] - lower[shrink] < 1e-12
                redraw = groups.draw(shrink, lambda rng, mine: rng.uniform(lower[mine], upper[mine]))
                theta[shrink] = np.where(collapsed, 0.0, redraw)
            active = np.flatnonzero(~recorder.done)
    return NullSample("mcmc", recorder.completed(), replay.n_replays, int(recorder.steps.sum()),
                      burn_in, thin, time.perf_counter() - start_time)


#: Target acceptance rate of the permutation chain's block-shuffle proposals.
PERMUTATION_TARGET_ACCEPTANCE = (0.2, 0.5)


def sample_permutation_mcmc(replay: SelectionReplay, residual: np.ndarray, covariate_basis: np.ndarray,
                            rngs, n_samples: int, burn_in: int = 50, thin: int = 1,
                            n_chains: int = 16, max_replays: int = 2_000_000,
                            progress: bool = False) -> NullSample:
    """Metropolis chain on permutations of the residuals, restricted to the selection event.

    Each step shuffles the values at ``s`` random positions (a uniformly random
    permutation of them: a symmetric proposal); it is accepted when the permuted
    response replays to the same cells (uniform target on the permutations in
    ``E``), else the chain stays put and its current point is counted again.
    The shuffle size ``s`` of each chain group is adapted during burn-in to keep
    the acceptance rate in :data:`PERMUTATION_TARGET_ACCEPTANCE`, then frozen.
    """
    start_time = time.perf_counter()
    groups, recorder = _start_chains(rngs, n_chains, n_samples, burn_in, thin, replay.n_selected)
    n = residual.shape[0]
    perms = np.tile(np.arange(n), (n_chains, 1))
    _, current = replay.check_points(_residual_points(residual[None, :], covariate_basis))
    replay.n_replays -= 1  # the start is the observed response, not a null candidate
    current = np.tile(current, (n_chains, 1))
    shuffle_size = np.full(len(groups.rngs), max(2, n // 20))
    window_accepted = np.zeros(len(groups.rngs))
    window_steps = np.zeros(len(groups.rngs))
    n_moves = 0
    iteration = 0

    def propose(rng: np.random.Generator, mine: np.ndarray) -> np.ndarray:
        s = int(shuffle_size[groups.group_of(mine[:1])[0]])
        out = perms[mine].copy()
        for row in range(mine.shape[0]):
            positions = rng.choice(n, size=s, replace=False)
            out[row, positions] = out[row, rng.permutation(positions)]
        return out

    with tqdm(total=recorder.total_steps, disable=not progress, desc="permutation MCMC", unit="step") as bar:
        active = np.arange(n_chains)
        while active.size:
            if _check_budget(replay, max_replays, "permutation MCMC"):
                break
            proposal = groups.draw(active, propose).reshape(active.size, n).astype(np.int64)
            accepted, stats = replay.check_points(_residual_points(residual[proposal], covariate_basis))
            moved = active[accepted]
            perms[moved] = proposal[accepted]
            current[moved] = stats[accepted]
            n_moves += int(accepted.sum())
            recorder.record(active, current[active])
            bar.update(active.size)
            iteration += 1
            if iteration <= burn_in:
                which = groups.group_of(active)
                np.add.at(window_accepted, which, accepted)
                np.add.at(window_steps, which, 1)
                if iteration % 10 == 0:
                    rate = window_accepted / np.maximum(window_steps, 1)
                    low, high = PERMUTATION_TARGET_ACCEPTANCE
                    shuffle_size = np.where(rate > high, np.minimum(n, np.ceil(shuffle_size * 1.5)),
                                            np.where(rate < low, np.maximum(2, shuffle_size // 1.5),
                                                     shuffle_size)).astype(np.int64)
                    window_accepted[:] = 0
                    window_steps[:] = 0
            active = np.flatnonzero(~recorder.done)
    return NullSample("permutation-mcmc", recorder.completed(), replay.n_replays, n_moves,
                      burn_in, thin, time.perf_counter() - start_time)


def merge_samples(parts: list[NullSample], seconds: float) -> NullSample:
    """Join independently seeded sampler blocks (their chains side by side).

    Chains are truncated to the shortest one when a replay budget ran out in
    some block, so that the result stays a rectangular (chains x draws) array.
    """
    if not parts:
        raise ValueError("no sampler blocks to merge")
    length = min(p.statistics.shape[1] for p in parts)
    statistics = np.concatenate([p.statistics[:, :length] for p in parts], axis=0)
    first = parts[0]
    return NullSample(first.method, statistics, sum(p.n_replays for p in parts),
                      sum(p.n_moves for p in parts), first.burn_in, first.thin, seconds)
