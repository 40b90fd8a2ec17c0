# Sums in NumPy's order, for kernels whose results must equal a vectorised NumPy expression.


cdef inline double pairwise_sum(const double* a, Py_ssize_t n) noexcept nogil:
    """``sum(a[:n])`` in NumPy's order for a contiguous row (``ndarray.sum(axis=-1)``).

    NumPy's pairwise sum: in order below 8 entries; up to 128 entries, eight
    partial sums (stepping by 8) combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)),
    then the remainder in order; longer rows split in two halves (the first a
    multiple of 8 long), each summed the same way.
    """
    cdef Py_ssize_t i, j, whole, half
    cdef double r[8]
    cdef double res = 0.0
    if n < 8:
        for i in range(n):
            res = res + a[i]
        return res
    if n > 128:
        half = n // 2
        half = half - half % 8
        return pairwise_sum(a, half) + pairwise_sum(a + half, n - half)
    for j in range(8):
        r[j] = a[j]
    whole = n - n % 8
    i = 8
    while i < whole:
        for j in range(8):
            r[j] = r[j] + a[i + j]
        i += 8
    res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < n:
        res = res + a[i]
        i += 1
    return res
