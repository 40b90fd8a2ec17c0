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
