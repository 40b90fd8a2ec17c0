"""Known-motif matches with Tomtom's statistics: which database motif does a learned PWM resemble?

The comparison is Tomtom's (Gupta et al. 2007, Genome Biology 8:R24), run by
memelite (:func:`memelite.tomtom`), a maintained Python implementation of
Tomtom and FIMO (Schreiber's ``memesuite-lite``): every offset on both strands,
Tomtom's "complete" score with overhangs, and the p-value of the best
alignment from the score distribution of the query's columns against all
database columns (dynamic programming, so p-values far below 1e-10 are exact
rather than floored). The E-value is that p-value times the number of database
motifs, as Tomtom reports it.

Why memelite rather than a comparison of our own: the former hand-written one
(Pearson correlation of columns, a sampled column null) gave p-values 13 orders
of magnitude weaker than Tomtom's at the top hit, a p-value of exactly 0 for a
third of the queries and 1.2-1.7 s per query against JASPAR;
``benchmarks/bench_motif_match.py`` measures both against memelite.
memelite is compiled by numba on first use (about a minute, once; numba caches
the machine code beside memelite or in its cache folder): the first call in a
process that has to compile says so on stderr.

Databases: any MEME or JASPAR file (:func:`load_motif_database`), or JASPAR
CORE through the optional ``pyjaspar`` package (``pip install "seism_stats[jaspar]"``).
Tomtom's p-values use the database's columns as their background, so they are
reliable for a database of a few dozen motifs or more (memelite warns below 25).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io.motif_files import check_ppm, read_jaspar, read_meme, reverse_complement_ppm

#: The smallest p-value reported: memelite's dynamic programming can underflow to 0 for
#: very long exact matches, and a p-value is never exactly 0.
MIN_PVALUE = float(np.finfo(np.float64).tiny)

Database = dict[str, tuple[str, np.ndarray]]


@dataclass(frozen=True, eq=False)
class MotifMatch:
    """Best database match of one query motif (Tomtom's statistics).

    Attributes
    ----------
    match_id, match_name : str
    pvalue : float
        Tomtom p-value of the best alignment against that motif (never 0).
    evalue : float
        ``pvalue`` times the number of database motifs.
    offset : int
        Position of the database motif's first column relative to the query's
        (on the matched strand): query column ``j`` faces database column ``j - offset``.
    overlap : int
        Columns aligned.
    strand : str
        ``"+"`` or ``"-"`` (the database motif reverse-complemented).
    score : float
        memelite's alignment score (higher is more similar).
    ppm : ndarray (width, 4)
        The database motif on the matched strand, for drawing it aligned to the query.
    database_size : int
        Motifs in the database (the E-value's multiplier).
    """

    match_id: str
    match_name: str
    pvalue: float
    evalue: float
    offset: int
    overlap: int
    strand: str
    score: float
    ppm: np.ndarray = field(repr=False)
    database_size: int = 0


def load_motif_database(path: str | os.PathLike) -> Database:
    """``{id: (name, PPM)}`` from a MEME (``MEME version`` line) or JASPAR file.

    The name is the MEME alternate name or the rest of the JASPAR header (the TF
    name in JASPAR's files), else the id.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"motif database not found: {path}")
    head = path.read_text(errors="replace")[:4096]
    reader = read_meme if "MEME version" in head else read_jaspar
    try:
        return reader(path, with_names=True)
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text motif file (MEME or JASPAR); is it binary?") from None


def jaspar_core_database(collection: str = "CORE", tax_group: str | None = "vertebrates") -> Database:
    """JASPAR motifs from the ``pyjaspar`` package (shipped offline with it; loaded once per process).

    Counts get a pseudo-count of 0.01 per letter before normalising, so that no
    probability is exactly 0.
    """
    _require_pyjaspar()  # checked on every call: the cache below must not hide a missing package
    return dict(_jaspar(collection, tax_group))


def _require_pyjaspar():
    """The ``pyjaspar`` module, or an ImportError naming the extra to install."""
    try:
        import pyjaspar
    except ImportError:
        raise ImportError("JASPAR matching needs pyjaspar: pip install 'seism_stats[jaspar]', "
                          "or give a MEME/JASPAR file as the database") from None
    return pyjaspar


@functools.lru_cache(maxsize=4)
def _jaspar(collection: str, tax_group: str | None) -> tuple:
    from pyjaspar import jaspardb

    motifs = jaspardb().fetch_motifs(collection=collection, tax_group=[tax_group] if tax_group else None)
    database = []
    for motif in motifs:
        counts = np.array([motif.counts[letter] for letter in "ACGT"], dtype=np.float64).T
        database.append((motif.matrix_id, (motif.name, check_ppm(counts + 0.01, motif.matrix_id))))
    return tuple(database)


def jaspar_available() -> bool:
    """Whether the optional ``pyjaspar`` (JASPAR CORE, offline) is installed."""
    return importlib.util.find_spec("pyjaspar") is not None


def default_database(choice: str | None) -> str | None:
    """The command line's ``--motif-db``: ``auto`` is JASPAR CORE when pyjaspar is installed, else none."""
    if choice in (None, "none"):
        return None
    if choice == "auto":
        return "jaspar" if jaspar_available() else None
    return choice


def resolve_database(database) -> Database:
    """A database from ``"jaspar"`` (JASPAR CORE vertebrates), a MEME/JASPAR file, or a dict as is."""
    if isinstance(database, dict):
        return database
    if isinstance(database, str) and database == "jaspar":
        return jaspar_core_database()
    if isinstance(database, (str, os.PathLike)):
        return load_motif_database(database)
    raise TypeError(f"database must be 'jaspar', a MEME/JASPAR file or a dict {{id: (name, PPM)}}, "
                    f"got {type(database).__name__}")


def database_label(database) -> str:
    """How a database given to :func:`resolve_database` is named in summaries and reports."""
    if isinstance(database, dict):
        return "the given motifs"
    if isinstance(database, str) and database == "jaspar":
        from pyjaspar import jaspardb
        return f"JASPAR CORE vertebrates ({jaspardb().release}, pyjaspar)"
    return Path(database).name


@functools.lru_cache(maxsize=1)
def _tomtom():
    """memelite's ``tomtom``; says on stderr, once, when numba has to compile it first."""
    try:
        from memelite import tomtom
    except ImportError:
        raise ImportError("known-motif matching needs memelite (a dependency of seism_stats): "
                          "pip install memelite") from None
    cache = _compiled_cache()
    if cache is None or not cache.is_file():
        where = f" (cached in {cache.parent})" if cache is not None else ""
        print("seism: compiling memelite's Tomtom with numba on first use: about a minute, once"
              f"{where}", file=sys.stderr, flush=True)
    return tomtom


def _compiled_cache() -> Path | None:
    """The index file of numba's on-disk cache of memelite's Tomtom kernel, or None if unknown."""
    try:  # numba's dispatcher and cache objects: private, so any change gives the announcement
        kernel = sys.modules["memelite.tomtom"]._tomtom
        return Path(kernel._cache._cache_file._index_path)
    except (KeyError, AttributeError, TypeError):
        return None


def _tomtom_arrays(queries: Sequence[np.ndarray], database: Database):
    """Checked queries, database ids and targets, and memelite's (p, score, offset, overlap, strand) arrays."""
    queries = [check_ppm(q, f"query {j + 1}") for j, q in enumerate(queries)]
    ids = list(database)
    if not ids or not queries:
        return queries, ids, [], None
    targets = _checked_database(database)
    # memelite takes (4, width) matrices (PyTorch's layout).
    arrays = _tomtom()([np.ascontiguousarray(q.T) for q in queries], [np.ascontiguousarray(t.T) for t in targets])
    pvalues = np.where(np.isfinite(arrays[0]), np.maximum(arrays[0], MIN_PVALUE), 1.0)
    return queries, ids, targets, (pvalues, *arrays[1:])


def _checked_database(database: Database) -> list[np.ndarray]:
    """The database's PPMs, checked and normalised as :func:`check_ppm` does, in one pass over all columns."""
    ppms = [np.asarray(value[1], dtype=np.float64) for value in database.values()]
    stacked = np.vstack([p for p in ppms if p.ndim == 2 and p.shape[1] == 4 and p.shape[0]] or [np.ones((1, 4))])
    sums = stacked.sum(axis=1)
    if any(p.ndim != 2 or p.shape[1] != 4 or not p.shape[0] for p in ppms) or not np.isfinite(stacked).all() \
            or (stacked < 0).any() or (sums <= 0).any():
        return [check_ppm(p, key) for key, p in zip(database, ppms)]  # raises, naming the bad motif
    return np.split(stacked / sums[:, None], np.cumsum([p.shape[0] for p in ppms])[:-1])


def _ranked(pvalues: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Database indices from the best match to the worst: p-value, then higher score, then database order."""
    return np.lexsort((np.arange(pvalues.shape[0]), -scores, pvalues))


def match_motifs(queries: Sequence[np.ndarray], database: Database) -> list[MotifMatch | None]:
    """Best database match of each query PPM, by Tomtom's p-value (memelite).

    Parameters
    ----------
    queries : sequence of ndarray (width, 4)
        Position probability matrices, positions as rows, A, C, G, T as columns.
    database : dict ``{id: (name, PPM)}``
        Tomtom's p-values use the database's columns as their background: give a
        whole motif collection (memelite warns below 25 motifs).

    Returns
    -------
    list of MotifMatch or None
        None for every query when the database is empty. Ties in p-value go to the
        higher score, then to the first motif of the database.
    """
    queries, ids, targets, arrays = _tomtom_arrays(queries, database)
    if arrays is None:
        return [None] * len(queries)
    pvalues, scores, offsets, overlaps, strands = arrays
    matches = []
    for j in range(len(queries)):
        best = int(_ranked(pvalues[j], scores[j])[0])
        reverse = int(strands[j, best]) == 1
        ppm = reverse_complement_ppm(targets[best]) if reverse else targets[best]
        matches.append(MotifMatch(
            match_id=ids[best], match_name=str(database[ids[best]][0]), pvalue=float(pvalues[j, best]),
            evalue=float(pvalues[j, best]) * len(ids),
            offset=-int(offsets[j, best]),  # memelite: the database column facing query column 0
            overlap=int(overlaps[j, best]), strand="-" if reverse else "+", score=float(scores[j, best]),
            ppm=np.ascontiguousarray(ppm), database_size=len(ids)))
    return matches


def match_table(queries: Sequence[np.ndarray], database: Database, top: int | None = None,
                names: Sequence[str] | None = None):
    """Every query against every database motif, as Tomtom's output table (best matches first).

    Parameters
    ----------
    queries : sequence of ndarray (width, 4)
    database : dict ``{id: (name, PPM)}``
    top : int, optional
        Keep the ``top`` best matches of each query.
    names : sequence of str, optional
        Query names (default ``query1, query2, ...``).

    Returns
    -------
    pandas.DataFrame
        Columns ``query``, ``rank`` (1 = best), ``match_id``, ``match_name``, ``pvalue``,
        ``evalue``, ``offset``, ``overlap``, ``strand`` (as in :class:`MotifMatch`).
    """
    import pandas as pd

    names = list(names) if names is not None else [f"query{j + 1}" for j in range(len(queries))]
    if len(names) != len(queries):
        raise ValueError(f"{len(names)} names for {len(queries)} queries")
    queries, ids, _, arrays = _tomtom_arrays(queries, database)
    columns = ["query", "rank", "match_id", "match_name", "pvalue", "evalue", "offset", "overlap", "strand"]
    if arrays is None:
        return pd.DataFrame(columns=columns)
    pvalues, scores, offsets, overlaps, strands = arrays
    rows = []
    for j, name in enumerate(names):
        for rank, t in enumerate(_ranked(pvalues[j], scores[j])[:top], start=1):
            rows.append((name, rank, ids[t], str(database[ids[t]][0]), pvalues[j, t], pvalues[j, t] * len(ids),
                         -int(offsets[j, t]), int(overlaps[j, t]), "-" if int(strands[j, t]) == 1 else "+"))
    return pd.DataFrame(rows, columns=columns)
