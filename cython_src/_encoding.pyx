"""Encode DNA text into integer codes (A=0, C=1, G=2, T=3, ambiguous=4, invalid=255)."""

from libc.stdint cimport uint8_t

import numpy as np

cdef uint8_t[256] _TABLE


cdef void _init_table() noexcept:
    cdef int i
    for i in range(256):
        _TABLE[i] = 255
    for i, letters in enumerate((b"Aa", b"Cc", b"Gg", b"Tt")):
        _TABLE[letters[0]] = i
        _TABLE[letters[1]] = i
    # IUPAC ambiguity codes: allowed, contribute to no k-mer window.
    for ch in b"NRYSWKMBDHVnryswkmbdhv":
        _TABLE[ch] = 4


_init_table()


cdef Py_ssize_t _encode(const uint8_t[::1] text, uint8_t[::1] codes) noexcept nogil:
    """Fill ``codes``; return the index of the first invalid byte, or -1."""
    cdef Py_ssize_t i, first_bad = -1
    cdef uint8_t c
    for i in range(text.shape[0]):
        c = _TABLE[text[i]]
        codes[i] = c
        if c == 255 and first_bad < 0:
            first_bad = i
    return first_bad


def encode_bytes(const uint8_t[::1] text):
    """Encode ASCII DNA text.

    Parameters
    ----------
    text : uint8 array
        Concatenated sequence bytes.

    Returns
    -------
    codes : ndarray of uint8
        One code per byte (255 marks an invalid letter).
    first_bad : int
        Index of the first invalid byte, -1 when all letters are valid.
    """
    codes = np.empty(text.shape[0], dtype=np.uint8)
    cdef uint8_t[::1] codes_view = codes
    cdef Py_ssize_t first_bad
    with nogil:
        first_bad = _encode(text, codes_view)
    return codes, first_bad
