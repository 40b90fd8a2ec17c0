"""Greedy motif selection over the grid = training a one-layer CNN (SPEC 3 and 4).

Step j picks the cell maximising ``s(z, y) = <P_j phi_z, P_j y>^2 / ||P_j phi_z||^2``
where ``P_j`` projects off the covariates and the features of the cells already
selected. The selection event is the ordered list of selected cells; everything
the replay needs to recognise it is gathered in :class:`SelectionEvent`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..utils.validation import check_positive_int
from . import _replay
from ._replay import MOTIF_LIMIT

#: A cell whose residual feature norm is below this fraction of its raw norm is
#: numerically inside the covariate span and left out of the grid at that step.
RELATIVE_NORM_TOL = 1e-9

#: A step score (fraction of the residual sum of squares a cell explains) at or
#: below this is rounding error, not an association (an exact zero computes to
#: about 1e-30; a real one is at least of order 1/n^2).
ROUNDING_SCORE = 1e-20


@dataclass(frozen=True)
class SelectionEvent:
    """The quantized selection event and the quantities that replay it.

    Attributes
    ----------
    cells : ndarray of int64 (q,)
        Selected grid cells, in selection order.
    basis : ndarray (n, q)
        Orthonormalised residual features ``q_j`` of the selected cells.
    cross : ndarray (G, q)
        ``<phi_z, q_m>`` for every cell z.
    inv_den : ndarray (q, G)
        ``1 / ||P_j phi_z||^2`` at step j (0 for cells out of the grid).
    """

    cells: np.ndarray
    basis: np.ndarray
    cross: np.ndarray
    inv_den: np.ndarray

    @property
    def n_selected(self) -> int:
        return int(self.cells.shape[0])


@dataclass(frozen=True)
class Selection:
    """Result of the greedy selection on the observed response.

    Attributes
    ----------
    event : SelectionEvent
    unit_residual : ndarray (n,)
        ``P y / ||P y||``: the observed point on the residual sphere.
    residual_norm : float
        ``||P y||``.
    statistics : ndarray (q,)
        Observed statistic of each selected motif: its step score on the unit
        residual (the fraction of the residual sum of squares it explains).
    stopped : str
        Why the selection stopped before ``n_motifs`` (empty when it did not).
    """

    event: SelectionEvent
    unit_residual: np.ndarray
    residual_norm: float
    statistics: np.ndarray
    stopped: str = ""

    @property
    def cells(self) -> np.ndarray:
        return self.event.cells

    @property
    def scores(self) -> np.ndarray:
        """Association scores ``s(z_j, y)`` in units of y squared."""
        return self.statistics * self.residual_norm**2


def residualize(y: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """``y`` minus its projection on the orthonormal columns of ``basis`` (twice, for accuracy)."""
    r = np.array(y, dtype=np.float64, copy=True)
    for _ in range(2):
        r -= basis @ (basis.T @ r)
    return r


def select_motifs(features, y: np.ndarray, covariate_basis: np.ndarray,
                  n_motifs: int, cells_in_order=None) -> Selection:
    """Select ``n_motifs`` grid cells greedily.

    Parameters
    ----------
    features : KroneckerFeatures or DenseFeatures
        Feature map of the grid.
    y : ndarray (n,)
        Response.
    covariate_basis : ndarray (n, p)
        Orthonormal basis of the covariates (intercept included).
    n_motifs : int
        Number of motifs to select. Fewer are returned (with a warning) when no
        cell is left with a residual feature.
    cells_in_order : sequence of int, optional
        Take these cells, in this order, instead of choosing: the event and statistics of
        another selection path (``benchmarks/bench_condition_on_set.py`` builds the events of
        every order of a selected set with it).

    Returns
    -------
    Selection
    """
    residual = residualize(y, covariate_basis)
    residual_norm = float(np.linalg.norm(residual))
    if residual_norm <= 1e-12 * max(1.0, float(np.linalg.norm(y))):
        raise ValueError("y is explained exactly by the covariates: no residual left to select motifs on")
    unit = residual / residual_norm
    n_cells = features.n_cells
    num = features.project(unit[None, :])
    raw_norms = features.sq_norms()
    den = raw_norms.copy()
    if covariate_basis.shape[1]:
        den -= np.sum(features.project(covariate_basis.T) ** 2, axis=0)

    in_grid = np.ones(n_cells, dtype=bool) if features.grid_mask is None else features.grid_mask
    cross = np.zeros((n_cells, n_motifs))
    basis = np.zeros((unit.shape[0], n_motifs))
    inv_den = np.zeros((n_motifs, n_cells))
    coef = np.zeros((1, n_motifs))
    cells: list[int] = []
    statistics: list[float] = []
    stopped = ""
    for j in range(n_motifs):
        valid = in_grid & (den > RELATIVE_NORM_TOL * raw_norms)
        inv_den[j, valid] = 1.0 / den[valid]
        # Same arithmetic as the replay at t = 0 (so y lies in its own event); ties go to
        # the lowest cell, as in the replay.
        scores = _replay.step_scores(num, coef, cross, inv_den, j)
        cell = int(np.argmax(scores)) if cells_in_order is None else int(cells_in_order[j])
        stat = float(scores[cell])
        if not valid.any() or stat <= 0.0:
            stopped = "no grid cell has a feature left outside the covariates and earlier motifs"
        elif stat <= ROUNDING_SCORE:
            stopped = (f"no k-mer is associated with the residual response (the best explains a fraction "
                       f"{stat:.1e} of it, rounding error): the response does not vary with the sequences "
                       "(identical sequences with different responses? a foreground identical to its background?)")
        if stopped:
            warnings.warn(f"only {j} of {n_motifs} motifs could be selected: {stopped}", stacklevel=2)
            break
        cells.append(cell)
        statistics.append(stat)
        q_j = residualize(features.column(cell), np.hstack([covariate_basis, basis[:, :j]]))
        q_j /= np.linalg.norm(q_j)
        basis[:, j] = q_j
        cross[:, j] = features.project(q_j[None, :])[0]
        coef[0, j] = q_j @ unit
        den = den - cross[:, j] ** 2

    q = len(cells)
    event = SelectionEvent(
        cells=np.asarray(cells, dtype=np.int64),
        basis=np.ascontiguousarray(basis[:, :q]),
        cross=np.ascontiguousarray(cross[:, :q]),
        inv_den=np.ascontiguousarray(inv_den[:q]),
    )
    return Selection(event, unit, residual_norm, np.asarray(statistics), stopped)


def check_n_motifs(n_motifs) -> int:
    """``n_motifs`` as an int in ``1..MOTIF_LIMIT``, checked before any work.

    The replay kernels hold a candidate's coefficients on the selected features in
    fixed-size arrays (:data:`seism_stats.selection._replay.MOTIF_LIMIT`); more motifs would
    overrun them, so they are refused here, before features or selection.
    """
    value = check_positive_int(n_motifs, "n_motifs")
    if value > MOTIF_LIMIT:
        raise ValueError(f"n_motifs={value}: at most {MOTIF_LIMIT} motifs can be selected (greedy selection "
                         "of that many motifs is rarely meaningful; the replay kernels hold at most "
                         f"{MOTIF_LIMIT})")
    return value
