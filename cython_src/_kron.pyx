"""Kronecker mode products over the 4^k k-mer tensor (SPEC section 7).

For the Hamming-exponential kernel, the feature matrix is ``Phi = C K`` with
``K = K1 (x) ... (x) K1`` and ``K1 = diag * I + off * 1 1^T``. Applying ``K`` to a
vector of length 4^k is k mode products, each touching every entry once, so
``Phi^T u = K (C^T u)`` never forms the dense n x 4^k matrix.
"""

from cython.parallel cimport prange
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from libc.stdint cimport int64_t
from _transform cimport (BLOCK_BYTES, BLOCK_ROWS, block_buffer_doubles, block_rows, gathers, kron_apply_row,
                        mirror_pointer, mode_block, transform_block)

import numpy as np


cdef void kron_apply_sparse_row(double* row, Py_ssize_t k, double diag, double off,
                                const long long* support, Py_ssize_t n_support,
                                long long* prefixes) noexcept nogil:
    """``kron_apply_row`` for a row that is zero outside ``support`` (sorted, ascending).

    Mode ``m`` mixes cells only within aligned blocks of ``4^(m+1)`` cells, so
    while the non-zeros are few only the blocks that hold one (prefix ``cell >>
    2(m+1)`` of a support cell) are visited. Each visited cell gets the same
    operations, in the same order, as in ``kron_apply_row``, and the cells skipped
    are exact zeros there too, so the result is bit for bit the same. A sequence
    of length L has at most L k-mers (2L with both strands), so most blocks of
    the first modes are empty: at L = 200 a row costs 1.6x less at k = 8 and
    1.8x less at k = 10. (Running the first modes tile by tile in L2 gained
    nothing more.) ``prefixes`` is scratch space for ``n_support`` indices.
    """
    cdef Py_ssize_t n_cells = (<Py_ssize_t>1) << (2 * k)
    cdef Py_ssize_t stride = 1, block, nb, i, n_prefixes = n_support
    cdef Py_ssize_t mode
    cdef long long prefix
    for i in range(n_support):
        prefixes[i] = support[i]
    for mode in range(k):
        block = 4 * stride
        if n_prefixes * block < n_cells:
            nb = 0  # the distinct prefixes one level up (sorted input stays sorted)
            for i in range(n_prefixes):
                prefix = prefixes[i] >> 2
                if nb == 0 or prefixes[nb - 1] != prefix:
                    prefixes[nb] = prefix
                    nb += 1
            n_prefixes = nb
            for i in range(n_prefixes):
                mode_block(row, prefixes[i] * block, stride, diag, off)
        else:
            n_prefixes = n_cells  # dense from here on
            for nb in range(n_cells // block):
                mode_block(row, nb * block, stride, diag, off)
        stride = block


def gather_chunk():
    """Sequences per chunk of ``C^T``: their interleaved weights (BLOCK_ROWS each) fill half of L2."""
    return BLOCK_BYTES // (2 * BLOCK_ROWS * <Py_ssize_t>sizeof(double))


def uses_gather(Py_ssize_t k):
    """Whether ``project_rows`` gathers from ``C^T`` at this k (else it scatters the rows of C).

    The scatter's block buffer (4^k x BLOCK_ROWS doubles) stays in L2 up to
    k = 7 and is fastest there; from k = 8 the gather wins (no buffer to miss in
    and no copy). Both give the same sums in the same order.
    """
    return ((<Py_ssize_t>1) << (2 * k)) * BLOCK_ROWS * <Py_ssize_t>sizeof(double) > BLOCK_BYTES


def project_rows(const double[:, ::1] weights, const long long[::1] indptr,
                 const long long[::1] indices, const double[::1] data,
                 Py_ssize_t k, double diag, double off, int n_threads=1, out=None,
                 const long long[:, ::1] t_indptr=None, const int[::1] t_indices=None,
                 const float[::1] t_data=None, Py_ssize_t chunk=0, const int64_t[::1] t_mirror=None):
    """Return ``out[r] = K (C^T weights[r])``, i.e. ``<phi_z, weights[r]>`` for all z.

    Rows are processed in blocks of up to ``BLOCK_ROWS`` (the sparse product of
    a block is done at once), blocks in parallel. A row's result does not
    depend on the block it falls in, nor on whether the sparse product scatters
    the rows of C (``scatter_weighted_block``) or gathers from ``C^T``
    (``gather_weighted_block``, when ``t_*`` is given, see ``uses_gather``).

    Parameters
    ----------
    weights : (R, n) float64, C-contiguous
        One weight vector over sequences per row (candidate responses).
    indptr, indices, data : CSR arrays of the n x 4^k k-mer count matrix C.
    k : int
        Motif length.
    diag, off : float
        ``K1 = diag * I + off * 1 1^T``.
    n_threads : int
        OpenMP threads (blocks are independent).
    out : (R, 4^k) float64 C-contiguous array, optional
        Written in place and returned (no new array and no copy for the caller).
    t_indptr, t_indices, t_data, chunk : ``C^T`` by chunks of ``chunk`` sequences, optional
        The transposed counts of each chunk in CSR form with sorted indices
        (``t_indptr`` one row of 4^k + 1 offsets per chunk; int32 sequence numbers
        within the chunk, float32 counts: exact below 2^24).
    t_mirror : (4^k,) int64, optional
        With counts merged over both strands: ``C^T`` holds only the cells with
        ``t_mirror[z] == z``, the others are copied from ``t_mirror[z]`` (see
        ``transform_block``).
    """
    cdef Py_ssize_t n_cells = (<Py_ssize_t>1) << (2 * k)
    cdef Py_ssize_t R = weights.shape[0], n = weights.shape[1]
    cdef bint gather = gathers(k, n, t_indptr, t_indices, t_data, chunk, t_mirror)
    cdef const int64_t* mirror = mirror_pointer(t_mirror)
    if out is None:
        out = np.empty((R, n_cells), dtype=np.float64)
    elif out.shape != (R, n_cells):
        raise ValueError(f"out has shape {out.shape}, expected {(R, n_cells)}")
    cdef double[:, ::1] out_view = out
    if R == 0:
        return out
    cdef Py_ssize_t nb = block_rows(R, n_threads, n_cells, gather)
    cdef Py_ssize_t n_blocks = (R + nb - 1) // nb
    cdef Py_ssize_t block, r0, width
    cdef double* buf
    cdef int failed = 0
    for block in prange(n_blocks, nogil=True, num_threads=n_threads, schedule="static"):
        r0 = block * nb
        width = min(nb, R - r0)
        buf = <double*> malloc(block_buffer_doubles(n_cells, n, chunk, width, gather) * sizeof(double))
        if buf == NULL:
            failed += 1  # a reduction across threads
        else:
            transform_block(&out_view[0, 0], n_cells, NULL, r0, width, weights, indptr, indices, data,
                            k, diag, off, gather, t_indptr, t_indices, t_data, chunk, mirror, buf)
            free(buf)
    if failed:
        raise MemoryError("could not allocate the block buffer of project_rows")
    return out


cdef void _count_row(double* row, Py_ssize_t n_cells, Py_ssize_t seq,
                     const long long[::1] indptr, const long long[::1] indices,
                     const double[::1] data) noexcept nogil:
    cdef Py_ssize_t p
    memset(row, 0, n_cells * sizeof(double))
    for p in range(indptr[seq], indptr[seq + 1]):
        row[indices[p]] += data[p]


cdef void _feature_row(double* row, Py_ssize_t n_cells, Py_ssize_t seq, Py_ssize_t k,
                       double diag, double off, const long long[::1] indptr,
                       const long long[::1] indices, const double[::1] data,
                       long long* scratch) noexcept nogil:
    """Row ``seq`` of Phi: its k-mer counts, then ``K`` (visiting only its support's blocks).

    ``scratch`` holds at least as many indices as the row has non-zeros. A row
    whose indices are not strictly increasing gets the dense ``kron_apply_row``
    (same numbers).
    """
    cdef Py_ssize_t p, first = indptr[seq], stop = indptr[seq + 1]
    cdef bint ordered = True
    _count_row(row, n_cells, seq, indptr, indices, data)
    for p in range(first + 1, stop):
        if indices[p] <= indices[p - 1]:
            ordered = False
            break
    if ordered and stop > first:
        kron_apply_sparse_row(row, k, diag, off, &indices[first], stop - first, scratch)
    else:
        kron_apply_row(row, k, diag, off)


def _row_scratch(const long long[::1] indptr, Py_ssize_t n_rows):
    """Scratch space for ``_feature_row``: ``n_rows`` rows of the longest row's non-zeros."""
    counts = np.diff(np.asarray(indptr))
    width = int(counts.max()) if counts.shape[0] else 0
    return np.empty((max(n_rows, 1), max(width, 1)), dtype=np.int64)


def feature_rows(const long long[::1] indptr, const long long[::1] indices,
                 const double[::1] data, Py_ssize_t start, Py_ssize_t stop,
                 Py_ssize_t k, double diag, double off, int n_threads=1):
    """Dense feature rows ``Phi[start:stop]`` (used for small cases and baselines)."""
    cdef Py_ssize_t n_cells = (<Py_ssize_t>1) << (2 * k)
    out = np.empty((stop - start, n_cells), dtype=np.float64)
    cdef double[:, ::1] out_view = out
    cdef long long[:, ::1] scratch = _row_scratch(indptr, stop - start)
    cdef Py_ssize_t r
    for r in prange(stop - start, nogil=True, num_threads=n_threads, schedule="static"):
        _feature_row(&out_view[r, 0], n_cells, start + r, k, diag, off, indptr, indices, data,
                     &scratch[r, 0])
    return out


cdef enum:
    SQ_CHUNK = 1024  # cells whose running sums of squares stay in L1 while the block's rows stream by


def feature_sq_norms(const long long[::1] indptr, const long long[::1] indices,
                     const double[::1] data, Py_ssize_t k, double diag, double off,
                     int n_threads=1, Py_ssize_t block=64, const unsigned char[::1] part=None,
                     Py_ssize_t first=0, Py_ssize_t last=-1, out=None, out_part=None):
    """Return ``||phi_z||^2`` for every k-mer z, without storing Phi.

    Rows of Phi are built ``block`` at a time in parallel, then summed over a
    parallel loop on z in a fixed sequence order, so the result does not
    depend on the number of threads.

    With ``part`` (one flag per sequence), the same pass also returns the norms
    over the flagged sequences alone, ``(all, part)``, each summed in sequence
    order (exactly what a separate pass over those sequences would give).

    ``first``/``last`` restrict the pass to sequences ``first..last-1`` and ``out``/
    ``out_part`` are sums to add to (in place): successive calls over ranges that
    start at multiples of ``block`` give bit for bit the sums of one pass (a
    caller can then show progress between them).
    """
    cdef Py_ssize_t n_cells = (<Py_ssize_t>1) << (2 * k)
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef Py_ssize_t start, stop, r, c, z0, z1, width, n_flagged
    cdef Py_ssize_t n_chunks = (n_cells + SQ_CHUNK - 1) // SQ_CHUNK
    cdef bint with_part = part is not None
    if with_part and part.shape[0] != n:
        raise ValueError(f"part has {part.shape[0]} flags for {n} sequences")
    if last < 0 or last > n:
        last = n
    if not 0 <= first <= last:
        raise ValueError(f"rows {first}..{last} outside 0..{n}")
    sq = np.zeros(n_cells, dtype=np.float64) if out is None else out
    sq_part = (np.zeros(n_cells if with_part else 1, dtype=np.float64) if out_part is None else out_part)
    if sq.shape[0] != n_cells or (with_part and sq_part.shape[0] != n_cells):
        raise ValueError(f"out must hold {n_cells} sums")
    buf = np.empty((min(block, max(last - first, 1)), n_cells), dtype=np.float64)
    flagged = np.zeros(buf.shape[0], dtype=np.intp)
    cdef double[::1] sq_view = sq
    cdef double[::1] part_view = sq_part
    cdef double[:, ::1] buf_view = buf
    cdef Py_ssize_t[::1] flagged_view = flagged
    cdef long long[:, ::1] scratch = _row_scratch(indptr, buf.shape[0])
    for start in range(first, last, block):
        stop = min(start + block, last)
        width = stop - start
        n_flagged = 0
        if with_part:  # block rows to add to the part's sums, in sequence order
            for r in range(width):
                if part[start + r]:
                    flagged_view[n_flagged] = r
                    n_flagged += 1
        for r in prange(width, nogil=True, num_threads=n_threads, schedule="static"):
            _feature_row(&buf_view[r, 0], n_cells, start + r, k, diag, off, indptr, indices, data,
                         &scratch[r, 0])
        for c in prange(n_chunks, nogil=True, num_threads=n_threads, schedule="static"):
            z0 = c * SQ_CHUNK
            z1 = min(z0 + SQ_CHUNK, n_cells)
            _add_squares(&sq_view[0], buf_view, 0, width, NULL, z0, z1)
            if n_flagged:
                _add_squares(&part_view[0], buf_view, 0, n_flagged, &flagged_view[0], z0, z1)
    return (sq, sq_part) if with_part else sq


cdef void _add_squares(double* sums, const double[:, ::1] rows, Py_ssize_t first, Py_ssize_t last,
                       const Py_ssize_t* which, Py_ssize_t z0, Py_ssize_t z1) noexcept nogil:
    """``sums[z] += rows[r, z]^2`` for ``z0 <= z < z1``, over rows ``r`` in order (``which[t]`` for
    ``first <= t < last`` when given, else ``t``).

    Row by row over a chunk of cells that stays in L1: each cell's sum adds the
    rows in the same order as a loop over rows per cell, so the same bits, but each
    row is streamed instead of visiting one cache line of every row per cell.
    """
    cdef Py_ssize_t t, r, z
    cdef const double* row
    for t in range(first, last):
        r = which[t] if which != NULL else t
        row = &rows[r, 0]
        for z in range(z0, z1):
            sums[z] = sums[z] + row[z] * row[z]


cdef void _min_plus_row(double* row, Py_ssize_t k) noexcept nogil:
    """Min-plus mode products with the 0/1 mismatch matrix: a Hamming distance transform."""
    cdef Py_ssize_t n_cells = (<Py_ssize_t>1) << (2 * k)
    cdef Py_ssize_t stride = 1, block, base, nb, i, p, mode
    cdef double a0, a1, a2, a3, m
    for mode in range(k):
        block = 4 * stride
        for nb in range(n_cells // block):
            base = nb * block
            for i in range(stride):
                p = base + i
                a0 = row[p]
                a1 = row[p + stride]
                a2 = row[p + 2 * stride]
                a3 = row[p + 3 * stride]
                m = a0
                if a1 < m:
                    m = a1
                if a2 < m:
                    m = a2
                if a3 < m:
                    m = a3
                m = m + 1.0
                if m < a0:
                    row[p] = m
                if m < a1:
                    row[p + stride] = m
                if m < a2:
                    row[p + 2 * stride] = m
                if m < a3:
                    row[p + 3 * stride] = m
        stride = block


def min_hamming_rows(const long long[::1] indptr, const long long[::1] indices,
                     Py_ssize_t k, int n_threads=1):
    """Return ``D[i, z] = min_l Hamming(x_il, z)`` (k + 1 when sequence i has no window).

    This is the distance transform behind max pooling:
    ``max_l exp(-lam * H(x_il, z)) = exp(-lam * D[i, z])``.
    """
    cdef Py_ssize_t n_cells = (<Py_ssize_t>1) << (2 * k)
    cdef Py_ssize_t n = indptr.shape[0] - 1
    out = np.empty((n, n_cells), dtype=np.float64)
    cdef double[:, ::1] out_view = out
    cdef Py_ssize_t i, p, z
    cdef double far = k + 1.0
    for i in prange(n, nogil=True, num_threads=n_threads, schedule="static"):
        for z in range(n_cells):
            out_view[i, z] = far
        for p in range(indptr[i], indptr[i + 1]):
            out_view[i, indices[p]] = 0.0
        _min_plus_row(&out_view[i, 0], k)
    # A sequence without any valid window stays at k + 1 everywhere: min_plus only lowers
    # values through existing zeros, and "far + 1" never beats "far".
    return out
