"""Exact arcs of the selection event on circles with an offset (issue 21).

On the circle ``y(w) = F + cos(w) a + sin(w) d`` (w in [0, 2 pi)) the step-s
numerator of every competing cell c, scaled by ``1 / ||P_s phi_c||``, is

    ``L_c(w) = alpha[c] + beta[c] cos(w) + gamma[c] sin(w)``

(``alpha``: the offset F, ``beta``: the axis a, ``gamma``: the row's direction d).
The selected cell s wins the step iff ``|L_s| >= |L_c|`` for every c, i.e. on one
of the two sides ``sign * L_s >= 0`` (sign = +1 or -1), ``sign L_s - L_c >= 0``
and ``sign L_s + L_c >= 0`` for every c. Each such constraint
``A + B cos(w) + C sin(w) >= 0`` holds on one arc of the circle (centre
``atan2(C, B)``, half width ``acos(-A / R)``, ``R = sqrt(B^2 + C^2)``), so a side
is an intersection of arcs and the step's event the union of its two sides: an
exact union of arcs, intersected over the steps.

The event is kept as sorted disjoint intervals of ``[0, 2 pi]`` (an arc through 0
is two intervals). A constraint is intersected only when it is violated somewhere
on the current intervals, which is decided without trigonometry: a sinusoid's
minimum on an interval is at an end or at its one minimiser ``atan2(-C, -B)``,
whose membership is two cross products. Once the event is narrow most cells pass
that test, so a step costs a few multiply-adds per cell.
"""

from cython.parallel cimport prange, threadid
from libc.math cimport M_PI, atan2, cos, sin, sqrt
from libc.stdint cimport int64_t

from _step_lines cimport check_step_line_inputs, step_line

import numpy as np

cdef enum:
    MAX_ARCS = 64  # intervals a row's event may hold; more sets the row's overflow flag

cdef double TWO_PI = 2.0 * M_PI


cdef struct ArcSet:
    Py_ssize_t n
    double lo[MAX_ARCS]
    double hi[MAX_ARCS]
    double clo[MAX_ARCS]  # cos and sin of each end, cached for the violation test
    double slo[MAX_ARCS]
    double chi[MAX_ARCS]
    double shi[MAX_ARCS]


cdef inline bint _violated(const ArcSet* S, double A, double B, double C) noexcept nogil:
    """Whether ``A + B cos(w) + C sin(w) < 0`` somewhere on the intervals of ``S``."""
    cdef Py_ssize_t k
    cdef double vx = -B, vy = -C
    cdef bint inside
    for k in range(S.n):
        if A + B * S.clo[k] + C * S.slo[k] < 0.0 or A + B * S.chi[k] + C * S.shi[k] < 0.0:
            return 1
        # The minimiser's direction (-B, -C): inside the interval?
        if S.hi[k] - S.lo[k] <= M_PI:
            inside = (S.clo[k] * vy - S.slo[k] * vx >= 0.0) and (vx * S.shi[k] - vy * S.chi[k] >= 0.0)
        else:  # outside iff in the complement, an arc shorter than pi
            inside = not ((S.chi[k] * vy - S.shi[k] * vx > 0.0) and (vx * S.slo[k] - vy * S.clo[k] > 0.0))
        if inside and (A < 0.0 or A * A < B * B + C * C):
            return 1
    return 0


cdef inline int _append(ArcSet* T, double lo, double hi, const ArcSet* S, Py_ssize_t k) noexcept nogil:
    """Append [lo, hi] (a part of S's interval k) to T; ends shared with S keep their cached cos/sin."""
    cdef Py_ssize_t n = T.n
    if n >= MAX_ARCS:
        return -1
    T.lo[n] = lo
    T.hi[n] = hi
    if lo == S.lo[k]:
        T.clo[n] = S.clo[k]
        T.slo[n] = S.slo[k]
    else:
        T.clo[n] = cos(lo)
        T.slo[n] = sin(lo)
    if hi == S.hi[k]:
        T.chi[n] = S.chi[k]
        T.shi[n] = S.shi[k]
    else:
        T.chi[n] = cos(hi)
        T.shi[n] = sin(hi)
    T.n = n + 1
    return 0


cdef int _intersect(ArcSet* S, double A, double B, double C, ArcSet* T) noexcept nogil:
    """``S`` intersected with ``{A + B cos(w) + C sin(w) >= 0}`` (T is scratch); -1 on overflow."""
    cdef double R2 = B * B + C * C, R, half, phi, lo, hi
    cdef double plo[2]
    cdef double phi_[2]
    cdef Py_ssize_t k, p, n_pieces
    cdef double a, b
    if R2 == 0.0:
        if A < 0.0:
            S.n = 0
        return 0
    R = sqrt(R2)
    if A >= R:
        return 0
    if A <= -R:  # at most one point of the circle
        S.n = 0
        return 0
    half = atan2(sqrt((R - A) * (R + A)), -A)  # acos(-A / R), accurate near 0 and pi
    phi = atan2(C, B)
    lo = phi - half
    hi = phi + half
    if lo < 0.0:
        lo = lo + TWO_PI
        hi = hi + TWO_PI
    if lo >= TWO_PI:
        lo = lo - TWO_PI
        hi = hi - TWO_PI
    if hi <= TWO_PI:
        n_pieces = 1
        plo[0] = lo
        phi_[0] = hi
    else:
        n_pieces = 2
        plo[0] = 0.0
        phi_[0] = hi - TWO_PI
        plo[1] = lo
        phi_[1] = TWO_PI
    T.n = 0
    for k in range(S.n):
        for p in range(n_pieces):
            a = S.lo[k] if S.lo[k] > plo[p] else plo[p]
            b = S.hi[k] if S.hi[k] < phi_[p] else phi_[p]
            if b > a:
                if _append(T, a, b, S, k) < 0:
                    return -1
    S[0] = T[0]
    return 0


cdef inline double _minimum(const ArcSet* S, double A, double B, double C) noexcept nogil:
    """The minimum of ``A + B cos(w) + C sin(w)`` over the intervals of ``S`` (+inf when S is empty)."""
    cdef Py_ssize_t k
    cdef double vx = -B, vy = -C, low = 1e300, value
    cdef bint inside
    for k in range(S.n):
        value = A + B * S.clo[k] + C * S.slo[k]
        if value < low:
            low = value
        value = A + B * S.chi[k] + C * S.shi[k]
        if value < low:
            low = value
        if S.hi[k] - S.lo[k] <= M_PI:
            inside = (S.clo[k] * vy - S.slo[k] * vx >= 0.0) and (vx * S.shi[k] - vy * S.chi[k] >= 0.0)
        else:
            inside = not ((S.chi[k] * vy - S.shi[k] * vx > 0.0) and (vx * S.slo[k] - vy * S.clo[k] > 0.0))
        if inside:
            value = A - sqrt(B * B + C * C)
            if value < low:
                low = value
    return low


cdef int _side(ArcSet* S, ArcSet* T, double sign, const double* alpha, const double* beta,
               const double* gamma, Py_ssize_t n_cells, Py_ssize_t selected) noexcept nogil:
    """Intersect S with the side ``sign * L_s >= |L_c|`` (all cells); -1 on overflow.

    ``floor`` is the smallest value of ``sign * L_s`` on S: a cell whose largest
    ``|L_c|`` on the whole circle, ``|alpha| + sqrt(beta^2 + gamma^2)``, is below it
    cannot bind, which is checked without a loop over the intervals.
    """
    cdef double As = sign * alpha[selected]
    cdef double Bs = sign * beta[selected]
    cdef double Cs = sign * gamma[selected]
    cdef double ac, bc, gc, A, B, C, floor, room
    cdef Py_ssize_t c, t
    if _violated(S, As, Bs, Cs):
        if _intersect(S, As, Bs, Cs, T) < 0:
            return -1
    floor = _minimum(S, As, Bs, Cs)
    for c in range(n_cells):
        if S.n == 0:
            return 0
        if c == selected:
            continue
        ac = alpha[c]
        bc = beta[c]
        gc = gamma[c]
        room = floor - (ac if ac >= 0.0 else -ac)
        if room >= 0.0 and room * room >= bc * bc + gc * gc:
            continue
        for t in range(2):
            if t == 0:
                A = As - ac
                B = Bs - bc
                C = Cs - gc
            else:
                A = As + ac
                B = Bs + bc
                C = Cs + gc
            if _violated(S, A, B, C):
                if _intersect(S, A, B, C, T) < 0:
                    return -1
                floor = _minimum(S, As, Bs, Cs)
    return 0


cdef void _load(ArcSet* S, const double* arcs, Py_ssize_t count) noexcept nogil:
    cdef Py_ssize_t k
    S.n = count
    for k in range(count):
        S.lo[k] = arcs[2 * k]
        S.hi[k] = arcs[2 * k + 1]
        S.clo[k] = cos(S.lo[k])
        S.slo[k] = sin(S.lo[k])
        S.chi[k] = cos(S.hi[k])
        S.shi[k] = sin(S.hi[k])


cdef Py_ssize_t _row_step(double* arcs, Py_ssize_t count, const double* alpha, const double* beta,
                          const double* gamma, Py_ssize_t n_cells, Py_ssize_t selected) noexcept nogil:
    """Replace the row's intervals by their intersection with the step's event; the new count, -1 on overflow."""
    cdef ArcSet plus, minus, scratch
    cdef Py_ssize_t a = 0, b = 0, n = 0
    _load(&plus, arcs, count)
    minus = plus
    if _side(&plus, &scratch, 1.0, alpha, beta, gamma, n_cells, selected) < 0:
        return -1
    if _side(&minus, &scratch, -1.0, alpha, beta, gamma, n_cells, selected) < 0:
        return -1
    if plus.n + minus.n > MAX_ARCS:
        return -1
    while a < plus.n or b < minus.n:  # merge the two sides (disjoint but for single points), by lower end
        if b >= minus.n or (a < plus.n and plus.lo[a] <= minus.lo[b]):
            arcs[2 * n] = plus.lo[a]
            arcs[2 * n + 1] = plus.hi[a]
            a = a + 1
        else:
            arcs[2 * n] = minus.lo[b]
            arcs[2 * n + 1] = minus.hi[b]
            b = b + 1
        n = n + 1
    return n


def max_arcs() -> int:
    """Intervals a row's event may hold (:data:`MAX_ARCS`)."""
    return MAX_ARCS


def step_arcs(double[:, :, ::1] arcs, long long[::1] counts, const double[::1] alpha,
              const double[::1] beta, const double[:, ::1] gamma, Py_ssize_t selected, int n_threads=1):
    """Intersect each row's event (``arcs[r, :counts[r]]``) with one step's event, in place.

    Parameters
    ----------
    arcs : (R, MAX_ARCS, 2) float64
        Sorted disjoint intervals of ``[0, 2 pi]`` per row; rewritten.
    counts : (R,) int64
        Intervals per row; rewritten (0: the row's circle misses the event; -1: more
        than :func:`max_arcs` intervals, the row is left unresolved).
    alpha, beta : (G,) float64
        The step lines of the offset and the axis for the competing cells.
    gamma : (R, G) float64
        Each row's step lines of its direction.
    selected : int
        Position of the selected cell among the G competing cells. The cells are
        examined in the order given (the likeliest to bind first is cheapest); the
        order changes the cost, not the result.
    """
    cdef Py_ssize_t rows = gamma.shape[0], n_cells = gamma.shape[1], r
    if arcs.shape[0] != rows or arcs.shape[1] != MAX_ARCS or arcs.shape[2] != 2 or counts.shape[0] != rows:
        raise ValueError(f"arcs must be ({rows}, {MAX_ARCS}, 2) and counts ({rows},)")
    if alpha.shape[0] != n_cells or beta.shape[0] != n_cells:
        raise ValueError(f"{n_cells} cells but {alpha.shape[0]} offsets and {beta.shape[0]} axes")
    if not 0 <= selected < n_cells:
        raise ValueError(f"selected cell {selected} outside the {n_cells} competing cells")
    if rows and (np.max(counts) > MAX_ARCS):
        raise ValueError(f"a row holds more than {MAX_ARCS} intervals")
    for r in prange(rows, nogil=True, num_threads=max(1, n_threads), schedule="dynamic"):
        if counts[r] > 0:
            counts[r] = _row_step(&arcs[r, 0, 0], counts[r], &alpha[0], &beta[0], &gamma[r, 0],
                                  n_cells, selected)


def step_arcs_rows(double[:, :, ::1] arcs, long long[::1] counts, const double[::1] alpha,
                   const double[::1] beta, const double[:, ::1] numerators, const double[:, ::1] coefficients,
                   const double[:, ::1] cross_t, Py_ssize_t n_earlier, const int64_t[::1] cells,
                   const double[::1] scale, Py_ssize_t selected, int n_threads=1):
    """:func:`step_arcs` with each row's direction lines built in the kernel, row by row.

    Row r's line of competing cell ``cells[i]`` at step s (``n_earlier`` = s motifs
    before it) is ``(numerators[r, cell] - sum_{m<s} coefficients[r, m] cross_t[m, cell])
    * scale[i]`` (as :func:`seism_stats.selection.geometry.step_lines`, without its (R, cells)
    temporaries); rows already off the event (``counts[r] == 0``) are skipped.
    """
    cdef Py_ssize_t rows = numerators.shape[0], n_cells = cells.shape[0], r, t
    if arcs.shape[0] != rows or arcs.shape[1] != MAX_ARCS or arcs.shape[2] != 2 or counts.shape[0] != rows:
        raise ValueError(f"arcs must be ({rows}, {MAX_ARCS}, 2) and counts ({rows},)")
    if alpha.shape[0] != n_cells or beta.shape[0] != n_cells or scale.shape[0] != n_cells:
        raise ValueError(f"{n_cells} cells but {alpha.shape[0]} offsets, {beta.shape[0]} axes, {scale.shape[0]} scales")
    if not 0 <= selected < n_cells:
        raise ValueError(f"selected cell {selected} outside the {n_cells} competing cells")
    check_step_line_inputs(numerators, coefficients, cross_t, n_earlier, cells)
    if rows and np.max(counts) > MAX_ARCS:
        raise ValueError(f"a row holds more than {MAX_ARCS} intervals")
    n_threads = max(1, min(n_threads, rows))
    buffer = np.empty((n_threads, max(n_cells, 1)), dtype=np.float64)  # one row's lines per thread
    cdef double[:, ::1] line = buffer
    for r in prange(rows, nogil=True, num_threads=n_threads, schedule="dynamic"):
        if counts[r] > 0:
            t = threadid()
            step_line(&numerators[r, 0], &coefficients[r, 0], cross_t, n_earlier, cells, scale, &line[t, 0])
            counts[r] = _row_step(&arcs[r, 0, 0], counts[r], &alpha[0], &beta[0], &line[t, 0], n_cells, selected)
