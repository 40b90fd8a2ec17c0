"""Kronecker mode products over the 4^k k-mer tensor (SPEC section 7).

For the Hamming-exponential kernel, the feature matrix is ``Phi = C K`` with
``K = K1 (x) ... (x) K1`` and ``K1 = diag * I + off * 1 1^T``. Applying ``K`` to a
vector of length 4^k is k mode products, each touching every entry once, so
``Phi^T u = K (C^T u)`` never forms the dense n x 4^k matrix.
"""

from cython.parallel cimport prange, threadid
from libc.stdlib cimport free, malloc, qsort
from libc.string cimport memset

from libc.stdint cimport int64_t
from _transform cimport (BLOCK_BYTES, BLOCK_ROWS, block_buffer_doubles, block_rows, gathers, kron_apply_modes,
                        kron_apply_row, mirror_pointer, mode_block, transform_block)

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


cdef struct CountEntry:
    long long cell
    double count


cdef int _compare_entries(const void* a, const void* b) noexcept nogil:
    """Order of count entries: by cell, then by count (a total order: any storage order sorts alike)."""
    cdef const CountEntry* x = <const CountEntry*> a
    cdef const CountEntry* y = <const CountEntry*> b
    if x.cell != y.cell:
        return -1 if x.cell < y.cell else 1
    if x.count != y.count:
        return -1 if x.count < y.count else 1
    return 0


cdef struct TileLayout:
    # A cell's 2k bits: ``outer`` letters at each end (positions 0..outer-1 and k-outer..k-1), the
    # tile's ``modes`` letters between them. Tile code: the low end's letters, then the high end's.
    Py_ssize_t outer
    Py_ssize_t modes


cdef inline long long _tile_of(long long cell, TileLayout L) noexcept nogil:
    """The code of the end letters of ``cell`` (its tile)."""
    cdef long long low_end = cell & ((<long long>1 << (2 * L.outer)) - 1)
    return low_end | ((cell >> (2 * (L.outer + L.modes))) << (2 * L.outer))


cdef inline long long _place_of(long long cell, TileLayout L) noexcept nogil:
    """The middle letters of ``cell`` (its place in its tile)."""
    return (cell >> (2 * L.outer)) & ((<long long>1 << (2 * L.modes)) - 1)


cdef inline long long _cell_of(long long tile, long long place, TileLayout L) noexcept nogil:
    """The cell of ``place`` in ``tile`` (inverse of :func:`_tile_of`, :func:`_place_of`)."""
    cdef long long ends = 2 * L.outer
    cdef long long low_end = tile & ((<long long>1 << ends) - 1)
    return low_end | (place << ends) | ((tile >> ends) << (ends + 2 * L.modes))


cdef void _row_entries(const long long[::1] indptr, const long long[::1] indices, const double[::1] data,
                       Py_ssize_t row, Py_ssize_t e, TileLayout L, CountEntry* scratch, int* place, int* tile,
                       double* count) noexcept nogil:
    """Row ``row``'s counts, in increasing cell order, from entry ``e`` on, as each cell's place in
    its tile and its tile (:class:`TileLayout`).

    A row stored out of order is sorted first (``scratch``: as many entries as the row), so the
    sums below add the same terms in the same order whatever the storage order.
    """
    cdef Py_ssize_t p, first = indptr[row], m = indptr[row + 1] - indptr[row]
    cdef bint ordered = True
    for p in range(1, m):
        if indices[first + p] <= indices[first + p - 1]:
            ordered = False
            break
    if ordered:
        for p in range(m):
            place[e + p] = <int> _place_of(indices[first + p], L)
            tile[e + p] = <int> _tile_of(indices[first + p], L)
            count[e + p] = data[first + p]
        return
    for p in range(m):
        scratch[p].cell = indices[first + p]
        scratch[p].count = data[first + p]
    qsort(scratch, m, sizeof(CountEntry), _compare_entries)
    for p in range(m):
        place[e + p] = <int> _place_of(scratch[p].cell, L)
        tile[e + p] = <int> _tile_of(scratch[p].cell, L)
        count[e + p] = scratch[p].count


cdef void _norm_tile(double* sums, double* part_sums, double* values, double* running,
                     double* running_part, TileLayout L, long long t, Py_ssize_t width,
                     const Py_ssize_t* offsets, const int* place, const int* tile, const double* count,
                     const unsigned char* mismatches, const double* weights, const unsigned char* flags,
                     double diag, double off) noexcept nogil:
    """Add ``phi_z(x_r)^2`` to ``sums[z]`` for the cells ``z`` of tile ``t`` and each row ``r < width``, in order.

    A row of Phi on the tile: each count scattered to its place with the weight of the tile's
    end letters against its own (``weights[mismatches[tile ^ t]]``: the product of ``K1``'s
    entries over those positions), then the tile's ``L.modes`` mode products. The tile's sums
    are read into ``running`` (``running_part``), added to row by row, and written back: the
    same additions, in the same order, as in place.
    """
    cdef Py_ssize_t cells = (<Py_ssize_t>1) << (2 * L.modes), r, e, j
    cdef double v
    for j in range(cells):
        running[j] = sums[_cell_of(t, j, L)]
        if flags != NULL:
            running_part[j] = part_sums[_cell_of(t, j, L)]
    for r in range(width):
        memset(values, 0, cells * sizeof(double))
        for e in range(offsets[r], offsets[r + 1]):
            values[place[e]] += count[e] * weights[mismatches[tile[e] ^ t]]
        kron_apply_modes(values, cells, 0, L.modes, diag, off)
        for j in range(cells):
            v = values[j]
            running[j] = running[j] + v * v
        if flags != NULL and flags[r]:
            for j in range(cells):
                v = values[j]
                running_part[j] = running_part[j] + v * v
    for j in range(cells):
        sums[_cell_of(t, j, L)] = running[j]
        if flags != NULL:
            part_sums[_cell_of(t, j, L)] = running_part[j]


def norm_tile_cells(Py_ssize_t k, const long long[::1] tiles):
    """The cells of the given tiles (:func:`norm_tiles`), tile after tile, each in its own order."""
    cdef TileLayout L
    L.outer, L.modes = norm_tiles(k)
    cdef Py_ssize_t cells = (<Py_ssize_t>1) << (2 * L.modes), i, j
    out = np.empty(tiles.shape[0] * cells, dtype=np.int64)
    cdef long long[::1] out_view = out
    for i in range(tiles.shape[0]):
        for j in range(cells):
            out_view[i * cells + j] = _cell_of(tiles[i], j, L)
    return out


def norm_tiles(Py_ssize_t k):
    """``(outer, modes)``: the norms' tiles (:func:`feature_sq_norms`): the cells sharing their
    ``outer`` first and last letters, ``modes = k - 2 outer`` letters between them (4 or 5, or k
    below 4: 2-8 KiB per row, in L1)."""
    cdef Py_ssize_t modes = k if k < 4 else (4 if k % 2 == 0 else 5)
    return (k - modes) // 2, modes


def feature_sq_norms(const long long[::1] indptr, const long long[::1] indices,
                     const double[::1] data, Py_ssize_t k, double diag, double off,
                     int n_threads=1, Py_ssize_t block=64, const unsigned char[::1] part=None,
                     Py_ssize_t first=0, Py_ssize_t last=-1, out=None, out_part=None,
                     const long long[::1] tiles=None):
    """Return ``||phi_z||^2`` for every k-mer z, without storing Phi.

    The grid is cut into tiles (:func:`norm_tiles`): the cells that share their ``outer``
    first and last letters, 4^4 or 4^5 of them. Since ``K`` is a Kronecker product over the
    positions, a row of Phi on a tile is ``K`` over the tile's middle positions applied to the
    row's counts gathered by their middle letters, each weighted by the product of ``K1``'s
    entries between its end letters and the tile's: the tile's values need only its own cells,
    which stay in L1 with their running sums while ``block`` sequences pass (instead of a row of
    4^k doubles, then a pass over the rows for their squares). Tiles are shared among the
    threads and each cell's sum adds the sequences in their order, so the result does not
    depend on the number of threads, nor on the order in which a row's counts are stored.

    ``tiles`` (codes of the end letters, :func:`norm_tiles`), when given, restricts the pass to
    those tiles' cells (the others' sums are left as they are): with counts merged over both
    strands half of the tiles give the others' norms (:func:`seism_stats.features.grid.norm_mirror`).

    With ``part`` (one flag per sequence), the same pass also returns the norms
    over the flagged sequences alone, ``(all, part)``, each summed in sequence
    order (exactly what a separate pass over those sequences would give).

    ``first``/``last`` restrict the pass to sequences ``first..last-1`` and ``out``/
    ``out_part`` are sums to add to (in place): successive calls over ranges give bit for
    bit the sums of one pass (a caller can then show progress between them).
    """
    cdef Py_ssize_t n_cells = (<Py_ssize_t>1) << (2 * k)
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef TileLayout L
    L.outer, L.modes = norm_tiles(k)
    cdef Py_ssize_t cells = (<Py_ssize_t>1) << (2 * L.modes)
    cdef Py_ssize_t n_tiles = n_cells // cells, end_letters = 2 * L.outer
    cdef Py_ssize_t start, stop, width, i, c, longest = 0, most_entries = 0, n_computed
    cdef bint with_part = part is not None
    n_threads = max(1, n_threads)  # the per-thread buffers below are indexed by threadid()
    if with_part and part.shape[0] != n:
        raise ValueError(f"part has {part.shape[0]} flags for {n} sequences")
    if last < 0 or last > n:
        last = n
    if not 0 <= first <= last:
        raise ValueError(f"rows {first}..{last} outside 0..{n}")
    if block < 1:
        raise ValueError(f"block must be at least 1, got {block}")
    sq = np.zeros(n_cells, dtype=np.float64) if out is None else out
    sq_part = (np.zeros(n_cells if with_part else 1, dtype=np.float64) if out_part is None else out_part)
    if sq.shape[0] != n_cells or (with_part and sq_part.shape[0] != n_cells):
        raise ValueError(f"out must hold {n_cells} sums")
    cdef double[::1] sq_view = sq
    cdef double[::1] part_view = sq_part
    # K1's entries over the end letters: (diag + off) per matching position, off per mismatch;
    # the mismatches of two tile codes, from their XOR (one nonzero 2-bit group per mismatch).
    weights = np.array([(diag + off) ** (end_letters - h) * off ** h for h in range(end_letters + 1)])
    codes = np.arange(n_tiles)
    mismatches = np.zeros(n_tiles, dtype=np.uint8)
    for i in range(end_letters):
        mismatches += ((codes >> (2 * i)) & 3 != 0).astype(np.uint8)
    computed = np.arange(n_tiles, dtype=np.int64) if tiles is None else np.asarray(tiles, dtype=np.int64)
    if computed.shape[0] and (computed.min() < 0 or computed.max() >= n_tiles):
        raise ValueError(f"tile codes must lie in 0..{n_tiles - 1}")
    if np.unique(computed).shape[0] != computed.shape[0]:
        raise ValueError("tile codes must not repeat (a tile's sums would be added twice)")
    n_computed = computed.shape[0]
    cdef double[::1] weights_view = weights
    cdef unsigned char[::1] mismatches_view = mismatches
    cdef long long[::1] computed_view = computed
    for start in range(first, last, block):  # the largest block's entries, for the buffers
        stop = min(start + block, last)
        most_entries = max(most_entries, indptr[stop] - indptr[start])
        for i in range(start, stop):
            longest = max(longest, indptr[i + 1] - indptr[i])
    rows = min(block, max(last - first, 1))
    place = np.empty(max(most_entries, 1), dtype=np.intc)
    tile = np.empty(max(most_entries, 1), dtype=np.intc)
    count = np.empty(max(most_entries, 1), dtype=np.float64)
    offsets = np.zeros(rows + 1, dtype=np.intp)
    flags = np.zeros(rows, dtype=np.uint8)
    scratch = np.empty((n_threads, max(longest, 1) * sizeof(CountEntry)), dtype=np.uint8)
    buffers = np.empty((n_threads, 3, cells), dtype=np.float64)  # values, running sums (all, part)
    cdef int[::1] place_view = place
    cdef int[::1] tile_view = tile
    cdef double[::1] count_view = count
    cdef Py_ssize_t[::1] offsets_view = offsets
    cdef unsigned char[::1] flags_view = flags
    cdef unsigned char[:, ::1] scratch_view = scratch
    cdef double[:, :, ::1] buffers_view = buffers
    cdef const unsigned char* flag_pointer = &flags_view[0] if with_part else NULL
    for start in range(first, last, block):
        stop = min(start + block, last)
        width = stop - start
        if with_part:
            for i in range(width):
                flags_view[i] = 1 if part[start + i] else 0
        for i in range(width + 1):
            offsets_view[i] = indptr[start + i] - indptr[start]
        for i in prange(width, nogil=True, num_threads=n_threads, schedule="static"):
            _row_entries(indptr, indices, data, start + i, offsets_view[i], L,
                         <CountEntry*> &scratch_view[threadid(), 0], &place_view[0], &tile_view[0], &count_view[0])
        for c in prange(n_computed, nogil=True, num_threads=n_threads, schedule="static"):
            _norm_tile(&sq_view[0], &part_view[0], &buffers_view[threadid(), 0, 0],
                       &buffers_view[threadid(), 1, 0], &buffers_view[threadid(), 2, 0], L, computed_view[c],
                       width, &offsets_view[0], &place_view[0], &tile_view[0], &count_view[0],
                       &mismatches_view[0], &weights_view[0], flag_pointer, diag, off)
    return (sq, sq_part) if with_part else sq


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
