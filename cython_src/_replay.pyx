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

from cython.parallel cimport prange
from libc.stdint cimport int64_t, uint8_t

import numpy as np

cdef enum:
    MAX_MOTIFS = 64

MAX_SELECTED = MAX_MOTIFS


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


cdef Py_ssize_t _argmax_step(const double[:, ::1] num_u, const double[:, ::1] num_v,
                             Py_ssize_t r, double cs, double sn,
                             const double[:, ::1] A, const double* c,
                             const double[:, ::1] inv_den, Py_ssize_t j) noexcept nogil:
    cdef Py_ssize_t z, best = 0
    cdef double s, best_score = -1.0
    for z in range(num_u.shape[1]):
        s = _step_score(num_u, num_v, r, cs, sn, A, c, inv_den, j, z)
        if s > best_score:
            best_score = s
            best = z
    return best


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


def argmax_step(const double[:, ::1] num_u, const double[:, ::1] coef_u,
                const double[:, ::1] A, const double[:, ::1] inv_den, Py_ssize_t j):
    """Cell maximising the step-j score for the single response in row 0.

    Uses the same arithmetic as :func:`check_event` at ``t = 0``, so the
    observed response always lies in its own selection event.
    """
    cdef double c[MAX_MOTIFS]
    if coef_u.shape[1] > MAX_MOTIFS:
        raise ValueError(f"at most {MAX_MOTIFS} motifs can be selected")
    _combine_coefs(coef_u, coef_u, 0, 1.0, 0.0, coef_u.shape[1], c)
    return _argmax_step(num_u, num_u, 0, 1.0, 0.0, A, c, inv_den, j)


def step_scores(const double[:, ::1] num_u, const double[:, ::1] coef_u,
                const double[:, ::1] A, const double[:, ::1] inv_den, Py_ssize_t j):
    """All step-j scores of the response in row 0 (for reporting and tests)."""
    cdef double c[MAX_MOTIFS]
    cdef Py_ssize_t z
    out = np.empty(num_u.shape[1])
    cdef double[::1] out_view = out
    _combine_coefs(coef_u, coef_u, 0, 1.0, 0.0, coef_u.shape[1], c)
    for z in range(num_u.shape[1]):
        out_view[z] = _step_score(num_u, num_u, 0, 1.0, 0.0, A, c, inv_den, j, z)
    return out
