# The Kronecker transform's typed kernels (K (C^T w) for blocks of responses), shared
# between the Cython modules of seism_stats. Defined inline here: each module that
# cimports them compiles its own copy, so no module imports another at run time.

from libc.stdint cimport int64_t
from libc.string cimport memset


cdef enum:
    BLOCK_ROWS = 8  # responses summed together: one cache line of 8 doubles per non-zero
    BLOCK_BYTES = 1 << 20  # the scatter's block buffer stays in a core's L2 cache


cdef inline void mode_block(double* row, Py_ssize_t base, Py_ssize_t stride, double diag,
                            double off) noexcept nogil:
    """One mode product on the block of ``4 * stride`` entries starting at ``base``."""
    cdef Py_ssize_t i, p
    cdef double a0, a1, a2, a3, s
    for i in range(stride):
        p = base + i
        a0 = row[p]
        a1 = row[p + stride]
        a2 = row[p + 2 * stride]
        a3 = row[p + 3 * stride]
        s = off * (a0 + a1 + a2 + a3)
        row[p] = diag * a0 + s
        row[p + stride] = diag * a1 + s
        row[p + 2 * stride] = diag * a2 + s
        row[p + 3 * stride] = diag * a3 + s


cdef inline void kron_apply_row(double* row, Py_ssize_t k, double diag, double off) noexcept nogil:
    """Apply ``K1 (x) ... (x) K1`` in place to a vector of length 4^k."""
    cdef Py_ssize_t n_cells = (<Py_ssize_t>1) << (2 * k)
    cdef Py_ssize_t stride = 1, block, nb
    cdef Py_ssize_t mode
    for mode in range(k):
        block = 4 * stride
        for nb in range(n_cells // block):
            mode_block(row, nb * block, stride, diag, off)
        stride = block


cdef inline void scatter_weighted_block(double* buf, Py_ssize_t n_cells, Py_ssize_t nb,
                                        const double[:, ::1] weights, Py_ssize_t r0,
                                        const long long[::1] indptr, const long long[::1] indices,
                                        const double[::1] data) noexcept nogil:
    """Set ``buf[z * nb + b] = sum_i weights[r0 + b, i] * C[i, z]`` for ``b < nb``.

    The ``nb`` responses of a block share each k-mer's cache line, so the sparse
    product pays one random access per non-zero instead of one per response.
    Each response's sums are accumulated in the same order whatever ``nb`` is.
    """
    cdef Py_ssize_t i, p, b, z
    cdef double c
    cdef double w[BLOCK_ROWS]
    memset(buf, 0, n_cells * nb * sizeof(double))
    for i in range(weights.shape[1]):
        for b in range(nb):
            w[b] = weights[r0 + b, i]
        for p in range(indptr[i], indptr[i + 1]):
            c = data[p]
            z = indices[p] * nb
            for b in range(nb):
                buf[z + b] += c * w[b]


cdef inline void gather_weighted_block(double** dst, Py_ssize_t nb, double* w,
                                       const double[:, ::1] weights, Py_ssize_t r0,
                                       const long long[:, ::1] t_indptr, const int[::1] t_indices,
                                       const float[::1] t_data, Py_ssize_t chunk) noexcept nogil:
    """Set ``dst[b][z] = sum_i weights[r0 + b, i] * C[i, z]`` for ``b < nb``.

    ``C^T`` is stored by chunks of ``chunk`` sequences: row ``c`` of ``t_indptr``
    gives, for each k-mer z, the range of ``t_indices`` (sequence numbers within
    chunk c, increasing) and ``t_data`` (counts). Each sum is accumulated from 0
    in increasing ``i``, chunk after chunk (the partial sum is kept in ``dst``
    between chunks): the same operations, in the same order, as scattering the
    rows of ``C`` into a zeroed buffer. A chunk's ``nb`` responses are first
    interleaved into ``w`` (``chunk * nb`` doubles, sized to stay in L2), so each
    non-zero reads one cache line that is in cache.
    """
    cdef Py_ssize_t n = weights.shape[1], n_cells = t_indptr.shape[1] - 1
    cdef Py_ssize_t i, p, b, z, part, first, width
    cdef double c
    cdef double acc[BLOCK_ROWS]
    cdef double* wi
    for part in range(t_indptr.shape[0]):
        first = part * chunk
        width = min(chunk, n - first)
        for i in range(width):
            for b in range(nb):
                w[i * nb + b] = weights[r0 + b, first + i]
        for z in range(n_cells):
            for b in range(nb):
                acc[b] = 0.0 if part == 0 else dst[b][z]
            for p in range(t_indptr[part, z], t_indptr[part, z + 1]):
                c = t_data[p]
                wi = &w[t_indices[p] * nb]
                for b in range(nb):
                    acc[b] += c * wi[b]
            for b in range(nb):
                dst[b][z] = acc[b]


cdef inline Py_ssize_t block_rows(Py_ssize_t R, int n_threads, Py_ssize_t n_cells, bint gather) noexcept nogil:
    """Responses per block of the transform: all threads busy; for the scatter, the
    block buffer (n_cells x rows doubles) within BLOCK_BYTES so that it stays in cache
    (the gather keeps its interleaved weights in cache by chunks of sequences instead)."""
    cdef Py_ssize_t nb = max(1, min(<Py_ssize_t>BLOCK_ROWS, (R + n_threads - 1) // n_threads))
    if not gather:
        nb = max(1, min(nb, BLOCK_BYTES // (n_cells * <Py_ssize_t>sizeof(double))))
    return nb


cdef inline Py_ssize_t block_buffer_doubles(Py_ssize_t n_cells, Py_ssize_t n, Py_ssize_t chunk,
                                            Py_ssize_t nb, bint gather) noexcept nogil:
    """Doubles of scratch one block of ``nb`` responses needs in :func:`transform_block`."""
    return (max(min(chunk, n), 1) if gather else n_cells) * nb


cdef inline void transform_block(double* out, Py_ssize_t out_stride, const int64_t* out_rows,
                                 Py_ssize_t r0, Py_ssize_t width, const double[:, ::1] weights,
                                 const long long[::1] indptr, const long long[::1] indices,
                                 const double[::1] data, Py_ssize_t k, double diag, double off,
                                 bint gather, const long long[:, ::1] t_indptr, const int[::1] t_indices,
                                 const float[::1] t_data, Py_ssize_t chunk, double* buf) noexcept nogil:
    """``K (C^T weights[r0 + b])`` for ``b < width``, into row ``out_rows[r0 + b]`` of ``out``.

    ``out`` has rows of ``out_stride`` doubles (4^k used); ``out_rows`` NULL means
    row ``r0 + b``. The sparse product gathers from ``C^T`` (``gather``) or scatters
    the rows of C into ``buf``; ``buf`` holds :func:`block_buffer_doubles` doubles.
    A row's result does not depend on the block it falls in, nor on the path.
    """
    cdef Py_ssize_t n_cells = (<Py_ssize_t>1) << (2 * k), b, z
    cdef double* dst[BLOCK_ROWS]
    for b in range(width):
        dst[b] = out + (out_rows[r0 + b] if out_rows != NULL else r0 + b) * out_stride
    if gather:
        gather_weighted_block(dst, width, buf, weights, r0, t_indptr, t_indices, t_data, chunk)
    else:
        scatter_weighted_block(buf, n_cells, width, weights, r0, indptr, indices, data)
        for z in range(n_cells):  # one sweep over the buffer fills the block's rows
            for b in range(width):
                dst[b][z] = buf[z * width + b]
    for b in range(width):
        kron_apply_row(dst[b], k, diag, off)
