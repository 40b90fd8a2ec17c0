"""The ``seism fit`` command line."""

import json

import pandas as pd
import pytest

from seism_stats.cli import main
from simulations.data import simulate_dataset


@pytest.fixture
def files(tmp_path):
    data = simulate_dataset(120, 40, consensus="GATTA", beta=3.0, random_state=5)
    fasta = tmp_path / "peaks.fa"
    fasta.write_text("".join(f">p{i}\n{s}\n" for i, s in enumerate(data.sequences)))
    table = pd.DataFrame({"id": [f"p{i}" for i in range(120)], "y": data.y,
                          "gc": [s.count("G") + s.count("C") for s in data.sequences]})
    response = tmp_path / "y.tsv"
    table.iloc[:-5].to_csv(response, sep="\t", index=False)  # 5 sequences without response
    return fasta, response, tmp_path


def test_fit_writes_every_output(files, capsys):
    fasta, response, tmp = files
    out = tmp / "results"
    code = main(["fit", "--fasta", str(fasta), "--response", str(response), "--k", "5", "--n-motifs", "1",
                 "--covariates", "gc", "--n-samples", "200", "--seed", "1", "--out", str(out), "--quiet"])
    assert code == 0
    for name in ("summary.txt", "summary.html", "motifs.csv", "logos.png", "settings.json",
                 "motifs.meme", "motifs.jaspar"):
        assert (out / name).stat().st_size > 0, name
    assert "GATTA" in (out / "summary.txt").read_text()
    settings = json.loads((out / "settings.json").read_text())
    assert settings["sequences_without_response"] == 5 and settings["n_used"] == 115
    assert settings["sampler"]["draws"] >= 200 and settings["settings"]["k"] == 5
    assert pd.read_csv(out / "motifs.csv")["kmer"].iloc[0] == "GATTA"


@pytest.mark.parametrize("change, message", [
    (lambda f, r, t: (str(t / "missing.fa"), str(r)), "FASTA file not found"),
    (lambda f, r, t: (str(f), str(t / "missing.tsv")), "response file not found"),
    (lambda f, r, t: (str(f), str(_write(t / "other.tsv", "id\ty\nq1\t1\nq2\t2\n"))), "no sequence id"),
    (lambda f, r, t: (str(f), str(_write(t / "one.tsv", "id\np1\n"))), "at least two columns"),
    (lambda f, r, t: (str(_write(t / "bad.fa", ">a\nACXT\n")), str(r)), "non-DNA letter 'X'"),
])
def test_bad_files_give_clear_errors(files, capsys, change, message):
    fasta, response, tmp = files
    fasta_arg, response_arg = change(fasta, response, tmp)
    code = main(["fit", "--fasta", fasta_arg, "--response", response_arg, "--k", "3",
                 "--out", str(tmp / "o"), "--quiet"])
    assert code == 2
    assert message in capsys.readouterr().err


def _write(path, text):
    path.write_text(text)
    return path
