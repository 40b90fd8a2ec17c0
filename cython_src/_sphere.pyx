"""Great-circle moves on the unit sphere of the residual space (SPEC section 5)."""

from cython.parallel cimport prange
from libc.math cimport sqrt

import numpy as np


def rotate(const double[:, ::1] u, const double[:, ::1] v, const double[::1] cos_t,
           const double[::1] sin_t, int n_threads=1):
    """Return rows ``cos_t[r] * u[r] + sin_t[r] * v[r]``."""
    cdef Py_ssize_t R = u.shape[0], n = u.shape[1], r, i
    out = np.empty((R, n))
    cdef double[:, ::1] out_view = out
    for r in prange(R, nogil=True, num_threads=n_threads, schedule="static"):
        for i in range(n):
            out_view[r, i] = cos_t[r] * u[r, i] + sin_t[r] * v[r, i]
    return out


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
