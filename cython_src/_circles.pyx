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

Circles of one plane (the selective intervals, issue 23). The circles of every tested
coefficient ``b`` through one direction ``d`` lie in one plane ``{F + x a + z d}`` (only
their centre ``(shift, 0)`` and radius move with ``b``), where each side of a step is a
fixed convex polygon ``{sign L_s >= |L_c|}`` (cut to a square holding the circles
served). :func:`plane_cells` clips that polygon once per direction and lists the cells
whose lines bound it; :func:`step_arcs_listed` then intersects each circle with those
few cells instead of all of them. Vertices are intersections of two lines (Cramer's
rule), so they are as accurate as the lines; a cell whose line cuts into the polygon by
less than a slack of ``1e-12`` of the square's size is passed over (so that rounding
does not split the polygon's corners without end), and the listed arcs are every cell's
but for slivers that thin. On real fits they are bit-identical (tests and
``benchmarks/bench_intervals.py``).
"""

from cython.parallel cimport prange, threadid
from libc.math cimport INFINITY, M_PI, atan2, cos, fabs, sin, sqrt
from libc.stdint cimport int64_t

from _step_lines cimport check_step_line_inputs, step_line


cdef extern from "_chunk_prepass.h" nogil:
    bint seism_side_needs(double hull_floor, double cm, double sm, double spread, double ac, double bc, double gc)
    Py_ssize_t seism_chunk_needs(const double* alpha, const double* beta, const double* gamma, Py_ssize_t first,
                                 Py_ssize_t n, const double* side, Py_ssize_t* listed)

import numpy as np

cdef enum:
    CHUNK = 256  # cells a row's step lists at a time before examining them (:func:`_row_step`)
    MAX_ARCS = 64  # intervals a row's event may hold; more sets the row's overflow flag
    MAX_VERTICES = 128  # vertices of a side's polygon in a plane of circles; more: the row uses every cell
    MAX_UNSURE = 64  # cells listed without clipping because their line is known too coarsely (see _cut)
    MAX_LISTED = MAX_VERTICES + 1 + MAX_UNSURE  # cells listed for a side of a step in a plane of circles
    SQUARE_EDGE = -1  # label of a polygon edge on the square
    OWN_EDGE = -2  # label of a polygon edge on the selected cell's own constraint sign * L_s >= 0

cdef double TWO_PI = 2.0 * M_PI
#: Slack of the polygons in a plane of circles, relative to the plane's scale plus the square's
#: half width: a cell's line that cuts into the polygon by less than twice it passes over it.
cdef double PLANE_TOLERANCE = 1e-12
#: A bound, relative to the magnitudes involved, on the rounding of a few multiply-adds (16 units in the last place).
cdef double ROUNDING = 16.0 * 2.220446049250313e-16
#: Room, relative to the magnitude of the lines (``|A_s| + sqrt(B_s^2 + C_s^2)`` for the selected one,
#: plus the largest ``|alpha| + |beta| + |gamma|`` of the cells), that the hull's skip (:func:`_side_cell`)
#: leaves below the floor: far above the rounding of its few multiply-adds, so a cell it passes over
#: is one that the violation test would pass over too.
cdef double HULL_MARGIN = 1e-12


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


cdef inline double _largest_sine(const ArcSet* S) noexcept nogil:
    """The largest ``|sin(w)|`` on the intervals of ``S`` (1 where one holds ``pi / 2`` or ``3 pi / 2``; 0 when empty)."""
    cdef Py_ssize_t k
    cdef double top = 0.0
    for k in range(S.n):
        if (S.lo[k] <= 0.5 * M_PI <= S.hi[k]) or (S.lo[k] <= 1.5 * M_PI <= S.hi[k]):
            return 1.0
        if fabs(S.slo[k]) > top:
            top = fabs(S.slo[k])
        if fabs(S.shi[k]) > top:
            top = fabs(S.shi[k])
    return top


cdef inline double _hull(const ArcSet* S, double* cm, double* sm) noexcept nogil:
    """The smallest arc holding the intervals of ``S``: its centre's cos and sin, and ``(2 sin(h / 2))^2``
    for its half width ``h`` (4 when ``h`` is ``pi`` or more, or S is empty: no bound)."""
    cdef Py_ssize_t k, n = S.n
    cdef double gap, widest, start, half
    if n == 0:
        return 4.0
    widest = S.lo[0] + TWO_PI - S.hi[n - 1]  # the gap through 0
    start = S.lo[0]
    for k in range(n - 1):
        gap = S.lo[k + 1] - S.hi[k]
        if gap > widest:
            widest = gap
            start = S.lo[k + 1]
    half = 0.5 * (TWO_PI - widest)
    if half >= M_PI:
        return 4.0
    cm[0] = cos(start + half)
    sm[0] = sin(start + half)
    gap = 2.0 * sin(0.5 * half)  # not 2 (1 - cos h): that loses every digit for narrow arcs
    return gap * gap


cdef struct Side:  # one side ``sign * L_s >= |L_c|`` of a step being intersected into a row's intervals
    double As, Bs, Cs  # sign times the selected cell's coefficients
    double floor  # the smallest sign * L_s on the intervals (+inf once they are empty)
    double cm, sm, spread  # the smallest arc holding them: its centre's cos, sin and (2 sin(h / 2))^2
    double hull_floor  # floor less the margin (+inf once empty)
    double margin  # HULL_MARGIN times the magnitude of the lines
    double sliver


cdef inline void _refresh(const ArcSet* S, Side* P) noexcept nogil:
    """The side's floor and hull after its intervals changed."""
    if S.n == 0:
        P.floor = INFINITY
        P.hull_floor = INFINITY
        P.spread = 0.0
        return
    P.floor = _minimum(S, P.As, P.Bs, P.Cs)
    P.spread = _hull(S, &P.cm, &P.sm)
    P.hull_floor = P.floor - P.margin


cdef inline bint _emptied(ArcSet* S, const Side* P) noexcept nogil:
    """Empty S (and say so) when its intervals lie where ``|sin(w)| < sliver``."""
    if P.sliver > 0.0 and S.n > 0 and _largest_sine(S) < P.sliver:
        S.n = 0
        return 1
    return 0


cdef int _side_begin(ArcSet* S, ArcSet* T, Side* P, double sign, double a_s, double b_s, double g_s,
                     double sliver, double size) noexcept nogil:
    """Start a side: intersect S with ``sign * L_s >= 0``; -1 on overflow.

    ``size`` bounds ``|alpha| + |beta| + |gamma|`` over the cells (the hull skip's margin).
    """
    P.As = sign * a_s
    P.Bs = sign * b_s
    P.Cs = sign * g_s
    P.margin = HULL_MARGIN * (fabs(P.As) + sqrt(P.Bs * P.Bs + P.Cs * P.Cs) + size)
    P.sliver = sliver
    P.cm = 1.0
    P.sm = 0.0
    if _violated(S, P.As, P.Bs, P.Cs):
        if _intersect(S, P.As, P.Bs, P.Cs, T) < 0:
            return -1
    _emptied(S, P)
    _refresh(S, P)
    return 0


cdef inline int _side_cell(ArcSet* S, ArcSet* T, Side* P, double ac, double bc, double gc) noexcept nogil:
    """Intersect S with one cell's two constraints ``sign L_s -+ L_c >= 0``; -1 on overflow.

    A cell whose largest ``|L_c|`` on the whole circle, ``|alpha| + sqrt(beta^2 + gamma^2)``,
    is below the floor cannot bind, which is checked without a loop over the intervals; nor can
    one whose ``|L_c|`` at the centre ``m`` of the smallest arc holding S, plus ``2 sin(h / 2)
    sqrt(beta^2 + gamma^2)`` (``h`` that arc's half width: ``|L_c(w) - L_c(m)|`` is at most that
    on the arc), is below the floor by more than :data:`HULL_MARGIN` of the lines' magnitude. Both
    skips are exact bounds, so they change the cost, never the arcs.
    """
    cdef double room, A, B, C
    cdef int t
    if S.n == 0:
        return 0
    room = P.floor - (ac if ac >= 0.0 else -ac)  # the circle's skip at the floor itself (as before the hull's)
    if room >= 0.0 and room * room >= bc * bc + gc * gc:
        return 0
    if not seism_side_needs(P.hull_floor, P.cm, P.sm, P.spread, ac, bc, gc):  # the hull's skip
        return 0
    for t in range(2):
        if t == 0:
            A = P.As - ac
            B = P.Bs - bc
            C = P.Cs - gc
        else:
            A = P.As + ac
            B = P.Bs + bc
            C = P.Cs + gc
        if _violated(S, A, B, C):
            if _intersect(S, A, B, C, T) < 0:
                return -1
            _emptied(S, P)
            _refresh(S, P)
            if S.n == 0:
                return 0
    return 0


cdef int _side(ArcSet* S, ArcSet* T, double sign, double a_s, double b_s, double g_s, const double* alpha,
               const double* beta, const double* gamma, const int64_t* listed, Py_ssize_t n_cells,
               Py_ssize_t selected, double sliver=0.0) noexcept nogil:
    """Intersect S with the side ``sign * L_s >= |L_c|`` over the cells; -1 on overflow.

    ``sliver`` > 0: the side is emptied as soon as its intervals lie where ``|sin(w)| < sliver``
    (the caller has bounded the mass there, see :func:`step_arcs_rows`).

    ``a_s, b_s, g_s`` are the selected cell's coefficients. The cells are ``listed[i]``
    (``listed`` NULL: every cell ``i`` of ``alpha`` and ``beta`` but ``selected``), their
    direction coefficients ``gamma[i]`` (in the order examined); each is tested by
    :func:`_side_cell`.
    """
    cdef Side P
    cdef Py_ssize_t i, c
    cdef double size = 0.0, here
    for i in range(n_cells):
        c = i if listed == NULL else listed[i]
        here = fabs(alpha[c]) + fabs(beta[c]) + fabs(gamma[i])
        size = here if here > size else size
    if _side_begin(S, T, &P, sign, a_s, b_s, g_s, sliver, size) < 0:
        return -1
    for i in range(n_cells):
        if S.n == 0:
            return 0
        if listed == NULL:
            if i == selected:
                continue
            c = i
        else:
            c = listed[i]
        if _side_cell(S, T, &P, alpha[c], beta[c], gamma[i]) < 0:
            return -1
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


cdef Py_ssize_t _merge_sides(double* arcs, const ArcSet* plus, const ArcSet* minus) noexcept nogil:
    """Write the union of the two sides (disjoint but for single points), by lower end; the count, -1 on overflow."""
    cdef Py_ssize_t a = 0, b = 0, n = 0
    if plus.n + minus.n > MAX_ARCS:
        return -1
    while a < plus.n or b < minus.n:
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


cdef double _reach(const double[::1] alpha, const double[::1] beta) noexcept nogil:
    """``max |alpha| + max |beta|`` over the cells: 0 when the step is flat (see :func:`_row_step`)."""
    cdef Py_ssize_t i
    cdef double a = 0.0, b = 0.0
    for i in range(alpha.shape[0]):
        a = fabs(alpha[i]) if fabs(alpha[i]) > a else a
        b = fabs(beta[i]) if fabs(beta[i]) > b else b
    return a + b


cdef Py_ssize_t _row_step(double* arcs, Py_ssize_t count, const double* alpha, const double* beta,
                          const double* gamma, Py_ssize_t n_cells, Py_ssize_t selected,
                          double sliver=0.0, double reach=1.0) noexcept nogil:
    """Replace the row's intervals by their intersection with the step's event; the new count, -1 on overflow.

    ``reach``: ``max |alpha| + max |beta|`` over the cells (:func:`_reach`). It is 0 when the step
    is flat: every cell's offset and axis lines are 0 (the global hypothesis' steps after the
    tested motif, whose selected features hold the plane's offset and axis), so every line is
    ``gamma[c] sin(w)`` and the step holds on the whole circle if ``|gamma_s| >= |gamma_c|`` for
    every c, else nowhere: one comparison per cell, then the sides' own constraints.

    Both sides are intersected in one pass over the cells, by chunks of :data:`CHUNK`: a
    branch-free pre-pass (``seism_chunk_needs`` of ``_chunk_prepass.h``, two cells at a time)
    lists the chunk's cells that fail both of a side's skips at its floor and hull of the
    chunk's start, less the margin (floors only rise as the intervals shrink, but for a few
    units in the last place of the computed one, and the hull's bound holds for any arc
    holding them, so a cell it passes over cannot bind), then
    :func:`_side_cell` examines the listed cells in order, side by side. Each side meets the
    cells that can bind in the same order as a pass of its own, so the arcs are the same.
    """
    cdef ArcSet plus, minus, scratch
    cdef Side P, M
    cdef Py_ssize_t first, last, i, n_listed, k
    cdef Py_ssize_t listed[CHUNK]
    cdef double sides[8]
    cdef bint flat = reach == 0.0
    cdef double top = 0.0, size
    for i in range(n_cells):  # the largest |gamma|, the selected cell's included
        size = fabs(gamma[i])
        top = size if size > top else top
    if flat and top > fabs(gamma[selected]):  # a cell beats the selected one everywhere
        return 0
    _load(&plus, arcs, count)
    minus = plus
    if _side_begin(&plus, &scratch, &P, 1.0, alpha[selected], beta[selected], gamma[selected], sliver,
                   reach + top) < 0:
        return -1
    if _side_begin(&minus, &scratch, &M, -1.0, alpha[selected], beta[selected], gamma[selected], sliver,
                   reach + top) < 0:
        return -1
    first = n_cells if flat else 0
    while first < n_cells and (plus.n > 0 or minus.n > 0):
        last = first + CHUNK if first + CHUNK < n_cells else n_cells
        sides[0] = P.hull_floor
        sides[1] = P.cm
        sides[2] = P.sm
        sides[3] = P.spread
        sides[4] = M.hull_floor
        sides[5] = M.cm
        sides[6] = M.sm
        sides[7] = M.spread
        n_listed = seism_chunk_needs(alpha, beta, gamma, first, last - first, sides, listed)
        for k in range(n_listed):
            i = listed[k]
            if i == selected:
                continue
            if _side_cell(&plus, &scratch, &P, alpha[i], beta[i], gamma[i]) < 0:
                return -1
            if _side_cell(&minus, &scratch, &M, alpha[i], beta[i], gamma[i]) < 0:
                return -1
        first = last
    return _merge_sides(arcs, &plus, &minus)


def chunk_needs(const double[::1] alpha, const double[::1] beta, const double[::1] gamma, const double[::1] sides):
    """The cells :func:`_row_step`'s pre-pass lists for one chunk (``sides``: each side's hull floor, cos and
    sin of its hull's centre, spread; plus side first): exposed so that tests can hold it to the scalar test."""
    cdef Py_ssize_t n = alpha.shape[0], count
    if beta.shape[0] != n or gamma.shape[0] != n or sides.shape[0] != 8:
        raise ValueError("alpha, beta and gamma must have one entry per cell and sides 8")
    listed = np.zeros(max(n, 1), dtype=np.intp)
    cdef Py_ssize_t[::1] view = listed
    if n == 0:
        return listed[:0]
    with nogil:
        count = seism_chunk_needs(&alpha[0], &beta[0], &gamma[0], 0, n, &sides[0], &view[0])
    return listed[:count]


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
    cdef double reach = _reach(alpha, beta)
    for r in prange(rows, nogil=True, num_threads=max(1, n_threads), schedule="dynamic"):
        if counts[r] > 0:
            counts[r] = _row_step(&arcs[r, 0, 0], counts[r], &alpha[0], &beta[0], &gamma[r, 0],
                                  n_cells, selected, 0.0, reach)


cdef int _check_row_steps(double[:, :, ::1] arcs, long long[::1] counts, const double[::1] alpha,
                          const double[::1] beta, const double[:, ::1] numerators, const double[:, ::1] coefficients,
                          const double[:, ::1] cross_t, Py_ssize_t n_earlier, const int64_t[::1] cells,
                          const double[::1] scale, Py_ssize_t selected) except -1:
    """Raise ``ValueError`` unless a step of rows whose lines the kernel builds can run on these arrays."""
    cdef Py_ssize_t rows = numerators.shape[0], n_cells = cells.shape[0]
    if arcs.shape[0] != rows or arcs.shape[1] != MAX_ARCS or arcs.shape[2] != 2 or counts.shape[0] != rows:
        raise ValueError(f"arcs must be ({rows}, {MAX_ARCS}, 2) and counts ({rows},)")
    if alpha.shape[0] != n_cells or beta.shape[0] != n_cells or scale.shape[0] != n_cells:
        raise ValueError(f"{n_cells} cells but {alpha.shape[0]} offsets, {beta.shape[0]} axes, {scale.shape[0]} scales")
    if not 0 <= selected < n_cells:
        raise ValueError(f"selected cell {selected} outside the {n_cells} competing cells")
    check_step_line_inputs(numerators, coefficients, cross_t, n_earlier, cells)
    if rows and np.max(counts) > MAX_ARCS:
        raise ValueError(f"a row holds more than {MAX_ARCS} intervals")
    return 0


def step_arcs_rows(double[:, :, ::1] arcs, long long[::1] counts, const double[::1] alpha,
                   const double[::1] beta, const double[:, ::1] numerators, const double[:, ::1] coefficients,
                   const double[:, ::1] cross_t, Py_ssize_t n_earlier, const int64_t[::1] cells,
                   const double[::1] scale, Py_ssize_t selected, int n_threads=1, double sliver=0.0):
    """:func:`step_arcs` with each row's direction lines built in the kernel, row by row.

    Row r's line of competing cell ``cells[i]`` at step s (``n_earlier`` = s motifs
    before it) is ``(numerators[r, cell] - sum_{m<s} coefficients[r, m] cross_t[m, cell])
    * scale[i]`` (as :func:`seism_stats.selection.geometry.step_lines`, without its (R, cells)
    temporaries); rows already off the event (``counts[r] == 0``) are skipped.

    ``sliver`` (0: off) empties each side of a row's step as soon as its intervals lie where
    ``|sin(w)| < sliver``, without examining the other cells: the side's event is then inside that
    set, whose mass the caller has bounded (``circle_tests``' screen).
    """
    cdef Py_ssize_t rows = numerators.shape[0], n_cells = cells.shape[0], r, t
    _check_row_steps(arcs, counts, alpha, beta, numerators, coefficients, cross_t, n_earlier, cells, scale, selected)
    n_threads = max(1, min(n_threads, rows))
    buffer = np.empty((n_threads, max(n_cells, 1)), dtype=np.float64)  # one row's lines per thread
    cdef double[:, ::1] line = buffer
    cdef double reach = _reach(alpha, beta)
    for r in prange(rows, nogil=True, num_threads=n_threads, schedule="dynamic"):
        if counts[r] > 0:
            t = threadid()
            step_line(&numerators[r, 0], &coefficients[r, 0], cross_t, n_earlier, cells, scale, &line[t, 0])
            counts[r] = _row_step(&arcs[r, 0, 0], counts[r], &alpha[0], &beta[0], &line[t, 0], n_cells, selected,
                                  sliver, reach)


def mirrored_affine_rows(double[:, ::1] rows, Py_ssize_t first, double scale, const double[::1] shift=None,
                         int n_threads=1):
    """Turn transforms ``t_i`` (rows ``i < first``) into ``shift + scale t_i`` and write the mirrors
    ``shift - scale t_i`` into rows ``first + i`` (every row from ``first`` on), in one pass.

    Without ``shift`` the rows are kept and the mirrors are ``-t_i``. The same numbers as
    NumPy's ``rows *= scale; rows += shift`` (a product, then a sum: no fused multiply-add) on
    the rows and their negations, with the memory read and written once instead of three times.
    """
    cdef Py_ssize_t R = rows.shape[0], G = rows.shape[1], i, z
    cdef double t
    if not 0 <= R - first <= first:
        raise ValueError(f"{R - first} mirrors for {first} rows")
    if shift is not None and shift.shape[0] != G:
        raise ValueError(f"shift has {shift.shape[0]} entries for rows of {G}")
    if shift is None:
        for i in prange(R - first, nogil=True, num_threads=max(1, n_threads), schedule="static"):
            for z in range(G):
                rows[first + i, z] = -rows[i, z]
        return
    for i in prange(first, nogil=True, num_threads=max(1, n_threads), schedule="static"):
        if first + i < R:
            for z in range(G):
                t = rows[i, z]
                rows[i, z] = t * scale + shift[z]
                rows[first + i, z] = (-t) * scale + shift[z]
        else:
            for z in range(G):
                rows[i, z] = rows[i, z] * scale + shift[z]


# ---------------------------------------------------------------------------------------------
# Circles of one plane (issue 23): the cells each side of a step can bind, listed once per row.
# ---------------------------------------------------------------------------------------------

cdef struct Polygon:
    Py_ssize_t n
    double x[MAX_VERTICES]
    double z[MAX_VERTICES]
    # the edge from vertex i to i + 1: on the line a + b x + c z = 0 (b^2 + c^2 = 1, inside >= 0), of cell label
    double a[MAX_VERTICES]
    double b[MAX_VERTICES]
    double c[MAX_VERTICES]
    int64_t label[MAX_VERTICES]
    double own[MAX_VERTICES]  # sign * L_s at each vertex
    double size[MAX_VERTICES]  # |A_s| + |B_s x| + |C_s z|: the magnitude own is rounded at
    double slack  # PLANE_TOLERANCE * (scale + half width): how far a passed-over line may cut in


cdef inline int _vertex(Polygon* T, double x, double z, double a, double b, double c, int64_t label) noexcept nogil:
    if T.n >= MAX_VERTICES:
        return -1
    T.x[T.n] = x
    T.z[T.n] = z
    T.a[T.n] = a
    T.b[T.n] = b
    T.c[T.n] = c
    T.label[T.n] = label
    T.n = T.n + 1
    return 0


cdef int _clip(Polygon* P, double A, double B, double C, int64_t label, Polygon* T) noexcept nogil:
    """``P`` (convex) intersected with ``A + B x + C z >= 0`` (unit normal), the new edge labelled ``label``.

    Sutherland-Hodgman; a new vertex is the intersection of the two lines it lies on
    (Cramer's rule), so it is as accurate as the lines, however far the square's
    corners. -1 on overflow.
    """
    cdef Py_ssize_t i, j
    cdef double vi, vj, t, det, x, z
    T.n = 0
    T.slack = P.slack
    for i in range(P.n):
        j = i + 1 if i + 1 < P.n else 0
        vi = A + B * P.x[i] + C * P.z[i]
        vj = A + B * P.x[j] + C * P.z[j]
        if vi >= 0.0:  # kept; its edge leaves along the new line when it runs outside from here
            if vi == 0.0 and vj < 0.0:
                if _vertex(T, P.x[i], P.z[i], A, B, C, label) < 0:
                    return -1
            elif _vertex(T, P.x[i], P.z[i], P.a[i], P.b[i], P.c[i], P.label[i]) < 0:
                return -1
        if (vi > 0.0 and vj < 0.0) or (vi < 0.0 and vj > 0.0):
            det = P.b[i] * C - B * P.c[i]
            if det != 0.0:
                x = (P.c[i] * A - C * P.a[i]) / det
                z = (B * P.a[i] - P.b[i] * A) / det
            else:
                t = vi / (vi - vj)
                x = P.x[i] + t * (P.x[j] - P.x[i])
                z = P.z[i] + t * (P.z[j] - P.z[i])
            if vi > 0.0:
                if _vertex(T, x, z, A, B, C, label) < 0:
                    return -1
            elif _vertex(T, x, z, P.a[i], P.b[i], P.c[i], P.label[i]) < 0:
                return -1
    P[0] = T[0]
    return 0


cdef void _measure(Polygon* P, double As, double Bs, double Cs) noexcept nogil:
    """Fill each vertex's ``sign * L_s`` and the magnitude it is rounded at."""
    cdef Py_ssize_t i
    for i in range(P.n):
        P.own[i] = As + Bs * P.x[i] + Cs * P.z[i]
        P.size[i] = fabs(As) + fabs(Bs * P.x[i]) + fabs(Cs * P.z[i])


cdef inline bint _cuts(const Polygon* P, double A, double B, double C) noexcept nogil:
    """Whether the line ``A + B x + C z`` (unit normal) falls below minus twice the slack at some vertex."""
    cdef Py_ssize_t i
    for i in range(P.n):
        if A + B * P.x[i] + C * P.z[i] < -2.0 * P.slack:
            return 1
    return 0


cdef inline bint _clears(const Polygon* P, double fc, double ac, double gc, double norm, double far) noexcept nogil:
    """Whether ``sign L_s - |L_c|`` stays above minus twice the slack (in units of ``norm``) at every vertex,
    by more than the rounding of that difference (so that a cell passed over here is one the exact
    test of its two half-planes, :func:`_cuts` on their own coefficients, would pass over too; ``far``:
    the rounding's magnitude at circle centres anywhere in the square, see :func:`_cut`)."""
    cdef Py_ssize_t i
    cdef double value, size
    for i in range(P.n):
        value = fc + ac * P.x[i] + gc * P.z[i]
        size = P.size[i] + fabs(fc) + fabs(ac * P.x[i]) + fabs(gc * P.z[i]) + far
        if P.own[i] - (value if value >= 0.0 else -value) < -2.0 * P.slack * norm + ROUNDING * size:
            return 0
    return 1


cdef Py_ssize_t _edge_cells(const Polygon* P, int64_t extra, const int64_t* unsure, Py_ssize_t n_unsure,
                            const double* gamma, int64_t* listed, double* listed_gamma) noexcept nogil:
    """List (once each) the cells labelling the edges of ``P``, ``extra`` (>= 0) and the unsure cells; their count."""
    cdef Py_ssize_t i, k, n = 0
    cdef int64_t c
    cdef bint seen
    for i in range(P.n + 1 + n_unsure):
        c = P.label[i] if i < P.n else (extra if i == P.n else unsure[i - P.n - 1])
        if c < 0:
            continue
        seen = 0
        for k in range(n):
            if listed[k] == c:
                seen = 1
                break
        if not seen:
            listed[n] = c
            listed_gamma[n] = gamma[c]
            n = n + 1
    return n


cdef inline int _cut(Polygon* P, Polygon* T, Polygon* before, double A, double B, double C, int64_t label,
                     double As, double Bs, double Cs, double Ma, double Mb, double Mc,
                     double half_width) noexcept nogil:
    """Clip ``P`` by ``A + B x + C z >= 0`` where it cuts in.

    Returns 1 if it cut, 0 if not, 2 if it emptied ``P`` (or left it without area), -1
    on overflow, 3 if it is unsure and did not cut, 4 if it is unsure and cut. ``A, B,
    C`` are differences of numbers of magnitudes ``Ma, Mb, Mc``, so another kernel
    (the circle kernel rounds ``(f + shift a) / rho``, with circle centres anywhere in
    the square) sees ``A`` only to ``band = ROUNDING (Ma + (Mb + Mc) 2 half_width)``.
    Where that is coarser than the slack (a cell nearly parallel to the selected one),
    the cell is unsure: listed whenever the line less its band cuts in, and the polygon
    clipped only by the line loosened by its band, so that it holds the side under
    either rounding; a zero-gradient line empties the side only below ``-band``.
    """
    cdef double norm = sqrt(B * B + C * C)
    cdef Py_ssize_t i
    cdef double band = ROUNDING * (Ma + (Mb + Mc) * 2.0 * half_width)  # unnormalised: A as another kernel rounds it
    cdef bint unsure
    if norm == 0.0:
        if A >= band:
            return 0
        if A < -band:
            before[0] = P[0]
            P.n = 0
            return 2
        return 3
    unsure = band / norm > P.slack
    if unsure:  # known only coarsely: listed if it might cut; clipped by it loosened by its band
        for i in range(P.n):
            if (A + B * P.x[i] + C * P.z[i] - band) / norm < -2.0 * P.slack:
                break
        else:
            return 0
        A = A + band
    A = A / norm
    B = B / norm
    C = C / norm
    if not _cuts(P, A, B, C):
        return 3 if unsure else 0
    before[0] = P[0]
    if _clip(P, A, B, C, label, T) < 0:
        return -1
    if P.n < 3:  # a point or a segment: no area, so no circle meets it in an arc
        P.n = 0
        return 2
    _measure(P, As, Bs, Cs)
    return 4 if unsure else 1


cdef Py_ssize_t _plane_chunk(const Polygon* P, const double* fixed, const double* axis, const double* gamma,
                             Py_ssize_t first, Py_ssize_t last, double Bs, double Cs, double half_width,
                             double* lowest, double* room, Py_ssize_t* need) noexcept nogil:
    """List the cells ``first .. last - 1`` that :func:`_plane_side` must examine at the polygon ``P``; their count.

    Branch-free, vertex by vertex over the chunk's cells: a cell is passed over when
    ``sign L_s - |L_c|`` is at least three times the rounding of its terms at every vertex, with
    the terms' magnitudes bounded over the whole polygon (its largest ``size`` and ``|x|, |z|``,
    and ``far`` as in :func:`_clears`), plus twice the slack times the lines' gradients.
    ``sign L_s - |L_c|`` is concave, so it then holds on the whole polygon, hence at every
    vertex of the smaller polygons the chunk's examination leaves, where :func:`_clears` passes
    the cell over too (its threshold is below that room). A clipped polygon's vertices are
    computed points, which may lie off the polygon along nearly parallel lines; the slack
    term covers a drift up to twice the slack in plane distance. So the cells listed and
    the polygon are those of examining every cell (tested against ``prepass=False``).
    """
    cdef Py_ssize_t c, i, n_need = 0, width = last - first
    cdef double x, z, own, value, top_size = 0.0, top_x = 0.0, top_z = 0.0
    cdef const double* f = fixed + first
    cdef const double* a = axis + first
    cdef const double* g = gamma + first
    for i in range(P.n):
        top_size = P.size[i] if P.size[i] > top_size else top_size
        top_x = fabs(P.x[i]) if fabs(P.x[i]) > top_x else top_x
        top_z = fabs(P.z[i]) if fabs(P.z[i]) > top_z else top_z
    for c in range(width):
        room[c] = (3.0 * ROUNDING * (top_size + fabs(f[c]) + fabs(a[c]) * top_x + fabs(g[c]) * top_z
                                     + 2.0 * half_width * (fabs(Bs) + fabs(a[c]) + fabs(Cs) + fabs(g[c])))
                   + 2.0 * P.slack * (fabs(Bs) + fabs(Cs) + fabs(a[c]) + fabs(g[c])))
        lowest[c] = INFINITY
    for i in range(P.n):
        x = P.x[i]
        z = P.z[i]
        own = P.own[i]
        for c in range(width):
            value = own - fabs(f[c] + a[c] * x + g[c] * z)
            lowest[c] = value if value < lowest[c] else lowest[c]
    for c in range(width):
        need[n_need] = first + c
        n_need = n_need + (not (lowest[c] >= room[c]))
    return n_need


cdef Py_ssize_t _plane_side(double sign, const double* fixed, const double* axis, const double* gamma,
                            Py_ssize_t n_cells, Py_ssize_t selected, double half_width, double scale,
                            int64_t* listed, double* listed_gamma, bint prepass=1) noexcept nogil:
    """List the cells whose constraints bound one side's polygon in the plane; their count, -1 on overflow.

    In the plane ``(x, z)`` the side is ``{sign L_s >= |L_c| for every c}`` with
    ``L_c = fixed[c] + axis[c] x + gamma[c] z``: an intersection of half-planes, a
    convex polygon once cut to the square ``|x|, |z| <= half_width``. It is clipped
    from the square by the selected cell's own ``sign L_s >= 0`` and then by each
    cell's two half-planes in the order given, a half-plane passed over when its line
    cuts into no vertex deeper than twice the slack (``PLANE_TOLERANCE * (scale +
    half_width)`` in plane distance; a cheaper test passes a cell over only when it
    clears that by more than its own rounding); each edge keeps the cell it lies on.
    The cells listed are those of the final polygon's edges; where it empties or
    shrinks to a point or a segment (no area), those of the edges it had and the cell
    that did it; and, unclipped, every cell whose line, known only to its rounding
    (nearly parallel to the selected cell's), might cut deeper than the slack. Inside the square the half-planes of a polygon's edges meet exactly
    in the polygon, and every cell not listed cuts into it by less than twice the
    slack: a circle inside the square meets the listed cells' constraints in the same
    arcs as every cell's, except in slivers that thin (a circle within that distance
    of tangency to a passed-over line can differ by a short arc).

    The cells are examined by chunks of :data:`CHUNK`: a branch-free pre-pass over the
    polygon of the chunk's start (:func:`_plane_chunk`) passes over the cells that clear it
    with room to spare, which the examination would pass over too; the rest are examined in
    order as above, so the listing is the same as examining every cell.
    """
    cdef Polygon P, T, before
    cdef int64_t unsure[MAX_UNSURE]
    cdef Py_ssize_t n_unsure = 0
    cdef double As = sign * fixed[selected], Bs = sign * axis[selected], Cs = sign * gamma[selected]
    cdef double fc, ac, gc, reach, far, norm_minus, norm_plus, floor, own_size, x_lo, x_hi, z_lo, z_hi, xc, zc, hx, hz
    cdef double side
    cdef Py_ssize_t c, t, i, k, first, last, n_need
    cdef Py_ssize_t need[CHUNK]
    cdef double lowest[CHUNK]
    cdef double room[CHUNK]
    cdef int cut
    P.n = 4
    P.x[0] = -half_width
    P.z[0] = -half_width
    P.x[1] = half_width
    P.z[1] = -half_width
    P.x[2] = half_width
    P.z[2] = half_width
    P.x[3] = -half_width
    P.z[3] = half_width
    for i in range(4):  # edges: bottom z >= -hw, right x <= hw, top z <= hw, left x >= -hw
        P.a[i] = half_width
        P.b[i] = 0.0 if i % 2 == 0 else (-1.0 if i == 1 else 1.0)
        P.c[i] = (1.0 if i == 0 else -1.0) if i % 2 == 0 else 0.0
        P.label[i] = SQUARE_EDGE
    P.slack = PLANE_TOLERANCE * (scale + half_width)
    _measure(&P, As, Bs, Cs)
    cut = _cut(&P, &T, &before, As, Bs, Cs, OWN_EDGE, As, Bs, Cs, 0.0, 0.0, 0.0, half_width)
    if cut < 0:
        return -1
    if cut == 2:
        return 0  # sign L_s >= 0 alone misses the square
    cut = 1
    first = 0
    while first < n_cells:
        last = first + CHUNK if first + CHUNK < n_cells else n_cells
        if prepass:
            n_need = _plane_chunk(&P, fixed, axis, gamma, first, last, Bs, Cs, half_width, lowest, room, need)
        else:
            n_need = last - first
            for k in range(n_need):
                need[k] = first + k
        for k in range(n_need):
            c = need[k]
            if c == selected:
                continue
            if cut:  # the polygon changed: its bounding box and the floor of sign L_s
                floor = P.own[0]
                own_size = P.size[0]
                x_lo = x_hi = P.x[0]
                z_lo = z_hi = P.z[0]
                for i in range(1, P.n):
                    floor = P.own[i] if P.own[i] < floor else floor
                    own_size = P.size[i] if P.size[i] > own_size else own_size
                    x_lo = P.x[i] if P.x[i] < x_lo else x_lo
                    x_hi = P.x[i] if P.x[i] > x_hi else x_hi
                    z_lo = P.z[i] if P.z[i] < z_lo else z_lo
                    z_hi = P.z[i] if P.z[i] > z_hi else z_hi
                xc = 0.5 * (x_lo + x_hi)
                zc = 0.5 * (z_lo + z_hi)
                hx = 0.5 * (x_hi - x_lo)
                hz = 0.5 * (z_hi - z_lo)
                cut = 0
            fc = fixed[c]
            ac = axis[c]
            gc = gamma[c]
            # |L_c| on the polygon is at most its value at the bounding box's centre plus its reach over the box
            reach = fc + ac * xc + gc * zc
            reach = (reach if reach >= 0.0 else -reach) + fabs(ac) * hx + fabs(gc) * hz
            far = 2.0 * half_width * (fabs(Bs) + fabs(ac) + fabs(Cs) + fabs(gc))
            if reach + ROUNDING * (own_size + fabs(fc) + fabs(ac) * (fabs(xc) + hx) + fabs(gc) * (fabs(zc) + hz)
                    + far) <= floor:
                continue
            norm_minus = sqrt((Bs - ac) * (Bs - ac) + (Cs - gc) * (Cs - gc))
            norm_plus = sqrt((Bs + ac) * (Bs + ac) + (Cs + gc) * (Cs + gc))
            if _clears(&P, fc, ac, gc, norm_minus if norm_minus < norm_plus else norm_plus, far):
                continue
            for t in range(2):  # the half-planes sign L_s - L_c >= 0 and sign L_s + L_c >= 0
                side = -1.0 if t == 0 else 1.0
                i = _cut(&P, &T, &before, As + side * fc, Bs + side * ac, Cs + side * gc, c, As, Bs, Cs,
                         fabs(As) + fabs(fc), fabs(Bs) + fabs(ac), fabs(Cs) + fabs(gc), half_width)
                if i < 0:
                    return -1
                if i == 2:
                    return _edge_cells(&before, c, unsure, n_unsure, gamma, listed, listed_gamma)
                if i == 1 or i == 4:
                    cut = 1
                if (i == 3 or i == 4) and (n_unsure == 0 or unsure[n_unsure - 1] != c):
                    if n_unsure >= MAX_UNSURE:
                        return -1
                    unsure[n_unsure] = c
                    n_unsure = n_unsure + 1
        first = last
    return _edge_cells(&P, -1, unsure, n_unsure, gamma, listed, listed_gamma)


cdef Py_ssize_t _row_step_listed(double* arcs, Py_ssize_t count, const double* alpha, const double* beta,
                                 Py_ssize_t selected, double selected_gamma, const int64_t* listed,
                                 const double* listed_gamma, const int64_t* n_listed) noexcept nogil:
    """:func:`_row_step` over the cells listed for each side (``listed[side * MAX_LISTED + i]``)."""
    cdef ArcSet plus, minus, scratch
    _load(&plus, arcs, count)
    minus = plus
    if _side(&plus, &scratch, 1.0, alpha[selected], beta[selected], selected_gamma, alpha, beta, listed_gamma,
             listed, n_listed[0], -1) < 0:
        return -1
    if _side(&minus, &scratch, -1.0, alpha[selected], beta[selected], selected_gamma, alpha, beta,
             listed_gamma + MAX_LISTED, listed + MAX_LISTED, n_listed[1], -1) < 0:
        return -1
    return _merge_sides(arcs, &plus, &minus)


def max_listed() -> int:
    """Cells a side of a step may list in a plane of circles (:data:`MAX_LISTED`)."""
    return MAX_LISTED


def plane_cells(const double[::1] fixed, const double[::1] axis, const double[:, ::1] numerators,
                const double[:, ::1] coefficients, const double[:, ::1] cross_t, Py_ssize_t n_earlier,
                const int64_t[::1] cells, const double[::1] scale, Py_ssize_t selected, double half_width,
                double plane_scale, int n_threads=1, bint prepass=True):
    """The cells that can bind one step's sides in each row's plane of circles.

    Row r's plane is ``{F + x a + z d_r}`` (``F`` the fixed point, ``a`` the axis, ``d_r``
    the row's direction), in which every circle of :func:`step_arcs` with that row's
    direction lies; a step's lines there are ``fixed + x axis + z gamma_r`` (``gamma_r``
    built as in :func:`step_arcs_rows`). For each side (+, -) of the step, the cells
    whose constraints cut the side's polygon inside the square ``|x|, |z| <=
    half_width`` (``_plane_side``): on a circle inside that square, the step's event
    is the same set whether every cell or only these are intersected, but for slivers
    at most ``2 PLANE_TOLERANCE (plane_scale + half_width)`` thick in the plane
    (``plane_scale``: the smallest radius of the circles served). ``prepass=False`` examines every
    cell without the chunks' pre-pass (for tests: the lists are the same).

    Returns
    -------
    listed : (R, 2, MAX_LISTED) int64
        Positions (among ``cells``) of the listed cells per row and side.
    listed_gamma : (R, 2, MAX_LISTED) float64
        Their direction lines.
    n_listed : (R, 2) int64
        How many are listed; -1 where more than :func:`max_listed` were needed (the row
        then intersects every cell).
    selected_gamma : (R,) float64
        The selected cell's direction line per row.
    """
    cdef Py_ssize_t rows = numerators.shape[0], n_cells = cells.shape[0], r, t
    if fixed.shape[0] != n_cells or axis.shape[0] != n_cells or scale.shape[0] != n_cells:
        raise ValueError(f"{n_cells} cells but {fixed.shape[0]} fixed lines, {axis.shape[0]} axes, "
                         f"{scale.shape[0]} scales")
    if not 0 <= selected < n_cells:
        raise ValueError(f"selected cell {selected} outside the {n_cells} competing cells")
    if not half_width > 0.0 or half_width == np.inf:
        raise ValueError(f"half_width must be positive and finite; got {half_width}")
    if not plane_scale > 0.0 or plane_scale == np.inf:
        raise ValueError(f"plane_scale must be positive and finite; got {plane_scale}")
    check_step_line_inputs(numerators, coefficients, cross_t, n_earlier, cells)
    listed = np.zeros((rows, 2, MAX_LISTED), dtype=np.int64)
    listed_gamma = np.zeros((rows, 2, MAX_LISTED), dtype=np.float64)
    n_listed = np.zeros((rows, 2), dtype=np.int64)
    selected_gamma = np.zeros(rows, dtype=np.float64)
    n_threads = max(1, min(n_threads, rows))
    buffer = np.empty((n_threads, max(n_cells, 1)), dtype=np.float64)
    cdef double[:, ::1] line = buffer
    cdef int64_t[:, :, ::1] listed_view = listed
    cdef double[:, :, ::1] gamma_view = listed_gamma
    cdef int64_t[:, ::1] n_view = n_listed
    cdef double[::1] selected_view = selected_gamma
    for r in prange(rows, nogil=True, num_threads=n_threads, schedule="dynamic"):
        t = threadid()
        step_line(&numerators[r, 0], &coefficients[r, 0], cross_t, n_earlier, cells, scale, &line[t, 0])
        selected_view[r] = line[t, selected]
        n_view[r, 0] = _plane_side(1.0, &fixed[0], &axis[0], &line[t, 0], n_cells, selected, half_width,
                                   plane_scale, &listed_view[r, 0, 0], &gamma_view[r, 0, 0], prepass)
        n_view[r, 1] = _plane_side(-1.0, &fixed[0], &axis[0], &line[t, 0], n_cells, selected, half_width,
                                   plane_scale, &listed_view[r, 1, 0], &gamma_view[r, 1, 0], prepass)
    return listed, listed_gamma, n_listed, selected_gamma


def step_arcs_listed(double[:, :, ::1] arcs, long long[::1] counts, const double[::1] alpha,
                     const double[::1] beta, const int64_t[:, :, ::1] listed, const double[:, :, ::1] listed_gamma,
                     const int64_t[:, ::1] n_listed, const double[::1] selected_gamma,
                     const double[:, ::1] numerators, const double[:, ::1] coefficients,
                     const double[:, ::1] cross_t, Py_ssize_t n_earlier, const int64_t[::1] cells,
                     const double[::1] scale, Py_ssize_t selected, int n_threads=1):
    """:func:`step_arcs_rows` over the cells :func:`plane_cells` listed for each row.

    The circles must lie inside the square given to :func:`plane_cells` (the caller
    checks it); a row whose lists overflowed intersects every cell, its lines built
    from ``numerators`` and ``coefficients`` as in :func:`step_arcs_rows`.
    """
    cdef Py_ssize_t rows = numerators.shape[0], n_cells = cells.shape[0], r, t, side, i
    _check_row_steps(arcs, counts, alpha, beta, numerators, coefficients, cross_t, n_earlier, cells, scale, selected)
    if (listed.shape[0] != rows or listed.shape[1] != 2 or listed.shape[2] != MAX_LISTED
            or listed_gamma.shape[0] != rows or listed_gamma.shape[1] != 2 or listed_gamma.shape[2] != MAX_LISTED
            or n_listed.shape[0] != rows or n_listed.shape[1] != 2 or selected_gamma.shape[0] != rows):
        raise ValueError(f"the lists must be ({rows}, 2, {MAX_LISTED}), their counts ({rows}, 2) and the "
                         f"selected lines ({rows},), as plane_cells returns them")
    for r in range(rows):
        for side in range(2):
            if n_listed[r, side] > MAX_LISTED:
                raise ValueError(f"row {r} lists more than {MAX_LISTED} cells")
            for i in range(max(n_listed[r, side], 0)):
                if not 0 <= listed[r, side, i] < n_cells:
                    raise ValueError(f"row {r} lists a cell outside the {n_cells} competing cells")
    n_threads = max(1, min(n_threads, rows))
    buffer = np.empty((n_threads, max(n_cells, 1)), dtype=np.float64)
    cdef double[:, ::1] line = buffer
    cdef double reach = _reach(alpha, beta)
    for r in prange(rows, nogil=True, num_threads=n_threads, schedule="dynamic"):
        if counts[r] > 0:
            if n_listed[r, 0] >= 0 and n_listed[r, 1] >= 0:
                counts[r] = _row_step_listed(&arcs[r, 0, 0], counts[r], &alpha[0], &beta[0], selected,
                                             selected_gamma[r], &listed[r, 0, 0], &listed_gamma[r, 0, 0],
                                             &n_listed[r, 0])
            else:
                t = threadid()
                step_line(&numerators[r, 0], &coefficients[r, 0], cross_t, n_earlier, cells, scale, &line[t, 0])
                counts[r] = _row_step(&arcs[r, 0, 0], counts[r], &alpha[0], &beta[0], &line[t, 0], n_cells,
                                      selected, 0.0, reach)
