"""Great-circle moves on the unit sphere of the residual space (SPEC section 5)."""

from cython.parallel cimport prange

from _sphere_rows cimport basis_dots_row, orthonormalize_row

import numpy as np


def orthonormal_directions(double[:, ::1] g, const double[:, ::1] u):
    """Turn each row of ``g`` into a unit vector orthogonal to the row of ``u`` (in place).

    ``g`` must already lie in the residual space; ``u`` rows are unit vectors.
    Rows of ``g`` that are (numerically) parallel to ``u`` are left at zero and
    reported in the returned mask so the caller can redraw them.
    """
    cdef Py_ssize_t R = g.shape[0], n = g.shape[1], r
    if u.shape[0] != R or u.shape[1] != n:
        raise ValueError(f"g is {R} x {n} but u is {u.shape[0]} x {u.shape[1]}")
    bad = np.zeros(R, dtype=np.uint8)
    cdef unsigned char[::1] bad_view = bad
    if n == 0:
        bad[:] = 1
        return bad.view(bool)
    with nogil:
        for r in range(R):
            bad_view[r] = orthonormalize_row(&g[r, 0], &u[r, 0], n)
    return bad.view(bool)


def row_dots(const double[:, ::1] points, const double[::1, :] basis, int n_threads=1):
    """Return ``points @ basis`` summed in a fixed order per row.

    A BLAS product may round a row differently depending on how many rows are
    multiplied at once; this kernel does not, so chains give the same numbers
    whether they run together or in separate processes.
    """
    cdef Py_ssize_t m = points.shape[0], n = points.shape[1], q = basis.shape[1], r
    out = np.zeros((m, q))
    cdef double[:, ::1] out_view = out
    if basis.shape[0] != n:
        raise ValueError(f"shapes {points.shape[0], n} and {basis.shape[0], q} do not align")
    if n == 0 or q == 0:
        return out
    for r in prange(m, nogil=True, num_threads=n_threads, schedule="static"):
        basis_dots_row(&points[r, 0], basis, &out_view[r, 0])
    return out
