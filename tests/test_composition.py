"""Composition-aware backgrounds: k-mer-preserving shuffles and composition covariates."""

import itertools
import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from seism_stats import SelectiveMotifModel
from seism_stats.cli import main
from seism_stats.io.composition import (composition_covariates, composition_terms, default_composition,
                                     foreground_background, shuffle_sequence, shuffle_sequences)
from simulations.data import markov_sequences


def kmers(sequence: str, k: int) -> Counter:
    return Counter(sequence[i:i + k] for i in range(len(sequence) - k + 1))


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_shuffle_keeps_every_kmer_count_exactly(k):
    rng = np.random.default_rng(0)
    for trial in range(30):
        letters = list(rng.choice(list("ACGTacgt"), size=int(rng.integers(2, 120))))
        if trial % 3 == 0:
            letters[int(rng.integers(len(letters)))] = "N"
        sequence = "".join(letters)
        shuffled = shuffle_sequence(sequence, k, rng)
        assert len(shuffled) == len(sequence) and kmers(shuffled, k) == kmers(sequence.upper(), k)
        if k > 1 and len(sequence) > k:
            assert shuffled[:k - 1] == sequence.upper()[:k - 1] and shuffled[-(k - 1):] == sequence.upper()[-(k - 1):]


def test_shuffle_moves_letters_and_is_reproducible():
    sequence = "ACGTTGCAACGGTACCATGACGTAGCTAGGCTA" * 3
    assert shuffle_sequence(sequence, 2, 5) == shuffle_sequence(sequence, 2, 5)
    assert shuffle_sequence(sequence, 2, 5) != shuffle_sequence(sequence, 2, 6)
    assert shuffle_sequences([sequence] * 2, 2, 1) == shuffle_sequences([sequence] * 2, 2, np.random.default_rng(1))
    assert sum(a != b for a, b in zip(sequence, shuffle_sequence(sequence, 2, 5))) > len(sequence) // 3
    assert shuffle_sequence("AC", 2, 0) == "AC" and shuffle_sequence("acg", 3, 0) == "ACG"


def test_dinucleotide_shuffle_is_uniform_over_sequences_with_the_same_counts():
    # Every sequence of length 9 with the same dinucleotide counts and first letter, enumerated.
    sequence = "ACAGTACGA"
    target = kmers(sequence, 2)
    same = ["".join(s) for s in itertools.product("ACGT", repeat=len(sequence))
            if s[0] == sequence[0] and kmers("".join(s), 2) == target]
    assert len(same) > 5
    rng = np.random.default_rng(2)
    counts = Counter(shuffle_sequence(sequence, 2, rng) for _ in range(300 * len(same)))
    assert set(counts) == set(same)
    assert stats.chisquare([counts[s] for s in same]).pvalue > 0.001


def test_shuffle_rejects_bad_input():
    with pytest.raises(ValueError, match="kmer must be at least 1"):
        shuffle_sequence("ACGT", 0)
    with pytest.raises(TypeError, match="kmer must be a positive integer"):
        shuffle_sequence("ACGT", 2.0)
    with pytest.raises(TypeError, match="sequence must be a string"):
        shuffle_sequence(b"ACGT", 2)


def test_composition_covariates():
    table = composition_covariates(["CCGG", "AATT", "ACGNCG", "NNNN"])
    np.testing.assert_allclose(table["gc"], [1.0, 0.0, 4 / 5, 0.0])
    np.testing.assert_allclose(table["cpg"], [1 * 4 / (2 * 2), 0.0, 2 * 5 / (2 * 2), 0.0])  # n_CG n / (n_C n_G)
    di = composition_covariates(pd.Series(["AACG", "TTTT"], index=["a", "b"]), "dinucleotides")
    assert list(di.index) == ["a", "b"] and di.shape == (2, 15) and "di_TT" not in di
    np.testing.assert_allclose(di.loc["a", ["di_AA", "di_AC", "di_CG"]], [1 / 3] * 3)
    assert composition_covariates(["ACGT"], "none").shape == (1, 0)
    assert composition_terms() == ["gc", "cpg"]
    with pytest.raises(ValueError, match="composition must be one of"):
        composition_covariates(["ACGT"], "gc")
    with pytest.raises(ValueError, match="non-DNA letter"):
        composition_covariates(["ACXT"])


def test_foreground_background_table():
    table = foreground_background(["ACGTACGT", "GGCCGGAT"], ids=["a", "b"], random_state=0)
    assert list(table.index) == ["fg:a", "fg:b", "shuffle:a", "shuffle:b"]
    assert list(table["foreground"]) == [1, 1, 0, 0] and list(table.columns) == ["foreground", "seq", "gc", "cpg"]
    np.testing.assert_allclose(table["gc"].iloc[:2], table["gc"].iloc[2:])  # a dinucleotide shuffle keeps GC
    file_like = foreground_background(["ACGT"], ["TTTT", "GGGG"], background_ids=["x", "y"], composition="none")
    assert list(file_like.index) == ["fg:seq0", "bg:x", "bg:y"] and file_like.shape[1] == 2
    assert default_composition("shuffle") == "gc-cpg" and default_composition(None) == "none"
    assert foreground_background(["ACGT"], ["TTTT"]).shape[1] == 2 + 15  # dinucleotides by default
    with pytest.raises(ValueError, match="'shuffle' or a list"):
        foreground_background(["ACGT"], "random")


def _fit(table, terms, seed=0):
    formula = "foreground ~ motifs(seq, k=6, n_motifs=1)" + "".join(f" + {t}" for t in terms)
    return SelectiveMotifModel.from_formula(formula, table).fit(n_samples=300, tail_draws=0, random_state=seed,
                                                                progress=False).motifs.iloc[0]


def test_composition_without_motif_is_not_significant_against_its_dinucleotide_shuffle():
    # GC-rich, CpG-depleted Markov foreground, no motif: against a uniform background its composition
    # looks like a motif; against its dinucleotide shuffle (default covariates) nothing is significant.
    from simulations.data import simulate_dataset
    foreground, _ = markov_sequences(150, 100, random_state=0)
    background = simulate_dataset(150, 100, random_state=50).sequences
    assert _fit(foreground_background(foreground, background, composition="none"), [])["pvalue"] < 0.05
    shuffled = _fit(foreground_background(foreground, kmer=2, random_state=100), composition_terms())
    assert shuffled["pvalue"] > 0.2


def test_planted_motif_is_found_against_the_dinucleotide_shuffle():
    foreground, _ = markov_sequences(300, 100, consensus="GATTACA", fraction=0.5, random_state=0)
    row = _fit(foreground_background(foreground, kmer=2, random_state=100), composition_terms())
    assert row["kmer"] in "GATTACA" or row["kmer"] in "TGTAATC"
    assert row["pvalue"] < 0.01


def test_dinucleotide_covariates_absorb_a_composition_difference():
    # A chain with dinucleotide structure beyond GC and CpG against a uniform background: GC and
    # CpG covariates are not enough, all dinucleotide frequencies (the default with background
    # sequences) are.
    from simulations.data import DINUCLEOTIDE_TRANSITIONS, simulate_dataset
    foreground, _ = markov_sequences(150, 100, DINUCLEOTIDE_TRANSITIONS, random_state=1)
    background = simulate_dataset(150, 100, random_state=51).sequences
    gc_cpg = foreground_background(foreground, background, composition="gc-cpg")
    assert _fit(gc_cpg, composition_terms("gc-cpg"))["pvalue"] < 0.05
    table = foreground_background(foreground, background)
    assert "di_CG" in table and _fit(table, composition_terms("dinucleotides"))["pvalue"] > 0.2


def test_cli_control_shuffle(tmp_path, capsys):
    foreground, _ = markov_sequences(80, 60, consensus="GATTACA", fraction=0.6, random_state=3)
    fasta = tmp_path / "fg.fa"
    fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(foreground)))
    out = tmp_path / "shuffled"
    args = ["fit", "--fasta", str(fasta), "--control", "shuffle", "--k", "5", "--n-samples", "100", "--seed", "4",
            "--quiet", "--motif-db", "none"]
    assert main(args + ["--out", str(out)]) == 0
    settings = json.loads((out / "settings.json").read_text())
    assert settings["control"] == "shuffle" and settings["shuffle_kmer"] == 2 and settings["composition"] == "gc-cpg"
    assert settings["formula"].endswith("+ gc + cpg") and settings["n_used"] == 160
    assert main(args + ["--out", str(tmp_path / "again")]) == 0  # the same seed: the same shuffle and fit
    assert (out / "motifs.csv").read_text() == (tmp_path / "again" / "motifs.csv").read_text()
    assert main(args + ["--out", str(tmp_path / "bad"), "--shuffle-kmer", "0"]) == 2
    assert "--shuffle-kmer must be >= 1, got 0" in capsys.readouterr().err
    assert main(args + ["--out", str(tmp_path / "trinucleotides"), "--shuffle-kmer", "3"]) == 0
    assert json.loads((tmp_path / "trinucleotides" / "settings.json").read_text())["shuffle_kmer"] == 3
