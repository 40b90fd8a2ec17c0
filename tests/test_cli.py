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
    from seism_stats.motif_io import write_meme
    from simulations.data import motif_pwm
    database = write_meme([motif_pwm("GATTA"), motif_pwm("CCCGG")], ["gatta_like", "ccg"], tmp / "db.meme")
    code = main(["fit", "--fasta", str(fasta), "--response", str(response), "--k", "5", "--n-motifs", "1",
                 "--covariates", "gc", "--n-samples", "200", "--seed", "1", "--out", str(out), "--quiet",
                 "--motif-db", str(database)])
    assert code == 0
    for name in ("report.html", "summary.txt", "summary.html", "motifs.csv", "logos.png", "settings.json",
                 "motifs.meme", "motifs.jaspar"):
        assert (out / name).stat().st_size > 0, name
    assert "GATTA" in (out / "summary.txt").read_text()
    settings = json.loads((out / "settings.json").read_text())
    assert settings["sequences_without_response"] == 5 and settings["n_used"] == 115
    assert settings["sampler"]["draws"] >= 200 and settings["settings"]["k"] == 5
    assert pd.read_csv(out / "motifs.csv")["kmer"].iloc[0] == "GATTA"
    assert pd.read_csv(out / "motifs.csv")["match_id"].iloc[0] == "gatta_like"


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


def _gzip_truncated(path):
    import gzip
    full = gzip.compress(b">a\nACGTACGTAC\n" * 200)
    path.write_bytes(full[: len(full) // 2])
    return path


@pytest.mark.parametrize("change, message", [
    (lambda f, r, t: (str(_gzip_truncated(t / "cut.fa.gz")), str(r)), "truncated or corrupt gzip"),
    (lambda f, r, t: (str(_write_bytes(t / "bin.fa", b">a\n\xff\xfe\x00ACGT\n")), str(r)), "not a UTF-8 text FASTA"),
    (lambda f, r, t: (str(_write_bytes(t / "l1.fa", ">caf\xe9\nACGT\n".encode("latin-1"))), str(r)),
     "not a UTF-8 text FASTA"),
    (lambda f, r, t: (str(f), str(_write(t / "header.tsv", "id\ty\n"))), "has a header but no rows"),
    (lambda f, r, t: (str(f), str(_write(t / "nohead.tsv", "p0\t1.5\np1\t2.0\n"))), "needs a header line"),
    (lambda f, r, t: (str(f), str(_write(t / "dot.tsv", "id\ty\np0\t1.5\np1\t.\np2\t2\n"))), "is not numeric"),
])
def test_damaged_files_give_one_line_errors(files, capsys, change, message):
    fasta, response, tmp = files
    fasta_arg, response_arg = change(fasta, response, tmp)
    code = main(["fit", "--fasta", fasta_arg, "--response", response_arg, "--k", "3",
                 "--out", str(tmp / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp / "o").exists()  # nothing half-written


def test_fasta_with_byte_order_mark_is_read(tmp_path):
    from seism_stats.sequences import read_fasta
    path = _write_bytes(tmp_path / "bom.fa", "\ufeff>a\nACGT\n".encode("utf-8"))
    assert read_fasta(path) == (["a"], ["ACGT"])


def test_output_folder_is_checked_before_fitting_and_replaced_with_force(files, capsys):
    fasta, response, tmp = files
    common = ["fit", "--fasta", str(fasta), "--response", str(response), "--k", "4", "--method", "naive",
              "--quiet"]
    blocker = _write(tmp / "file.txt", "x")
    assert main(common + ["--out", str(blocker)]) == 2
    assert "is not a folder" in capsys.readouterr().err
    out = tmp / "res"
    assert main(common + ["--out", str(out)]) == 0
    stale = _write(out / "motifs.old", "stale")
    assert main(common + ["--out", str(out)]) == 2
    assert "already holds files" in capsys.readouterr().err
    assert main(common + ["--out", str(out), "--force"]) == 0
    assert not stale.exists() and (out / "summary.txt").exists()
    assert not [p for p in tmp.iterdir() if p.name.startswith(".res")]  # no staging left behind


def test_response_column_is_named_and_recorded(files):
    fasta, response, tmp = files
    out = tmp / "named"
    assert main(["fit", "--fasta", str(fasta), "--response", str(response), "--response-column", "gc",
                 "--k", "4", "--method", "naive", "--quiet", "--out", str(out)]) == 0
    assert json.loads((out / "settings.json").read_text())["response_column"] == "gc"
    assert "Dep. Variable:" in (out / "summary.txt").read_text()
    assert " gc " in (out / "summary.txt").read_text().split("Model:")[0]
    assert main(["fit", "--fasta", str(fasta), "--response", str(response), "--response-column", "id",
                 "--k", "4", "--quiet", "--out", str(tmp / "x")]) == 2


@pytest.mark.parametrize("covariates", ["I(__import__('os').system('touch pwned'))", "gc + os.system",
                                        "gc + exec('x')"])
def test_covariates_formula_runs_no_code(files, capsys, covariates):
    fasta, response, tmp = files
    code = main(["fit", "--fasta", str(fasta), "--response", str(response), "--covariates", covariates,
                 "--k", "4", "--quiet", "--out", str(tmp / "c")])
    assert code == 2 and "--covariates" in capsys.readouterr().err
    assert not (tmp / "pwned").exists()


def test_covariates_formula_allows_transforms(files):
    from seism_stats.cli import check_covariate_formula
    assert check_covariate_formula("np.log(gc) + C(gc) + center(gc)", ["id", "y", "gc"])


def _write_bytes(path, data):
    path.write_bytes(data)
    return path


def test_ctrl_c_exits_130_and_leaves_no_output(files, capsys, monkeypatch):
    from seism_stats import cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_fit_into", interrupted)
    fasta, response, tmp = files
    code = main(["fit", "--fasta", str(fasta), "--response", str(response), "--out", str(tmp / "ctrl"), "--quiet"])
    assert code == 130 and "interrupted" in capsys.readouterr().err
    assert not (tmp / "ctrl").exists() and not [p for p in tmp.iterdir() if p.name.startswith(".ctrl")]


def test_version_and_help_show_defaults(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and "seism_stats" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 8)" in text and "--threads" in text and "(default: 2000)" in text


def test_control_sequences_give_a_foreground_background_fit(tmp_path):
    data = simulate_dataset(160, 40, consensus="GATTA", beta=4.0, response="binary", random_state=2)
    fg = tmp_path / "fg.fa"
    bg = tmp_path / "bg.fa"
    fg.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(data.sequences) if data.y[i] == 1))
    bg.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(data.sequences) if data.y[i] == 0))
    out = tmp_path / "ctl"
    assert main(["fit", "--fasta", str(fg), "--control", str(bg), "--k", "5", "--n-samples", "100",
                 "--seed", "0", "--out", str(out), "--quiet"]) == 0
    settings = json.loads((out / "settings.json").read_text())
    assert settings["response_column"] == "foreground" and settings["settings"]["null"] == "permutation"
    assert pd.read_csv(out / "motifs.csv")["kmer"].iloc[0] == "GATTA"
    assert main(["fit", "--fasta", str(fg), "--out", str(tmp_path / "none"), "--quiet"]) == 2


def test_peaks_from_a_bed_file_on_a_genome(tmp_path):
    pytest.importorskip("pyfaidx")
    from seism_stats.genome import reverse_complement
    data = simulate_dataset(150, 60, consensus="GATTA", beta=3.0, random_state=4)
    genome = tmp_path / "genome.fa"
    chrom = "".join(data.sequences)
    genome.write_text(">chr1\n" + "\n".join(chrom[i:i + 60] for i in range(0, len(chrom), 60)) + "\n")
    lines = []
    for i, y in enumerate(data.y):
        strand = "-" if i % 3 == 0 else "+"
        lines.append(f"chr1\t{60 * i}\t{60 * i + 60}\tpeak{i}\t{y:.6f}\t{strand}")
    bed = tmp_path / "peaks.bed"
    bed.write_text("track name=peaks\n" + "\n".join(lines) + "\n")
    from seism_stats.genome import bed_sequences, read_bed
    table = read_bed(bed)
    seqs = bed_sequences(table, genome)
    assert seqs[1] == data.sequences[1] and seqs[0] == reverse_complement(data.sequences[0])
    assert len(bed_sequences(table, genome, width=20)[5]) == 20
    out = tmp_path / "bedfit"
    assert main(["fit", "--bed", str(bed), "--genome", str(genome), "--k", "5", "--method", "naive",
                 "--quiet", "--out", str(out)]) == 0
    assert json.loads((out / "settings.json").read_text())["response_column"] == "bed_score"
    assert pd.read_csv(out / "motifs.csv")["kmer"].iloc[0] == "GATTA"
    assert main(["fit", "--bed", str(bed), "--k", "5", "--quiet", "--out", str(tmp_path / "x")]) == 2


def test_unmatched_ids_are_noted_even_when_quiet(files, capsys):
    # Ids that match in one file only are often a naming mismatch: both directions are said.
    fasta, response, tmp = files
    short = tmp / "short.fa"
    short.write_text("".join(fasta.read_text().splitlines(keepends=True)[:2 * 100]))  # 100 of the 120 sequences
    out = tmp / "unmatched"
    assert main(["fit", "--fasta", str(short), "--response", str(response), "--k", "4", "--method", "naive",
                 "--quiet", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "15 rows of" in err and "have no sequence" in err  # 115 responses, 100 sequences
    assert json.loads((out / "settings.json").read_text())["responses_without_sequence"] == 15


def test_python_dash_m_runs_the_command_line():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "seism_stats", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "fit" in out.stdout


def test_composition_covariates_with_a_response_table(files, capsys):
    fasta, response, tmp = files  # the table already has a gc column
    args = ["fit", "--fasta", str(fasta), "--response", str(response), "--k", "4", "--method", "naive", "--quiet",
            "--motif-db", "none"]
    assert main(args + ["--composition", "gc-cpg", "--out", str(tmp / "clash")]) == 2
    assert "already has gc" in capsys.readouterr().err
    assert main(args + ["--composition", "dinucleotides", "--out", str(tmp / "di")]) == 0
    assert "di_CG" in json.loads((tmp / "di" / "settings.json").read_text())["formula"]
