# The Kronecker transform's typed kernels (K (C^T w) for blocks of responses), shared
# between the Cython modules of seism_stats. Defined inline here: each module that
# cimports them compiles its own copy, so no module imports another at run time.

from libc.stdint cimport int64_t
from libc.string cimport memset


cdef enum:
    BLOCK_ROWS = 8  # responses summed together: one cache line of 8 doubles per non-zero
    BLOCK_BYTES = 1 << 20  # the scatter's block buffer stays in a core's L2 cache
    TILE_MODES = 5  # the gather's tiles: 4^5 cells, 8 rows x 8 KiB, in L1/L2 for their first modes
    PAIRED_MODES = 4  # modes 0-1 and 2-3 run in pairs (mode_pair: strides up to 16 x 4 entries)


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


cdef inline void mode_pair(double* row, Py_ssize_t base, Py_ssize_t stride, double diag,
                           double off) noexcept nogil:
    """Modes m and m + 1 (strides ``stride`` and ``4 * stride``) on the block of ``16 * stride``
    entries starting at ``base``: :func:`mode_block` at both strides, the same operations in the
    same order on every entry (so the same bits), with each group of 16 entries held in locals
    between the two instead of stored and read again."""
    cdef Py_ssize_t i, p, s1 = stride, s4 = 4 * stride
    cdef double x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15, s
    for i in range(stride):
        p = base + i
        x0 = row[p]; x1 = row[p + s1]; x2 = row[p + 2 * s1]; x3 = row[p + 3 * s1]
        x4 = row[p + s4]; x5 = row[p + s4 + s1]; x6 = row[p + s4 + 2 * s1]; x7 = row[p + s4 + 3 * s1]
        x8 = row[p + 2 * s4]; x9 = row[p + 2 * s4 + s1]
        x10 = row[p + 2 * s4 + 2 * s1]; x11 = row[p + 2 * s4 + 3 * s1]
        x12 = row[p + 3 * s4]; x13 = row[p + 3 * s4 + s1]
        x14 = row[p + 3 * s4 + 2 * s1]; x15 = row[p + 3 * s4 + 3 * s1]
        s = off * (x0 + x1 + x2 + x3)  # mode m: the four groups of four at stride s1
        x0 = diag * x0 + s; x1 = diag * x1 + s; x2 = diag * x2 + s; x3 = diag * x3 + s
        s = off * (x4 + x5 + x6 + x7)
        x4 = diag * x4 + s; x5 = diag * x5 + s; x6 = diag * x6 + s; x7 = diag * x7 + s
        s = off * (x8 + x9 + x10 + x11)
        x8 = diag * x8 + s; x9 = diag * x9 + s; x10 = diag * x10 + s; x11 = diag * x11 + s
        s = off * (x12 + x13 + x14 + x15)
        x12 = diag * x12 + s; x13 = diag * x13 + s; x14 = diag * x14 + s; x15 = diag * x15 + s
        s = off * (x0 + x4 + x8 + x12)  # mode m + 1: across the groups, at stride s4
        row[p] = diag * x0 + s; row[p + s4] = diag * x4 + s
        row[p + 2 * s4] = diag * x8 + s; row[p + 3 * s4] = diag * x12 + s
        s = off * (x1 + x5 + x9 + x13)
        row[p + s1] = diag * x1 + s; row[p + s4 + s1] = diag * x5 + s
        row[p + 2 * s4 + s1] = diag * x9 + s; row[p + 3 * s4 + s1] = diag * x13 + s
        s = off * (x2 + x6 + x10 + x14)
        row[p + 2 * s1] = diag * x2 + s; row[p + s4 + 2 * s1] = diag * x6 + s
        row[p + 2 * s4 + 2 * s1] = diag * x10 + s; row[p + 3 * s4 + 2 * s1] = diag * x14 + s
        s = off * (x3 + x7 + x11 + x15)
        row[p + 3 * s1] = diag * x3 + s; row[p + s4 + 3 * s1] = diag * x7 + s
        row[p + 2 * s4 + 3 * s1] = diag * x11 + s; row[p + 3 * s4 + 3 * s1] = diag * x15 + s


cdef inline void kron_apply_modes(double* row, Py_ssize_t n_cells, Py_ssize_t first, Py_ssize_t last,
                                  double diag, double off) noexcept nogil:
    """Apply modes ``first..last-1`` of ``K1 (x) ... (x) K1`` in place to ``n_cells`` entries.

    Mode m mixes cells only within aligned blocks of 4^(m+1) cells, so modes
    ``0..t-1`` on a vector are the same operations as on each of its tiles of 4^t.
    Modes below :data:`PAIRED_MODES` go two at a time (:func:`mode_pair`: half the passes
    over the entries, the same bits); above it, 16 streams of entries 4^m apart would
    share the L1 cache's sets, so one at a time.
    """
    cdef Py_ssize_t stride = (<Py_ssize_t>1) << (2 * first), block, nb
    cdef Py_ssize_t mode = first
    while mode < last:
        if mode + 1 < last and mode + 1 < PAIRED_MODES:
            block = 16 * stride
            for nb in range(n_cells // block):
                mode_pair(row, nb * block, stride, diag, off)
            stride = block
            mode += 2
        else:
            block = 4 * stride
            for nb in range(n_cells // block):
                mode_block(row, nb * block, stride, diag, off)
            stride = block
            mode += 1


cdef inline void kron_apply_row(double* row, Py_ssize_t k, double diag, double off) noexcept nogil:
    """Apply ``K1 (x) ... (x) K1`` in place to a vector of length 4^k.

    Modes ``0..TILE_MODES-1`` tile by tile (4^TILE_MODES entries, 8 KiB: in L1 for all of
    them), then the others over the whole vector: the same operations on every entry as mode
    after mode over the whole vector, so the same bits, for fewer passes over it.
    """
    cdef Py_ssize_t n_cells = (<Py_ssize_t>1) << (2 * k), z
    cdef Py_ssize_t tile = (<Py_ssize_t>1) << (2 * TILE_MODES)
    if k <= TILE_MODES:
        kron_apply_modes(row, n_cells, 0, k, diag, off)
        return
    for z in range(n_cells // tile):
        kron_apply_modes(row + z * tile, tile, 0, TILE_MODES, diag, off)
    kron_apply_modes(row, n_cells, TILE_MODES, k, diag, off)


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


cdef inline void interleave_weights(double* w, const double[:, ::1] weights, Py_ssize_t r0, Py_ssize_t nb,
                                    Py_ssize_t first, Py_ssize_t width) noexcept nogil:
    """``w[i * nb + b] = weights[r0 + b, first + i]``: the block's weights of ``width`` sequences, one
    cache line per sequence."""
    cdef Py_ssize_t i, b
    for i in range(width):
        for b in range(nb):
            w[i * nb + b] = weights[r0 + b, first + i]


cdef inline void gather_cells_8(double** dst, const double* w, const long long[:, ::1] t_indptr,
                                const int[::1] t_indices, const float[::1] t_data, Py_ssize_t part,
                                Py_ssize_t z_lo, Py_ssize_t z_hi) noexcept nogil:
    """:func:`gather_cells` for blocks of 8 responses: the same sums in the same order, held in
    eight local variables (registers) instead of an array indexed by a loop of unknown length."""
    cdef Py_ssize_t p, z
    cdef double c, a0, a1, a2, a3, a4, a5, a6, a7
    cdef const double* wi
    for z in range(z_lo, z_hi):
        if part == 0:
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
        else:
            a0 = dst[0][z]; a1 = dst[1][z]; a2 = dst[2][z]; a3 = dst[3][z]
            a4 = dst[4][z]; a5 = dst[5][z]; a6 = dst[6][z]; a7 = dst[7][z]
        for p in range(t_indptr[part, z], t_indptr[part, z + 1]):
            c = t_data[p]
            wi = &w[t_indices[p] * 8]
            a0 = a0 + c * wi[0]; a1 = a1 + c * wi[1]; a2 = a2 + c * wi[2]; a3 = a3 + c * wi[3]
            a4 = a4 + c * wi[4]; a5 = a5 + c * wi[5]; a6 = a6 + c * wi[6]; a7 = a7 + c * wi[7]
        dst[0][z] = a0; dst[1][z] = a1; dst[2][z] = a2; dst[3][z] = a3
        dst[4][z] = a4; dst[5][z] = a5; dst[6][z] = a6; dst[7][z] = a7


cdef inline void gather_cells(double** dst, Py_ssize_t nb, const double* w, const long long[:, ::1] t_indptr,
                              const int[::1] t_indices, const float[::1] t_data, Py_ssize_t part,
                              Py_ssize_t z_lo, Py_ssize_t z_hi) noexcept nogil:
    """Add chunk ``part``'s terms to ``dst[b][z]`` for ``z_lo <= z < z_hi`` (start from 0 for part 0)."""
    cdef Py_ssize_t p, b, z
    cdef double c
    cdef double acc[BLOCK_ROWS]
    cdef const double* wi
    if nb == 8:  # full blocks (BLOCK_ROWS = 8), the common case: the sums in registers
        gather_cells_8(dst, w, t_indptr, t_indices, t_data, part, z_lo, z_hi)
        return
    for z in range(z_lo, z_hi):
        for b in range(nb):
            acc[b] = 0.0 if part == 0 else dst[b][z]
        for p in range(t_indptr[part, z], t_indptr[part, z + 1]):
            c = t_data[p]
            wi = &w[t_indices[p] * nb]
            for b in range(nb):
                acc[b] += c * wi[b]
        for b in range(nb):
            dst[b][z] = acc[b]


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
    cdef Py_ssize_t n = weights.shape[1], part, first
    for part in range(t_indptr.shape[0]):
        first = part * chunk
        interleave_weights(w, weights, r0, nb, first, min(chunk, n - first))
        gather_cells(dst, nb, w, t_indptr, t_indices, t_data, part, 0, t_indptr.shape[1] - 1)


cdef inline int gathers(Py_ssize_t k, Py_ssize_t n, const long long[:, ::1] t_indptr, const int[::1] t_indices,
                        const float[::1] t_data, Py_ssize_t chunk, const int64_t[::1] t_mirror) except -1:
    """Whether the transform gathers from ``C^T`` (``t_indptr`` given); raises unless it is given whole
    (4^k + 1 offsets for each chunk of ``chunk`` of the ``n`` sequences; ``t_mirror``, when given,
    4^k cells: its values are checked where it is built, :func:`seism_stats.features.grid.transposed_chunks`)."""
    cdef Py_ssize_t n_cells = (<Py_ssize_t>1) << (2 * k)
    if t_indptr is None:
        return 0
    if (t_indices is None or t_data is None or t_indptr.shape[1] != n_cells + 1
            or chunk < 1 or t_indptr.shape[0] != (n + chunk - 1) // chunk):
        raise ValueError(f"C^T must be given whole: 4^{k} rows for each chunk of {chunk} sequences")
    if t_mirror is not None and t_mirror.shape[0] != n_cells:
        raise ValueError(f"the mirror of C^T must map each of the 4^{k} cells")
    return 1


cdef inline const int64_t* mirror_pointer(const int64_t[::1] t_mirror) noexcept:
    """The mirror's first entry, or NULL without a mirror."""
    return &t_mirror[0] if t_mirror is not None else NULL


cdef inline void fill_mirrored(double* row, Py_ssize_t n_cells, const int64_t* mirror) noexcept nogil:
    """``row[z] = row[mirror[z]]`` for every cell not stored in ``C^T`` (see :func:`transform_block`)."""
    cdef Py_ssize_t z
    for z in range(n_cells):
        if mirror[z] != z:
            row[z] = row[mirror[z]]


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
                                 const float[::1] t_data, Py_ssize_t chunk, const int64_t* mirror,
                                 double* buf) noexcept nogil:
    """``K (C^T weights[r0 + b])`` for ``b < width``, into row ``out_rows[r0 + b]`` of ``out``.

    ``out`` has rows of ``out_stride`` doubles (4^k used); ``out_rows`` NULL means
    row ``r0 + b``. The sparse product gathers from ``C^T`` (``gather``) or scatters
    the rows of C into ``buf``; ``buf`` holds :func:`block_buffer_doubles` doubles.
    A row's result does not depend on the block it falls in, nor on the path.

    ``mirror`` (NULL or 4^k cells, with the gather) is for counts merged over both
    strands, whose columns z and rc(z) are equal: ``C^T`` then stores only the
    canonical cells' columns (``mirror[z] == z``), and every other cell's sum is
    copied from ``mirror[z] = rc(z)``: the same numbers in the same order, so the
    same bits as gathering it, for half the gather.
    """
    cdef Py_ssize_t n_cells = (<Py_ssize_t>1) << (2 * k), b, z
    cdef Py_ssize_t tile = (<Py_ssize_t>1) << (2 * TILE_MODES)
    cdef double* dst[BLOCK_ROWS]
    for b in range(width):
        dst[b] = out + (out_rows[r0 + b] if out_rows != NULL else r0 + b) * out_stride
    if gather and t_indptr.shape[0] == 1 and k > TILE_MODES and mirror == NULL:
        # One chunk: each tile of 4^TILE_MODES cells gets its first modes right after its sums,
        # while the block's tile is in cache; the other modes run on whole rows below.
        interleave_weights(buf, weights, r0, width, 0, weights.shape[1])
        for z in range(n_cells // tile):
            gather_cells(dst, width, buf, t_indptr, t_indices, t_data, 0, z * tile, (z + 1) * tile)
            for b in range(width):
                kron_apply_modes(dst[b] + z * tile, tile, 0, TILE_MODES, diag, off)
        for b in range(width):
            kron_apply_modes(dst[b], n_cells, TILE_MODES, k, diag, off)
        return
    if gather:
        gather_weighted_block(dst, width, buf, weights, r0, t_indptr, t_indices, t_data, chunk)
        if mirror != NULL:
            for b in range(width):
                fill_mirrored(dst[b], n_cells, mirror)
    else:
        scatter_weighted_block(buf, n_cells, width, weights, r0, indptr, indices, data)
        for z in range(n_cells):  # one sweep over the buffer fills the block's rows
            for b in range(width):
                dst[b][z] = buf[z * width + b]
    for b in range(width):
        kron_apply_row(dst[b], k, diag, off)
