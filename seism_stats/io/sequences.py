"""DNA sequences: reading FASTA files and encoding text into integer codes (SPEC 1)."""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _encoding

#: Letters accepted in sequences: A, C, G, T and the IUPAC ambiguity codes (any case).
VALID_LETTERS = "ACGTNRYSWKMBDHV"


@dataclass(frozen=True)
class EncodedSequences:
    """Sequences as one array of codes (A=0, C=1, G=2, T=3, ambiguous=4).

    Attributes
    ----------
    codes : ndarray of uint8
        All sequences concatenated.
    offsets : ndarray of int64, length n + 1
        Sequence i is ``codes[offsets[i]:offsets[i + 1]]``.
    ids : tuple of str
        Sequence identifiers (FASTA names, DataFrame index, or ``seq0, seq1, ...``).
    """

    codes: np.ndarray
    offsets: np.ndarray
    ids: tuple[str, ...]

    def __len__(self) -> int:
        return self.offsets.shape[0] - 1

    @property
    def lengths(self) -> np.ndarray:
        """Length of each sequence."""
        return np.diff(self.offsets)

    def subset(self, index) -> "EncodedSequences":
        """Sequences at the given integer positions, in that order."""
        index = np.asarray(index, dtype=np.int64)
        pieces = [self.codes[self.offsets[i]:self.offsets[i + 1]] for i in index]
        lengths = np.array([len(p) for p in pieces], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        codes = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.uint8)
        return EncodedSequences(codes, offsets, tuple(self.ids[i] for i in index))

    def decode(self, i: int) -> str:
        """Sequence i as text (ambiguous letters come back as N)."""
        return "".join("ACGTN"[c] for c in self.codes[self.offsets[i]:self.offsets[i + 1]])


def read_fasta(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """Read a FASTA file, plain or gzip-compressed.

    Parameters
    ----------
    path : str or path-like
        File name; ``.gz`` files (or any gzip magic number) are decompressed.

    Returns
    -------
    ids, sequences : lists of str
        The first word of each header and the joined sequence lines.

    Raises
    ------
    ValueError
        A header without an id (``>`` alone), an id used twice (ids label the
        rows: they key a response table or a pandas response), sequence text
        before the first header, or a damaged file; the message names the file
        and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FASTA file not found: {path}")
    with open(path, "rb") as handle:
        magic = handle.read(2)
    compressed = magic == b"\x1f\x8b"
    try:
        return _parse_fasta(path, compressed)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ValueError(f"{path}: truncated or corrupt gzip file ({exc})") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text FASTA file (undecodable byte "
                         f"{exc.object[exc.start:exc.start + 1]!r}); is it binary, or in another encoding?") from None


def _parse_fasta(path: Path, compressed: bool) -> tuple[list[str], list[str]]:
    ids: list[str] = []
    chunks: list[list[str]] = []
    first_line: dict[str, int] = {}
    # utf-8-sig: a byte-order mark written by some editors is not sequence text.
    handle = gzip.open(path, "rt", encoding="utf-8-sig") if compressed else open(path, encoding="utf-8-sig")
    with handle:
        for line_number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line or line.startswith(";"):
                continue
            if line.startswith(">"):
                header = line[1:].split()
                if not header:
                    raise ValueError(f"{path}: line {line_number} is a '>' header without a sequence id; "
                                     "every record needs one (ids pair sequences with their responses)")
                if header[0] in first_line:
                    raise ValueError(f"{path}: line {line_number}: sequence id {header[0]!r} was already used "
                                     f"on line {first_line[header[0]]}; ids must be unique")
                first_line[header[0]] = line_number
                ids.append(header[0])
                chunks.append([])
            elif not ids:
                fastq = " (it looks like FASTQ, whose records start with '@': convert it to FASTA)" \
                    if line.startswith("@") else ""
                raise ValueError(f"{path}: line {line_number} holds sequence text before any '>' header{fastq}")
            else:
                chunks[-1].append(line)
    if not ids:
        raise ValueError(f"{path}: no FASTA record found")
    return ids, ["".join(c) for c in chunks]


def sequence_label(i: int, ids) -> str:
    """How error messages name a sequence.

    Parameters
    ----------
    i : int
        Position of the sequence.
    ids : sequence
        The sequences' ids.

    Returns
    -------
    str
        ``"sequence i (id)"``, or ``"sequence i"`` when the id is the position itself.
    """
    return f"sequence {i}" if str(ids[i]) == str(i) else f"sequence {i} ({ids[i]})"


def encode_sequences(sequences, ids: Sequence[str] | None = None) -> EncodedSequences:
    """Encode DNA sequences, checking every letter.

    Parameters
    ----------
    sequences : list of str, pandas Series, numpy array of str, FASTA path or EncodedSequences
        A ``str`` or path-like is read as a FASTA file (plain or gzip).
    ids : sequence of str, optional
        Identifiers; default FASTA names, the Series index, or ``seq0, seq1, ...``.

    Returns
    -------
    EncodedSequences

    Raises
    ------
    ValueError
        Empty input, an empty sequence, or a letter outside A, C, G, T and the IUPAC
        ambiguity codes (the message names the sequence, position and letter).
    TypeError
        A sequence that is not a string.
    """
    if isinstance(sequences, EncodedSequences):
        return sequences
    if isinstance(sequences, (str, os.PathLike)):
        fasta_ids, sequences = read_fasta(sequences)
        ids = fasta_ids if ids is None else ids
    elif hasattr(sequences, "index") and hasattr(sequences, "tolist") and ids is None:
        ids = [str(i) for i in sequences.index]  # pandas Series
        sequences = sequences.tolist()
    if not isinstance(sequences, Iterable):
        raise TypeError(f"sequences must be a list of strings or a FASTA path, got {type(sequences).__name__}")
    sequences = list(sequences)
    if not sequences:
        raise ValueError("no sequences given")
    for i, seq in enumerate(sequences):
        if not isinstance(seq, str):
            raise TypeError(f"sequence {i} is of type {type(seq).__name__}, not a string")
    if ids is None:
        ids = [f"seq{i}" for i in range(len(sequences))]
    ids = tuple(str(i) for i in ids)
    if len(ids) != len(sequences):
        raise ValueError(f"{len(ids)} ids for {len(sequences)} sequences")
    for i, seq in enumerate(sequences):
        if not seq:
            raise ValueError(f"{sequence_label(i, ids)} is empty")
    try:
        text = "".join(sequences).encode("ascii")
    except UnicodeEncodeError as exc:
        offsets = np.cumsum([0] + [len(s) for s in sequences])
        i = int(np.searchsorted(offsets, exc.start, side="right") - 1)
        raise ValueError(
            f"{sequence_label(i, ids)} has the non-DNA letter {exc.object[exc.start]!r} at "
            f"position {exc.start - offsets[i] + 1}; allowed: {VALID_LETTERS} (any case)"
        ) from None
    codes, first_bad = _encoding.encode_bytes(np.frombuffer(text, dtype=np.uint8))
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sequences])]).astype(np.int64)
    if first_bad >= 0:
        i = int(np.searchsorted(offsets, first_bad, side="right") - 1)
        raise ValueError(
            f"{sequence_label(i, ids)} has the non-DNA letter {chr(text[first_bad])!r} at "
            f"position {first_bad - offsets[i] + 1}; allowed: {VALID_LETTERS} (any case)"
        )
    return EncodedSequences(codes, offsets, ids)
