"""Features: k-mer indexing and the feature map of every grid cell, ``phi_z(x)`` (SPEC 2, 7).

Owns: :mod:`.kmers` (k-mer indices and counts; kernel ``_kmers``), :mod:`.grid` (the
grid's feature maps, Kronecker and dense; kernel ``_kron``), :mod:`.memory` (what a fit
needs, checked before allocating), :mod:`.sites` (where a motif occurs). A new feature
map is a class in :mod:`.grid`.

May import: :mod:`seism_stats.io`, :mod:`seism_stats.utils`.
"""
