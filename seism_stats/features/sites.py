"""Motif sites: where a selected motif occurs, counted as HOMER and MEME report them.

A site of a motif is a window whose k-mer is the motif's grid k-mer (the cell
the selection chose and the test is about), on either strand when the grid
merges reverse complements, allowing ``max_mismatches`` mismatches (0 by
default: exact occurrences). Windows holding an N are not sites. The counts
feed the report's "sequences with a site" columns (HOMER's "% of targets" and
"% of background") and the ``nsites`` of the exported motif files.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..io.sequences import EncodedSequences, encode_sequences
from .kmers import hamming_to_all, kmer_count_matrix, reverse_complement_index, string_to_kmer


def count_sites(sequences, kmer: str, revcomp: bool = True, max_mismatches: int = 0) -> np.ndarray:
    """Sites of ``kmer`` in each sequence.

    Parameters
    ----------
    sequences : list of str, pandas Series, FASTA path or EncodedSequences
    kmer : str
        The motif's k-mer (A, C, G, T).
    revcomp : bool
        Count the reverse-complement strand too (a palindromic window counts once).
    max_mismatches : int
        Mismatches a site may have.

    Returns
    -------
    ndarray of int64
        Sites per sequence.
    """
    if isinstance(max_mismatches, bool) or not isinstance(max_mismatches, (int, np.integer)) or max_mismatches < 0:
        raise ValueError(f"max_mismatches must be a non-negative integer, got {max_mismatches!r}")
    encoded = sequences if isinstance(sequences, EncodedSequences) else encode_sequences(sequences)
    k = len(kmer)
    close = hamming_to_all(string_to_kmer(kmer), k) <= max_mismatches
    if revcomp:
        close |= close[reverse_complement_index(k)]  # windows whose reverse complement is close
    counts = kmer_count_matrix(encoded, k)
    return np.asarray(counts[:, np.flatnonzero(close)].sum(axis=1), dtype=np.int64).ravel()


def site_table(sequences, kmers: Sequence[str], foreground: np.ndarray | None = None, revcomp: bool = True,
               max_mismatches: int = 0, index=None) -> pd.DataFrame:
    """Sites and sequences with a site, per motif, in the foreground and the background.

    Parameters
    ----------
    sequences : list of str, pandas Series or EncodedSequences
    kmers : sequence of str
        One k-mer per motif.
    foreground : boolean ndarray, optional
        Which sequences are the foreground (a 0/1 response's ones); without it every
        sequence is the foreground and there is no background.
    revcomp, max_mismatches
        As in :func:`count_sites`.
    index : list, optional
        Row labels (one per motif).

    Returns
    -------
    pandas.DataFrame
        ``sites``, ``seqs_with_site``, ``pct_with_site`` (foreground), and with a
        background ``bg_sites``, ``bg_seqs_with_site``, ``bg_pct_with_site``.
    """
    encoded = sequences if isinstance(sequences, EncodedSequences) else encode_sequences(
        list(sequences) if isinstance(sequences, pd.Series) else sequences)
    groups = {"": np.ones(len(encoded), dtype=bool)} if foreground is None else \
        {"": np.asarray(foreground, dtype=bool), "bg_": ~np.asarray(foreground, dtype=bool)}
    rows = []
    for kmer in kmers:
        per_sequence = count_sites(encoded, kmer, revcomp, max_mismatches)
        row = {}
        for prefix, member in groups.items():
            row[f"{prefix}sites"] = int(per_sequence[member].sum())
            row[f"{prefix}seqs_with_site"] = int((per_sequence[member] > 0).sum())
            row[f"{prefix}pct_with_site"] = 100.0 * row[f"{prefix}seqs_with_site"] / max(int(member.sum()), 1)
        rows.append(row)
    columns = [f"{p}{c}" for p in groups for c in ("sites", "seqs_with_site", "pct_with_site")]
    return pd.DataFrame(rows, columns=columns, index=index)
