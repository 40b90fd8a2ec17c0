"""Data in and out: sequences, genome intervals, motif files and backgrounds.

Owns: :mod:`.sequences` (FASTA, encoding to integer codes; kernel ``_encoding``),
:mod:`.genome` (BED intervals on a genome FASTA), :mod:`.motif_files` (MEME and JASPAR
files), :mod:`.composition` (k-mer-preserving shuffles, composition covariates).

May import: :mod:`seism_stats.utils`.
"""
