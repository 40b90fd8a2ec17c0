"""Replay of the greedy selection on candidate responses (SPEC sections 3-5).

A candidate is a point ``cos(t) u + sin(t) v`` on a great circle; its grid
numerators ``<phi_z, P_1 y'>`` are the same combination of the numerators of
``u`` and ``v``, so a shrinking slice sampler re-tests a great circle at the
cost of this check alone. Step j of the greedy selection scores cell z as

    (num[z] - sum_{m<j} A[z, m] c[m])^2 * inv_den[j, z]

where ``A[z, m] = <phi_z, q_m>`` for the orthonormalised selected features q_m,
``c[m] = <q_m, y'>`` and ``inv_den[j, z] = 1 / ||P_j phi_z||^2`` (0 for cells
excluded from the grid). Ties go to the lowest cell index, as numpy.argmax.
"""

from cython.parallel cimport parallel, prange, threadid
from libc.math cimport INFINITY, M_PI, acos, atan, atan2, cos, sin, sqrt
from libc.stdint cimport int64_t, uint8_t

from _transform cimport block_buffer_doubles, block_rows, gathers, mirror_pointer, transform_block
from _numpy_order cimport pairwise_sum
from _step_lines cimport check_step_line_inputs, step_line
from _sphere_rows cimport basis_dots_row, orthonormalize_row

import numpy as np

cdef enum:
    MAX_MOTIFS = 64

#: Most motifs a selection may hold: the kernels keep a candidate's coefficients on the
#: selected features in fixed arrays of this size (checked up front by
#: :func:`seism_stats.selection.greedy.check_n_motifs`, and again by every kernel).
MOTIF_LIMIT = MAX_MOTIFS


cdef extern from *:
    """
    static inline void seism_omp_barrier(void) {
    #ifdef _OPENMP
        _Pragma("omp barrier")
    #endif
    }
    """
    void omp_barrier "seism_omp_barrier"() noexcept nogil  # every thread of the region waits here


cdef inline double _step_score(const double[:, ::1] num_u, const double[:, ::1] num_v,
                               Py_ssize_t r, double cs, double sn,
                               const double[:, ::1] A, const double* c,
                               const double[:, ::1] inv_den, Py_ssize_t j,
                               Py_ssize_t z) noexcept nogil:
    cdef double num = cs * num_u[r, z] + sn * num_v[r, z]
    cdef Py_ssize_t m
    for m in range(j):
        num = num - A[z, m] * c[m]
    return num * num * inv_den[j, z]


cdef inline void _combine_coefs(const double[:, ::1] coef_u, const double[:, ::1] coef_v,
                                Py_ssize_t r, double cs, double sn, Py_ssize_t q,
                                double* c) noexcept nogil:
    cdef Py_ssize_t m
    for m in range(q):
        c[m] = cs * coef_u[r, m] + sn * coef_v[r, m]


cdef uint8_t _check_row(const double[:, ::1] num_u, const double[:, ::1] num_v,
                        Py_ssize_t r, double cs, double sn,
                        const double[:, ::1] coef_u, const double[:, ::1] coef_v,
                        const double[:, ::1] A, const double[:, ::1] inv_den,
                        const int64_t[::1] cells, double[:, ::1] stats,
                        Py_ssize_t out) noexcept nogil:
    cdef double c[MAX_MOTIFS]
    cdef Py_ssize_t q = cells.shape[0], j, z, target
    cdef double s, s_target
    _combine_coefs(coef_u, coef_v, r, cs, sn, q, c)
    for j in range(q):
        target = cells[j]
        s_target = _step_score(num_u, num_v, r, cs, sn, A, c, inv_den, j, target)
        for z in range(num_u.shape[1]):
            s = _step_score(num_u, num_v, r, cs, sn, A, c, inv_den, j, z)
            if s > s_target or (s == s_target and z < target):
                return 0
        stats[out, j] = s_target
    return 1


def check_event(const double[:, ::1] num_u, const double[:, ::1] num_v,
                const int64_t[::1] rows, const double[::1] cos_t, const double[::1] sin_t,
                const double[:, ::1] coef_u, const double[:, ::1] coef_v,
                const double[:, ::1] A, const double[:, ::1] inv_den,
                const int64_t[::1] cells, int n_threads=1):
    """Test which candidates ``cos_t[i] u_r + sin_t[i] v_r`` (``r = rows[i]``) lie in the event.

    Parameters
    ----------
    num_u, num_v : (R, G) float64
        Grid numerators ``<phi_z, u_r>`` and ``<phi_z, v_r>``.
    rows : (m,) int64
        Which rows of ``num_u``/``num_v`` hold the candidates to test.
    cos_t, sin_t : (m,) float64
        Great-circle coordinates of each candidate.
    coef_u, coef_v : (R, q) float64
        ``<q_m, u_r>`` and ``<q_m, v_r>`` for the orthonormalised selected features.
    A : (G, q) float64
        ``<phi_z, q_m>``.
    inv_den : (q, G) float64
        Inverse residual norms per step (0 excludes a cell).
    cells : (q,) int64
        Selected cells, in selection order.

    Returns
    -------
    accepted : (m,) bool
        Whether replaying the selection returns ``cells``.
    stats : (m, q) float64
        Statistic ``T_j`` (the step-j score of cell j); meaningful only where accepted.
    """
    cdef Py_ssize_t m = rows.shape[0], i
    if cells.shape[0] > MAX_MOTIFS:
        raise ValueError(f"at most {MAX_MOTIFS} motifs can be selected")
    accepted = np.zeros(m, dtype=np.uint8)
    stats = np.full((m, cells.shape[0]), np.nan)
    cdef uint8_t[::1] acc_view = accepted
    cdef double[:, ::1] stats_view = stats
    for i in prange(m, nogil=True, num_threads=n_threads, schedule="dynamic"):
        acc_view[i] = _check_row(num_u, num_v, rows[i], cos_t[i], sin_t[i], coef_u, coef_v,
                                 A, inv_den, cells, stats_view, i)
    return accepted.view(bool), stats


def step_scores(const double[:, ::1] num_u, const double[:, ::1] coef_u,
                const double[:, ::1] A, const double[:, ::1] inv_den, Py_ssize_t j):
    """All step-j scores of the response in row 0, with the arithmetic of :func:`check_event`
    at ``t = 0`` (the greedy selection uses them, so y lies in its own event)."""
    cdef double c[MAX_MOTIFS]
    cdef Py_ssize_t z, G = num_u.shape[1]
    if coef_u.shape[1] > MAX_MOTIFS:
        raise ValueError(f"at most {MAX_MOTIFS} motifs can be selected, got {coef_u.shape[1]}")
    if not (0 <= j < inv_den.shape[0] and j <= coef_u.shape[1] and j <= A.shape[1]
            and num_u.shape[0] >= 1 and coef_u.shape[0] >= 1 and A.shape[0] >= G and inv_den.shape[1] >= G):
        raise ValueError(f"step_scores: step {j} does not fit the shapes of num_u ({num_u.shape[0]}, {num_u.shape[1]}), "
                         f"coef_u ({coef_u.shape[0]}, {coef_u.shape[1]}), A ({A.shape[0]}, {A.shape[1]}) and "
                         f"inv_den ({inv_den.shape[0]}, {inv_den.shape[1]})")
    out = np.empty(G)
    cdef double[::1] out_view = out
    _combine_coefs(coef_u, coef_u, 0, 1.0, 0.0, coef_u.shape[1], c)
    for z in range(num_u.shape[1]):
        out_view[z] = _step_score(num_u, num_u, 0, 1.0, 0.0, A, c, inv_den, j, z)
    return out


cdef enum:
    TOP_CELLS = 8  # strongest competitors examined first: they set the tightest bounds


cdef inline double _target_score(double a, double b, double w, double theta) noexcept nogil:
    cdef double x = a * cos(theta) + b * sin(theta)
    return w * x * x


cdef void _restrict(double at, double bt, double wt, double az, double bz, double wz,
                    double* lo, double* hi) noexcept nogil:
    """Shrink [lo, hi] to the part around 0 where the target's score beats cell z's.

    Along the circle, score_t - score_z = A0 + B0 cos(2t) + C0 sin(2t); it is >= 0 at
    t = 0 (the current point is in the event).
    """
    cdef double A0 = 0.5 * (wt * (at * at + bt * bt) - wz * (az * az + bz * bz))
    cdef double B0 = 0.5 * (wt * (at * at - bt * bt) - wz * (az * az - bz * bz))
    cdef double C0 = wt * at * bt - wz * az * bz
    cdef double R = sqrt(B0 * B0 + C0 * C0)
    cdef double kappa, width, psi
    if A0 >= R:  # never beaten on this circle
        return
    kappa = -A0 / R
    if kappa > 1.0:
        kappa = 1.0
    width = acos(kappa)
    psi = -atan2(C0, B0)  # 2t - phi at t = 0, in [-pi, pi]
    if psi > width:  # rounding: t = 0 is allowed
        psi = width
    elif psi < -width:
        psi = -width
    if 0.5 * (width - psi) < hi[0]:
        hi[0] = 0.5 * (width - psi)
    if -0.5 * (width + psi) > lo[0]:
        lo[0] = -0.5 * (width + psi)


cdef inline void _residual_pair(const double[:, ::1] num_u, const double[:, ::1] num_v,
                                Py_ssize_t r, Py_ssize_t z, const double[:, ::1] A,
                                const double* cu, const double* cv, Py_ssize_t j,
                                double* az, double* bz) noexcept nogil:
    """Step-j numerator of cell z along the circle: ``cos(t) az + sin(t) bz``."""
    cdef Py_ssize_t m
    az[0] = num_u[r, z]
    bz[0] = num_v[r, z]
    for m in range(j):
        az[0] = az[0] - A[z, m] * cu[m]
        bz[0] = bz[0] - A[z, m] * cv[m]


cdef void _component_row(const double[:, ::1] num_u, const double[:, ::1] num_v, Py_ssize_t r,
                         const double[:, ::1] coef_u, const double[:, ::1] coef_v,
                         const double[:, ::1] A, const double[:, ::1] inv_den,
                         const int64_t[::1] cells, double* reach_of, double* lo,
                         double* hi) noexcept nogil:
    """Arc [lo, hi] of one circle; ``reach_of`` is scratch space of one double per cell."""
    cdef Py_ssize_t q = cells.shape[0], G = num_u.shape[1], j, m, z, t, k, slot
    cdef double cu[MAX_MOTIFS]
    cdef double cv[MAX_MOTIFS]
    cdef double at, bt, wt, az, bz, wz, reach, tau, phi
    cdef double top_reach[TOP_CELLS]
    cdef Py_ssize_t top_cell[TOP_CELLS]
    for m in range(q):
        cu[m] = coef_u[r, m]
        cv[m] = coef_v[r, m]
    lo[0] = -M_PI
    hi[0] = M_PI
    for j in range(q):
        t = cells[j]
        _residual_pair(num_u, num_v, r, t, A, cu, cv, j, &at, &bt)
        wt = inv_den[j, t]
        if at == 0.0:
            lo[0] = 0.0
            hi[0] = 0.0
            return
        # The target's own numerator vanishes at phi +- pi/2: the component lies inside.
        phi = atan(bt / at)
        if phi - 0.5 * M_PI > lo[0]:
            lo[0] = phi - 0.5 * M_PI
        if phi + 0.5 * M_PI < hi[0]:
            hi[0] = phi + 0.5 * M_PI
        # Pass 1: the strongest competitors (largest possible score on the circle) first.
        for k in range(TOP_CELLS):
            top_reach[k] = -1.0
            top_cell[k] = -1
        for z in range(G):
            wz = inv_den[j, z]
            if z == t or wz == 0.0:
                continue
            _residual_pair(num_u, num_v, r, z, A, cu, cv, j, &az, &bz)
            reach = wz * (az * az + bz * bz)
            reach_of[z] = reach
            if reach > top_reach[TOP_CELLS - 1]:
                slot = TOP_CELLS - 1
                while slot > 0 and top_reach[slot - 1] < reach:
                    top_reach[slot] = top_reach[slot - 1]
                    top_cell[slot] = top_cell[slot - 1]
                    slot = slot - 1
                top_reach[slot] = reach
                top_cell[slot] = z
        for k in range(TOP_CELLS):
            z = top_cell[k]
            if z < 0:
                break
            _residual_pair(num_u, num_v, r, z, A, cu, cv, j, &az, &bz)
            _restrict(at, bt, wt, az, bz, inv_den[j, z], lo, hi)
        # Pass 2: a cell whose largest score on the circle is below the target's score at
        # both ends of [lo, hi] (its minimum there) cannot beat it inside.
        tau = min(_target_score(at, bt, wt, lo[0]), _target_score(at, bt, wt, hi[0]))
        for z in range(G):
            wz = inv_den[j, z]
            if z == t or wz == 0.0 or reach_of[z] < tau:
                continue
            _residual_pair(num_u, num_v, r, z, A, cu, cv, j, &az, &bz)
            _restrict(at, bt, wt, az, bz, wz, lo, hi)
            tau = min(_target_score(at, bt, wt, lo[0]), _target_score(at, bt, wt, hi[0]))
    if lo[0] > 0.0:
        lo[0] = 0.0
    if hi[0] < 0.0:
        hi[0] = 0.0


def event_arcs(const double[:, ::1] num_u, const double[:, ::1] num_v, const int64_t[::1] rows,
               const double[:, ::1] coef_u, const double[:, ::1] coef_v,
               const double[:, ::1] A, const double[:, ::1] inv_den,
               const int64_t[::1] cells, int n_threads=1):
    """Arc of each great circle ``cos(t) u_r + sin(t) v_r`` that stays in the event around t = 0.

    Every cell's constraint along a circle is ``A0 + B0 cos 2t + C0 sin 2t >= 0``, so the
    connected part of the event that holds the current point (t = 0) is an interval
    ``[lo, hi]`` computed exactly; cells that cannot reach the target's score inside the
    current interval are skipped.

    Returns
    -------
    lo, hi : (m,) float64
        ``lo <= 0 <= hi``.
    """
    cdef Py_ssize_t m = rows.shape[0], i
    if cells.shape[0] > MAX_MOTIFS:
        raise ValueError(f"at most {MAX_MOTIFS} motifs can be selected")
    lo = np.zeros(m)
    hi = np.zeros(m)
    scratch = np.empty((max(m, 1), num_u.shape[1]))
    cdef double[::1] lo_view = lo
    cdef double[::1] hi_view = hi
    cdef double[:, ::1] scratch_view = scratch
    for i in prange(m, nogil=True, num_threads=n_threads, schedule="dynamic"):
        _component_row(num_u, num_v, rows[i], coef_u, coef_v, A, inv_den, cells,
                       &scratch_view[i, 0], &lo_view[i], &hi_view[i])
    return lo, hi


cdef void _target_row(const double[:, ::1] num_u, const double[:, ::1] num_v, Py_ssize_t r,
                      double cs, double sn, const double[:, ::1] coef_u, const double[:, ::1] coef_v,
                      const double[:, ::1] A, const double[:, ::1] inv_den, const int64_t[::1] cells,
                      double[:, ::1] stats, Py_ssize_t out) noexcept nogil:
    cdef double c[MAX_MOTIFS]
    cdef Py_ssize_t j, q = cells.shape[0]
    _combine_coefs(coef_u, coef_v, r, cs, sn, q, c)
    for j in range(q):
        stats[out, j] = _step_score(num_u, num_v, r, cs, sn, A, c, inv_den, j, cells[j])


cdef inline void _rotate(double* a, const double* b, Py_ssize_t n, double cs, double sn) noexcept nogil:
    """``a = cs * a + sn * b`` in place: one row's move along a great circle."""
    cdef Py_ssize_t j
    for j in range(n):
        a[j] = cs * a[j] + sn * b[j]


def rotate_rows(double[:, ::1] u, const double[:, ::1] v, const long long[::1] rows,
                const double[::1] cos_t, const double[::1] sin_t, int n_threads=1):
    """In place, for each i: ``u[r] = cos_t[i] * u[r] + sin_t[i] * v[r]`` with ``r = rows[i]``.

    Used for the points, their grid numerators and their coefficients alike:
    all are linear in the response, so a move along a great circle is the same
    combination of the two endpoints' values. Only the listed rows are touched.
    """
    cdef Py_ssize_t m = rows.shape[0], i, r
    for i in prange(m, nogil=True, num_threads=n_threads, schedule="static"):
        r = rows[i]
        if u.shape[1]:
            _rotate(&u[r, 0], &v[r, 0], u.shape[1], cos_t[i], sin_t[i])


cdef void _certified_move(double[:, ::1] u, const double[:, ::1] v, double[:, ::1] num_u,
                          const double[:, ::1] num_v, double[:, ::1] coef_u, const double[:, ::1] coef_v,
                          Py_ssize_t r, double cs, double sn, const double[:, ::1] A,
                          const double[:, ::1] inv_den, const int64_t[::1] cells, double[:, ::1] stats,
                          Py_ssize_t out) noexcept nogil:
    """Walker r to ``cs u + sn v`` (certified in the event): statistics into ``stats[out]``, then
    its point, grid numerators and coefficients rotated in place."""
    _target_row(num_u, num_v, r, cs, sn, coef_u, coef_v, A, inv_den, cells, stats, out)
    _rotate(&u[r, 0], &v[r, 0], u.shape[1], cs, sn)
    _rotate(&num_u[r, 0], &num_v[r, 0], num_u.shape[1], cs, sn)
    if coef_u.shape[1]:
        _rotate(&coef_u[r, 0], &coef_v[r, 0], coef_u.shape[1], cs, sn)


def certified_moves(double[:, ::1] u, const double[:, ::1] v, double[:, ::1] num_u,
                    const double[:, ::1] num_v, double[:, ::1] coef_u, const double[:, ::1] coef_v,
                    const int64_t[::1] rows, const double[::1] cos_t, const double[::1] sin_t,
                    const double[:, ::1] A, const double[:, ::1] inv_den, const int64_t[::1] cells,
                    int n_threads=1):
    """Move each listed walker to its point ``cos_t u + sin_t v``, certified in the event by an exact arc.

    One parallel region per lockstep step: for each walker, the statistics at the
    new point (the step scores of the selected cells, as :func:`check_event`
    computes them for an accepted candidate, without the scan over the grid),
    then its point, grid numerators and coefficients rotated in place (as
    :func:`rotate_rows`): the arithmetic of those calls, in the same order.
    """
    cdef Py_ssize_t m = rows.shape[0], q = cells.shape[0], i, r
    if q > MAX_MOTIFS:
        raise ValueError(f"at most {MAX_MOTIFS} motifs can be selected")
    stats = np.empty((m, q))
    cdef double[:, ::1] stats_view = stats
    for i in prange(m, nogil=True, num_threads=n_threads, schedule="static"):
        _certified_move(u, v, num_u, num_v, coef_u, coef_v, rows[i], cos_t[i], sin_t[i], A, inv_den, cells,
                        stats_view, i)
    return stats


def move_and_restart(double[:, ::1] u, double[:, ::1] v, double[:, ::1] num_u, double[:, ::1] num_v,
                     double[:, ::1] coef_u, double[:, ::1] coef_v,
                     const int64_t[::1] moving, const double[::1] cos_t, const double[::1] sin_t,
                     const int64_t[::1] restarting, double[:, ::1] normals, const double[::1] fractions,
                     const double[::1, :] covariates, const double[::1, :] covariates_t,
                     const double[::1, :] event_basis, double[::1] theta, double[::1] lower,
                     double[::1] upper, double[::1] arc_lo, double[::1] arc_hi, double arc_margin,
                     const double[:, ::1] A, const double[:, ::1] inv_den, const int64_t[::1] cells,
                     const long long[::1] indptr, const long long[::1] indices, const double[::1] data,
                     Py_ssize_t k, double diag, double off, const long long[:, ::1] t_indptr,
                     const int[::1] t_indices, const float[::1] t_data, Py_ssize_t chunk,
                     const int64_t[::1] t_mirror, int n_threads=1):
    """One lockstep iteration of the great-circle walkers, in one parallel region.

    1. Each walker in ``moving`` goes to ``cos_t u + sin_t v``, certified in the event
       by its exact arc (as :func:`certified_moves`; statistics returned).
    2. Each walker in ``restarting`` gets a new circle: its row of ``normals``
       (standard normal draws) is projected off the covariates (orthonormal
       ``covariates``, n x p, and its transpose), scaled to unit norm, made
       orthogonal to the walker's new point (as
       :func:`seism_stats.sampling.walkers.sphere_points` and :func:`_sphere.orthonormal_directions`)
       and stored in ``v``; its coefficients on ``event_basis`` go to ``coef_v``.
    3. Its grid numerators (the transform of :func:`_kron.project_rows`, C^T by
       chunks when ``t_indptr`` is given, its non-canonical cells copied from ``t_mirror``
       when given) go straight to its row of ``num_v``.
    4. Its exact arc ``[lower, upper]`` (as :func:`event_arcs`), the arc shrunk by
       ``arc_margin`` (``arc_lo, arc_hi``) and its next angle ``theta = lower +
       fraction * (upper - lower)``.

    Every number is computed with the arithmetic of those functions, in the same
    order (NumPy's pairwise sum for the norm), so the walkers' paths are those of
    the separate calls, whatever ``n_threads``. The phases are loops of one
    OpenMP region, with an explicit barrier between them, instead of a region
    each. ``normals`` is overwritten by the directions.

    Returns
    -------
    stats : (len(moving), q) float64
    parallel : (len(restarting),) bool
        Directions numerically parallel to the point (probability 0): left at 0,
        to be drawn again by the caller.
    """
    cdef Py_ssize_t m = moving.shape[0], R = restarting.shape[0], n = u.shape[1], G = num_u.shape[1]
    cdef Py_ssize_t q = cells.shape[0], p = covariates.shape[1], nb, n_blocks, width
    cdef Py_ssize_t i, j, r, b, r0
    cdef bint gather
    cdef double norm
    cdef double* work
    if q > MAX_MOTIFS:
        raise ValueError(f"at most {MAX_MOTIFS} motifs can be selected")
    if G != (<Py_ssize_t>1) << (2 * k) or cos_t.shape[0] != m or sin_t.shape[0] != m:
        raise ValueError(f"{G} numerators per row for k = {k}, {m} walkers moving, "
                         f"{cos_t.shape[0]} cosines, {sin_t.shape[0]} sines")
    if normals.shape[0] != R or normals.shape[1] != n or fractions.shape[0] != R:
        raise ValueError(f"{R} walkers restarting: normals {normals.shape[0]} x {normals.shape[1]}, "
                         f"{fractions.shape[0]} fractions")
    if (covariates.shape[0] != n or covariates_t.shape[0] != p or covariates_t.shape[1] != n
            or event_basis.shape[0] != n or event_basis.shape[1] != q):
        raise ValueError("the covariate and event bases do not match the walkers' dimension")
    gather = gathers(k, n, t_indptr, t_indices, t_data, chunk, t_mirror)
    cdef const int64_t* mirror = mirror_pointer(t_mirror)
    n_threads = max(1, n_threads)
    nb = block_rows(max(R, 1), n_threads, G, gather)
    n_blocks = (R + nb - 1) // nb
    stats = np.empty((m, q))
    parallel_rows = np.zeros(R, dtype=np.uint8)
    lo = np.empty(R)
    hi = np.empty(R)
    # One row of scratch per thread: the arcs' reach of each cell, the direction's
    # covariate coefficients and projection, or the transform's block buffer.
    scratch = np.empty((n_threads, max(G, 2 * n + p, block_buffer_doubles(G, n, chunk, nb, gather))))
    cdef double[:, ::1] stats_view = stats
    cdef uint8_t[::1] parallel_view = parallel_rows
    cdef double[::1] lo_view = lo
    cdef double[::1] hi_view = hi
    cdef double[:, ::1] scratch_view = scratch
    cdef const int64_t* restart_rows = &restarting[0] if R else NULL
    with nogil, parallel(num_threads=n_threads):
        # Cython's prange inside parallel() is an "omp for nowait": the phases are separated by
        # explicit barriers (which also order one loop's lastprivate write-back of its loop
        # variables before the next loop's firstprivate copies).
        work = &scratch_view[threadid(), 0]
        for i in prange(m, schedule="static"):
            _certified_move(u, v, num_u, num_v, coef_u, coef_v, moving[i], cos_t[i], sin_t[i], A, inv_den,
                            cells, stats_view, i)
        omp_barrier()  # phase 2 orthogonalises against the moved points
        for i in prange(R, schedule="static"):
            r = restarting[i]
            if p:
                basis_dots_row(&normals[i, 0], covariates, work)
                basis_dots_row(work, covariates_t, &work[p])
                for j in range(n):
                    normals[i, j] = normals[i, j] - work[p + j]
            for j in range(n):
                work[j] = normals[i, j] * normals[i, j]
            norm = sqrt(pairwise_sum(work, n))
            for j in range(n):
                normals[i, j] = normals[i, j] / norm
            parallel_view[i] = orthonormalize_row(&normals[i, 0], &u[r, 0], n)
            for j in range(n):
                v[r, j] = normals[i, j]
            basis_dots_row(&normals[i, 0], event_basis, &coef_v[r, 0])
        omp_barrier()  # phase 3 transforms the finished directions
        for b in prange(n_blocks, schedule="static"):
            r0 = b * nb
            width = min(nb, R - r0)
            transform_block(&num_v[0, 0], G, restart_rows, r0, width, normals, indptr, indices, data, k, diag,
                            off, gather, t_indptr, t_indices, t_data, chunk, mirror, work)
        omp_barrier()  # phase 4 reads every restarting walker's numerators and coefficients
        for i in prange(R, schedule="dynamic"):
            r = restarting[i]
            _component_row(num_u, num_v, r, coef_u, coef_v, A, inv_den, cells, work, &lo_view[i], &hi_view[i])
            theta[r] = lo_view[i] + fractions[i] * (hi_view[i] - lo_view[i])
            lower[r] = lo_view[i]
            upper[r] = hi_view[i]
            arc_lo[r] = lo_view[i] + arc_margin
            arc_hi[r] = hi_view[i] - arc_margin
    return stats, parallel_rows.view(bool)


cdef void _side_bounds(const double* c0, const double* c1, const double* c2, Py_ssize_t n_cells,
                       Py_ssize_t selected, double sign, double z, double* lo, double* hi) noexcept nogil:
    """Ends of the x-interval where ``sign * L_s(x) >= |L_c(x)|`` for every cell (empty: hi <= lo).

    ``L_c(x) = c0[c] + c1[c] x + c2[c] z``; each constraint ``sign L_s -/+ L_c >= 0``
    is a half-line in x. The scan stops as soon as the interval is empty, so the ends
    of an empty interval are not the same numbers as a full scan's (only hi <= lo is).
    """
    cdef double own_a = sign * (c0[selected] + c2[selected] * z)
    cdef double own_c = sign * c1[selected]
    cdef double low = -INFINITY, high = INFINITY
    cdef double la, lc, a, c, root
    cdef Py_ssize_t cell, side
    for cell in range(-1, n_cells):
        if cell < 0:  # the side itself: sign * L_s >= 0
            la = 0.0
            lc = 0.0
        else:
            la = c0[cell] + c2[cell] * z
            lc = c1[cell]
        for side in range(2):
            if side == 0:
                a = own_a - la
                c = own_c - lc
            else:
                a = own_a + la
                c = own_c + lc
            if c > 0:
                root = -a / c
                if root > low:
                    low = root
            elif c < 0:
                root = -a / c
                if root < high:
                    high = root
            elif a < 0:
                high = -INFINITY
        if high <= low:  # empty already: more constraints keep it empty (callers test hi > lo only)
            break
    lo[0] = low
    hi[0] = high


def side_bounds(const double[:, ::1] lines, Py_ssize_t selected, double sign, const double[::1] zs,
                int n_threads=1):
    """For every ``z`` in ``zs``: ``lo, hi`` of the x-interval where ``sign * L_s >= |L_c|`` for all cells.

    Used by :func:`seism_stats.selection.geometry.line_event_segments` (selective
    intervals) and the tail estimate; max and min are exact, so the result does
    not depend on the number of threads.
    """
    cdef Py_ssize_t n = zs.shape[0], i
    lo = np.empty(n, dtype=np.float64)
    hi = np.empty(n, dtype=np.float64)
    cdef double[::1] lo_view = lo
    cdef double[::1] hi_view = hi
    cdef Py_ssize_t n_cells = lines.shape[1]
    if lines.shape[0] != 3 or not 0 <= selected < n_cells:
        raise ValueError(f"lines must be 3 x cells with the selected cell inside, got {lines.shape[0]} x {n_cells}")
    for i in prange(n, nogil=True, num_threads=n_threads, schedule="static"):
        _side_bounds(&lines[0, 0], &lines[1, 0], &lines[2, 0], n_cells, selected, sign, zs[i],
                     &lo_view[i], &hi_view[i])
    return lo, hi


def step_side_bounds_rows(const double[:, ::1] numerators, const double[:, ::1] coefficients,
                          const double[:, ::1] cross_t, Py_ssize_t n_earlier, const int64_t[::1] cells,
                          const double[::1] scale, const double[::1] slopes, Py_ssize_t selected,
                          const uint8_t[::1] active, int n_threads=1):
    """:func:`side_bounds` at ``z = 0`` for many rows of step s, both signs, the step lines made row by row.

    Row r's line of competing cell ``cells[i]`` at step s (``n_earlier`` = s
    motifs before it) is ``(numerators[r, cell] - sum_{m<s} coefficients[r, m]
    cross_t[m, cell]) * scale[i] + slopes[i] x`` (as
    :func:`seism_stats.selection.geometry.step_lines`, without its (R, cells) temporaries):
    each thread builds one row's line in its own buffer and runs the two sides on
    it. Rows whose ``active`` flag is 0 are skipped (both sides empty: lo = inf,
    hi = -inf). Returns ``lo, hi`` (R, 2): column 0 for ``sign = +1``, column 1 for -1.
    """
    cdef Py_ssize_t rows = numerators.shape[0], n_cells = cells.shape[0], r, t
    if scale.shape[0] != n_cells or slopes.shape[0] != n_cells or not 0 <= selected < n_cells:
        raise ValueError(f"{n_cells} cells, {scale.shape[0]} scales, {slopes.shape[0]} slopes, selected {selected}")
    if active.shape[0] != rows:
        raise ValueError(f"{active.shape[0]} active flags for {rows} rows")
    check_step_line_inputs(numerators, coefficients, cross_t, n_earlier, cells)
    n_threads = max(1, min(n_threads, rows))
    lo = np.empty((rows, 2), dtype=np.float64)
    hi = np.empty((rows, 2), dtype=np.float64)
    buffer = np.empty((n_threads, n_cells), dtype=np.float64)  # one row's lines per thread
    cdef double[:, ::1] lo_view = lo
    cdef double[:, ::1] hi_view = hi
    cdef double[:, ::1] line = buffer
    cdef Py_ssize_t chunk = (rows + n_threads - 1) // n_threads
    cdef Py_ssize_t first, last
    if rows == 0:
        return lo, hi
    for t in prange(n_threads, nogil=True, num_threads=n_threads, schedule="static"):
        first = t * chunk
        last = min(rows, first + chunk)
        for r in range(first, last):
            if not active[r]:
                lo_view[r, 0] = INFINITY
                lo_view[r, 1] = INFINITY
                hi_view[r, 0] = -INFINITY
                hi_view[r, 1] = -INFINITY
                continue
            step_line(&numerators[r, 0], &coefficients[r, 0], cross_t, n_earlier, cells, scale, &line[t, 0])
            _side_bounds(&line[t, 0], &slopes[0], &slopes[0], n_cells, selected, 1.0, 0.0,
                         &lo_view[r, 0], &hi_view[r, 0])
            _side_bounds(&line[t, 0], &slopes[0], &slopes[0], n_cells, selected, -1.0, 0.0,
                         &lo_view[r, 1], &hi_view[r, 1])
    return lo, hi
