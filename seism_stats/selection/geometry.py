"""The selection event's geometry: lines and circles through the event, and their masses.

Every step score of the greedy selection is ``<g_c, y>^2 / d_c`` with ``g_c`` and ``d_c``
fixed by the event (:class:`~seism_stats.selection.greedy.SelectionEvent`), so along a
line or a circle of responses "the selected cell wins at step s" is a statement about
affine *step lines* ``L_c = <g_c, v> / sqrt(d_c)``. This module turns them into the event:

* on a line ``F + x eta_hat + z w_hat`` (the truncated-Gaussian intervals,
  :mod:`seism_stats.stats.intervals`): :func:`step_cells`, :func:`step_lines`,
  :func:`line_event_segments` (side bounds by the ``_replay`` kernel);
* on the half circle through ``q_j`` and a direction ``d`` (the conditional Monte Carlo and the
  tail estimate): :func:`circle_segments`, :func:`circle_log_masses`;
* on a great circle of the circle tests and intervals, whose arcs the ``_circles`` kernel
  computes: :func:`arc_statistic_segments`, :func:`segment_log_masses`;
* their masses, exact far in the tails: :func:`log_interval_masses` (any symmetric law, normal
  or Student t), :func:`log_t_cdf`, :func:`grouped_logsumexp`.

The p-values, the intervals and the tail estimate import these; none imports another's
helpers. Nothing here draws random numbers.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from . import _replay
from .greedy import Selection

#: With several motifs: the nested conditioning subspaces tried in turn, as the number of
#: competing cells per other selected motif whose features join it (levels that would take
#: more than 7/8 of the residual space are skipped); after them, the observed direction.
NEIGHBOUR_LADDER = (0, 4, 16, 32, 64, 128, 256, 512)
#: ``neighbours`` of a motif tested on the observed direction alone (every level's pilot failed).
OBSERVED_DIRECTION = -1


def step_cells(event, s: int) -> tuple[np.ndarray, int]:
    """Cells that compete at step s (in the grid, with a residual feature) and the selected one's position.

    The others score 0 whatever the response, so they never constrain the event.
    """
    cells = np.flatnonzero(event.inv_den[s] > 0)
    return cells, int(np.searchsorted(cells, event.cells[s]))


def step_lines(event, numerators: np.ndarray, coefficients: np.ndarray,
               steps: list | None = None) -> list[tuple[np.ndarray, int]]:
    """Per step s, ``<g_c, v> / sqrt(d_c)`` of the competing cells for each vector ``v``, and the selected cell's position.

    ``numerators`` (R, G) and ``coefficients`` (R, q) are ``<phi_c, v>`` and ``<q_m, v>``
    for the R vectors: the step-s numerator is ``<phi_c, v> - sum_{m<s} <phi_c, q_m> <q_m, v>``.
    ``steps`` gives each step's competing cells and the selected one's position in
    another order (default: :func:`step_cells`, sorted).
    """
    lines = []
    for s in range(event.n_selected):
        cells, selected = step_cells(event, s) if steps is None else steps[s]
        step = np.take(numerators, cells, axis=1)  # C-ordered (numerators[:, cells] is not)
        if s:  # off the earlier motifs (step 0 has none: no zero product to subtract)
            step -= coefficients[:, :s] @ event.cross[cells, :s].T
        step *= np.sqrt(event.inv_den[s, cells])[None, :]
        lines.append((step, selected))
    return lines


def line_event_segments(lines, zs: np.ndarray) -> list[np.ndarray]:
    """Per ``z`` in ``zs``: ``(r, 2)`` segments of ``x`` where ``F + x eta_hat + z w_hat`` keeps the selection.

    At step s the selected cell wins iff ``|L_s| >= |L_c|`` for every cell c, with
    every ``L = c0 + c1 x + c2 z`` affine. On the side of x where ``sign * L_s >= 0``
    (sign = +1 or -1) this is ``sign * L_s - L_c >= 0`` and ``sign * L_s + L_c >= 0``:
    half-lines in x, whose intersection is one interval, a max and a min over the
    grid (no sorting; the roots are affine in z, so all z are done at once). Each
    step keeps at most two intervals; the event is their intersection over steps.
    """
    zs = np.asarray(zs, dtype=np.float64)
    kept = [np.array([[-np.inf, np.inf]]) for _ in zs]
    for step_lines, selected in lines:
        sides = [_side_interval(step_lines, selected, sign, zs) for sign in (1.0, -1.0)]
        for i in range(zs.size):
            step = np.array([(lo[i], hi[i]) for lo, hi in sides if hi[i] > lo[i]]).reshape(-1, 2)
            kept[i] = _intersect(kept[i], step)
    return kept


def _side_interval(step_lines: np.ndarray, selected: int, sign: float,
                   zs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ends ``lo(z), hi(z)`` of the x-interval where ``sign * L_s >= |L_c|`` for every cell (empty: hi <= lo)."""
    return _replay.side_bounds(np.ascontiguousarray(step_lines, dtype=np.float64), int(selected), float(sign),
                               np.ascontiguousarray(zs, dtype=np.float64))


def _intersect(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Pairwise intersection of two lists of disjoint segments (``(r, 2)`` each)."""
    lo = np.maximum(first[:, None, 0], second[None, :, 0]).ravel()
    hi = np.minimum(first[:, None, 1], second[None, :, 1]).ravel()
    keep = hi > lo
    order = np.argsort(lo[keep])
    return np.column_stack([lo[keep][order], hi[keep][order]])


def circle_segments(selection: Selection, numerators: np.ndarray, coefficients: np.ndarray, j: int) -> np.ndarray:
    """``(r, 2)`` ranges of ``x`` where ``(x q_j + d) / sqrt(1 + x^2)`` stays in the selection event.

    ``d`` is the direction of a point ``u`` orthogonal to ``q_j``; ``numerators``
    (G,) and ``coefficients`` (q,) are ``<phi_c, u>`` and ``<q_m, u>``.
    """
    return _circle_segment_table(selection, numerators[None], coefficients[None], j)[0]


def _circle_segment_table(selection: Selection, numerators: np.ndarray, coefficients: np.ndarray,
                          j: int, n_threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The segments of :func:`circle_segments` for each row of ``numerators`` (R, G) and
    ``coefficients`` (R, q), as one ``(S, 2)`` table and each one's row (sorted by row).

    At step s the selected cell wins on the side ``sign * L_s >= 0`` of the line on
    one x-interval (a max and a min over the grid: one ``step_side_bounds_rows`` call
    per step, both sides and all rows at once). The event is the intersection over steps of
    each step's two sides, so its pieces are the ``2^q`` choices of a side per step,
    each the max of their lower ends and the min of their upper ends (the same
    numbers as intersecting step by step, in any order of the steps), kept where
    non-empty and sorted by their lower end within each row. The other motifs' steps
    come first, and a row whose pieces are all empty skips the remaining steps.
    """
    event = selection.event
    along = coefficients[:, j:j + 1]  # <q_j, u>
    unit_j = np.eye(event.n_selected)[j]
    if along.any():  # the circle's vector d = (u - along q_j) / across (else u is d already)
        across = np.sqrt(np.maximum(1.0 - along * along, 1e-300))
        numerators = (numerators - along * event.cross[:, j]) / across
        coefficients = (coefficients - along * unit_j) / across
    numerators = np.ascontiguousarray(numerators, dtype=np.float64)
    coefficients = np.ascontiguousarray(coefficients, dtype=np.float64)
    cross_t = np.ascontiguousarray(event.cross.T)
    axis = step_lines(event, event.cross[:, j][None], unit_j[None])  # q_j (<phi_c, q_j> = cross[:, j])
    rows = numerators.shape[0]
    lower, upper = np.full((rows, 1), -np.inf), np.full((rows, 1), np.inf)
    alive = np.ones(rows, dtype=np.uint8)
    for s in [i for i in range(event.n_selected) if i != j] + [j]:  # the other motifs' steps miss most
        cells, selected = step_cells(event, s)
        lo, hi = _replay.step_side_bounds_rows(numerators, coefficients, cross_t, s, cells,
                                               np.sqrt(event.inv_den[s, cells]), np.ascontiguousarray(axis[s][0][0]),
                                               selected, alive, n_threads)
        lower = np.concatenate([np.maximum(lower, lo[:, [side]]) for side in (0, 1)], axis=1)
        upper = np.concatenate([np.minimum(upper, hi[:, [side]]) for side in (0, 1)], axis=1)
        kept = upper > lower
        lower, upper = lower[:, kept.any(axis=0)], upper[:, kept.any(axis=0)]  # pieces empty in every row go
        alive = kept.any(axis=1).astype(np.uint8)  # rows already off the event skip the next steps
    kept = upper > lower
    order = np.argsort(np.where(kept, lower, np.inf), axis=1, kind="stable")
    lower, upper = np.take_along_axis(lower, order, 1), np.take_along_axis(upper, order, 1)
    kept = np.take_along_axis(kept, order, 1)
    owner = np.nonzero(kept)[0]
    return np.column_stack([lower[kept], upper[kept]]), owner


def circle_log_masses(selection: Selection, numerators: np.ndarray, coefficients: np.ndarray, j: int,
                      dim: int, n_threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``log D`` and ``log N`` on the half circle through ``q_j`` and each point's direction.

    ``numerators`` (R, G) and ``coefficients`` (R, q) are ``<phi_c, u>`` and ``<q_m, u>``
    of R points ``u``, whose directions orthogonal to ``q_j`` are the ``d`` (``u = d``
    itself when ``coefficients[:, j] = 0``). ``D`` is the Student-t mass of the
    x-segments in the event, ``N`` that of their part with ``T_j >= t_obs``; ``-inf``
    where the circle misses the event.
    """
    segments, owner = _circle_segment_table(selection, numerators, coefficients, j, n_threads)
    segments = segments * np.sqrt(dim - 1.0)  # Student t units
    rows = numerators.shape[0]
    t_obs = float(selection.statistics[j])
    threshold = np.sqrt(t_obs / max(1.0 - t_obs, 1e-300) * (dim - 1.0))
    df = dim - 1.0
    log_cdf = lambda u: log_t_cdf(u, df)  # noqa: E731
    lo, hi = segments[:, 0], segments[:, 1]
    total = log_interval_masses(lo, hi, log_cdf)
    tail = np.logaddexp(log_interval_masses(np.maximum(lo, threshold), hi, log_cdf),
                        log_interval_masses(lo, np.minimum(hi, -threshold), log_cdf))
    return grouped_logsumexp(total, owner, rows), grouped_logsumexp(tail, owner, rows)


def arc_statistic_segments(arcs: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The arcs as ranges of the signed statistic ``cos(w) / |sin(w)|`` (Student t over sqrt(df) on each half).

    Each interval of ``w`` is cut at ``pi``; on ``(0, pi)`` the statistic is ``cot w``,
    on ``(pi, 2 pi)`` it is ``-cot(w - pi)``; both halves carry probability 1/2.
    Returns ``lo, hi`` and each segment's row.
    """
    rows = np.repeat(np.arange(counts.shape[0]), np.maximum(counts, 0))
    keep = np.arange(arcs.shape[1])[None, :] < counts[:, None]
    lo, hi = arcs[keep][:, 0], arcs[keep][:, 1]
    first_lo, first_hi = lo, np.minimum(hi, np.pi)
    second_lo, second_hi = np.maximum(lo, np.pi) - np.pi, hi - np.pi
    with np.errstate(divide="ignore", invalid="ignore"):
        upper = (_cot(first_hi), _cot(first_lo))  # cot decreases on (0, pi)
        lower = (-_cot(second_lo), -_cot(second_hi))
    lo_all = np.concatenate([upper[0], lower[0]])
    hi_all = np.concatenate([upper[1], lower[1]])
    owner = np.concatenate([rows, rows])
    valid = np.concatenate([first_hi > first_lo, second_hi > second_lo])
    return lo_all[valid], hi_all[valid], owner[valid]


def _cot(w: np.ndarray) -> np.ndarray:
    """``cot(w)`` on ``[0, pi]`` with the ends exact: ``+inf`` at 0, ``-inf`` at pi."""
    out = np.cos(w) / np.sin(w)
    out = np.where(w <= 0.0, np.inf, out)
    return np.where(w >= np.pi, -np.inf, out)


def segment_log_masses(lo: np.ndarray, hi: np.ndarray, owner: np.ndarray, rows: int, df: int,
                       threshold: float, side: str = "two-sided") -> tuple[np.ndarray, np.ndarray]:
    """``log D`` and ``log N`` per row: the event's mass and its part with statistic beyond ``threshold``.

    ``lo``/``hi`` are in units of ``cot``; masses are Student-t (df) masses of ``sqrt(df) x``,
    halved (each half circle carries 1/2). ``side``: ``"two-sided"`` counts ``|x| >= threshold``,
    ``"upper"`` ``x >= threshold``, ``"lower"`` ``x <= threshold``; ``"none"``: ``log D`` alone (and None).
    """
    scale = np.sqrt(float(df))
    lo, hi = lo * scale, hi * scale
    cut = threshold * scale

    def log_cdf(v):
        return log_t_cdf(v, float(df))

    total = log_interval_masses(lo, hi, log_cdf)
    if side == "none":
        return np.log(0.5) + grouped_logsumexp(total, owner, rows), None
    if side == "lower":
        tail = log_interval_masses(lo, np.minimum(hi, cut), log_cdf)
    else:
        tail = log_interval_masses(np.maximum(lo, cut), hi, log_cdf)
    if side == "two-sided":
        tail = np.logaddexp(tail, log_interval_masses(lo, np.minimum(hi, -cut), log_cdf))
    half = np.log(0.5)
    return half + grouped_logsumexp(total, owner, rows), half + grouped_logsumexp(tail, owner, rows)


def log_interval_masses(lo: np.ndarray, hi: np.ndarray, log_cdf) -> np.ndarray:
    """``log P(lo <= X <= hi)`` elementwise for a law symmetric about 0 (``-inf`` where ``hi <= lo``).

    ``log_cdf`` is the law's log cdf; segments on the right are mirrored to the left
    tail, where it is small and accurate, so the masses stay exact far in the tails.
    """
    mirror = lo > 0
    lo, hi = np.where(mirror, -hi, lo), np.where(mirror, -lo, hi)
    log_hi, log_lo = log_cdf(hi), log_cdf(lo)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        masses = log_hi + np.log(-np.expm1(log_lo - log_hi))
    return np.where(hi > lo, masses, -np.inf)


def log_t_cdf(u: np.ndarray, df: float) -> np.ndarray:
    """``log P(T <= u)``; where the cdf underflows, its tail form ``log pdf(u) + log((df + u^2) / (df |u|))``.

    The tail form is the leading term of the t tail for any ``u^2 / df`` (it tends to
    the normal's Mills ratio ``pdf / |u|`` for large df, and to ``pdf |u| / df`` for
    ``u^2 >> df``).
    """
    u = np.asarray(u, dtype=np.float64)
    with np.errstate(divide="ignore"):
        out = np.log(special.stdtr(df, u))
    far = ~np.isfinite(out) & np.isfinite(u)
    if far.any():
        v = u[far]
        log_pdf = (special.gammaln((df + 1) / 2) - special.gammaln(df / 2) - 0.5 * np.log(df * np.pi)
                   - (df + 1) / 2 * np.log1p(v * v / df))
        out[far] = log_pdf + np.log((df + v * v) / (df * np.abs(v)))
    return out


def grouped_logsumexp(values: np.ndarray, owner: np.ndarray, groups: int) -> np.ndarray:
    """``logsumexp`` of ``values`` per group (``owner`` gives each value's group); ``-inf`` for empty groups."""
    peak = np.full(groups, -np.inf)
    np.maximum.at(peak, owner, values)
    finite = np.isfinite(peak)
    shift = np.where(finite, peak, 0.0)
    sums = np.zeros(groups)
    np.add.at(sums, owner, np.exp(values - shift[owner]))
    with np.errstate(divide="ignore"):
        return np.where(finite, shift + np.log(sums), -np.inf)
