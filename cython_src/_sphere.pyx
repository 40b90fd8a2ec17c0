"""Great-circle moves on the unit sphere of the residual space (SPEC section 5)."""

from cython.parallel cimport prange
from libc.math cimport sqrt

import numpy as np


def orthonormal_directions(double[:, ::1] g, const double[:, ::1] u):
    """Turn each row of ``g`` into a unit vector orthogonal to the row of ``u`` (in place).

    ``g`` must already lie in the residual space; ``u`` rows are unit vectors.
    Rows of ``g`` that are (numerically) parallel to ``u`` are left at zero and
    reported in the returned mask so the caller can redraw them.
    """
    cdef Py_ssize_t R = g.shape[0], n = g.shape[1], r, i
    cdef double dot, norm
    bad = np.zeros(R, dtype=np.uint8)
    cdef unsigned char[::1] bad_view = bad
    with nogil:
        for r in range(R):
            dot = 0.0
            for i in range(n):
                dot = dot + g[r, i] * u[r, i]
            norm = 0.0
            for i in range(n):
                g[r, i] = g[r, i] - dot * u[r, i]
                norm = norm + g[r, i] * g[r, i]
            norm = sqrt(norm)
            if norm < 1e-12:
                bad_view[r] = 1
                for i in range(n):
                    g[r, i] = 0.0
            else:
                for i in range(n):
                    g[r, i] = g[r, i] / norm
    return bad.view(bool)


def row_dots(const double[:, ::1] points, const double[::1, :] basis, int n_threads=1):
    """Return ``points @ basis`` summed in a fixed order per row.

    A BLAS product may round a row differently depending on how many rows are
    multiplied at once; this kernel does not, so chains give the same numbers
    whether they run together or in separate processes.
    """
    cdef Py_ssize_t m = points.shape[0], n = points.shape[1], q = basis.shape[1], r, i, j
    cdef double acc
    out = np.zeros((m, q))
    cdef double[:, ::1] out_view = out
    if basis.shape[0] != n:
        raise ValueError(f"shapes {points.shape[0], n} and {basis.shape[0], q} do not align")
    for r in prange(m, nogil=True, num_threads=n_threads, schedule="static"):
        for j in range(q):
            acc = 0.0
            for i in range(n):
                acc = acc + points[r, i] * basis[i, j]
            out_view[r, j] = acc
    return out
