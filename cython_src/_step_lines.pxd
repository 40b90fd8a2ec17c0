# The step lines of the greedy selection's replay, shared between the Cython modules of seism_stats
# (defined inline: each module that cimports it compiles its own copy).

from libc.stdint cimport int64_t


cdef inline void step_line(const double* num, const double* coef, const double[:, ::1] cross_t,
                           Py_ssize_t n_earlier, const int64_t[::1] cells, const double[::1] scale,
                           double* out) noexcept nogil:
    """Step lines ``(num[c] - sum_{m<s} coef[m] cross[c, m]) * scale`` of one row, for the competing cells."""
    cdef Py_ssize_t i, m
    cdef int64_t cell
    cdef double acc
    for i in range(cells.shape[0]):
        cell = cells[i]
        acc = 0.0
        for m in range(n_earlier):
            acc = acc + coef[m] * cross_t[m, cell]
        out[i] = (num[cell] - acc) * scale[i]


cdef inline int check_step_line_inputs(const double[:, ::1] numerators, const double[:, ::1] coefficients,
                                       const double[:, ::1] cross_t, Py_ssize_t n_earlier,
                                       const int64_t[::1] cells) except -1:
    """Raise ``ValueError`` unless :func:`step_line` can read rows of these arrays at step ``n_earlier``."""
    cdef Py_ssize_t i, rows = numerators.shape[0]
    cdef int64_t low = 0, high = 0
    if n_earlier > coefficients.shape[1] or n_earlier > cross_t.shape[0] or coefficients.shape[0] != rows:
        raise ValueError(f"step after {n_earlier} motifs: coefficients {coefficients.shape[0]} x "
                         f"{coefficients.shape[1]}, cross {cross_t.shape[0]} x {cross_t.shape[1]}")
    for i in range(cells.shape[0]):
        if i == 0 or cells[i] < low:
            low = cells[i]
        if i == 0 or cells[i] > high:
            high = cells[i]
    if cells.shape[0] and (low < 0 or high >= min(numerators.shape[1], cross_t.shape[1])):
        raise ValueError("a cell index is outside the numerators or the cross products")
    return 0
