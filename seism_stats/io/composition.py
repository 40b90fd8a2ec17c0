"""Backgrounds that keep the foreground's composition: k-mer-preserving shuffles and composition covariates.

A motif found against a background of another composition may be composition
(GC, CpG) and nothing more. MEME-suite and HOMER users guard against it in two
ways, both here:

* :func:`shuffle_sequences`: each foreground sequence shuffled preserving its
  k-mer counts exactly (dinucleotides by default), by the Altschul-Erickson
  Eulerian-path algorithm (Altschul and Erickson 1985; Jiang et al. 2008's
  uShuffle for any k), which is what ``fasta-shuffle-letters -kmer 2`` and
  STREME's shuffled controls do. Each sequence with the same k-mer counts (and
  the same first and last (k-1)-mer) is equally likely.
* :func:`composition_covariates`: GC fraction and CpG observed/expected ratio
  (or all dinucleotide frequencies) of every sequence, as covariates of the
  model, so a motif must explain the response beyond composition (HOMER
  normalises GC and oligo composition for the same reason). The selective
  machinery conditions on covariates already.

:func:`foreground_background` builds the foreground-against-background table
(the command line's ``--control``) from both.
"""

from __future__ import annotations

import warnings

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..utils.validation import RandomStateLike, check_random_state
from .sequences import encode_sequences

#: Composition covariate sets: their columns (``dinucleotides`` drops TT, since the 16
#: frequencies sum to 1 and would be collinear with the intercept).
DINUCLEOTIDES = tuple(a + b for a in "ACGT" for b in "ACGT")
COMPOSITIONS = {"gc-cpg": ("gc", "cpg"), "dinucleotides": tuple(f"di_{d}" for d in DINUCLEOTIDES[:-1]),
                "none": ()}


#: The k-mers a shuffle keeps by default: dinucleotides, as STREME, HOMER and ``fasta-shuffle-letters -kmer 2``.
SHUFFLE_KMER = 2


def shuffle_sequence(sequence: str, kmer: int = SHUFFLE_KMER, random_state: RandomStateLike = None) -> str:
    """One sequence shuffled with its k-mer counts kept exactly (Altschul-Erickson).

    Parameters
    ----------
    sequence : str
        Any letters; compared case-insensitively (the result is upper case). N and
        other letters are shuffled like the others, so every k-mer count, those
        holding an N included, is kept.
    kmer : int
        Length of the k-mers whose counts are kept: 1 is a plain permutation of
        the letters, 2 keeps dinucleotides (the default of STREME and
        ``fasta-shuffle-letters -kmer 2``).
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    str
        A uniformly random sequence with the same k-mer counts and the same first
        and last (k-1)-mers (the algorithm's Eulerian path in the graph of
        (k-1)-mers, with a uniformly random last-exit arborescence drawn by
        Wilson's algorithm).
    """
    kmer = _check_kmer(kmer)
    rng = check_random_state(random_state)
    if not isinstance(sequence, str):
        raise TypeError(f"sequence must be a string, got {type(sequence).__name__}")
    text = np.frombuffer(sequence.upper().encode("ascii", errors="replace"), dtype=np.uint8)
    if kmer == 1 or text.shape[0] <= kmer:
        return (rng.permutation(text) if kmer == 1 else text).tobytes().decode("ascii")
    alphabet, codes = np.unique(text, return_inverse=True)
    # Vertices: the (k-1)-mers at positions 0..L-k+1, as base-|alphabet| numbers renumbered 0..V-1.
    width = kmer - 1
    windows = np.lib.stride_tricks.sliding_window_view(codes.astype(np.int64), width)
    numbers = windows @ (len(alphabet) ** np.arange(width - 1, -1, -1, dtype=np.int64))
    _, vertex = np.unique(numbers, return_inverse=True)
    source, target = vertex[:-1], vertex[1:]  # edge i is the k-mer at position i
    last = int(vertex[-1])
    exits = _last_exit_edges(source, target, last, rng)
    # Each vertex's out-edges in random order, its last-exit edge last.
    key = rng.random(source.shape[0])
    key[exits[exits >= 0]] = 2.0
    order = np.lexsort((key, source))
    first = np.searchsorted(source[order], np.arange(vertex.max() + 1))
    used = np.zeros_like(first)
    out = np.empty(codes.shape[0], dtype=np.int64)
    out[:width] = codes[:width]
    current = int(vertex[0])
    for position in range(width, codes.shape[0]):
        edge = order[first[current] + used[current]]
        used[current] += 1
        out[position] = codes[edge + width]  # the k-mer's last letter
        current = int(target[edge])
    return alphabet[out].tobytes().decode("ascii")


def _last_exit_edges(source: np.ndarray, target: np.ndarray, root: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random arborescence towards ``root``: one out-edge per other vertex (-1 for the root).

    Wilson's algorithm (loop-erased random walks along uniformly chosen out-edges),
    so each labelled arborescence is equally likely.
    """
    n_vertices = int(max(source.max(), target.max(), root)) + 1
    edges_of = np.split(np.argsort(source, kind="stable"), np.cumsum(np.bincount(source, minlength=n_vertices))[:-1])
    exits = np.full(n_vertices, -1, dtype=np.int64)
    in_tree = np.zeros(n_vertices, dtype=bool)
    in_tree[root] = True
    for start in range(n_vertices):
        u = start
        while not in_tree[u]:  # every vertex of an Eulerian path reaches its end
            exits[u] = edges_of[u][rng.integers(edges_of[u].shape[0])]
            u = int(target[exits[u]])
        u = start
        while not in_tree[u]:  # the loop-erased path: follow the last choices
            in_tree[u] = True
            u = int(target[exits[u]])
    return exits


def shuffle_sequences(sequences: Sequence[str], kmer: int = SHUFFLE_KMER,
                      random_state: RandomStateLike = None) -> list[str]:
    """Every sequence shuffled by :func:`shuffle_sequence` with one generator (reproducible from a seed)."""
    rng = check_random_state(random_state)
    return [shuffle_sequence(s, kmer, rng) for s in sequences]


def composition_covariates(sequences, composition: str = "gc-cpg", index=None) -> pd.DataFrame:
    """Composition of each sequence, as covariate columns.

    Parameters
    ----------
    sequences : list of str or pandas Series
    composition : {"gc-cpg", "dinucleotides", "none"}
        ``gc-cpg``: ``gc``, the G+C fraction of the A/C/G/T letters, and ``cpg``, the
        CpG observed/expected ratio ``n_CG * n / (n_C * n_G)`` (Gardiner-Garden and
        Frommer 1987; 0 when a sequence has no C or no G). ``dinucleotides``: the
        frequency of each dinucleotide among the pairs of A/C/G/T letters,
        ``di_AA`` ... ``di_TG`` (TT left out: the 16 sum to 1).
    index : pandas Index, optional
        Row labels (default: the Series index, else 0..n-1).

    Returns
    -------
    pandas.DataFrame
    """
    if composition not in COMPOSITIONS:
        raise ValueError(f"composition must be one of {', '.join(COMPOSITIONS)}, got {composition!r}")
    if isinstance(sequences, pd.Series):
        index = sequences.index if index is None else index
        sequences = sequences.tolist()
    encoded = encode_sequences(list(sequences))  # checks the letters; A C G T = 0..3, others 4
    n = len(encoded)
    codes = encoded.codes.astype(np.int64)
    row = np.repeat(np.arange(n), encoded.lengths)
    letters = np.bincount(row * 5 + codes, minlength=5 * n).reshape(n, 5)[:, :4].astype(np.float64)
    same = row[:-1] == row[1:]  # adjacent letters of one sequence
    pair_code = codes[:-1][same] * 5 + codes[1:][same]
    pairs = np.bincount(row[:-1][same] * 25 + pair_code, minlength=25 * n).reshape(n, 25)
    pairs = pairs[:, [5 * a + b for a in range(4) for b in range(4)]].astype(np.float64)  # A/C/G/T pairs, AA..TT
    total = letters.sum(axis=1)
    if composition == "gc-cpg":
        c, g, cg = letters[:, 1], letters[:, 2], pairs[:, DINUCLEOTIDES.index("CG")]
        with np.errstate(divide="ignore", invalid="ignore"):
            columns = [np.where(total > 0, (c + g) / total, 0.0), np.where(c * g > 0, cg * total / (c * g), 0.0)]
    elif composition == "dinucleotides":
        with np.errstate(divide="ignore", invalid="ignore"):
            frequencies = np.where(pairs.sum(axis=1, keepdims=True) > 0, pairs / pairs.sum(axis=1, keepdims=True), 0.0)
        columns = list(frequencies[:, :-1].T)
    else:
        columns = []
    return pd.DataFrame(dict(zip(COMPOSITIONS[composition], columns)), columns=list(COMPOSITIONS[composition]),
                        index=index if index is not None else pd.RangeIndex(n))


def foreground_background(foreground: Sequence[str], background="shuffle", *, kmer: int | None = None,
                          composition: str | None = None, ids: Sequence[str] | None = None,
                          background_ids: Sequence[str] | None = None,
                          random_state: RandomStateLike = None) -> pd.DataFrame:
    """The foreground-against-background table: column ``foreground`` (1/0), ``seq``, composition columns.

    Fit it with ``SelectiveMotifModel.from_formula("foreground ~ motifs(seq, k=8) + gc + cpg", table)``
    (the terms of the table's composition columns are :func:`composition_terms`): the
    binary response gets the permutation null, and a motif must beat the composition
    covariates.

    Parameters
    ----------
    foreground : sequence of str
    background : "shuffle" or sequence of str
        ``"shuffle"``: each foreground sequence shuffled once keeping its k-mer
        counts (:func:`shuffle_sequences`); or background sequences (genomic
        background, HOMER's style).
    kmer : int, optional
        k-mers kept by the shuffle (default :data:`SHUFFLE_KMER`, 2: dinucleotides); only with
        ``background="shuffle"`` (refused with background sequences, which are not shuffled).
    composition : {"gc-cpg", "dinucleotides", "none"}, optional
        Covariate columns (:func:`composition_covariates`); default
        :func:`default_composition` (``gc-cpg`` against a shuffle, ``dinucleotides``
        against background sequences).
    ids, background_ids : sequences of str, optional
        Sequence ids (rows are labelled ``fg:<id>``, and ``bg:<id>`` or ``shuffle:<id>``).
    random_state : int, numpy.random.Generator or None
        Seed of the shuffle.
    """
    composition = composition or default_composition(background)
    foreground = list(foreground)
    ids = [str(i) for i in ids] if ids is not None else [f"seq{i}" for i in range(len(foreground))]
    if isinstance(background, str):
        if background != "shuffle":
            raise ValueError(f"background must be 'shuffle' or a list of sequences, got {background!r}")
        kmer = SHUFFLE_KMER if kmer is None else kmer
        background = shuffle_sequences(foreground, kmer, random_state)
        _check_shuffled(foreground, background, kmer)
        labels = [f"shuffle:{i}" for i in ids]
    else:
        if kmer is not None:
            raise ValueError("kmer sets the k-mers of background='shuffle'; background sequences are used as given")
        background = list(background)
        background_ids = background_ids if background_ids is not None else [f"seq{i}" for i in range(len(background))]
        labels = [f"bg:{i}" for i in background_ids]
    if not foreground or not background:
        raise ValueError("foreground and background both need sequences")
    if len(ids) != len(foreground) or len(labels) != len(background):
        raise ValueError("ids and sequences differ in number")
    sequences = foreground + background
    index = pd.Index([f"fg:{i}" for i in ids] + labels, name="id")
    table = pd.DataFrame({"foreground": [1.0] * len(foreground) + [0.0] * len(background), "seq": sequences},
                         index=index)
    return table.join(composition_covariates(sequences, composition, index=index))


def _check_shuffled(foreground: list[str], shuffled: list[str], kmer: int) -> None:
    """Refuse a shuffle that left every sequence as it was, warn when it left most of them.

    Keeping the k-mer counts of a sequence not much longer than k leaves it one order
    (the Eulerian path is unique): the background would then be the foreground itself.
    """
    same = sum(s.upper() == b for s, b in zip(foreground, shuffled))
    if not same:
        return
    lengths = [len(s) for s in foreground]
    what = (f"the shuffle keeping {kmer}-mer counts (kmer={kmer}, --shuffle-kmer on the command line) left "
            f"{same} of the {len(foreground)} sequences (of {min(lengths)}-{max(lengths)} letters) as they were: "
            "they are too short or too repetitive for it to move a letter")
    advice = "; a smaller kmer shuffles more" if kmer > 1 else ""
    if same == len(foreground):
        raise ValueError(f"{what}, so the background would be the foreground itself{advice}, or give background "
                         "sequences")
    if 2 * same > len(foreground):
        warnings.warn(f"{what}, so most of the background is the foreground itself and a motif's enrichment is "
                      f"diluted{advice}", UserWarning, stacklevel=3)


def default_composition(background) -> str:
    """The composition covariates used by default: ``gc-cpg`` against a shuffle, ``dinucleotides``
    against background sequences, ``none`` without a background (``background`` None).

    A shuffle keeps each sequence's composition, so its covariates only guard the
    letters it does not keep. Background sequences of another composition need more
    than GC and CpG: in ``benchmarks/bench_composition.py`` a GC-rich, CpG-depleted
    foreground without motif against a uniform background gave a selective p < 0.05 in
    most data sets with GC + CpG covariates, and near the nominal rate with all
    dinucleotide frequencies.
    """
    if background is None:
        return "none"
    return "gc-cpg" if isinstance(background, str) and background == "shuffle" else "dinucleotides"


def composition_terms(composition: str = "gc-cpg") -> list[str]:
    """Formula terms of a composition covariate set (``["gc", "cpg"]`` for ``gc-cpg``)."""
    if composition not in COMPOSITIONS:
        raise ValueError(f"composition must be one of {', '.join(COMPOSITIONS)}, got {composition!r}")
    return list(COMPOSITIONS[composition])


def _check_kmer(kmer) -> int:
    if isinstance(kmer, bool) or not isinstance(kmer, (int, np.integer)):
        raise TypeError(f"kmer must be a positive integer, got {type(kmer).__name__} {kmer!r}")
    if kmer < 1:
        raise ValueError(f"kmer must be at least 1, got {kmer}")
    return int(kmer)
