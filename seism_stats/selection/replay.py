"""Batched replay of the selection on candidate responses (SPEC 5, "replay is batched")."""

from __future__ import annotations

import numpy as np

from . import _replay, _sphere
from .greedy import SelectionEvent


class SelectionReplay:
    """Decide, for blocks of candidate unit residuals, whether they select the same cells.

    Parameters
    ----------
    features : KroneckerFeatures or DenseFeatures
        Feature map of the grid.
    event : SelectionEvent
        The observed selection.
    n_threads : int
        OpenMP threads for the check kernel.

    Attributes
    ----------
    n_replays : int
        Number of candidates checked so far.
    n_arcs : int
        Number of great circles whose in-event arc was computed exactly.
    """

    def __init__(self, features, event: SelectionEvent, n_threads: int = 1):
        self.features = features
        self.event = event
        self.n_threads = int(n_threads)
        self.n_replays = 0
        self.n_arcs = 0
        self._basis_fortran = np.asfortranarray(event.basis)  # layout of the row_dots kernel

    @property
    def n_selected(self) -> int:
        return self.event.n_selected

    def numerators(self, points: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``<phi_z, points[r]>`` for every cell (R x G; written into ``out`` when given)."""
        return self.features.project(points, out)

    def coefficients(self, points: np.ndarray) -> np.ndarray:
        """``<q_m, points[r]>`` for the selected features (R x q)."""
        points = np.ascontiguousarray(np.atleast_2d(points), dtype=np.float64)
        return _sphere.row_dots(points, self._basis_fortran, self.n_threads)

    def check_circle(self, num_u, num_v, coef_u, coef_v, rows, cos_t, sin_t):
        """Check candidates ``cos_t u_r + sin_t v_r`` for the rows listed in ``rows``.

        Returns
        -------
        accepted : (m,) bool
        statistics : (m, q) float64, valid where accepted
        """
        return self._on_circle(_replay.check_event, num_u, num_v, coef_u, coef_v, rows, cos_t, sin_t)

    def certified_moves(self, walkers, rows, cos_t, sin_t):
        """Move ``walkers`` (its ``u, v, num_u, num_v, coef_u, coef_v``) to certified points, in place.

        The rows listed go to ``cos_t u + sin_t v``, known to be in the event (no grid
        scan); returns their statistics. They count as replays (candidates examined),
        all accepted.
        """
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        self.n_replays += rows.shape[0]
        e = self.event
        w = walkers
        return _replay.certified_moves(w.u, w.v, w.num_u, w.num_v, w.coef_u, w.coef_v, rows,
                                       np.ascontiguousarray(cos_t, dtype=np.float64),
                                       np.ascontiguousarray(sin_t, dtype=np.float64),
                                       e.cross, e.inv_den, e.cells, self.n_threads)

    @property
    def fuses_steps(self) -> bool:
        """Whether :meth:`move_and_restart` can run (a single-k Kronecker feature map)."""
        return hasattr(self.features, "transform_arrays")

    def move_and_restart(self, walkers, moving, cos_t, sin_t, restarting, normals, fractions, arc_margin):
        """One lockstep iteration of :class:`~seism_stats.sampling.walkers.SphereWalkers` in one kernel call.

        The walkers in ``moving`` go to their certified points (as :meth:`certified_moves`);
        those in ``restarting`` get a new circle from their rows of ``normals`` and
        their next angle from ``fractions`` (as ``SphereWalkers.restart``). Returns the
        movers' statistics and a mask of restarting walkers whose direction came out
        parallel to their point (to draw again). See :func:`_replay.move_and_restart`.
        """
        moving = np.ascontiguousarray(moving, dtype=np.int64)
        restarting = np.ascontiguousarray(restarting, dtype=np.int64)
        self.n_replays += moving.shape[0]
        self.n_arcs += restarting.shape[0]
        e, w = self.event, walkers
        csr, kernel, transposed = self.features.transform_arrays()
        return _replay.move_and_restart(
            w.u, w.v, w.num_u, w.num_v, w.coef_u, w.coef_v, moving,
            np.ascontiguousarray(cos_t, dtype=np.float64), np.ascontiguousarray(sin_t, dtype=np.float64),
            restarting, normals, np.ascontiguousarray(fractions, dtype=np.float64),
            w.covariates_f, w.covariates_t, self._basis_fortran, w.theta, w.lower, w.upper, w.arc_lo, w.arc_hi,
            float(arc_margin), e.cross, e.inv_den, e.cells, *csr, *kernel, *transposed, self.n_threads)

    def _on_circle(self, kernel, num_u, num_v, coef_u, coef_v, rows, cos_t, sin_t):
        """Run a candidate kernel of :mod:`_replay` on points ``cos_t u_r + sin_t v_r``."""
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        self.n_replays += rows.shape[0]
        e = self.event
        return kernel(num_u, num_v, rows, np.ascontiguousarray(cos_t, dtype=np.float64),
                      np.ascontiguousarray(sin_t, dtype=np.float64), coef_u, coef_v,
                      e.cross, e.inv_den, e.cells, self.n_threads)

    def circle_arcs(self, num_u, num_v, coef_u, coef_v, rows):
        """Exact arc ``[lo, hi]`` (around t = 0) of each circle that stays in the event.

        Costs about two passes over the grid per circle (counted in ``n_arcs``).
        """
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        self.n_arcs += rows.shape[0]
        e = self.event
        return _replay.event_arcs(num_u, num_v, rows, coef_u, coef_v, e.cross, e.inv_den, e.cells,
                                  self.n_threads)

    def check_points(self, points: np.ndarray, count: bool = True):
        """Check whole candidate points (rows of ``points``, unit residual vectors).

        ``count=False`` for points that are given rather than null candidates (the
        observation, the start of a walker): they are not added to ``n_replays``.
        """
        points = np.ascontiguousarray(np.atleast_2d(points), dtype=np.float64)
        num = self.numerators(points)
        coef = self.coefficients(points)
        m = points.shape[0]
        before = self.n_replays
        result = self.check_circle(num, num, coef, coef, np.arange(m), np.ones(m), np.zeros(m))
        if not count:
            self.n_replays = before
        return result
