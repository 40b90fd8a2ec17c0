"""MEME / JASPAR motif files and the ordinary test of a fixed motif."""

import numpy as np
import pytest

from seism_stats.io.motif_files import read_jaspar, read_meme, write_jaspar, write_meme
from seism_stats.stats.classical import fixed_motif_test
from simulations.data import motif_pwm, simulate_dataset


def test_meme_round_trip(tmp_path):
    ppms = [motif_pwm("GATTA"), motif_pwm("CCG", 0.7)]
    path = write_meme(ppms, ["m1", "m2"], tmp_path / "m.meme", alt_names=["GATTA", "CCG"])
    text = path.read_text()
    assert text.startswith("MEME version 4") and "letter-probability matrix: alength= 4 w= 5" in text
    motifs = read_meme(path)
    assert list(motifs) == ["m1", "m2"]
    np.testing.assert_allclose(motifs["m1"], ppms[0], atol=1e-6)


def test_jaspar_round_trip_and_bare_rows(tmp_path):
    ppm = motif_pwm("GATTA")
    path = write_jaspar([ppm], ["GATTA"], tmp_path / "m.jaspar", nsites=1000, ids=["MA9999.1"])
    assert path.read_text().splitlines()[1].startswith("A [")
    np.testing.assert_allclose(read_jaspar(path)["MA9999.1"], ppm, atol=1e-3)
    bare = tmp_path / "bare.pfm"
    bare.write_text(">x\n1 0\n0 1\n0 0\n0 0\n")
    np.testing.assert_allclose(read_jaspar(bare)["x"], [[1, 0, 0, 0], [0, 1, 0, 0]])


def test_bad_motif_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_meme(tmp_path / "none.meme")
    bad = tmp_path / "bad.meme"
    bad.write_text("hello\n")
    with pytest.raises(ValueError, match="not a MEME file"):
        read_meme(bad)
    three = tmp_path / "three.jaspar"
    three.write_text(">m\nA [1 2]\nC [1 2]\nG [1 2]\n")
    with pytest.raises(ValueError, match="3 count rows, expected 4"):
        read_jaspar(three)
    with pytest.raises(ValueError, match="must be a \\(width x 4\\) matrix"):
        write_meme([np.ones((3, 3))], ["m"], tmp_path / "x.meme")


def test_fixed_motif_test_is_calibrated_and_powerful():
    ppm = motif_pwm("GATTA")
    strong = simulate_dataset(200, 40, consensus="GATTA", beta=1.0, random_state=0)
    assert fixed_motif_test(strong.sequences, strong.y, ppm).pvalues[0] < 1e-6
    null_p = [fixed_motif_test(d.sequences, d.y, ppm).pvalues[0]
              for d in (simulate_dataset(60, 30, consensus="GATTA", random_state=s) for s in range(100))]
    from scipy.stats import kstest
    assert kstest(null_p, "uniform").pvalue > 0.01  # no selection: the ordinary test is valid
    with pytest.raises(ValueError, match="k=5 is larger than sequence"):
        fixed_motif_test(["ACG", "ACGTA", "ACGTT"], [1.0, 2.0, 0.5], ppm)


def test_results_export_motifs(tmp_path):
    from seism_stats import SelectiveMotifModel
    data = simulate_dataset(100, 30, consensus="GATTA", beta=3.0, random_state=1)
    res = SelectiveMotifModel(data.y, data.sequences, k=5).fit(n_samples=100, random_state=0, progress=False)
    meme_path = res.to_meme(tmp_path / "r.meme")
    motifs = read_meme(meme_path, with_names=True)
    label = res.motif_labels[0]
    from seism_stats.selection.refinement import consensus
    assert label == "1-" + consensus(res.inference.ppms[0])
    assert list(motifs) == [label] and motifs[label][0] == res.inference.kmers[0] and motifs[label][1].shape == (5, 4)
    jaspar = read_jaspar(res.to_jaspar(tmp_path / "r.jaspar"), with_names=True)
    assert list(jaspar) == [label] and jaspar[label][0] == res.inference.kmers[0]  # the same names in both files
    # nsites and the JASPAR counts are the motif's real sites, not the number of sequences.
    sites = int(res.sites()["sites"].iloc[0])
    assert 0 < sites != res.nobs
    header = next(line for line in meme_path.read_text().splitlines() if line.startswith("letter-probability"))
    assert f"nsites= {sites} " in header and f"E= {res.pvalues_selective.iloc[0]:.3g}" in header
    counts = [line.split("[")[1].split("]")[0].split() for line in (tmp_path / "r.jaspar").read_text().splitlines()[1:]]
    assert (np.array(counts, dtype=int).sum(axis=0) == sites).all()


def test_sites_are_exact_occurrences_on_either_strand():
    from seism_stats.features.sites import count_sites, site_table
    sequences = ["GATTAxGATTA".replace("x", "C"), "TAATCAAAA", "GANTA", "CCCCC", "GATTC"]
    assert list(count_sites(sequences, "GATTA")) == [2, 1, 0, 0, 0]  # TAATC is GATTA's reverse complement
    assert list(count_sites(sequences, "GATTA", revcomp=False)) == [2, 0, 0, 0, 0]
    assert list(count_sites(sequences, "GATTA", max_mismatches=1)) == [2, 1, 0, 0, 1]
    assert list(count_sites(["ACGT"], "ACGT")) == [1]  # a palindrome counts once
    table = site_table(sequences, ["GATTA"], foreground=np.array([1, 1, 0, 0, 1], bool))
    assert table.iloc[0].to_dict() == {"sites": 3, "seqs_with_site": 2, "pct_with_site": 200 / 3,
                                       "bg_sites": 0, "bg_seqs_with_site": 0, "bg_pct_with_site": 0.0}
    with pytest.raises(ValueError, match="max_mismatches"):
        count_sites(sequences, "GATTA", max_mismatches=-1)


def test_results_count_foreground_and_background_sites():
    from seism_stats import SelectiveMotifModel
    data = simulate_dataset(160, 40, consensus="GATTA", beta=4.0, response="binary", random_state=2)
    res = SelectiveMotifModel(data.y, data.sequences, k=5).fit(method="naive", progress=False, random_state=0)
    table = res.motifs
    fg = [s for s, y in zip(data.sequences, data.y) if y == 1]
    kmer = table["kmer"].iloc[0]
    from seism_stats.io.genome import reverse_complement
    expected = sum(s.count(kmer) + (s.count(reverse_complement(kmer)) if reverse_complement(kmer) != kmer else 0)
                   for s in fg)  # no overlapping occurrences of these 5-mers here
    assert table["sites"].iloc[0] == expected
    assert table["pct_with_site"].iloc[0] > table["bg_pct_with_site"].iloc[0]
    res.remove_data()
    assert table["name"].iloc[0] == res.motifs["name"].iloc[0]


def test_jaspar_rows_are_read_by_letter(tmp_path):
    path = tmp_path / "m.jaspar"
    path.write_text(">MA1 test\nC [ 0 10 0 ]\nA [ 10 0 0 ]\nG [ 0 0 10 ]\nT [ 0 0 0 ]\n")
    ppm = read_jaspar(path)["MA1"]
    assert np.array_equal(ppm.argmax(axis=1), [0, 1, 2])  # A, C, G
    path.write_text(">MA1 test\nA [ 1 ]\nA [ 1 ]\nG [ 1 ]\nT [ 1 ]\n")
    with pytest.raises(ValueError, match="expected each of A, C, G, T once"):
        read_jaspar(path)


def test_meme_width_must_match_the_matrix(tmp_path):
    path = tmp_path / "m.meme"
    path.write_text("MEME version 4\n\nALPHABET= ACGT\n\nMOTIF m1\n"
                    "letter-probability matrix: alength= 4 w= 2 nsites= 2 E= 0\n"
                    " 1 0 0 0\n 0 1 0 0\n 0 0 1 0\n\n")
    with pytest.raises(ValueError, match="says w= 2 but its matrix has 3 rows"):
        read_meme(path)


def test_jaspar_counts_sum_to_nsites_at_every_position(tmp_path):
    from seism_stats.io.motif_files import site_counts, write_jaspar
    rng = np.random.default_rng(4)
    ppm = rng.dirichlet(np.ones(4), size=12)  # remainders that plain rounding gets wrong
    counts = site_counts(ppm, 200)
    assert (counts.sum(axis=1) == 200).all() and np.abs(counts - ppm * 200).max() < 1
    write_jaspar([ppm], ["m"], tmp_path / "m.jaspar", nsites=200)
    rows = [line.split("[")[1].split("]")[0].split() for line in (tmp_path / "m.jaspar").read_text().splitlines()[1:]]
    assert (np.array(rows, dtype=int).sum(axis=0) == 200).all()


def test_site_counts_keep_the_consensus_with_few_sites():
    from seism_stats.io.motif_files import site_counts
    ppm = np.array([[0.4, 0.2, 0.2, 0.2], [0.1, 0.34, 0.33, 0.23], [0.25, 0.25, 0.25, 0.25]])
    for nsites in (1, 2, 3, 4, 5, 100):
        counts = site_counts(ppm, nsites)
        assert (counts.sum(axis=1) == nsites).all()
        for row in range(2):  # a unique most likely letter stays the unique most counted one
            assert np.argmax(counts[row]) == np.argmax(ppm[row])
            assert np.sum(counts[row] == counts[row].max()) == 1
    assert site_counts(ppm, 2)[0].tolist() == [2, 0, 0, 0]  # largest remainders alone: 1, 1, 0, 0
    assert site_counts(ppm, 100)[1].tolist() == [10, 34, 33, 23]  # nothing moves when rounding keeps it
