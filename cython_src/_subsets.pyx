"""The rows of smallest keys in each cell, for every draw: the tilted sampler's uniform subsets.

A draw of :mod:`seism_stats.stats.tilted_permutations` fixes how many rows of each cell enter the
top group; with i.i.d. uniform keys, the rows of the smallest keys are a uniform subset of that
size. Selecting them needs the c-th smallest key of the cell, found in linear expected time
(quickselect, after counting the keys in buckets of [0, 1) in cells of 64 rows or more, so that
only one bucket's keys are partitioned) instead of a sort.
"""

from libc.stdint cimport int64_t, uint8_t
from libc.stdlib cimport free, malloc
from cython.parallel cimport prange

import numpy as np


cdef inline void _swap(double* a, Py_ssize_t i, Py_ssize_t j) noexcept nogil:
    cdef double t = a[i]
    a[i] = a[j]
    a[j] = t


cdef double _kth_smallest(double* a, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    """The k-th smallest value (from 0) of ``a[0:n]``, reordering ``a`` (Hoare's quickselect)."""
    cdef Py_ssize_t lo = 0, hi = n - 1, i, j, mid
    cdef double pivot
    while hi > lo:
        mid = lo + (hi - lo) // 2
        if a[mid] < a[lo]:
            _swap(a, lo, mid)
        if a[hi] < a[lo]:
            _swap(a, lo, hi)
        if a[hi] < a[mid]:
            _swap(a, mid, hi)
        pivot = a[mid]
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                _swap(a, i, j)
                i += 1
                j -= 1
        # now a[lo:j+1] <= pivot, a[i:hi+1] >= pivot and a[j+1:i] == pivot
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return a[k]
    return a[k]


cdef int _fill_draw(const double[:, ::1] keys, const int64_t[::1] rows, const int64_t[::1] key_rows,
                    const int64_t[::1] starts,
                    const int64_t[:, ::1] counts, uint8_t[:, ::1] out, Py_ssize_t b,
                    Py_ssize_t width) noexcept nogil:
    """Mark, in each cell, the rows of draw b whose key is at most the cell's count-th smallest.

    Returns -1 when the scratch space cannot be allocated, else 0.
    """
    cdef double* scratch = <double*> malloc(max(width, 1) * sizeof(double))
    cdef Py_ssize_t* buckets = <Py_ssize_t*> malloc((max(width, 1) // BUCKET_SIZE + 1) * sizeof(Py_ssize_t))
    cdef Py_ssize_t g, p, size
    cdef int64_t c
    cdef double threshold
    if scratch == NULL or buckets == NULL:
        free(scratch)
        free(buckets)
        return -1
    for g in range(starts.shape[0] - 1):
        c = counts[b, g]
        if c <= 0:
            continue
        size = starts[g + 1] - starts[g]
        for p in range(size):
            scratch[p] = keys[b, key_rows[starts[g] + p]]
        threshold = _kth_smallest_unit(scratch, size, c - 1, buckets)
        for p in range(starts[g], starts[g + 1]):
            out[b, rows[p]] = keys[b, key_rows[p]] <= threshold
    free(scratch)
    free(buckets)
    return 0


cdef enum:
    BUCKET_SIZE = 16  # keys per bucket on average in the pre-pass of _kth_smallest_unit


cdef double _kth_smallest_unit(double* a, Py_ssize_t n, Py_ssize_t k, Py_ssize_t* counts) noexcept nogil:
    """:func:`_kth_smallest` with a bucket pre-pass for keys in [0, 1) (the sampler's uniforms).

    The keys are counted in ``n // BUCKET_SIZE + 1`` equal buckets of [0, 1); the k-th smallest
    lies in the bucket where the running count passes k, so only that bucket's keys (moved to
    the front of ``a``) go through quickselect, for the rank left. The same value as
    :func:`_kth_smallest` on all of ``a`` (the k-th smallest of a multiset is one value);
    keys outside [0, 1), or NaN, take the plain quickselect. ``counts`` holds the buckets.
    """
    cdef Py_ssize_t m = n // BUCKET_SIZE + 1, i, j, below = 0, kept = 0
    cdef double x
    if n < 4 * BUCKET_SIZE:
        return _kth_smallest(a, n, k)
    for j in range(m):
        counts[j] = 0
    for i in range(n):
        x = a[i]
        if not (x >= 0.0 and x < 1.0):
            return _kth_smallest(a, n, k)
        j = <Py_ssize_t>(x * m)
        if j >= m:  # rounding of x * m up to m for x just below 1
            j = m - 1
        counts[j] += 1
    j = 0
    while below + counts[j] <= k:
        below += counts[j]
        j += 1
    for i in range(n):  # the bucket's keys to the front (the same index as counted above)
        x = a[i]
        if min(<Py_ssize_t>(x * m), m - 1) == j:
            a[kept] = x
            kept += 1
    return _kth_smallest(a, kept, k - below)


def _is_permutation(values, Py_ssize_t n) -> bool:
    """Whether ``values`` holds each of 0..n-1 once."""
    return values.shape[0] == n and (n == 0 or (values.min() >= 0 and values.max() < n
                                                and np.bincount(values, minlength=n).max() == 1))


def fill_smallest(const double[:, ::1] keys, const int64_t[::1] rows, const int64_t[::1] starts,
                  const int64_t[:, ::1] counts, int n_threads=1, const int64_t[::1] key_rows=None):
    """For each draw b and cell g, the ``counts[b, g]`` rows of cell g with the smallest ``keys[b]``.

    Row ``i`` is selected when its key is at most the cell's ``counts[b, g]``-th smallest
    key (none when the count is 0): the same rows as sorting each cell's keys, since the
    threshold is the same value. Draws run in parallel.

    Parameters
    ----------
    keys : float64 (B, n)
        One key per draw and row (i.i.d. uniforms: the subsets are then uniform).
    rows : int64 (n,)
        The rows sorted by cell: cell g is ``rows[starts[g]:starts[g + 1]]`` (a permutation of 0..n-1).
    starts : int64 (G + 1,)
        Non-decreasing, from 0 to n.
    counts : int64 (B, G)
        Rows to select per draw and cell, each at most the cell's size.
    n_threads : int
        OpenMP threads.
    key_rows : int64 (n,), optional
        Where each entry of ``rows`` finds its key: row ``rows[p]`` has key ``keys[b, key_rows[p]]``
        (default ``rows``: column i holds row i's key). Lets the keys come in the order they were
        drawn (the rows' canonical order) without permuting them first.

    Returns
    -------
    out : bool (B, n)
    """
    cdef Py_ssize_t B = keys.shape[0], n = keys.shape[1], G = starts.shape[0] - 1, b, width = 0, g
    cdef int failed = 0
    if rows.shape[0] != n or G < 0 or starts[0] != 0 or starts[G] != n or counts.shape[0] != B \
            or counts.shape[1] != G:
        raise ValueError(f"keys {keys.shape[0], keys.shape[1]}, rows ({rows.shape[0]},), starts "
                         f"({starts.shape[0]},) and counts {counts.shape[0], counts.shape[1]} do not describe "
                         "one partition of the rows")
    sizes = np.diff(np.asarray(starts))
    if (sizes < 0).any() or not _is_permutation(np.asarray(rows), n):
        raise ValueError("starts must be non-decreasing and rows a permutation of the rows")
    if key_rows is None:
        key_rows = rows
    elif not _is_permutation(np.asarray(key_rows), n):
        raise ValueError("key_rows must be a permutation of the rows")
    if B and G and ((np.asarray(counts) < 0).any() or (np.asarray(counts) > sizes[None, :]).any()):
        raise ValueError("each count must lie between 0 and its cell's size")
    if G:
        width = int(sizes.max())
    out = np.zeros((B, n), dtype=np.uint8)
    cdef uint8_t[:, ::1] out_view = out
    for b in prange(B, nogil=True, num_threads=max(1, n_threads), schedule="static"):
        if _fill_draw(keys, rows, key_rows, starts, counts, out_view, b, width) < 0:
            failed += 1  # a reduction across threads
    if failed:
        raise MemoryError("could not allocate the scratch space of fill_smallest")
    return out.view(bool)
