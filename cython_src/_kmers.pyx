"""Rolling k-mer indices of every window of every sequence."""

from libc.stdint cimport int64_t, uint8_t

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
