"""Rolling k-mer indices of every window of every sequence, and products with their count matrices."""

from cython.parallel cimport prange
from libc.stdint cimport int32_t, int64_t, uint8_t

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


cdef enum:
    CHUNK_LETTERS = 4  # a k-mer is read as chunks of up to 4 letters (8 bits), from its last letter
    CHUNK_VALUES = 256
    MAX_CHUNKS = 8  # ceil(31 / 4)
    LANES = 4  # interleaved accumulators of letter_sums


cdef inline Py_ssize_t _chunk_first(Py_ssize_t k, Py_ssize_t i) noexcept nogil:
    """Position of chunk i's first letter (chunk 0 holds the last ``CHUNK_LETTERS`` letters)."""
    return max(k - CHUNK_LETTERS * (i + 1), 0)


cdef inline Py_ssize_t _chunk_stop(Py_ssize_t k, Py_ssize_t i) noexcept nogil:
    """One past the position of chunk i's last letter."""
    return k - CHUNK_LETTERS * i


cdef inline Py_ssize_t _chunk_letter(Py_ssize_t v, Py_ssize_t k, Py_ssize_t i, Py_ssize_t p) noexcept nogil:
    """Letter (0-3) at position p of a k-mer whose chunk i has the value v (its last letter in the lowest bits)."""
    return (v >> (2 * (_chunk_stop(k, i) - 1 - p))) & 3


def kmer_products(const int64_t[::1] kmers, const double[:, ::1] table, double[::1] out):
    """``out[j] = prod_p table[p, letter p of kmers[j]]`` (refinement's kernel values).

    The product of each chunk of up to four letters is read from a table of the
    chunk's 256 values (built once), so a k-mer costs ``ceil(k / 4)`` lookups. With
    ``table = exp(log_table)`` this is ``exp(sum_p log_table[p, letter])`` up to
    rounding (a few units in the last place), without an exponential per k-mer.
    """
    cdef Py_ssize_t k = table.shape[0], j, i, v, p, first, n_chunks
    cdef double chunk_tables[MAX_CHUNKS][CHUNK_VALUES]
    cdef int64_t index
    cdef double value
    if k > 31 or k < 1 or table.shape[1] != 4 or out.shape[0] != kmers.shape[0]:
        raise ValueError("table must be (1 <= k <= 31, 4) and out as long as kmers")
    n_chunks = (k + CHUNK_LETTERS - 1) // CHUNK_LETTERS
    with nogil:
        for i in range(n_chunks):
            first = _chunk_first(k, i)
            for v in range(CHUNK_VALUES):
                value = 1.0
                for p in range(first, _chunk_stop(k, i)):
                    value = value * table[p, _chunk_letter(v, k, i, p)]
                chunk_tables[i][v] = value
        for j in range(kmers.shape[0]):
            index = kmers[j]
            value = chunk_tables[0][index & 255]
            for i in range(1, n_chunks):
                value = value * chunk_tables[i][(index >> (8 * i)) & 255]
            out[j] = value


def letter_sums(const int64_t[::1] kmers, const double[::1] weights, Py_ssize_t k):
    """``out[p, b] = sum of weights[j] over the k-mers j whose letter p is b``.

    The weights are first summed by the value of each chunk of up to four letters
    (in ``LANES`` interleaved partial sums, k-mer ``j`` into lane ``j % LANES``: sorted
    k-mers share their first letters, and one accumulator would chain every addition
    on the one before), then each chunk value's sum is added to its letters. The sums
    of ``np.bincount(letters[:, p], weights)`` up to rounding.
    """
    cdef Py_ssize_t j, p, i, v, lane, first, n_chunks
    cdef int64_t index
    cdef double w, total
    if weights.shape[0] != kmers.shape[0] or not 1 <= k <= 31:
        raise ValueError("weights must be as long as kmers and 1 <= k <= 31")
    n_chunks = (k + CHUNK_LETTERS - 1) // CHUNK_LETTERS
    out = np.zeros((k, 4), dtype=np.float64)
    cdef double[:, ::1] sums = out
    # on the heap (up to 64 KiB: large for the stack of a worker thread)
    cdef double[:, :, ::1] lanes = np.zeros((LANES, n_chunks, CHUNK_VALUES), dtype=np.float64)
    with nogil:
        for j in range(kmers.shape[0]):
            index = kmers[j]
            w = weights[j]
            lane = j % LANES
            for i in range(n_chunks):
                lanes[lane, i, (index >> (8 * i)) & 255] += w
        for i in range(n_chunks):
            first = _chunk_first(k, i)
            for v in range(CHUNK_VALUES):
                total = (lanes[0, i, v] + lanes[1, i, v]) + (lanes[2, i, v] + lanes[3, i, v])
                if total != 0.0:
                    for p in range(first, _chunk_stop(k, i)):
                        sums[p, _chunk_letter(v, k, i, p)] += total
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
    """``A @ x`` for a CSR matrix ``A`` with int32 column indices and float32 entries, rows in parallel.

    Each row's sum starts at 0 and adds its entries in their stored order (the
    order of SciPy's ``csr_matvec``; no fused multiply-add), so the result does not
    depend on ``n_threads``. A private kernel: it trusts that ``indptr`` is non-decreasing
    and every index lies in ``[0, len(x))``; :class:`seism_stats.selection.refinement.CountMatrix`
    builds such arrays and checks the vectors it passes.

    Parameters
    ----------
    indptr : int64 (n_rows + 1,)
        Row offsets, non-decreasing from 0 to the number of entries.
    indices : int32 (nnz,)
        Column of each entry.
    data : float32 (nnz,)
    x : float64 (n_columns,)
    n_threads : int
        OpenMP threads (rows are independent).

    Returns
    -------
    out : float64 (n_rows,)
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


cdef void _radix_sort(int64_t* keys, double* values, int64_t* key_tmp, double* value_tmp, Py_ssize_t m,
                      Py_ssize_t bits) noexcept nogil:
    """Sort ``m`` keys below ``2^bits`` with their values, 8 bits a pass (stable; result in ``keys``)."""
    cdef Py_ssize_t count[257]
    cdef Py_ssize_t shift = 0, i, d
    cdef int64_t* src = keys
    cdef int64_t* dst = key_tmp
    cdef double* vsrc = values
    cdef double* vdst = value_tmp
    cdef int64_t* kswap
    cdef double* vswap
    while shift < bits:
        for d in range(257):
            count[d] = 0
        for i in range(m):
            count[((src[i] >> shift) & 255) + 1] += 1
        for d in range(256):
            count[d + 1] += count[d]
        for i in range(m):
            d = (src[i] >> shift) & 255
            dst[count[d]] = src[i]
            vdst[count[d]] = vsrc[i]
            count[d] += 1
        kswap = src
        src = dst
        dst = kswap
        vswap = vsrc
        vsrc = vdst
        vdst = vswap
        shift += 8
    if src != keys:
        for i in range(m):
            keys[i] = src[i]
            values[i] = vsrc[i]


cdef void _merged_lengths(const int64_t[::1] indptr, const int64_t[::1] indices, const int64_t[::1] mirror,
                          int64_t[::1] out_indptr, uint8_t* seen) noexcept nogil:
    """``out_indptr`` of ``C + C[:, mirror]``: row i holds ``2 m_i`` columns less those c with ``mirror[c]``
    also in the row (they meet their own mirror image). ``seen``: one zeroed flag per column."""
    cdef Py_ssize_t i, p, shared
    out_indptr[0] = 0
    for i in range(indptr.shape[0] - 1):
        for p in range(indptr[i], indptr[i + 1]):
            seen[indices[p]] = 1
        shared = 0
        for p in range(indptr[i], indptr[i + 1]):
            shared += seen[mirror[indices[p]]]
        for p in range(indptr[i], indptr[i + 1]):
            seen[indices[p]] = 0
        out_indptr[i + 1] = out_indptr[i] + 2 * (indptr[i + 1] - indptr[i]) - shared


cdef void _merge_strands(const int64_t[::1] indptr, const int64_t[::1] indices, const double[::1] data,
                         const int64_t[::1] mirror, Py_ssize_t bits, const int64_t[::1] out_indptr,
                         int64_t[::1] out_indices, double[::1] out_data, int64_t* keys, double* values,
                         int64_t* key_tmp, double* value_tmp) noexcept nogil:
    """Rows of ``C + C[:, mirror]`` (sorted indices, duplicates summed as ``C + P``) at ``out_indptr``."""
    cdef Py_ssize_t i, p, a, b, a_end, m, n_out
    for i in range(indptr.shape[0] - 1):
        m = indptr[i + 1] - indptr[i]
        for p in range(m):  # row i of C[:, mirror]: column j holds C[i, mirror[j]], i.e. C[i, c] at mirror[c]
            keys[p] = mirror[indices[indptr[i] + p]]
            values[p] = data[indptr[i] + p]
        _radix_sort(keys, values, key_tmp, value_tmp, m, bits)
        a = indptr[i]
        a_end = indptr[i + 1]
        b = 0
        n_out = out_indptr[i]
        while a < a_end or b < m:  # merge the two sorted rows, C's value first where both hold a column
            if b >= m or (a < a_end and indices[a] < keys[b]):
                out_indices[n_out] = indices[a]
                out_data[n_out] = data[a]
                a += 1
            elif a >= a_end or keys[b] < indices[a]:
                out_indices[n_out] = keys[b]
                out_data[n_out] = values[b]
                b += 1
            else:
                out_indices[n_out] = indices[a]
                out_data[n_out] = data[a] + values[b]
                a += 1
                b += 1
            n_out += 1


def _check_csr(const int64_t[::1] indptr, const int64_t[::1] indices, const double[::1] data, Py_ssize_t n_cols):
    """Raise ValueError unless the arrays are one CSR matrix with ``n_cols`` columns; return the widest row.

    (What the kernels below read without bounds checks: offsets from 0, non-decreasing, to the
    number of entries; one value per index; every index a column.)
    """
    cdef Py_ssize_t rows = indptr.shape[0] - 1, nnz = indices.shape[0], widest = 0, i
    if rows < 0:
        raise ValueError("indptr must hold at least one offset")
    if data.shape[0] != nnz or indptr[rows] != nnz:
        raise ValueError(f"{nnz} indices, {data.shape[0]} values and {indptr[rows]} non-zeros by indptr")
    if indptr[0] != 0:
        raise ValueError("indptr must start at 0 and must not decrease")
    for i in range(rows):
        if indptr[i + 1] < indptr[i]:
            raise ValueError("indptr must start at 0 and must not decrease")
        widest = max(widest, indptr[i + 1] - indptr[i])
    if nnz and (np.min(indices) < 0 or np.max(indices) >= n_cols):
        raise ValueError(f"column indices outside the {n_cols} columns")
    return widest


def merge_strands(const int64_t[::1] indptr, const int64_t[::1] indices, const double[::1] data,
                  const int64_t[::1] mirror):
    """CSR arrays of ``C + C[:, mirror]`` for a canonical CSR ``C`` (sorted indices, no duplicates).

    ``mirror`` is an involution of the columns (the reverse complement of every k-mer). The rows'
    lengths are counted first (one flag per column), then, row by row, the row's columns mapped
    through ``mirror`` are sorted (radix, 8 bits a pass) and merged with the row, the values of a
    column in both summed as ``C + P`` sums them: the same arrays as SciPy's ``(C + C[:, mirror])``
    in canonical form, without its sort of the permuted matrix and its oversized buffers.

    Returns
    -------
    indptr, indices : int64 arrays; data : float64 array
    """
    cdef Py_ssize_t n_cols = mirror.shape[0], rows = indptr.shape[0] - 1
    cdef Py_ssize_t widest = _check_csr(indptr, indices, data, n_cols)
    cdef Py_ssize_t bits = 8
    while (<int64_t>1 << bits) < n_cols:
        bits += 8
    out_indptr = np.zeros(rows + 1, dtype=np.int64)
    seen = np.zeros(max(n_cols, 1), dtype=np.uint8)
    cdef int64_t[::1] indptr_view = out_indptr
    cdef uint8_t[::1] seen_view = seen
    with nogil:  # the rows' lengths first, so that the arrays are allocated once at their size
        _merged_lengths(indptr, indices, mirror, indptr_view, &seen_view[0])
    out_indices = np.empty(out_indptr[rows], dtype=np.int64)
    out_data = np.empty(out_indptr[rows], dtype=np.float64)
    scratch_keys = np.empty((2, max(widest, 1)), dtype=np.int64)
    scratch_values = np.empty((2, max(widest, 1)), dtype=np.float64)
    cdef int64_t[:, ::1] k_view = scratch_keys
    cdef double[:, ::1] v_view = scratch_values
    cdef int64_t[::1] indices_view = out_indices
    cdef double[::1] data_view = out_data
    with nogil:
        _merge_strands(indptr, indices, data, mirror, bits, indptr_view, indices_view, data_view,
                       &k_view[0, 0], &v_view[0, 0], &k_view[1, 0], &v_view[1, 0])
    return out_indptr, out_indices, out_data


cdef int _transpose_rows(const int64_t[::1] indptr, const int64_t[::1] indices, const double[::1] data,
                         Py_ssize_t first, Py_ssize_t last, const uint8_t* keep, int64_t[::1] t_indptr,
                         int32_t[::1] t_indices, float[::1] t_data) noexcept nogil:
    """Rows ``first..last-1`` of a CSR ``C`` as ``C^T`` (columns kept where ``keep`` is NULL or 1):
    a counting sort by column, rows in increasing order within each column. Returns 1 where a
    value is not exact in float32, else 0. ``t_indptr``: the kept columns' start offsets (consumed)."""
    cdef Py_ssize_t i, p, c
    cdef int64_t* fill = &t_indptr[0]  # each column's next free slot (a copy of its offsets, advanced)
    cdef float v
    cdef int inexact = 0
    for i in range(first, last):
        for p in range(indptr[i], indptr[i + 1]):
            c = indices[p]
            if keep == NULL or keep[c]:
                v = <float> data[p]
                if <double> v != data[p]:
                    inexact = 1
                t_indices[fill[c]] = <int32_t> (i - first)
                t_data[fill[c]] = v
                fill[c] += 1
    return inexact


def transpose_compact(const int64_t[::1] indptr, const int64_t[::1] indices, const double[::1] data,
                      Py_ssize_t n_cols, Py_ssize_t first=0, Py_ssize_t last=-1, keep=None):
    """``C[first:last]^T`` of a CSR ``C`` with sorted indices, compact: int64 offsets, int32 row numbers
    (from ``first``), float32 values.

    The arrays of SciPy's ``C[first:last].tocsc()`` after ``sort_indices`` and
    :func:`~seism_stats.features.kmers.compact_csr`, by one counting sort (rows visited in order,
    so each column's rows increase) without SciPy's intermediate float64 copies. ``keep``
    (uint8, one flag per column): only those columns' entries are stored (the others get empty
    ranges). Raises ValueError where a value is not a whole count exact in float32, as
    ``compact_csr`` does.
    """
    cdef Py_ssize_t rows = indptr.shape[0] - 1, i, c, p
    _check_csr(indptr, indices, data, n_cols)
    if last < 0:
        last = rows
    if not 0 <= first <= last <= rows:
        raise ValueError(f"rows {first}..{last} outside the {rows} rows")
    if last - first >= 2**31:
        raise ValueError("too many rows for int32 row numbers")
    cdef const uint8_t* keep_ptr = NULL
    cdef const uint8_t[::1] keep_view
    if keep is not None:
        keep_view = np.ascontiguousarray(keep, dtype=np.uint8)
        if keep_view.shape[0] != n_cols:
            raise ValueError(f"keep has {keep_view.shape[0]} flags for {n_cols} columns")
        keep_ptr = &keep_view[0] if n_cols else NULL
    t_indptr = np.zeros(n_cols + 1, dtype=np.int64)
    cdef int64_t[::1] offsets = t_indptr
    with nogil:
        for i in range(first, last):
            for p in range(indptr[i], indptr[i + 1]):
                c = indices[p]
                if keep_ptr == NULL or keep_ptr[c]:
                    offsets[c + 1] += 1
        for c in range(n_cols):
            offsets[c + 1] += offsets[c]
    t_indices = np.empty(t_indptr[n_cols], dtype=np.int32)
    t_data = np.empty(t_indptr[n_cols], dtype=np.float32)
    fill = t_indptr[:n_cols].copy()
    cdef int64_t[::1] fill_view = fill
    cdef int32_t[::1] indices_view = t_indices
    cdef float[::1] data_view = t_data
    cdef int inexact
    with nogil:
        inexact = _transpose_rows(indptr, indices, data, first, last, keep_ptr, fill_view, indices_view,
                                  data_view)
    if inexact:
        raise ValueError("k-mer counts must be whole numbers below 2^24")
    return t_indptr, t_indices, t_data
