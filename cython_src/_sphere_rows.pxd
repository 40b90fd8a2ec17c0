# Row kernels of the residual sphere, shared between the Cython modules of seism_stats
# (defined inline: each module that cimports them compiles its own copy).

from libc.math cimport sqrt


cdef inline void basis_dots_row(const double* point, const double[::1, :] basis, double* out) noexcept nogil:
    """``out[j] = sum_i point[i] * basis[i, j]``, each sum in increasing i."""
    cdef Py_ssize_t n = basis.shape[0], i, j
    cdef double acc
    for j in range(basis.shape[1]):
        acc = 0.0
        for i in range(n):
            acc = acc + point[i] * basis[i, j]
        out[j] = acc


cdef inline bint orthonormalize_row(double* g, const double* u, Py_ssize_t n) noexcept nogil:
    """Make ``g`` a unit vector orthogonal to the unit vector ``u`` (in place).

    Returns True, with ``g`` set to 0, when ``g`` is (numerically) parallel to ``u``.
    """
    cdef Py_ssize_t i
    cdef double dot = 0.0, norm = 0.0
    for i in range(n):
        dot = dot + g[i] * u[i]
    for i in range(n):
        g[i] = g[i] - dot * u[i]
        norm = norm + g[i] * g[i]
    norm = sqrt(norm)
    if norm < 1e-12:
        for i in range(n):
            g[i] = 0.0
        return True
    for i in range(n):
        g[i] = g[i] / norm
    return False
