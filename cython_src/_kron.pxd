# Typed kernels shared between the Cython modules of seism_stats.

cdef void kron_apply_row(double* row, Py_ssize_t k, double diag, double off) noexcept nogil
