# Typed kernels shared between the Cython modules of seism_stats.

cdef void kron_apply_row(double* row, Py_ssize_t k, double diag, double off) noexcept nogil
cdef void scatter_weighted_block(double* buf, Py_ssize_t n_cells, Py_ssize_t nb,
                                 const double[:, ::1] weights, Py_ssize_t r0,
                                 const long long[::1] indptr, const long long[::1] indices,
                                 const double[::1] data) noexcept nogil
