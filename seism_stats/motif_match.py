"""Known-motif matches, in the manner of Tomtom: which database motif does a learned PWM resemble?

Each query PWM is compared with every database motif at every offset with at
least :data:`MIN_OVERLAP` aligned columns, on both strands. The score of an
alignment is the sum over aligned columns of the Pearson correlation of the
two columns (Tomtom's PCC column comparison). Its p-value treats the query's
columns as independent draws from the database's own columns (Tomtom's null):
each target column's null score distribution is the histogram (bins of
:data:`BIN_WIDTH`) of its correlations with a fixed-seed sample of database
columns, the null of an aligned sum is the convolution of those histograms (as
Tomtom does, so tail p-values far below 1e-3 are resolved), the best offset's
p-value is multiplied by the number of alignments tried (Bonferroni, capped at
1), and the E-value is that p-value times the number of database motifs.

Databases: any MEME or JASPAR file (:func:`load_motif_database`), or JASPAR
CORE through the optional ``pyjaspar`` package (``pip install "seism_stats[jaspar]"``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .motif_io import check_ppm, read_jaspar, read_meme

#: Fewest aligned columns an alignment must have (or the shorter motif's width).
MIN_OVERLAP = 4
#: Database columns sampled to build the null (fixed seed: results are reproducible).
NULL_COLUMNS = 2000
#: Width of the score bins of the column null distributions (correlations lie in [-1, 1]).
BIN_WIDTH = 0.01


@dataclass(frozen=True)
class MotifMatch:
    """Best database match of one query motif.

    Attributes
    ----------
    match_id, match_name : str
    pvalue : float
        P-value of the best alignment against that motif (corrected for the alignments tried).
    evalue : float
        ``pvalue`` times the number of database motifs.
    offset : int
        Position of the database motif's first column relative to the query's.
    strand : str
        ``"+"`` or ``"-"`` (the database motif reverse-complemented).
    score : float
        Sum of column Pearson correlations over the aligned columns.
    """

    match_id: str
    match_name: str
    pvalue: float
    evalue: float
    offset: int
    strand: str
    score: float


def load_motif_database(path: str | os.PathLike) -> dict[str, tuple[str, np.ndarray]]:
    """``{id: (name, PPM)}`` from a MEME (``MEME version`` line) or JASPAR file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"motif database not found: {path}")
    head = path.read_text(errors="replace")[:4096]
    try:
        motifs = read_meme(path) if "MEME version" in head else read_jaspar(path)
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text motif file (MEME or JASPAR); is it binary?") from None
    return {name: (name, ppm) for name, ppm in motifs.items()}


def motif_database(database) -> dict[str, tuple[str, np.ndarray]]:
    """A database as ``{id: (name, PPM)}``: ``"jaspar"`` (JASPAR CORE vertebrates, needs pyjaspar), a
    MEME or JASPAR file, or such a dict (returned as is)."""
    if isinstance(database, dict):
        return database
    if isinstance(database, str) and database == "jaspar":
        return jaspar_core_database()
    return load_motif_database(database)


def jaspar_core_database(collection: str = "CORE", tax_group: str | None = "vertebrates") -> dict[str, tuple[str, np.ndarray]]:
    """JASPAR CORE motifs from the ``pyjaspar`` package (shipped offline with it)."""
    try:
        from pyjaspar import jaspardb
    except ImportError:
        raise ImportError("JASPAR matching needs pyjaspar: pip install 'seism_stats[jaspar]', "
                          "or give a MEME/JASPAR file as the database") from None
    motifs = jaspardb().fetch_motifs(collection=collection, tax_group=[tax_group] if tax_group else None)
    database = {}
    for motif in motifs:
        counts = np.array([motif.counts[letter] for letter in "ACGT"], dtype=np.float64).T
        database[motif.matrix_id] = (motif.name, check_ppm(counts + 0.01, motif.matrix_id))
    return database


def _standardised(columns: np.ndarray) -> np.ndarray:
    """Rows centred and scaled so that a dot product divided by 4 is the Pearson correlation."""
    centred = columns - columns.mean(axis=1, keepdims=True)
    scale = np.sqrt((centred**2).mean(axis=1, keepdims=True))
    return centred / np.where(scale > 0, scale, 1.0)


def _reverse_complement(ppm: np.ndarray) -> np.ndarray:
    return ppm[::-1, ::-1]  # rows reversed; columns A C G T -> T G C A


def _alignments(width_query: int, width_target: int):
    """Offsets (target start relative to query start) with enough overlap, and their column pairs."""
    need = min(MIN_OVERLAP, width_query, width_target)
    for offset in range(-(width_target - need), width_query - need + 1):
        i = np.arange(max(0, offset), min(width_query, offset + width_target))
        yield offset, i, i - offset


def _bins(values: np.ndarray) -> np.ndarray:
    return np.rint((np.clip(values, -1.0, 1.0) + 1.0) / BIN_WIDTH).astype(np.int64)


def _sum_tail(null_columns: np.ndarray, observed: np.ndarray) -> float:
    """``P(sum_j X_j >= sum_j observed_j)`` for independent X_j with the empirical laws of the columns.

    Each column's law is binned (:data:`BIN_WIDTH`) and the laws are convolved: the
    exact distribution of the binned sum, so small tail probabilities are resolved.
    """
    n_bins = int(round(2.0 / BIN_WIDTH)) + 1
    pmf = np.ones(1)
    for j in range(null_columns.shape[1]):
        column = np.bincount(_bins(null_columns[:, j]), minlength=n_bins).astype(np.float64)
        pmf = np.convolve(pmf, column / column.sum())
    threshold = int(_bins(observed).sum())
    return float(min(1.0, pmf[threshold:].sum()))


def match_motifs(queries: list[np.ndarray], database: dict[str, tuple[str, np.ndarray]],
                 random_state: int = 0) -> list[MotifMatch | None]:
    """Best database match of each query PPM (None when the database is empty).

    Parameters
    ----------
    queries : list of ndarray (width, 4)
    database : dict ``{id: (name, PPM)}``
    random_state : int
        Seed of the Monte-Carlo null (results are reproducible).
    """
    if not database:
        return [None] * len(queries)
    rng = np.random.default_rng(random_state)
    ids = list(database)
    all_columns = np.vstack([database[i][1] for i in ids])
    background = _standardised(all_columns[rng.integers(0, all_columns.shape[0], NULL_COLUMNS)])
    # Each target strand, standardised, with its columns' null correlations: the same for every query.
    targets = {}
    for target_id in ids:
        ppm = database[target_id][1]
        strands = []
        for strand, target in (("+", ppm), ("-", _reverse_complement(ppm))):
            t = _standardised(target)
            strands.append((strand, t, background @ t.T / 4.0))  # background column x target column
        targets[target_id] = strands
    results = []
    for query in queries:
        q = _standardised(check_ppm(query, "query"))
        best = None
        for target_id in ids:
            name = database[target_id][0]
            best_here, n_alignments = None, 0
            for strand, t, null_similarity in targets[target_id]:
                similarity = q @ t.T / 4.0  # query column x target column Pearson correlations
                for offset, qi, ti in _alignments(q.shape[0], t.shape[0]):
                    n_alignments += 1
                    score = float(similarity[qi, ti].sum())
                    if best_here is None or score > best_here[0]:
                        best_here = (score, _sum_tail(null_similarity[:, ti], similarity[qi, ti]), offset, strand)
            score, p, offset, strand = best_here
            p = min(1.0, p * n_alignments)
            if best is None or p < best.pvalue or (p == best.pvalue and score > best.score):
                best = MotifMatch(target_id, name, p, min(p * len(ids), float(len(ids))), offset, strand, score)
        results.append(best)
    return results
