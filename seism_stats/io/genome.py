"""Sequences of peak intervals: a BED file on an indexed genome FASTA (needs the optional ``pyfaidx``).

BED coordinates are 0-based, end-exclusive. Intervals on the ``-`` strand are
reverse-complemented; ``width`` re-centres every interval on its midpoint with
that width (the HOMER/MEME-ChIP habit of fixed-size peaks).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

BED_COLUMNS = ("chrom", "start", "end", "name", "score", "strand")
_COMPLEMENT = str.maketrans("ACGTNacgtnRYKMSWBDHVrykmswbdhv", "TGCANtgcanYRMKSWVHDByrmkswvhdb")


def read_bed(path: str | os.PathLike) -> pd.DataFrame:
    """Intervals of a BED file (3 to 6+ columns; track/browser/comment lines skipped).

    Returns a table with the columns of :data:`BED_COLUMNS`, indexed by the line
    number of each interval. Names may repeat (UCSC files often reuse them; see
    :func:`check_unique_names` where they key a table). The strand is ``+``, ``-``
    or ``.`` (unstranded, read as ``+``); anything else is refused with its line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"BED file not found: {path}")
    rows, lines = [], []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) < 3:
            raise ValueError(f"{path}: line {number} has {len(fields)} fields; BED needs chrom, start, end")
        try:
            start, end = int(fields[1]), int(fields[2])
        except ValueError:
            hint = " (a header line? start it with '#', or remove it)" if not rows else ""
            raise ValueError(f"{path}: line {number}: start and end must be integers, got {fields[1:3]}{hint}") \
                from None
        if not 0 <= start < end:
            raise ValueError(f"{path}: line {number}: need 0 <= start < end, got {start}, {end}")
        name = fields[3] if len(fields) > 3 else f"{fields[0]}:{start}-{end}"
        try:
            score = float(fields[4]) if len(fields) > 4 and fields[4] not in (".", "") else float("nan")
        except ValueError:
            raise ValueError(f"{path}: line {number}: the score (5th field) must be a number or '.', got "
                             f"{fields[4]!r}") from None
        strand = fields[5] if len(fields) > 5 else "."
        if strand not in ("+", "-", "."):
            raise ValueError(f"{path}: line {number}: the strand (6th field) must be '+', '-' or '.', got {strand!r}")
        rows.append((fields[0], start, end, name, score, "-" if strand == "-" else "+"))
        lines.append(number)
    if not rows:
        raise ValueError(f"{path}: no interval found")
    bed = pd.DataFrame(rows, columns=BED_COLUMNS, index=pd.Index(lines, name="line"))
    # A repeated line would enter every fit twice (its sequence, its score): refused, naming both lines.
    where = ["chrom", "start", "end", "strand"]
    repeated = bed.duplicated(where)
    if repeated.any():
        again = bed.index[repeated][0]
        first = bed.index[(bed[where] == bed.loc[again, where]).all(axis=1)][0]
        raise ValueError(f"{path}: line {again} repeats the interval of line {first} "
                         f"({bed.loc[again, 'chrom']}:{bed.loc[again, 'start']}-{bed.loc[again, 'end']}, strand "
                         f"{bed.loc[again, 'strand']}); remove the repeated lines")
    return bed


def check_unique_names(bed: pd.DataFrame, path: str | os.PathLike, why: str) -> None:
    """Refuse repeated interval names (naming both lines) where the names key something (``why``)."""
    repeated = bed["name"].duplicated()
    if repeated.any():
        name = bed["name"][repeated].iloc[0]
        first, again = bed.index[bed["name"] == name][:2]
        raise ValueError(f"{path}: interval name {name!r} is on lines {first} and {again}; names must be "
                         f"unique here ({why})")


def reverse_complement(sequence: str) -> str:
    return sequence.translate(_COMPLEMENT)[::-1]


def genome_reader():
    """pyfaidx's ``Fasta`` class, or an ImportError that says which extra installs it."""
    try:
        from pyfaidx import Fasta
    except ImportError:
        raise ImportError("reading peaks from a genome needs the optional package pyfaidx: "
                          "pip install 'seism_stats[genome]'") from None
    return Fasta


def bed_sequences(bed: pd.DataFrame, genome: str | os.PathLike, width: int | None = None) -> list[str]:
    """The genome sequence of each interval (strand-aware, optionally re-centred to ``width``)."""
    Fasta = genome_reader()
    if not Path(genome).is_file():
        raise FileNotFoundError(f"genome FASTA not found: {genome}")
    try:
        fasta = Fasta(str(genome), as_raw=True, sequence_always_upper=True)
    except Exception as exc:  # pyfaidx reads plain or block-gzipped (bgzip) FASTA, not plain gzip
        with open(genome, "rb") as handle:
            gzipped = handle.read(2) == b"\x1f\x8b"
        if gzipped and re.search(r"gzip|bgzf", str(exc), re.IGNORECASE):
            raise ValueError(f"{genome} is gzip-compressed; the genome must be plain FASTA or block-gzipped "
                             f"(decompress it with 'gunzip', or recompress it with 'bgzip'): {exc}") from None
        raise
    sequences = []
    for row in bed.itertuples(index=False):
        if row.chrom not in fasta:
            raise ValueError(f"chromosome {row.chrom!r} of interval {row.name!r} is not in {genome}")
        start, end = row.start, row.end
        if width is not None:
            middle = (start + end) // 2
            start, end = middle - width // 2, middle - width // 2 + width
        length = len(fasta[row.chrom])
        if start < 0 or end > length:
            raise ValueError(f"interval {row.name!r} ({row.chrom}:{start}-{end}) runs off the chromosome "
                             f"(length {length})")
        sequence = fasta[row.chrom][start:end]
        sequences.append(reverse_complement(sequence) if row.strand == "-" else sequence)
    return sequences
