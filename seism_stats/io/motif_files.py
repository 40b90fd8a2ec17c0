"""Motif files biologists use: MEME minimal format and JASPAR PFM, both ways.

Exported motifs can be annotated by Tomtom, SEA or the JASPAR tools; an
imported PWM can be tested as a fixed motif (no selection, so an ordinary
test is valid): :func:`seism_stats.stats.classical.fixed_motif_test`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

LETTERS = "ACGT"


def check_ppm(ppm, name: str) -> np.ndarray:
    """A (width x 4) matrix of non-negative weights, rows normalised to probabilities."""
    ppm = np.asarray(ppm, dtype=np.float64)
    if ppm.ndim != 2 or ppm.shape[1] != 4 or ppm.shape[0] == 0:
        raise ValueError(f"motif {name!r} must be a (width x 4) matrix over A, C, G, T, got shape {ppm.shape}")
    if not np.isfinite(ppm).all() or (ppm < 0).any():
        raise ValueError(f"motif {name!r} has negative or non-finite entries")
    sums = ppm.sum(axis=1, keepdims=True)
    if (sums <= 0).any():
        raise ValueError(f"motif {name!r} has a position with all-zero counts")
    return ppm / sums


def reverse_complement_ppm(ppm: np.ndarray) -> np.ndarray:
    """The motif of the other strand: positions reversed, A C G T -> T G C A."""
    return np.ascontiguousarray(np.asarray(ppm)[::-1, ::-1])


def write_meme(ppms: Sequence[np.ndarray], names: Sequence[str], path: str | os.PathLike,
               nsites: int | Sequence[int] = 100, background: Sequence[float] = (0.25, 0.25, 0.25, 0.25),
               alt_names: Sequence[str] | None = None, significance: Sequence[float] | None = None) -> Path:
    """Write motifs in MEME minimal format (version 4, both strands).

    Parameters
    ----------
    ppms : sequence of ndarray (width, 4)
    names : sequence of str
        Motif identifiers (``MOTIF <name> <alt name>``).
    path : str or path-like
    nsites : int or sequence of int
        Sites each motif was built from (one number for all, or one per motif).
    background : sequence of 4 floats
    alt_names : sequence of str, optional
    significance : sequence of float, optional
        Each motif's ``E=`` field. MEME writes a motif's E-value there; results write
        their selective p-value (the field is the motif's significance, read by
        nothing in Tomtom or SEA). Without it, ``E= 1`` claims nothing.
    """
    path = Path(path)
    nsites = _per_motif(nsites, len(ppms))
    lines = ["MEME version 4", "", f"ALPHABET= {LETTERS}", "", "strands: + -", "",
             "Background letter frequencies",
             " ".join(f"{a} {b:.4f}" for a, b in zip(LETTERS, background)), ""]
    for j, (ppm, name) in enumerate(zip(ppms, names)):
        ppm = check_ppm(ppm, name)
        alt = f" {alt_names[j]}" if alt_names else ""
        lines.append(f"MOTIF {name}{alt}")
        e_value = 1.0 if significance is None or not np.isfinite(significance[j]) else float(significance[j])
        lines.append(f"letter-probability matrix: alength= 4 w= {ppm.shape[0]} nsites= {nsites[j]} E= {e_value:.3g}")
        lines.extend(" " + " ".join(f"{v:.6f}" for v in row) for row in ppm)
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def write_jaspar(ppms: Sequence[np.ndarray], names: Sequence[str], path: str | os.PathLike,
                 nsites: int | Sequence[int] = 100, ids: Sequence[str] | None = None) -> Path:
    """Write motifs as JASPAR PFMs (counts = probability x ``nsites``, rounded).

    Each position's counts sum to the motif's ``nsites`` exactly (largest-remainder
    rounding, as a PFM of ``nsites`` sites has; one number for all motifs or one per
    motif). The header is ``>id name``; results pass the same identifiers and names as
    in their MEME file.
    """
    path = Path(path)
    nsites = _per_motif(nsites, len(ppms))
    lines = []
    for j, (ppm, name) in enumerate(zip(ppms, names)):
        counts = site_counts(check_ppm(ppm, name), nsites[j])
        lines.append(f">{ids[j] if ids else name} {name}")
        for b, letter in enumerate(LETTERS):
            lines.append(f"{letter} [ " + " ".join(f"{c:4d}" for c in counts[:, b]) + " ]")
    path.write_text("\n".join(lines) + "\n")
    return path


def _per_motif(nsites, n: int) -> list:
    """``nsites`` as one value per motif (checked by :func:`site_counts` where counts are made)."""
    if isinstance(nsites, (str, bytes)) or not np.iterable(nsites):
        return [nsites] * n
    nsites = list(nsites)
    if len(nsites) != n:
        raise ValueError(f"{len(nsites)} nsites values for {n} motifs")
    return nsites


def site_counts(ppm: np.ndarray, nsites: int) -> np.ndarray:
    """Integer counts of ``nsites`` sites closest to ``ppm * nsites``, each row summing to ``nsites``.

    Largest-remainder rounding: the floors, then one more site to the letters with the
    largest remainders (ties to the first letter). A row whose most likely letter is unique
    keeps it the unique most counted one: with few sites rounding can tie it with another
    (``0.4, 0.2, 0.2, 0.2`` of 2 sites rounds to ``1, 1, 0, 0``), and sites then move to it
    from the other most counted letters (``2, 0, 0, 0``), so that the PFM's consensus is the
    matrix's.
    """
    if isinstance(nsites, (float, np.floating)) and float(nsites).is_integer():
        nsites = int(nsites)
    if not isinstance(nsites, (int, np.integer)) or isinstance(nsites, bool) or nsites < 1:
        raise TypeError(f"nsites must be a positive whole number, got {nsites!r}")
    nsites = int(nsites)
    scaled = np.asarray(ppm, dtype=np.float64) * nsites
    counts = np.floor(scaled).astype(int)
    short = nsites - counts.sum(axis=1)
    order = np.argsort(-(scaled - counts), axis=1, kind="stable")
    for row, missing in enumerate(short):
        counts[row, order[row, :missing]] += 1
    probabilities = np.asarray(ppm, dtype=np.float64)
    for row in range(counts.shape[0]):
        best = int(np.argmax(probabilities[row]))
        if np.sum(probabilities[row] == probabilities[row, best]) > 1:
            continue  # no unique most likely letter to keep
        while np.sum(counts[row] >= counts[row, best]) > 1:
            rivals = np.delete(np.arange(counts.shape[1]), best)
            giver = rivals[np.argmax(counts[row, rivals])]
            counts[row, giver] -= 1
            counts[row, best] += 1
    return counts


def read_meme(path: str | os.PathLike, *, with_names: bool = False) -> dict:
    """Read the motifs of a MEME file.

    Minimal format (``motifs.meme``, STREME, databases) or MEME's full text output
    (``meme.txt``), where each motif's ``letter-probability matrix`` follows its
    log-odds matrix and ends at a line of dashes.

    Parameters
    ----------
    path : str or path-like
    with_names : bool
        Also return each motif's alternate name (the word after its identifier on
        the ``MOTIF`` line, e.g. the TF name in JASPAR's MEME files; the identifier
        when there is none).

    Returns
    -------
    dict
        ``{identifier: (width x 4) PPM}``, or ``{identifier: (name, PPM)}`` with ``with_names``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MEME file not found: {path}")
    lines = path.read_text().splitlines()
    if not any(line.startswith("MEME version") for line in lines):
        raise ValueError(f"{path} is not a MEME file (no 'MEME version' line)")
    alphabet = next((line.split("=", 1)[1].strip() for line in lines if line.startswith("ALPHABET=")), LETTERS)
    if alphabet != LETTERS:
        raise ValueError(f"{path}: only the DNA alphabet ACGT is supported, got {alphabet!r}")
    motifs: dict[str, np.ndarray] = {}
    names: dict[str, str] = {}
    i = 0
    while i < len(lines):
        if lines[i].startswith("MOTIF"):
            parts = lines[i].split()
            if len(parts) < 2:
                raise ValueError(f"{path}: line {i + 1} names no motif")
            name = parts[1]
            names[name] = parts[2] if len(parts) > 2 else name
            while i < len(lines) and not lines[i].startswith("letter-probability matrix"):
                i += 1
            if i == len(lines):
                raise ValueError(f"{path}: motif {name} has no letter-probability matrix")
            width = re.search(r"w=\s*(\d+)", lines[i])
            if not width:
                raise ValueError(f"{path}: line {i + 1} does not give the motif width (w=)")
            rows, j = [], i + 1
            # The matrix is every numeric row up to the next blank line, MOTIF or URL line, or the
            # line of dashes (or stars) that closes a section of meme.txt.
            while j < len(lines) and lines[j].strip() and not lines[j].startswith(("MOTIF", "URL", "---", "***")):
                try:
                    rows.append([float(v) for v in lines[j].split()])
                except ValueError:
                    raise ValueError(f"{path}: motif {name} has a non-numeric row {lines[j]!r} "
                                     f"(line {j + 1})") from None
                j += 1
            if len(rows) != int(width.group(1)):
                raise ValueError(f"{path}: motif {name} says w= {width.group(1)} but its matrix has "
                                 f"{len(rows)} rows (line {i + 1})")
            motifs[name] = check_ppm(rows, name)
            i = j - 1
        i += 1
    if not motifs:
        raise ValueError(f"{path}: no MOTIF found")
    return {key: (names[key], ppm) for key, ppm in motifs.items()} if with_names else motifs


def read_jaspar(path: str | os.PathLike, *, with_names: bool = False) -> dict:
    """Read JASPAR PFMs (bracketed ``A [ ... ]`` rows, or four bare count rows).

    Parameters
    ----------
    path : str or path-like
    with_names : bool
        Also return each motif's name (the rest of its ``>id name`` header; the id
        when there is none).

    Returns
    -------
    dict
        ``{id: (width x 4) PPM}``, or ``{id: (name, PPM)}`` with ``with_names``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"JASPAR file not found: {path}")
    motifs: dict[str, np.ndarray] = {}
    names: dict[str, str] = {}
    name, rows, letters = None, [], []

    def finish():
        if name is not None:
            if len(rows) != 4:
                raise ValueError(f"{path}: motif {name} has {len(rows)} count rows, expected 4 (A, C, G, T)")
            if len({len(r) for r in rows}) != 1:
                raise ValueError(f"{path}: motif {name} has count rows of different lengths")
            order = list(range(4))
            if any(letters):  # rows labelled by letter: read each as its letter, in any order
                if sorted(letters) != list(LETTERS):
                    raise ValueError(f"{path}: motif {name} labels its rows {''.join(l or '?' for l in letters)}; "
                                     "expected each of A, C, G, T once")
                order = [letters.index(letter) for letter in LETTERS]
            motifs[name] = check_ppm(np.array(rows)[order].T, name)

    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith(">"):
            finish()
            words = line[1:].split()
            name, rows, letters = words[0] if words else f"motif{len(motifs) + 1}", [], []
            names[name] = " ".join(words[1:]) or name
            continue
        if name is None:
            raise ValueError(f"{path}: line {number} holds counts before any '>' header")
        label = re.match(r"^([ACGTacgt])\s*(?=[\[\d\s])", line)
        letters.append(label.group(1).upper() if label else None)
        body = (line[label.end():] if label else line).replace("[", " ").replace("]", " ")
        try:
            rows.append([float(v) for v in body.split()])
        except ValueError:
            raise ValueError(f"{path}: line {number} is not a row of counts: {line!r}") from None
    finish()
    if not motifs:
        raise ValueError(f"{path}: no motif found")
    return {key: (names[key], ppm) for key, ppm in motifs.items()} if with_names else motifs
