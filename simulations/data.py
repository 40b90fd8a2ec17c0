"""Simulated data sets of the paper's experiments (SPEC 8), importable by the tests.

Sequences are i.i.d. uniform over A, C, G, T; a planted motif (a PWM) is
inserted at a random position in a fraction of them; the response is
``y = beta * phi_{z*}(x) + gamma * w + sigma * eps`` (continuous) or a
Bernoulli draw with log-odds ``beta * standardised phi_{z*}(x)`` (binary), where
``phi_{z*}`` is the sum-pooled kernel feature of the motif's consensus k-mer.
``beta = 0`` is the global null.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seism_stats.features.grid import make_features
from seism_stats.features.kmers import kmer_count_matrix, string_to_kmer
from seism_stats.io.sequences import encode_sequences
from seism_stats.selection.refinement import kmer_ppm
from seism_stats.utils.validation import RandomStateLike, check_random_state

LETTERS = np.array(list("ACGT"))
DEFAULT_MOTIF = "GATTACA"


@dataclass(frozen=True)
class SimulatedData:
    """One simulated data set.

    Attributes
    ----------
    sequences : list of str
    y : ndarray (n,)
    covariates : ndarray (n, 1) or None
    planted : ndarray of bool (n,)
        Which sequences received a motif instance.
    motif_ppm : ndarray (k, 4)
        The planted PWM (probabilities, rows are positions).
    consensus : str
    signal : ndarray (n,)
        ``phi_{z*}(x)`` of the consensus k-mer.
    """

    sequences: list
    y: np.ndarray
    covariates: np.ndarray | None
    planted: np.ndarray
    motif_ppm: np.ndarray
    consensus: str
    signal: np.ndarray


def motif_pwm(consensus: str = DEFAULT_MOTIF, confidence: float = 0.9) -> np.ndarray:
    """PWM with ``confidence`` on the consensus letter and the rest spread evenly."""
    return kmer_ppm(string_to_kmer(consensus), len(consensus), confidence)


def plant_motif(codes: np.ndarray, ppm: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Insert one instance drawn from ``ppm`` at a random position in a ``fraction`` of the rows.

    ``codes`` (n x length, letters 0-3) is modified in place; returns which rows were planted.
    """
    n, length = codes.shape
    width = ppm.shape[0]
    planted = rng.random(n) < fraction
    for i in np.flatnonzero(planted):
        start = rng.integers(0, length - width + 1)
        codes[i, start:start + width] = [rng.choice(4, p=row) for row in ppm]
    return planted


def motif_signal(sequences: list, consensus: str, lam: float = 1.0) -> np.ndarray:
    """``phi_{z*}(x)``: sum-pooled kernel feature of the consensus k-mer (forward strand)."""
    width = len(consensus)
    features = make_features(kmer_count_matrix(encode_sequences(sequences), width), width, lam)
    return features.column(string_to_kmer(consensus))


def simulate_dataset(n: int = 200, length: int = 50, *, consensus: str = DEFAULT_MOTIF,
                     confidence: float = 0.9, fraction: float = 0.5, beta: float = 0.0,
                     sigma: float = 1.0, noise_df: float | None = None, lam: float = 1.0,
                     response: str = "continuous",
                     covariate: float | None = None,
                     random_state: RandomStateLike = None) -> SimulatedData:
    """Draw one data set.

    Parameters
    ----------
    n, length : int
        Number and length of the sequences.
    consensus : str
        Consensus of the planted motif; its length is the motif width.
    confidence : float
        PWM probability of the consensus letter at each position.
    fraction : float
        Fraction of sequences that receive a motif instance.
    beta : float
        Effect size (0 = null).
    sigma : float
        Noise scale (continuous response).
    noise_df : float, optional
        Student t noise with these degrees of freedom (heavy tails) instead of Gaussian.
    lam : float
        Kernel bandwidth of the signal feature.
    response : {"continuous", "binary"}
    covariate : float, optional
        When given, a standard normal covariate with this effect is added (and returned).
    random_state : int or numpy.random.Generator
    """
    rng = check_random_state(random_state)
    width = len(consensus)
    if length < width:
        raise ValueError(f"length={length} is shorter than the motif ({width})")
    ppm = motif_pwm(consensus, confidence)
    codes = rng.integers(0, 4, size=(n, length))
    planted = plant_motif(codes, ppm, fraction, rng)
    sequences = ["".join(LETTERS[row]) for row in codes]
    signal = motif_signal(sequences, consensus, lam)
    w = rng.standard_normal(n) if covariate is not None else None
    if response == "continuous":
        noise = rng.standard_normal(n) if noise_df is None else rng.standard_t(noise_df, n)
        y = beta * signal + sigma * noise
        if w is not None:
            y = y + covariate * w
    elif response == "binary":
        z = (signal - signal.mean()) / (signal.std() or 1.0)
        logit = beta * z + (covariate * w if w is not None else 0.0)
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float64)
    else:
        raise ValueError(f"response must be 'continuous' or 'binary', got {response!r}")
    return SimulatedData(sequences, y, None if w is None else w[:, None], planted, ppm,
                         consensus.upper(), signal)


def gc_cpg_transitions(gc: float = 0.6, cpg_depletion: float = 0.25) -> np.ndarray:
    """First-order Markov transitions biased in GC and CpG only (rows: current letter, columns: next).

    The next letter is drawn from the letter frequencies of a ``gc`` GC fraction, with
    C->G weighted by ``cpg_depletion`` (CpG depleted below 1, enriched above), renormalised.
    """
    frequencies = np.array([1 - gc, gc, gc, 1 - gc]) / 2
    transitions = np.tile(frequencies, (4, 1))
    transitions[1, 2] *= cpg_depletion
    return transitions / transitions.sum(axis=1, keepdims=True)


#: GC-rich (0.6), CpG-depleted (C->G x 0.25) Markov chain: a composition, no motif.
GC_RICH_TRANSITIONS = gc_cpg_transitions(0.6, 0.25)
#: A first-order chain with dinucleotide structure beyond GC and CpG (e.g. TpA and GpT depleted).
DINUCLEOTIDE_TRANSITIONS = np.array([[0.25, 0.30, 0.30, 0.15],
                                     [0.25, 0.40, 0.10, 0.25],
                                     [0.20, 0.35, 0.35, 0.10],
                                     [0.10, 0.30, 0.35, 0.25]])


def markov_sequences(n: int, length: int, transitions: np.ndarray = GC_RICH_TRANSITIONS, *,
                     consensus: str | None = None, fraction: float = 0.0, confidence: float = 0.9,
                     random_state: RandomStateLike = None) -> tuple[list[str], np.ndarray]:
    """Sequences from a first-order Markov chain (a composition, no motif), optionally with a planted motif.

    Returns the sequences and which rows hold the planted motif (:func:`plant_motif`).
    """
    rng = check_random_state(random_state)
    transitions = np.asarray(transitions, dtype=np.float64)
    cumulative = np.cumsum(transitions / transitions.sum(axis=1, keepdims=True), axis=1)
    codes = np.empty((n, length), dtype=np.int64)
    codes[:, 0] = rng.integers(0, 4, n)
    for j in range(1, length):
        u = rng.random(n)[:, None]
        codes[:, j] = np.minimum((u > cumulative[codes[:, j - 1]]).sum(axis=1), 3)
    planted = plant_motif(codes, motif_pwm(consensus, confidence), fraction, rng) if consensus else np.zeros(n, bool)
    return ["".join(row) for row in LETTERS[codes]], planted
