"""Rolling k-mer indices of every window of every sequence, and products with their count matrices."""

from cython.parallel cimport prange
from libc.stdint cimport int32_t, int64_t, uint8_t

from _numpy_order cimport pairwise_sum

import numpy as np


cdef Py_ssize_t _window_kmers(const uint8_t[::1] codes, const int64_t[::1] offsets,
                              Py_ssize_t k, int64_t[::1] rows,
                              int64_t[::1] cols) noexcept nogil:
    """Write (sequence, k-mer) pairs of valid windows; return how many."""
    cdef Py_ssize_t i, pos, start, stop, n_valid = 0, since_bad
    cdef int64_t index, mask = (<int64_t>1 << (2 * k)) - 1
    cdef uint8_t c
    for i in range(offsets.shape[0] - 1):
        start = offsets[i]
        stop = offsets[i + 1]
        index = 0
        since_bad = 0          # letters since the last ambiguous one
        for pos in range(start, stop):
            c = codes[pos]
            if c > 3:
                since_bad = 0
                index = 0
                continue
            index = ((index << 2) | c) & mask
            since_bad += 1
            if since_bad >= k:
                rows[n_valid] = i
                cols[n_valid] = index
                n_valid += 1
    return n_valid


def window_kmers(const uint8_t[::1] codes, const int64_t[::1] offsets, Py_ssize_t k):
    """Return sequence and k-mer index of each window without ambiguous letters.

    Parameters
    ----------
    codes : uint8 array
        Concatenated codes (0-3 for ACGT, 4 for ambiguous letters).
    offsets : int64 array of length n + 1
        Start of each sequence in ``codes``.
    k : int
        Window length, 1 <= k <= 31.

    Returns
    -------
    rows, cols : int64 arrays
        Sequence index and k-mer index (base-4, first letter most significant).
    """
    if not 1 <= k <= 31:
        raise ValueError(f"k must be in [1, 31], got {k}")
    cdef Py_ssize_t capacity = max(codes.shape[0], 1)
    rows = np.empty(capacity, dtype=np.int64)
    cols = np.empty(capacity, dtype=np.int64)
    cdef int64_t[::1] rows_view = rows
    cdef int64_t[::1] cols_view = cols
    cdef Py_ssize_t n_valid
    with nogil:
        n_valid = _window_kmers(codes, offsets, k, rows_view, cols_view)
    return rows[:n_valid], cols[:n_valid]


cdef inline Py_ssize_t _letter(int64_t kmer, Py_ssize_t k, Py_ssize_t p) noexcept nogil:
    """Letter (0-3) at position p of a k-mer index (first letter in the highest bits)."""
    return (kmer >> (2 * (k - 1 - p))) & 3


def kmer_log_sums(const int64_t[::1] kmers, const double[:, ::1] log_table, double[::1] out):
    """``out[j] = sum_p log_table[p, letter p of kmers[j]]`` (logs of refinement's kernel values).

    The sum runs in the order of NumPy's ``terms.sum(axis=1)`` over the (m, k)
    table of terms, so the sums are those of the vectorised expression, without
    its (m, k) temporaries. (The caller takes ``np.exp``: NumPy's exp can differ
    from the C library's in the last bit.)
    """
    cdef Py_ssize_t k = log_table.shape[0], j, p
    cdef double terms[32]
    cdef int64_t index
    if k > 32 or log_table.shape[1] != 4 or out.shape[0] != kmers.shape[0]:
        raise ValueError("log_table must be (k <= 32, 4) and out as long as kmers")
    with nogil:
        for j in range(kmers.shape[0]):
            index = kmers[j]
            for p in range(k):
                terms[p] = log_table[p, _letter(index, k, p)]
            out[j] = pairwise_sum(terms, k)


def letter_sums(const int64_t[::1] kmers, const double[::1] weights, Py_ssize_t k):
    """``out[p, b] = sum of weights[j] over the k-mers j whose letter p is b``, in order of j.

    The same sums, in the same order, as ``np.bincount(letters[:, p], weights)``
    for each position p, in one pass.
    """
    out = np.zeros((k, 4), dtype=np.float64)
    cdef double[:, ::1] sums = out
    cdef Py_ssize_t j, p
    cdef int64_t index
    if weights.shape[0] != kmers.shape[0] or not 1 <= k <= 31:
        raise ValueError("weights must be as long as kmers and 1 <= k <= 31")
    with nogil:
        for j in range(kmers.shape[0]):
            index = kmers[j]
            for p in range(k):
                sums[p, _letter(index, k, p)] += weights[j]
    return out


cdef inline double _row_sum(const int64_t[::1] indptr, const int32_t[::1] indices, const float[::1] data,
                            const double[::1] x, Py_ssize_t i) noexcept nogil:
    """``sum_p data[p] x[indices[p]]`` over row i's entries, from 0, in their order."""
    cdef Py_ssize_t p
    cdef double total = 0.0
    for p in range(indptr[i], indptr[i + 1]):
        total = total + <double>data[p] * x[indices[p]]
    return total


def row_products(const int64_t[::1] indptr, const int32_t[::1] indices, const float[::1] data,
                 const double[::1] x, int n_threads=1):
    """``A @ x`` for a CSR matrix ``A`` with int32 column indices and float32 entries.

    Each row's sum starts at 0 and adds its entries in their stored order, one
    thread per row: the sums are those of SciPy's ``csr_matvec`` on the same matrix
    in float64, bit for bit, whatever ``n_threads`` (and, on the CSR form of the
    transpose with sorted indices, those of ``A.T @ x``). Counts are exact in
    float32 below 2^24; the narrower arrays halve the memory the product streams.

    Parameters
    ----------
    indptr : int64 (n_rows + 1,)
    indices : int32 (nnz,)
        Column of each entry, in ``[0, len(x))`` (the caller checks it once per matrix:
        :class:`seism_stats.selection.refinement.CountMatrix`).
    data : float32 (nnz,)
    x : float64 (n_columns,)
    n_threads : int
        OpenMP threads (rows are independent).
    """
    cdef Py_ssize_t rows = indptr.shape[0] - 1
    if rows < 0 or indices.shape[0] != data.shape[0] or indptr[rows] != indices.shape[0] or indptr[0] != 0:
        raise ValueError("indptr, indices and data are not one CSR matrix")
    out = np.empty(rows, dtype=np.float64)
    cdef double[::1] out_view = out
    cdef Py_ssize_t i
    for i in prange(rows, nogil=True, num_threads=max(1, n_threads), schedule="static"):
        out_view[i] = _row_sum(indptr, indices, data, x, i)
    return out


cdef void _bucket_starts(const int64_t[::1] keys, int64_t[::1] starts) noexcept nogil:
    """``starts[b]``: the first position of bucket b when ``keys`` are sorted (``starts[-1]``: their number)."""
    cdef Py_ssize_t i
    for i in range(starts.shape[0]):
        starts[i] = 0
    for i in range(keys.shape[0]):
        starts[keys[i] + 1] += 1
    for i in range(starts.shape[0] - 1):
        starts[i + 1] += starts[i]


cdef Py_ssize_t _transpose_counts(const int64_t[::1] rows, const int64_t[::1] columns, int64_t[::1] row_starts,
                                  int64_t[::1] by_row, int64_t[::1] column_starts, int64_t[::1] by_column,
                                  int32_t[::1] t_indices, float[::1] t_data, int64_t[::1] t_indptr) noexcept nogil:
    """The transpose's CSR rows (columns of the pairs): rows ascending, duplicate pairs counted.

    Two stable counting sorts that move the values (not their positions, whose reads
    would be random): the columns by row, then the rows by column; equal pairs are
    then adjacent and merged in one sequential pass. Returns the transpose's entries.
    """
    cdef Py_ssize_t i, r, p, n_rows = row_starts.shape[0] - 1, n_columns = column_starts.shape[0] - 1
    cdef Py_ssize_t n_out = 0, column_end
    cdef int64_t previous
    _bucket_starts(rows, row_starts)
    for i in range(rows.shape[0]):
        by_row[row_starts[rows[i]]] = columns[i]
        row_starts[rows[i]] += 1
    for r in range(n_rows, 0, -1):
        row_starts[r] = row_starts[r - 1]
    row_starts[0] = 0
    _bucket_starts(columns, column_starts)
    for r in range(n_rows):
        for p in range(row_starts[r], row_starts[r + 1]):
            by_column[column_starts[by_row[p]]] = r
            column_starts[by_row[p]] += 1
    # column_starts[c] is now the end of column c's run
    t_indptr[0] = 0
    p = 0
    for i in range(n_columns):
        column_end = column_starts[i]
        previous = -1
        while p < column_end:
            if by_column[p] == previous:
                t_data[n_out - 1] += 1.0
            else:
                previous = by_column[p]
                t_indices[n_out] = <int32_t>previous
                t_data[n_out] = 1.0
                n_out += 1
            p += 1
        t_indptr[i + 1] = n_out
    return n_out


cdef void _transpose_csr(const int64_t[::1] indptr, const int32_t[::1] indices, const float[::1] data,
                         int64_t[::1] out_indptr, int32_t[::1] out_indices, float[::1] out_data) noexcept nogil:
    """The transpose of a CSR matrix (``out_indptr`` has the transpose's rows + 1 entries), indices sorted."""
    cdef Py_ssize_t i, p, n_out_rows = out_indptr.shape[0] - 1
    cdef int64_t at
    for i in range(n_out_rows + 1):
        out_indptr[i] = 0
    for p in range(indices.shape[0]):
        out_indptr[indices[p] + 1] += 1
    for i in range(n_out_rows):
        out_indptr[i + 1] += out_indptr[i]
    for i in range(indptr.shape[0] - 1):
        for p in range(indptr[i], indptr[i + 1]):
            at = out_indptr[indices[p]]
            out_indices[at] = <int32_t>i
            out_data[at] = data[p]
            out_indptr[indices[p]] = at + 1
    for i in range(n_out_rows, 0, -1):
        out_indptr[i] = out_indptr[i - 1]
    out_indptr[0] = 0


def count_matrices(const int64_t[::1] rows, const int64_t[::1] columns, Py_ssize_t n_rows, Py_ssize_t n_columns):
    """The count matrix of (row, column) pairs, and its transpose, in CSR form with sorted indices.

    ``C[i, c]`` counts the pairs equal to ``(i, c)``. Stable counting sorts in linear
    time (no comparison sort) give the same matrices as SciPy's COO-to-CSR conversion
    with duplicates summed, and its transpose.

    Parameters
    ----------
    rows, columns : int64 (N,)
        The pairs; rows in ``[0, n_rows)``, columns in ``[0, n_columns)``, both below 2^31.
    n_rows, n_columns : int

    Returns
    -------
    (indptr int64, indices int32, data float32) of ``C``, then of ``C.T``.
    """
    cdef Py_ssize_t n = rows.shape[0], nnz
    if columns.shape[0] != n:
        raise ValueError("rows and columns must have the same length")
    if max(n_rows, n_columns) >= 2**31:
        raise ValueError("count matrices this large exceed int32 indices")
    if n and (np.min(rows) < 0 or np.max(rows) >= n_rows or np.min(columns) < 0 or np.max(columns) >= n_columns):
        raise ValueError("a pair lies outside the matrix")
    row_starts = np.empty(n_rows + 1, dtype=np.int64)
    by_row = np.empty(n, dtype=np.int64)
    column_starts = np.empty(n_columns + 1, dtype=np.int64)
    by_column = np.empty(n, dtype=np.int64)
    t_indptr = np.empty(n_columns + 1, dtype=np.int64)
    t_indices = np.empty(n, dtype=np.int32)
    t_data = np.empty(n, dtype=np.float32)
    cdef int64_t[::1] row_starts_view = row_starts, by_row_view = by_row
    cdef int64_t[::1] column_starts_view = column_starts, by_column_view = by_column, t_indptr_view = t_indptr
    cdef int32_t[::1] t_indices_view = t_indices
    cdef float[::1] t_data_view = t_data
    with nogil:
        nnz = _transpose_counts(rows, columns, row_starts_view, by_row_view, column_starts_view, by_column_view,
                                t_indices_view, t_data_view, t_indptr_view)
    del by_row, by_column
    t_indices, t_data = t_indices[:nnz].copy(), t_data[:nnz].copy()
    indptr = np.empty(n_rows + 1, dtype=np.int64)
    indices = np.empty(nnz, dtype=np.int32)
    data = np.empty(nnz, dtype=np.float32)
    cdef int64_t[::1] indptr_view = indptr
    cdef int32_t[::1] indices_view = indices
    cdef float[::1] data_view = data
    t_indices_view, t_data_view = t_indices, t_data
    with nogil:
        _transpose_csr(t_indptr_view, t_indices_view, t_data_view, indptr_view, indices_view, data_view)
    return (indptr, indices, data), (t_indptr, t_indices, t_data)
