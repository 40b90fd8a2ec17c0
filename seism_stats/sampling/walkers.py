"""Reversible moves inside the selection event, for many walkers advanced in lockstep.

A *walker* is one Markov chain on the selection event ``E``. The moves here are
reversible with respect to the null law restricted to ``E`` (uniform on the
residual sphere, or uniform on the permutations of the residuals), which is
what the exchangeable designs of :mod:`seism_stats.sampling.exchangeable` need: run
backward, a reversible chain is the same chain run forward.

* :class:`SphereWalkers` - hit-and-run on great circles: from u, a direction v
  uniform among unit vectors of the residual space orthogonal to u, then a
  point of the circle ``cos(t) u + sin(t) v`` that stays in ``E``: uniform on
  the exact arc of the circle inside ``E`` around u (``bracket="exact"``), or
  the shrinking bracket of elliptical slice sampling (``bracket="shrink"``,
  Murray, Adams and MacKay 2010). Both leave the uniform law on ``E`` invariant
  and are reversible: the arc is the same from any of its points, and the
  circle through u and u' is chosen with the same probability from either end.
* :class:`PermutationWalkers` - Metropolis on permutations: shuffle the values
  at ``s`` random positions (a symmetric proposal), accept when the permuted
  response replays to the same cells. ``s`` is drawn afresh for every proposal
  from a fixed law (log-uniform on ``2..n/2``): a fixed mixture of reversible
  kernels is reversible, where a shuffle size adapted to the data would not be.

Every random number a walker uses comes from its group's generator
(:class:`ChainGroups`), so running groups in one process or spread over
several gives the same draws.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..selection import _replay, _sphere
from ..selection.replay import SelectionReplay
from ..utils.canonical import gaussian_rows

#: Angles within this distance of an exact arc's ends are checked by a full
#: replay instead of being certified by the arc (guards against rounding).
ARC_MARGIN = 1e-9


class ChainGroups:
    """Walkers cut into contiguous groups, each drawing from its own generator.

    Every random number a walker uses comes from its group's generator, in an
    order that depends on that group's walkers only. Running all groups in
    lockstep in one process, or each group in its own process (joblib, Dask),
    therefore gives bit-for-bit the same draws.

    Parameters
    ----------
    rngs : numpy.random.Generator or sequence of them
        One generator per group.
    n_chains : int
        Total walkers, split as evenly as possible (``numpy.array_split``).
    """

    def __init__(self, rngs, n_chains: int):
        self.rngs = [rngs] if isinstance(rngs, np.random.Generator) else list(rngs)
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


def project_on(points: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Projection of each row of ``points`` on the orthonormal columns of ``basis``.

    Row by row in a fixed summation order (see :func:`_sphere.row_dots`), so
    results do not depend on how many rows are processed together.
    """
    points = np.ascontiguousarray(points, dtype=np.float64)
    coefficients = _sphere.row_dots(points, np.asfortranarray(basis))
    return _sphere.row_dots(coefficients, np.asfortranarray(basis.T))  # basis.T of a C array: no copy


def normal_rows(rng: np.random.Generator, m: int, n: int, order: np.ndarray | None = None) -> np.ndarray:
    """``m`` standard Gaussian vectors of length ``n``, drawn in the rows' canonical ``order``
    (:func:`~seism_stats.utils.canonical.gaussian_rows`) when given, else in row order."""
    return rng.standard_normal((m, n)) if order is None else gaussian_rows(rng, m, order)


def sphere_points(rng: np.random.Generator, m: int, covariate_basis: np.ndarray, n: int,
                  order: np.ndarray | None = None) -> np.ndarray:
    """``m`` points uniform on the unit sphere of the residual space of the covariates.

    With the rows' canonical ``order`` the points do not depend on the order of the input rows.
    """
    g = normal_rows(rng, m, n, order)
    if covariate_basis.shape[1]:
        g -= project_on(g, covariate_basis)
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    return g


def residual_points(values: np.ndarray, covariate_basis: np.ndarray) -> np.ndarray:
    """Rows of ``values`` projected off the covariates and scaled to unit norm (zero rows stay 0)."""
    points = values - project_on(values, covariate_basis) if covariate_basis.shape[1] else values.copy()
    norms = np.linalg.norm(points, axis=1, keepdims=True)
    return points / np.where(norms > 0, norms, 1.0)


class SphereWalkers:
    """Great-circle slice moves on the residual sphere restricted to the selection event.

    Because grid numerators are linear in the response, each proposal along a
    circle only re-combines two precomputed numerator vectors: the sparse
    product and Kronecker transform are paid once per circle.

    Numerators stay in float64: a walker's current point must pass the event
    check on its stored numerators (a collapsed bracket returns to it), and the
    observed point must reproduce the observed selection exactly; float32
    transforms could break ties differently from the selection and leave a
    walker unable to accept its own point.

    Parameters
    ----------
    replay : SelectionReplay
    points : ndarray (W, n)
        Start of each walker (unit residual vectors inside the event).
    covariate_basis : ndarray (n, p)
        Orthonormal covariate basis (directions stay in its orthogonal complement).
    groups : ChainGroups
        Generators of the walkers.
    bracket : {"exact", "shrink"}
        Exact in-event arc (default) or the shrinking bracket of SPEC 5.
    order : ndarray of int64 (n,), optional
        The rows' canonical order (:mod:`seism_stats.utils.canonical`): directions are drawn
        in it, so that the walk does not depend on the order of the input rows.
    """

    def __init__(self, replay: SelectionReplay, points: np.ndarray, covariate_basis: np.ndarray,
                 groups: ChainGroups, bracket: str = "exact", order: np.ndarray | None = None):
        if bracket not in ("exact", "shrink"):
            raise ValueError(f"bracket must be 'exact' or 'shrink', got {bracket!r}")
        self.replay, self.groups, self.bracket, self.order = replay, groups, bracket, order
        self.covariate_basis = covariate_basis
        # Layouts of the fused kernel (the two products of project_on).
        self.covariates_f = np.asfortranarray(covariate_basis, dtype=np.float64)
        self.covariates_t = np.asfortranarray(covariate_basis.T, dtype=np.float64)
        self.u = np.array(points, dtype=np.float64, order="C", copy=True)
        self.num_u = replay.numerators(self.u)
        self.coef_u = replay.coefficients(self.u)
        self.v = np.empty_like(self.u)
        self.num_v = np.empty_like(self.num_u)
        self.coef_v = np.empty_like(self.coef_u)
        w = self.u.shape[0]
        self.theta, self.lower, self.upper = np.zeros(w), np.zeros(w), np.zeros(w)
        self.arc_lo, self.arc_hi = np.zeros(w), np.zeros(w)  # exact arc shrunk by ARC_MARGIN
        self.n_accepted = 0

    def state(self, walker: int) -> np.ndarray:
        """Current point of one walker."""
        return self.u[walker].copy()

    def _directions(self, rng: np.random.Generator, chains: np.ndarray) -> np.ndarray:
        n = self.u.shape[1]
        directions = sphere_points(rng, chains.shape[0], self.covariate_basis, n, self.order)
        parallel = _sphere.orthonormal_directions(directions, np.ascontiguousarray(self.u[chains]))
        while parallel.any():  # probability zero in exact arithmetic; redraw to be safe
            redo = sphere_points(rng, int(parallel.sum()), self.covariate_basis, n, self.order)
            _sphere.orthonormal_directions(redo, np.ascontiguousarray(self.u[chains[parallel]]))
            directions[parallel] = redo
            parallel = np.linalg.norm(directions, axis=1) < 0.5
        return directions

    def restart(self, chains: np.ndarray) -> None:
        """Draw a new circle (and a first angle on it) for each walker in ``chains``."""
        if not chains.size:
            return
        groups, replay = self.groups, self.replay
        directions = groups.draw(chains, self._directions).reshape(chains.shape[0], self.u.shape[1])
        self.v[chains] = directions
        if chains.shape[0] == self.u.shape[0]:  # every walker (sorted): transform in place, no copy
            replay.numerators(directions, out=self.num_v)
        else:
            self.num_v[chains] = replay.numerators(directions)
        self.coef_v[chains] = replay.coefficients(directions)
        if self.bracket == "exact":
            lo, hi = replay.circle_arcs(self.num_u, self.num_v, self.coef_u, self.coef_v, chains)
            fraction = groups.draw(chains, lambda rng, mine: rng.random(mine.shape[0]))
            self.theta[chains] = lo + fraction * (hi - lo)
            self.lower[chains], self.upper[chains] = lo, hi
            self.arc_lo[chains], self.arc_hi[chains] = lo + ARC_MARGIN, hi - ARC_MARGIN
        else:
            t = groups.draw(chains, lambda rng, mine: rng.uniform(0.0, 2.0 * np.pi, mine.shape[0]))
            self.theta[chains] = t
            self.lower[chains], self.upper[chains] = t - 2.0 * np.pi, t

    def step(self, active: np.ndarray, goes_on: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One proposal for each walker in ``active``.

        Returns the walkers that moved (their move is complete) and their
        statistics; the others shrank their bracket and propose again at the next
        step. With ``goes_on`` (a flag per walker), the walkers that moved and are
        flagged get their next circle too (:meth:`restart`): in the usual case
        with exact arcs, every walker's angle is certified in the event and the
        moves and the new circles are one kernel call
        (:meth:`SelectionReplay.move_and_restart`, the same numbers as
        :meth:`SelectionReplay.certified_moves` then :meth:`restart`).
        """
        replay, theta = self.replay, self.theta
        cos_t, sin_t = np.cos(theta[active]), np.sin(theta[active])
        certain = (theta[active] > self.arc_lo[active]) & (theta[active] < self.arc_hi[active])
        again = active[goes_on[active]] if goes_on is not None else active[:0]
        if certain.all():  # the usual case with exact arcs: no grid scan
            self.n_accepted += int(active.size)
            if replay.fuses_steps:
                return active, self._move_and_restart(active, cos_t, sin_t, again)
            stats = replay.certified_moves(self, active, cos_t, sin_t)
            self.restart(again)
            return active, stats
        accepted, stats = replay.check_circle(self.num_u, self.num_v, self.coef_u, self.coef_v, active,
                                              cos_t, sin_t)
        moved = active[accepted]
        self.n_accepted += int(moved.size)
        if moved.size:
            c, s = cos_t[accepted], sin_t[accepted]
            for point, direction in ((self.u, self.v), (self.num_u, self.num_v), (self.coef_u, self.coef_v)):
                _replay.rotate_rows(point, direction, moved, c, s, replay.n_threads)
        shrink = active[~accepted]
        if shrink.size:
            t = theta[shrink]
            self.lower[shrink] = np.where(t < 0, t, self.lower[shrink])
            self.upper[shrink] = np.where(t < 0, self.upper[shrink], t)
            # A bracket shrunk to rounding level is t = 0: the current point, which is in E.
            collapsed = self.upper[shrink] - self.lower[shrink] < 1e-12
            redraw = self.groups.draw(shrink, lambda rng, mine: rng.uniform(self.lower[mine], self.upper[mine]))
            theta[shrink] = np.where(collapsed, 0.0, redraw)
        if goes_on is not None:
            self.restart(moved[goes_on[moved]])
        return moved, stats[accepted]

    def _move_and_restart(self, active: np.ndarray, cos_t: np.ndarray, sin_t: np.ndarray,
                          again: np.ndarray) -> np.ndarray:
        """Certified moves of ``active`` and new circles for ``again`` (moved walkers) in one kernel call.

        The random numbers are those :meth:`restart` draws, in its order (each
        group's normals, then each group's fractions); a direction parallel to its
        point (probability 0) is drawn again by :meth:`restart`.
        """
        n = self.u.shape[1]
        normals = self.groups.draw(again, lambda rng, mine: normal_rows(rng, mine.shape[0], n, self.order))
        normals = np.ascontiguousarray(normals.reshape(again.shape[0], n))
        fractions = self.groups.draw(again, lambda rng, mine: rng.random(mine.shape[0]))
        stats, parallel = self.replay.move_and_restart(self, active, cos_t, sin_t, again, normals, fractions,
                                                       ARC_MARGIN)
        if parallel.any():
            self.restart(again[parallel])
        return stats


class PermutationWalkers:
    """Metropolis walkers on permutations of the residuals restricted to the selection event.

    Parameters
    ----------
    replay : SelectionReplay
    residual : ndarray (n,)
        Observed residual (any scale).
    covariate_basis : ndarray (n, p)
    permutations : ndarray of int (W, n)
        Start of each walker (permutations whose permuted residual lies in the event).
    groups : ChainGroups
    order : ndarray of int64 (n,), optional
        The rows' canonical order: the positions a move shuffles are drawn in it, so that the
        walk does not depend on the order of the input rows.
    """

    def __init__(self, replay: SelectionReplay, residual: np.ndarray, covariate_basis: np.ndarray,
                 permutations: np.ndarray, groups: ChainGroups, order: np.ndarray | None = None):
        self.replay, self.residual, self.covariate_basis, self.groups = replay, residual, covariate_basis, groups
        self.order = order
        self.perms = np.array(permutations, dtype=np.int64, copy=True)
        accepted, self.current = replay.check_points(residual_points(residual[self.perms], covariate_basis),
                                                     count=False)  # start points are given, not null candidates
        if not accepted.all():
            raise ValueError("a permutation walker must start inside the selection event")
        n = residual.shape[0]
        self.max_shuffle = max(2, n // 2)
        self.n_accepted = 0

    def state(self, walker: int) -> np.ndarray:
        """Current permutation of one walker."""
        return self.perms[walker].copy()

    def restart(self, chains: np.ndarray) -> None:
        """Nothing to prepare: every step is a fresh proposal."""

    def _propose(self, rng: np.random.Generator, mine: np.ndarray) -> np.ndarray:
        n = self.perms.shape[1]
        sizes = np.rint(np.exp(rng.uniform(np.log(2), np.log(self.max_shuffle), mine.shape[0]))).astype(np.int64)
        out = self.perms[mine].copy()
        for row, s in enumerate(sizes):
            positions = rng.choice(n, size=int(s), replace=False)
            if self.order is not None:  # the k-th position in canonical order, whatever the rows' order
                positions = self.order[positions]
            out[row, positions] = out[row, rng.permutation(positions)]
        return out

    def step(self, active: np.ndarray, goes_on: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One Metropolis step for each walker in ``active`` (a rejected proposal is a step too).

        ``goes_on`` is accepted for the interface of :meth:`SphereWalkers.step`:
        permutation walkers need nothing prepared between steps.
        """
        n = self.perms.shape[1]
        proposal = self.groups.draw(active, self._propose).reshape(active.size, n).astype(np.int64)
        accepted, stats = self.replay.check_points(residual_points(self.residual[proposal], self.covariate_basis))
        moved = active[accepted]
        self.n_accepted += int(moved.size)
        self.perms[moved] = proposal[accepted]
        self.current[moved] = stats[accepted]
        return active, self.current[active].copy()


def walker_factory(replay: SelectionReplay, covariate_basis: np.ndarray, null: str, residual: np.ndarray,
                   bracket: str = "exact", order: np.ndarray | None = None) -> Callable:
    """``(states, rngs) -> walkers`` for a null model: sphere points or permutations of ``residual``
    (random numbers over rows drawn in the rows' canonical ``order`` when given)."""
    if null == "sphere":
        return lambda points, rngs: SphereWalkers(replay, points, covariate_basis,
                                                  ChainGroups(rngs, points.shape[0]), bracket, order)
    return lambda perms, rngs: PermutationWalkers(replay, residual, covariate_basis, perms,
                                                  ChainGroups(rngs, perms.shape[0]), order)
