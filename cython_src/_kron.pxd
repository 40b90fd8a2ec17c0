# Typed kernels shared between the Cython modules of seism_stats.

cdef void kron_apply_row(double* row, Py_ssize_t k, double diag, double off) noexcept nogil
cdef void scatter_weighted_rows(double* row, Py_ssize_t n_cells,
                                const long long[::1] indptr, const long long[::1] indices,
                                const double[::1] data, const double[::1] weights) noexcept nogil
