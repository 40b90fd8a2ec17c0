"""The ``seism fit`` command line."""

import json
from pathlib import Path

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
    from seism_stats.io.motif_files import write_meme
    from simulations.data import motif_pwm
    database = write_meme([motif_pwm("GATTA"), motif_pwm("CCCGG")], ["gatta_like", "ccg"], tmp / "db.meme")
    code = main(["fit", "--fasta", str(fasta), "--response", str(response), "--k", "5", "--n-motifs", "1",
                 "--covariates", "gc", "--n-samples", "200", "--seed", "1", "--out", str(out), "--quiet",
                 "--motif-db", str(database), "--interval-draws", "20"])
    assert code == 0
    for name in ("report.html", "summary.txt", "summary.html", "motifs.csv", "logos.png", "settings.json",
                 "motifs.meme", "motifs.jaspar"):
        assert (out / name).stat().st_size > 0, name
    assert "GATTA" in (out / "summary.txt").read_text()
    settings = json.loads((out / "settings.json").read_text())
    assert settings["sequences_without_response"] == 5 and settings["n_used"] == 115
    summary = (out / "summary.txt").read_text()  # the 5 left out are counted where the rows dropped are
    assert "0 (+5 no resp.)" in summary and "5 sequences had no response" in summary
    assert settings["sampler"]["draws"] >= 200 and settings["settings"]["k"] == 5
    assert settings["settings"]["interval_draws"] == 20
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
    full = gzip.compress(b"".join(b">a%d\nACGTACGTAC\n" % i for i in range(200)))  # unique ids
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
    from seism_stats.io.sequences import read_fasta
    path = _write_bytes(tmp_path / "bom.fa", "\ufeff>a\nACGT\n".encode("utf-8"))
    assert read_fasta(path) == (["a"], ["ACGT"])


def test_output_folder_is_checked_before_fitting_and_replaced_with_force(files, capsys):
    fasta, response, tmp = files
    common = ["fit", "--fasta", str(fasta), "--response", str(response), "--response-column", "y", "--k", "4",
              "--method", "naive", "--quiet"]
    blocker = _write(tmp / "file.txt", "x")
    assert main(common + ["--out", str(blocker)]) == 2
    assert "is not a folder" in capsys.readouterr().err
    out = tmp / "res"
    assert main(common + ["--out", str(out)]) == 0
    stale = _write(out / "motifs.jaspar", "stale")
    assert main(common + ["--out", str(out)]) == 2
    assert "already holds files" in capsys.readouterr().err
    assert main(common + ["--out", str(out), "--force"]) == 0
    assert stale.read_text() != "stale" and (out / "summary.txt").exists() and (out / ".seism-output").exists()
    assert not [p for p in tmp.iterdir() if p.name.startswith(".res")]  # no staging or lock left behind


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


def test_ctrl_c_after_the_outputs_landed_says_they_did(files, capsys, monkeypatch):
    from seism_stats import cli

    class Summary:
        def __str__(self):
            raise KeyboardInterrupt  # while the summary prints, after publishing

    monkeypatch.setattr(cli, "_fit_into", lambda *args, **kwargs: Summary())
    fasta, response, tmp = files
    code = main(["fit", "--fasta", str(fasta), "--response", str(response), "--out", str(tmp / "late"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 130 and "results were written to" in err and "no output" not in err
    assert (tmp / "late").is_dir()


def test_ctrl_c_while_the_replaced_run_is_removed_says_the_results_landed(files, capsys, monkeypatch):
    # --force over an earlier run: the new results are in place before the old ones are removed.
    import shutil
    from seism_stats import cli
    fasta, response, tmp = files
    earlier = tmp / "earlier_run"
    earlier.mkdir()
    publish, remove = cli._publish, shutil.rmtree

    def slow_removal(path, *args, **kwargs):
        if Path(path) == earlier:
            raise KeyboardInterrupt
        return remove(path, *args, **kwargs)

    monkeypatch.setattr(cli, "_fit_into", lambda *args, **kwargs: None)
    monkeypatch.setattr(cli, "_publish", lambda *args, **kwargs: publish(*args, **kwargs) or earlier)
    monkeypatch.setattr(shutil, "rmtree", slow_removal)
    code = main(["fit", "--fasta", str(fasta), "--response", str(response), "--out", str(tmp / "forced"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 130 and "results were written to" in err and "no output" not in err
    assert (tmp / "forced").is_dir()


@pytest.mark.parametrize("interrupted", ["first", "second"])
def test_ctrl_c_around_the_renames_of_force(files, capsys, monkeypatch, interrupted):
    # Ctrl-C surfaces just after a rename returns: after the first (the earlier run moved aside), the
    # earlier results are put back and nothing was written; after the second, the new results are in place.
    from seism_stats import cli
    fasta, response, tmp = files
    out = tmp / f"forced_{interrupted}"
    common = ["fit", "--fasta", str(fasta), "--response", str(response), "--response-column", "y", "--k", "4",
              "--method", "naive", "--quiet", "--out", str(out)]
    assert main(common) == 0
    earlier = (out / "settings.json").read_text()
    rename, calls = Path.rename, []

    def interrupting(self, target):
        result = rename(self, target)
        calls.append(target)
        if (interrupted == "first" and len(calls) == 1) or (interrupted == "second" and len(calls) == 2):
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(Path, "rename", interrupting)
    code = main(common + ["--force", "--seed", "7"])
    err = capsys.readouterr().err
    assert code == 130 and out.is_dir()
    assert not [p for p in tmp.iterdir() if p.name.startswith(f".{out.name}.old.")]  # nothing left hidden
    if interrupted == "first":
        assert "no output was written" in err and (out / "settings.json").read_text() == earlier
    else:
        assert "results were written to" in err and '"random_state": 7' in (out / "settings.json").read_text()


def test_a_reader_that_stops_early_loses_no_output(files):
    # `seism fit ... | head`: the summary is printed after the outputs are in place, and a closed
    # stdout ends the run quietly (status 141, as SIGPIPE would) instead of discarding the fit.
    import subprocess
    import sys
    import os
    fasta, response, tmp = files
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout buffered, as in a shell
    command = [sys.executable, "-m", "seism_stats", "fit", "--fasta", str(fasta), "--response", str(response),
               "--response-column", "y", "--k", "5", "--n-motifs", "1", "--method", "naive", "--out"]
    run = subprocess.Popen(command + [str(tmp / "piped")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=env)
    run.stdout.close()  # the reader of stdout is gone before anything is printed
    _, err = run.communicate(timeout=600)
    assert run.returncode == 141, err
    assert "Traceback" not in err and "Broken pipe" not in err and "Exception ignored" not in err
    assert (tmp / "piped" / "report.html").stat().st_size > 0
    # `2>&1 | head`: the stage lines and progress go to stderr, whose reader is gone; the fit still lands.
    run = subprocess.Popen(command + [str(tmp / "piped_err")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=env)
    run.stderr.close()
    out, _ = run.communicate(timeout=600)
    assert run.returncode == 0 and "results written" in out
    assert (tmp / "piped_err" / "summary.txt").stat().st_size > 0


def test_version_and_help_show_defaults(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and "seism_stats" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 8)" in text and "--threads" in text and "(default: auto)" in text and "--hypothesis" in text


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
    from seism_stats.io.genome import reverse_complement
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
    from seism_stats.io.genome import bed_sequences, read_bed
    table = read_bed(bed)
    seqs = bed_sequences(table, genome)
    assert seqs[1] == data.sequences[1] and seqs[0] == reverse_complement(data.sequences[0])
    assert len(bed_sequences(table, genome, width=20)[5]) == 20
    out = tmp_path / "bedfit"
    assert main(["fit", "--bed", str(bed), "--genome", str(genome), "--k", "5", "--method", "naive",
                 "--width", "60", "--quiet", "--out", str(out)]) == 0  # the intervals' own width: the same sequences
    assert json.loads((out / "settings.json").read_text())["response_column"] == "bed_score"
    assert pd.read_csv(out / "motifs.csv")["kmer"].iloc[0] == "GATTA"
    assert main(["fit", "--bed", str(bed), "--k", "5", "--quiet", "--out", str(tmp_path / "x")]) == 2
    headed = tmp_path / "headed.bed"
    headed.write_text("track name=peaks\nchrom\tstart\tend\n" + "\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"line 2: start and end must be integers.*a header line\? start it with '#'"):
        read_bed(headed)


def test_malformed_numeric_arguments_are_refused_by_name(files, capsys):
    fasta, response, tmp = files
    common = ["fit", "--fasta", str(fasta), "--response", str(response), "--quiet", "--out", str(tmp / "bad")]
    for argument, message in ((["--k", "6,,8"], "--k takes an integer"), (["--k", "6,"], "--k takes an integer"),
                              (["--width", "0"], "--width must be at least 1")):
        with pytest.raises(SystemExit) as stop:
            main(common + argument)
        assert stop.value.code == 2 and message in capsys.readouterr().err


def test_unmatched_ids_are_noted_even_when_quiet(files, capsys):
    # Ids that match in one file only are often a naming mismatch: both directions are said.
    fasta, response, tmp = files
    short = tmp / "short.fa"
    short.write_text("".join(fasta.read_text().splitlines(keepends=True)[:2 * 100]))  # 100 of the 120 sequences
    out = tmp / "unmatched"
    assert main(["fit", "--fasta", str(short), "--response", str(response), "--response-column", "y", "--k", "4",
                 "--method", "naive", "--quiet", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "15 rows of" in err and "have no sequence" in err  # 115 responses, 100 sequences
    assert json.loads((out / "settings.json").read_text())["responses_without_sequence"] == 15


def test_python_dash_m_runs_the_command_line():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "seism_stats", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "fit" in out.stdout


# -- issue 24 ---------------------------------------------------------------------------------
def test_zero_padded_ids_are_read_as_text(tmp_path):
    # Issue 24.9: the table's ids were read as integers (0007 -> 7) and matched no FASTA id.
    data = simulate_dataset(80, 30, consensus="GATTA", beta=3.0, random_state=1)
    ids = [f"{i:04d}" for i in range(80)]
    fasta = _write(tmp_path / "padded.fa", "".join(f">{i}\n{s}\n" for i, s in zip(ids, data.sequences)))
    table = _write(tmp_path / "padded.tsv", "id\ty\n" + "".join(f"{i}\t{v}\n" for i, v in zip(ids, data.y)))
    out = tmp_path / "padded"
    assert main(["fit", "--fasta", str(fasta), "--response", str(table), "--k", "4", "--method", "naive",
                 "--quiet", "--out", str(out)]) == 0
    settings = json.loads((out / "settings.json").read_text())
    assert settings["n_used"] == 80 and settings["sequences_without_response"] == 0


def test_ids_that_differ_only_as_numbers_are_not_duplicates(tmp_path):
    from seism_stats.cli import _read_response
    path = _write(tmp_path / "t.tsv", "id\ty\n7\t1.0\n07\t2.0\nNA\t3.0\n")
    table, response = _read_response(path, None, None, ["7", "07", "NA"])
    assert list(table.index) == ["7", "07", "NA"] and response == "y"
    with pytest.raises(ValueError, match="data row 2 has no sequence id"):
        _read_response(_write(tmp_path / "e.tsv", "id\ty\na\t1\n\t2\n"), None, None, ["a"])


def test_response_column_is_never_guessed_among_several(files, capsys):
    # Issue 24.13: with columns id, y, gc the default response was gc's neighbour by position.
    fasta, response, tmp = files
    common = ["fit", "--fasta", str(fasta), "--response", str(response), "--k", "4", "--method", "naive"]
    assert main(common + ["--quiet", "--out", str(tmp / "a")]) == 2
    err = capsys.readouterr().err
    assert "2 columns could be the response (y, gc); name it with --response-column" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp / "a").exists()
    gc_first = _write(tmp / "gc_first.tsv", pd.read_csv(response, sep="\t")[["id", "gc", "y"]]
                      .to_csv(sep="\t", index=False))
    assert main(common[:4] + [str(gc_first)] + common[5:] + ["--quiet", "--out", str(tmp / "b")]) == 2
    assert "(gc, y)" in capsys.readouterr().err
    # One candidate left once the covariates are set aside: that one, said in the first lines.
    assert main(common + ["--covariates", "gc", "--out", str(tmp / "c")]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"seism: response: column 'y' of {response} (ids in column 'id'; 115 of 120")
    assert json.loads((tmp / "c" / "settings.json").read_text())["response_column"] == "y"


def test_a_text_column_is_not_a_response_candidate(tmp_path):
    from seism_stats.cli import _read_response
    table = _write(tmp_path / "t.tsv", "id\tname\ty\na\tgeneA\t1.5\nb\tgeneB\t2.5\n")
    assert _read_response(table, None, None, ["a", "b"])[1] == "y"
    dotted = _write(tmp_path / "d.tsv", "id\ty\tgc\na\t1.5\t0.4\nb\t.\t0.5\n")  # y has a '.' but is meant
    with pytest.raises(ValueError, match=r"2 columns could be the response \(y, gc\)"):
        _read_response(dotted, None, None, ["a", "b"])


def _genome_and_bed(tmp_path, names=None, strands=None, n=150):
    data = simulate_dataset(n, 60, consensus="GATTA", beta=3.0, random_state=4)
    genome = tmp_path / "genome.fa"
    chrom = "".join(data.sequences)
    genome.write_text(">chr1\n" + "\n".join(chrom[i:i + 60] for i in range(0, len(chrom), 60)) + "\n")
    names = names or [f"peak{i}" for i in range(n)]
    strands = strands or ["+"] * n
    bed = tmp_path / "peaks.bed"
    bed.write_text("".join(f"chr1\t{60 * i}\t{60 * i + 60}\t{names[i]}\t{y:.6f}\t{strands[i]}\n"
                           for i, y in enumerate(data.y)))
    return genome, bed, data


def test_bed_with_repeated_names_is_read_when_no_table_is_keyed(tmp_path, capsys):
    # Issue 24.12: UCSC BED files often repeat names; that matters only where names key a table.
    pytest.importorskip("pyfaidx")
    from seism_stats.io.genome import read_bed
    names = ["peak"] * 150  # every interval named alike
    genome, bed, data = _genome_and_bed(tmp_path, names=names)
    assert list(read_bed(bed)["name"]) == names
    out = tmp_path / "same_names"
    assert main(["fit", "--bed", str(bed), "--genome", str(genome), "--k", "5", "--method", "naive",
                 "--width", "60", "--quiet", "--out", str(out)]) == 0  # the intervals' own width: the same sequences
    assert pd.read_csv(out / "motifs.csv")["kmer"].iloc[0] == "GATTA"
    table = _write(tmp_path / "y.tsv", "id\ty\npeak\t1.0\n")
    assert main(["fit", "--bed", str(bed), "--genome", str(genome), "--response", str(table), "--k", "5",
                 "--quiet", "--out", str(tmp_path / "keyed")]) == 2
    assert "interval name 'peak' is on lines 1 and 2; names must be unique here" in capsys.readouterr().err


def test_gzipped_genome_gets_a_message_that_says_what_to_do(tmp_path, capsys):
    pytest.importorskip("pyfaidx")
    import gzip
    genome, bed, _ = _genome_and_bed(tmp_path)
    packed = tmp_path / "genome.fa.gz"
    packed.write_bytes(gzip.compress(genome.read_bytes()))
    assert main(["fit", "--bed", str(bed), "--genome", str(packed), "--k", "5", "--method", "naive", "--quiet",
                 "--out", str(tmp_path / "gz")]) == 2
    assert "is gzip-compressed; the genome must be plain FASTA or block-gzipped" in capsys.readouterr().err


def test_bed_with_a_repeated_interval_is_refused(tmp_path, capsys):
    # A repeated line (same interval and strand, e.g. a file concatenated twice) would enter the fit
    # twice; the same interval on the other strand is another sequence and is kept.
    pytest.importorskip("pyfaidx")
    genome, bed, _ = _genome_and_bed(tmp_path)
    lines = bed.read_text().splitlines(keepends=True)
    bed.write_text("".join(lines + [lines[4]]))
    assert main(["fit", "--bed", str(bed), "--genome", str(genome), "--k", "5", "--method", "naive", "--quiet",
                 "--out", str(tmp_path / "twice")]) == 2
    assert "line 151 repeats the interval of line 5 (chr1:240-300, strand +)" in capsys.readouterr().err
    assert not (tmp_path / "twice").exists()
    from seism_stats.io.genome import read_bed
    bed.write_text("".join(lines + [lines[4].replace("\t+\n", "\t-\n")]))
    assert read_bed(bed).shape[0] == 151


@pytest.mark.parametrize("field, message", [
    ("x", r"line 3: the strand \(6th field\) must be '\+', '-' or '\.', got 'x'"),
    ("plus", r"line 3: the strand .* got 'plus'"),
])
def test_bed_strand_that_is_not_plus_minus_or_dot_is_refused(tmp_path, field, message):
    from seism_stats.io.genome import read_bed
    bed = _write(tmp_path / "s.bed", f"chr1\t0\t10\ta\t1\t+\nchr1\t0\t10\tb\t1\t.\nchr1\t0\t10\tc\t1\t{field}\n")
    with pytest.raises(ValueError, match=message):
        read_bed(bed)
    fine = read_bed(_write(tmp_path / "ok.bed", "chr1\t0\t10\ta\t1\t-\nchr1\t0\t10\tb\t1\t.\nchr1\t10\t20\n"))
    assert list(fine["strand"]) == ["-", "+", "+"] and list(fine.index) == [1, 2, 3]
    with pytest.raises(ValueError, match=r"line 1: the score \(5th field\) must be a number or '.', got 'high'"):
        read_bed(_write(tmp_path / "score.bed", "chr1\t0\t10\ta\thigh\t+\n"))


def _one_line_error(capsys, code):
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_memory_refusal_is_a_one_line_error(files, capsys, monkeypatch):
    # Issue 24.7: the MemoryError of the memory check came out as a traceback (exit 1).
    from seism_stats.features import memory
    monkeypatch.setattr(memory, "available_memory", lambda: 1000)
    fasta, response, tmp = files
    code = main(["fit", "--fasta", str(fasta), "--response", str(response), "--response-column", "y", "--k", "4",
                 "--quiet", "--out", str(tmp / "mem")])
    err = _one_line_error(capsys, code)
    assert "needs about" in err and "--interval-draws" in err and not (tmp / "mem").exists()


@pytest.mark.parametrize("module, extra, option", [("pyfaidx", "genome", "--bed"), ("pyjaspar", "jaspar", "--motif-db")])
def test_missing_optional_package_names_its_extra_before_any_work(files, capsys, monkeypatch, module, extra, option):
    # Issue 24.7: --bed without pyfaidx and --motif-db jaspar without pyjaspar raised ImportError tracebacks.
    import sys
    from seism_stats import cli
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    monkeypatch.setattr(cli, "_fit_into", lambda *a: pytest.fail("the fit started"))
    fasta, response, tmp = files
    args = (["--bed", str(_write(tmp / "p.bed", "chr1\t0\t10\n")), "--genome", str(fasta)] if option == "--bed"
            else ["--fasta", str(fasta), "--response", str(response), "--motif-db", "jaspar"])
    code = main(["fit", *args, "--quiet", "--out", str(tmp / "opt")])
    err = _one_line_error(capsys, code)
    assert f"pip install 'seism_stats[{extra}]'" in err and module in err and not (tmp / "opt").exists()


@pytest.mark.parametrize("make, message", [
    (lambda t: t / "missing.meme", "motif database not found"),
    (lambda t: _write_bytes(t / "binary.meme", b"\x89PNG\r\n\x1a\n\x00\xff\xfe"), "not a text motif file"),
    (lambda t: _write(t / "bad.meme", "MEME version 4\n\nMOTIF m1\nletter-probability matrix: w= 3\n0.1 0.2\n"),
     "says w= 3 but its matrix has 1 rows"),
    (lambda t: _write(t / "words.txt", "hello motifs\n"), "holds counts before any '>' header"),
])
def test_motif_database_is_checked_before_the_fit(files, capsys, monkeypatch, make, message):
    # Issue 24.7: a bad --motif-db was found only after the whole fit.
    from seism_stats import cli
    monkeypatch.setattr(cli, "_fit_into", lambda *a: pytest.fail("the fit started"))
    fasta, response, tmp = files
    code = main(["fit", "--fasta", str(fasta), "--response", str(response), "--motif-db", str(make(tmp)),
                 "--quiet", "--out", str(tmp / "db")])
    assert message in _one_line_error(capsys, code) and not (tmp / "db").exists()


def test_meme_txt_is_accepted_as_motif_database(files):
    # Issue 24.11, through the command line.
    from simulations.data import motif_pwm
    from test_input_validation import meme_txt
    fasta, response, tmp = files
    database = meme_txt(tmp / "meme.txt", [motif_pwm("GATTA"), motif_pwm("CCCGG")], ["GATTA", "CCCGG"])
    out = tmp / "memetxt"
    assert main(["fit", "--fasta", str(fasta), "--response", str(response), "--response-column", "y", "--k", "5",
                 "--method", "naive", "--motif-db", str(database), "--quiet", "--out", str(out)]) == 0
    assert pd.read_csv(out / "motifs.csv")["match_id"].iloc[0] == "GATTA"


def test_too_many_motifs_exit_2_before_any_output(files, capsys):
    # Issue 24.3: --n-motifs 1000 was a segmentation fault (exit 139) leaving an empty hidden folder.
    fasta, response, tmp = files
    code = main(["fit", "--fasta", str(fasta), "--response", str(response), "--response-column", "y",
                 "--n-motifs", "1000", "--quiet", "--out", str(tmp / "many")])
    assert "at most 64 motifs" in _one_line_error(capsys, code)
    assert not [p for p in tmp.iterdir() if p.name.startswith((".many", "many"))]


def test_settings_json_is_strict_json(files):
    # Issue 24.10: settings.json held NaN (cmc_ess of a non-cmc fit), which strict JSON parsers reject.
    fasta, response, tmp = files
    out = tmp / "strict"
    assert main(["fit", "--fasta", str(fasta), "--response", str(response), "--response-column", "y", "--k", "4",
                 "--method", "naive", "--quiet", "--out", str(out)]) == 0
    text = (out / "settings.json").read_text()

    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    settings = json.loads(text, parse_constant=refuse)
    assert settings["settings"]["cmc_ess"] is None


def _naive(fasta, response, *extra):
    return ["fit", "--fasta", str(fasta), "--response", str(response), "--response-column", "y", "--k", "4",
            "--method", "naive", "--quiet", *extra]


def test_force_never_deletes_inputs_or_files_it_did_not_write(files, capsys, monkeypatch):
    # Issue 24.4: --out naming the folder of the inputs, with --force, deleted peaks.fa, y.tsv and the rest.
    fasta, response, tmp = files
    notes = _write(tmp / "notes.txt", "mine")
    monkeypatch.setattr("seism_stats.cli._fit_into", lambda *a: pytest.fail("the fit started"))
    assert main(_naive(fasta, response, "--out", str(tmp), "--force")) == 2
    assert f"--out {tmp} holds the input {fasta}" in _one_line_error(capsys, 2)
    other = tmp / "other"
    other.mkdir()
    mine = _write(other / "draft.txt", "mine")
    assert main(_naive(fasta, response, "--out", str(other), "--force")) == 2
    assert "holds files seism did not write (draft.txt)" in _one_line_error(capsys, 2)
    settings_only = tmp / "lookalike"  # a settings.json that is not one of ours
    settings_only.mkdir()
    _write(settings_only / "settings.json", '{"theme": "dark"}')
    assert main(_naive(fasta, response, "--out", str(settings_only), "--force")) == 2
    assert "holds files seism did not write" in _one_line_error(capsys, 2)
    assert fasta.exists() and response.exists() and notes.read_text() == mine.read_text() == "mine"
    assert (settings_only / "settings.json").read_text() == '{"theme": "dark"}'


def test_out_is_never_the_working_folder(files, capsys, monkeypatch):
    # Issue 24.4: --out . --force ran the whole fit, then failed renaming '.' and left '..old.XXXX'.
    fasta, response, tmp = files
    out = tmp / "res"
    assert main(_naive(fasta, response, "--out", str(out))) == 0
    capsys.readouterr()
    monkeypatch.chdir(out)
    monkeypatch.setattr("seism_stats.cli._fit_into", lambda *a: pytest.fail("the fit started"))
    for where in (".", "..", str(out)):
        assert main(_naive(fasta, response, "--out", where, "--force")) == 2
        assert "is the folder this command runs in" in _one_line_error(capsys, 2)
    assert sorted(p.name for p in tmp.iterdir() if p.name.startswith(".")) == []
    assert (out / "summary.txt").exists()


def test_created_output_folder_follows_the_umask(files):
    # Issue 24.4: the folder kept mkdtemp's 0700 instead of the umask's permissions.
    import os
    import stat
    fasta, response, tmp = files
    old = os.umask(0o022)
    try:
        assert main(_naive(fasta, response, "--out", str(tmp / "shared"))) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp / "shared").stat().st_mode) == 0o755


def test_a_second_run_into_the_same_out_is_refused(files, capsys):
    # Issue 24.5: two runs into the same --out both exited 0 and the last silently replaced the first.
    from seism_stats import cli
    fasta, response, tmp = files
    out = tmp / "busy"
    with cli._output_lock(out.resolve()):  # as a first run holds it
        assert main(_naive(fasta, response, "--out", str(out))) == 2
        assert "another seism run is writing into this folder" in _one_line_error(capsys, 2)
    assert main(_naive(fasta, response, "--out", str(out))) == 0  # free again
    assert not (tmp / ".busy.seism-lock").exists()


def test_out_appearing_during_the_run_is_not_replaced(files, capsys, monkeypatch):
    # Issue 24.5: a folder that appeared during the run (another program) is left alone, results kept aside.
    from seism_stats import cli
    fasta, response, tmp = files
    out = tmp / "raced"
    real = cli._fit_into

    def racing(args, staging, *rest):
        real(args, staging, *rest)
        out.mkdir()
        _write(out / "theirs.txt", "theirs")

    monkeypatch.setattr(cli, "_fit_into", racing)
    code = main(_naive(fasta, response, "--out", str(out)))
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the run's notes
    assert code == 2 and err.startswith("seism: error:") and "appeared or changed while this run was working" in err
    kept = [p for p in tmp.iterdir() if p.name.startswith("raced.seism-")]
    assert len(kept) == 1 and str(kept[0]) in err and (kept[0] / "summary.txt").exists()
    assert (out / "theirs.txt").read_text() == "theirs"


def test_draws_that_cannot_finish_are_refused_before_any_output(files, capsys, monkeypatch):
    # Issue 24.6: --n-samples 1000000000 showed a 3.5-hour ETA and went on.
    from seism_stats import cli
    monkeypatch.setattr(cli, "_fit_into", lambda *a: pytest.fail("the fit started"))
    fasta, response, tmp = files
    base = ["fit", "--fasta", str(fasta), "--response", str(response), "--response-column", "y", "--quiet"]
    code = main(base + ["--method", "mcmc", "--n-samples", "1000000000", "--out", str(tmp / "huge")])
    assert "need at least 1,000,000,816 replays" in _one_line_error(capsys, code)
    code = main(base + ["--n-samples", "1000000000", "--out", str(tmp / "huge")])  # the default: circles
    assert "need at least 1,000,000,000 directions" in _one_line_error(capsys, code)
    code = main(base + ["--method", "rejection", "--n-samples", "5000", "--max-replays", "4000",
                        "--out", str(tmp / "rej")])
    assert "max_replays is 4,000" in _one_line_error(capsys, code)
    code = main(base + ["--interval-draws", "-1", "--out", str(tmp / "huge")])
    assert "--interval-draws" in _one_line_error(capsys, code)
    assert not [p for p in tmp.iterdir() if p.name.startswith((".huge", "huge", ".rej", "rej"))]


def test_long_sampling_warning_is_one_line_before_sampling(files, capsys, monkeypatch):
    from seism_stats.sampling import budget
    monkeypatch.setattr(budget, "LONG_SAMPLING_SECONDS", 0.0)
    fasta, response, tmp = files
    assert main(["fit", "--fasta", str(fasta), "--response", str(response), "--response-column", "y", "--k", "4",
                 "--method", "mcmc", "--n-samples", "50", "--quiet", "--out", str(tmp / "long")]) == 0
    warning = [line for line in capsys.readouterr().err.splitlines() if "planned to take" in line]
    assert len(warning) == 1 and warning[0].startswith("seism: warning: mcmc sampling of 50 draws is planned")
    assert main(["fit", "--fasta", str(fasta), "--response", str(response), "--response-column", "y", "--k", "4",
                 "--n-samples", "50", "--quiet", "--out", str(tmp / "long-circles")]) == 0
    warning = [line for line in capsys.readouterr().err.splitlines() if "planned to take" in line]
    assert len(warning) == 1 and warning[0].startswith("seism: warning: circles sampling of 50 directions is")


def test_composition_covariates_with_a_response_table(files, capsys):
    fasta, response, tmp = files  # the table already has a gc column
    args = ["fit", "--fasta", str(fasta), "--response", str(response), "--response-column", "y", "--k", "4",
            "--method", "naive", "--quiet", "--motif-db", "none"]
    assert main(args + ["--composition", "gc-cpg", "--out", str(tmp / "clash")]) == 2
    assert "already has gc" in capsys.readouterr().err
    assert main(args + ["--composition", "dinucleotides", "--out", str(tmp / "di")]) == 0
    assert "di_CG" in json.loads((tmp / "di" / "settings.json").read_text())["formula"]


@pytest.mark.parametrize("names", [("log2 fold-change", "gc content"), ("seq", "sequence")])
def test_table_column_names_that_are_not_identifiers_or_are_called_seq(tmp_path, names):
    # A response 'log2 fold-change' crashed (the formula lost its backquotes: 'log2 fold - change'); a response
    # or covariate column named 'seq' was overwritten by the sequences themselves.
    response_name, covariate_name = names
    data = simulate_dataset(80, 30, consensus="GATTA", beta=3.0, random_state=1)
    fasta = _write(tmp_path / "p.fa", "".join(f">p{i}\n{s}\n" for i, s in enumerate(data.sequences)))
    gc = [s.count("G") + s.count("C") for s in data.sequences]
    table = _write(tmp_path / "t.tsv", f"id\t{response_name}\t{covariate_name}\n"
                   + "".join(f"p{i}\t{v}\t{g}\n" for i, (v, g) in enumerate(zip(data.y, gc))))
    covariate = covariate_name if covariate_name.isidentifier() else f"`{covariate_name}`"
    out = tmp_path / "out"
    assert main(["fit", "--fasta", str(fasta), "--response", str(table), "--response-column", response_name,
                 "--covariates", covariate, "--k", "4", "--method", "naive", "--quiet", "--out", str(out)]) == 0
    frame = pd.read_csv(out / "motifs.csv")
    assert frame["kmer"].iloc[0] in ("GATT", "ATTA", "AATC", "TAAT")
    header = {line.split(":", 1)[0].strip(): line for line in (out / "summary.txt").read_text().splitlines()
              if ":" in line}
    assert response_name in header["Dep. Variable"].split("Method")[0]
    assert covariate_name in header["Covariates"].split("Seed")[0]


def test_masked_runs_of_n_add_a_windows_covariate(tmp_path, capsys):
    # Sum pooling: every feature carries the number of windows without N; a third of the peaks masked cost a
    # new user's planted motif most of its significance (p 1e-10 -> 0.02). The command line adds the covariate.
    data = simulate_dataset(150, 60, consensus="GATTA", beta=3.0, fraction=0.5, random_state=4)
    masked = [s[:20] + "N" * 20 + s[40:] if i % 3 == 0 else s for i, s in enumerate(data.sequences)]
    for name, sequences, added in (("masked", masked, True), ("plain", data.sequences, False)):
        fasta = _write(tmp_path / f"{name}.fa", "".join(f">p{i}\n{s}\n" for i, s in enumerate(sequences)))
        out = tmp_path / name
        assert main(["fit", "--fasta", str(fasta), "--control", "shuffle", "--k", "5", "--method", "naive",
                     "--seed", "1", "--out", str(out)]) == 0
        err = capsys.readouterr().err
        assert ("covariate 'windows' added" in err) == added
        assert json.loads((out / "settings.json").read_text())["windows_covariate"] == ("windows" if added else None)
        assert ("windows" in (out / "summary.txt").read_text()) == added
    # A response table: its own 'windows' column is left alone, and a length covariate already holds the number.
    gc = [s.count("G") + s.count("C") for s in masked]
    lengths = [len(s) - s.count("N") for s in masked]
    table = _write(tmp_path / "t.tsv", "id\ty\twindows\tlength\n" + "".join(
        f"p{i}\t{v}\t{g}\t{n}\n" for i, (v, g, n) in enumerate(zip(data.y, gc, lengths))))
    for covariates, expected in (("windows", "windows_1"), ("length", None)):
        out = tmp_path / f"table_{covariates}"
        assert main(["fit", "--fasta", str(tmp_path / "masked.fa"), "--response", str(table), "--response-column",
                     "y", "--covariates", covariates, "--k", "5", "--method", "naive", "--seed", "1", "--quiet",
                     "--out", str(out)]) == 0
        assert json.loads((out / "settings.json").read_text())["windows_covariate"] == expected


@pytest.mark.parametrize("extra, message", [
    (["--width", "20"], "--width only acts with --bed"),
    (["--genome", "g.fa"], "--genome only acts with --bed"),
    (["--shuffle-kmer", "3"], "--shuffle-kmer sets the k-mers --control shuffle keeps"),
])
def test_options_that_would_be_ignored_are_refused(files, capsys, extra, message):
    fasta, response, tmp = files
    code = main(["fit", "--fasta", str(fasta), "--response", str(response), "--k", "3", "--quiet",
                 "--out", str(tmp / "o")] + extra)
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp / "o").exists()


def test_shuffle_and_draw_counts_are_checked_by_flag(files, capsys):
    fasta, response, tmp = files
    common = ["fit", "--fasta", str(fasta), "--control", "shuffle", "--k", "3", "--quiet", "--out", str(tmp / "o")]
    assert main(common + ["--shuffle-kmer", "0"]) == 2
    assert "--shuffle-kmer must be >= 1, got 0" in capsys.readouterr().err
    assert main(common + ["--n-samples", "0"]) == 2  # permutations: none drawn would give p = 1
    assert "--n-samples 0 draws no permutation (the null of --control): every p-value would be 1" in \
        capsys.readouterr().err


def test_response_table_with_the_other_separator_and_out_on_an_input_file(files, capsys):
    fasta, response, tmp = files
    commas = tmp / "commas.tsv"
    commas.write_text("id,y\np0,1.0\np1,2.0\n")
    assert main(["fit", "--fasta", str(fasta), "--response", str(commas), "--k", "3", "--quiet",
                 "--out", str(tmp / "o")]) == 2
    assert "look separated by commas" in capsys.readouterr().err
    assert main(["fit", "--fasta", str(fasta), "--response", str(response), "--k", "3", "--quiet",
                 "--out", str(fasta)]) == 2
    assert "is the input file" in capsys.readouterr().err
