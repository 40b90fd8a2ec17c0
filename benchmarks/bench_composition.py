"""Composition is not a motif: rejection rates against shuffled and genomic-like backgrounds.

Foregrounds are drawn from first-order Markov chains, no motif unless planted:
GC-rich (0.6) and CpG-depleted (C->G x 0.25) only (``simulations.data.GC_RICH_TRANSITIONS``),
or with dinucleotide structure beyond GC and CpG (``DINUCLEOTIDE_TRANSITIONS``). Each row fits
``foreground ~ motifs(seq, k=6, n_motifs=1) + <composition covariates>`` on the
foreground against a background, with the permutation null (B = 300), over 20 data
sets, and reports how often the selected motif's selective p-value is below 0.05:

* against its dinucleotide shuffle (``--control shuffle``, the default), with and
  without the GC + CpG covariates, and against a shuffle keeping only the letters (k = 1);
* with GATTACA planted in half of the sequences, against its dinucleotide shuffle
  (power; ``found``: the selected 6-mer is part of GATTACA or its reverse complement);
* against a uniform i.i.d. background (a genomic background of another
  composition) with no covariates, GC + CpG o/e (the default), or all dinucleotide
  frequencies.

Run from the repository root::

    python benchmarks/bench_composition.py > benchmarks/bench_composition_output.txt
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np

from seism_stats import SelectiveMotifModel
from seism_stats.io.composition import composition_terms, foreground_background
from simulations.data import DINUCLEOTIDE_TRANSITIONS, markov_sequences, simulate_dataset

DATA_SETS = 40
N, LENGTH, K, B = 150, 100, 6, 300


def fit(table, composition: str, seed: int):
    terms = "".join(f" + {t}" for t in composition_terms(composition))
    model = SelectiveMotifModel.from_formula(f"foreground ~ motifs(seq, k={K}, n_motifs=1){terms}", table)
    return model.fit(n_samples=B, tail_draws=0, random_state=seed, progress=False).motifs.iloc[0]


def row(label: str, make, composition: str) -> None:
    start = time.perf_counter()
    p, found = [], []
    for seed in range(DATA_SETS):
        result = fit(make(seed), composition, seed)
        p.append(result["pvalue"])
        found.append(result["kmer"] in "GATTACA" or result["kmer"] in "TGTAATC")
    p = np.array(p)
    print(f"{label:<48} {composition:<14} {np.mean(p < 0.05):>8.2f} {np.median(p):>9.3f} {np.mean(found):>6.2f} "
          f"{time.perf_counter() - start:>6.0f}")


def main() -> None:
    print(f"# bench_composition: {DATA_SETS} data sets per row, n={N} foreground sequences (300 with the planted "
          f"motif), L={LENGTH}, k={K}, B={B}, permutation null; {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    print(f"{'foreground vs background':<48} {'covariates':<14} {'p<0.05':>8} {'median_p':>9} {'found':>6} {'s':>6}")

    def markov(seed, n=N, **kw):  # noqa: E306
        return markov_sequences(n, LENGTH, random_state=seed, **kw)[0]

    uniform = lambda s: simulate_dataset(N, LENGTH, random_state=2000 + s).sequences  # noqa: E731
    for k, composition in ((2, "gc-cpg"), (2, "none"), (1, "none")):
        row(f"GC/CpG Markov vs its shuffle (k={k})", lambda s, k=k, c=composition: foreground_background(
            markov(s), kmer=k, composition=c, random_state=1000 + s), composition)
    row("GC/CpG Markov + GATTACA (50%) vs shuffle (k=2)", lambda s: foreground_background(
        markov(s, 300, consensus="GATTACA", fraction=0.5), kmer=2, random_state=1000 + s), "gc-cpg")
    for composition in ("none", "gc-cpg", "dinucleotides"):
        row("GC/CpG Markov vs uniform background", lambda s, c=composition: foreground_background(
            markov(s), uniform(s), composition=c), composition)
    for composition in ("gc-cpg", "dinucleotides"):
        row("dinucleotide Markov vs uniform background", lambda s, c=composition: foreground_background(
            markov(s, transitions=DINUCLEOTIDE_TRANSITIONS), uniform(s), composition=c), composition)
    print("# p<0.05: fraction of data sets whose selected motif has a selective p-value below 0.05 (a false positive "
          "in every row but the planted one); found: the selected 6-mer lies in GATTACA or its reverse complement")


if __name__ == "__main__":
    main()
