"""Command line: ``seism fit --fasta peaks.fa --response y.tsv --k 8 --n-motifs 2 --out results/``.

Writes into ``--out``: ``report.html`` (a self-contained report: tables, logos,
null distributions, settings), ``summary.txt`` and ``summary.html`` (the printed
summary), ``motifs.csv`` (one row per motif, with 95% intervals), ``logos.png``, ``motifs.meme`` and
``motifs.jaspar`` (refined PWMs), and ``settings.json`` (settings, the response
column used, sampler diagnostics), with a ``.seism-output`` marker. Outputs are
written to a staging folder and moved into place when all are done, under a
lock on the folder (a second run into it is refused); ``--force`` replaces only
a folder seism wrote. Errors are one line, exit code 2 (130 for Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd


def _read_response(path: Path, id_column: str | None, response: str | None,
                   fasta_ids: list[str], covariates: str | None = None) -> tuple[pd.DataFrame, str]:
    """The response table indexed by sequence id (text), and the name of its response column.

    Ids are read as text, never as numbers (``0007`` stays ``0007``, as in the FASTA
    file). Without ``--response-column`` the response is the one column that could
    be meant (numeric, not the id, not named in ``--covariates``); when several
    could, the choice is the user's.
    """
    if not path.is_file():
        raise FileNotFoundError(f"response file not found: {path}")
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    try:
        table = pd.read_csv(path, sep=sep, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path} as a TSV/CSV table with a header line: "
                         f"{str(exc).splitlines()[0]}") from None
    if table.shape[1] < 2:
        other = next((name for mark, name in ((",", "commas"), ("\t", "tabs"), (";", "semicolons"))
                      if mark != sep and mark in str(table.columns[0])), None)
        fix = "re-save it with tabs, or with commas as .csv" if other == "semicolons" else \
            "name it .csv for commas, .tsv for tabs"
        hint = (f"; its columns look separated by {other}, but a {path.suffix or 'file without suffix'} is read "
                f"as {'comma' if sep == ',' else 'tab'}-separated ({fix})" if other else "")
        raise ValueError(f"{path} needs at least two columns (sequence id and response), got "
                         f"{list(table.columns)}{hint}")
    header = [str(c) for c in table.columns]
    if header[0] in set(fasta_ids) or any(_is_number(c) for c in header[1:]):
        raise ValueError(f"{path}: the first line ({' '.join(header)!r}) looks like data, not column names; "
                         "the table needs a header line (e.g. 'id<TAB>expr')")
    if table.empty:
        raise ValueError(f"{path} has a header but no rows")
    id_column = id_column or table.columns[0]
    if id_column not in table:
        raise ValueError(f"{path} has no id column {id_column!r} (columns: {list(table.columns)})")
    # The ids again, as text: type inference would read 0007 as 7 and NA as missing.
    table[id_column] = pd.read_csv(path, sep=sep, encoding="utf-8-sig", usecols=[id_column], dtype=str,
                                   na_filter=False)[id_column].to_numpy()
    response = response or _response_column(table, id_column, covariates, path)
    if response not in table:
        raise ValueError(f"{path} has no response column {response!r} (columns: {list(table.columns)})")
    if response == id_column:
        raise ValueError(f"{path}: the response column {response!r} is the id column; name the response "
                         "with --response-column")
    empty = table[id_column].str.strip() == ""
    if empty.any():
        raise ValueError(f"{path}: data row {int(np.flatnonzero(empty)[0]) + 1} has no sequence id")
    if table[id_column].duplicated().any():
        duplicate = table[id_column][table[id_column].duplicated()].iloc[0]
        raise ValueError(f"{path}: sequence id {duplicate!r} appears more than once")
    if not pd.api.types.is_numeric_dtype(table[response]):
        text = table[response][pd.to_numeric(table[response], errors="coerce").isna() & table[response].notna()]
        raise ValueError(f"{path}: response column {response!r} is not numeric (e.g. {text.iloc[0]!r} on data "
                         f"row {text.index[0] + 1}); fix the file or choose --response-column")
    return table.set_index(id_column, drop=False), str(response)


def _response_column(table: pd.DataFrame, id_column: str, covariates: str | None, path: Path) -> str:
    """The response column when none is named: the only column that could be meant, else an error."""
    used = {c for c in table.columns if covariates and re.search(rf"(?<![\w.]){re.escape(str(c))}(?!\w)", covariates)}
    others = [c for c in table.columns if c != id_column and c not in used]
    if not others:
        raise ValueError(f"{path}: every column besides the id ({id_column!r}) is a covariate; name the response "
                         "with --response-column")
    numeric = [c for c in others if pd.api.types.is_numeric_dtype(table[c])
               or pd.to_numeric(table[c], errors="coerce").notna().any()]
    if len(numeric) > 1:
        raise ValueError(f"{path}: {len(numeric)} columns could be the response ({', '.join(map(str, numeric))}); "
                         "name it with --response-column (other columns can be --covariates)")
    return numeric[0] if numeric else others[0]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


#: Names a ``--covariates`` formula may use besides the table's columns: formulaic's
#: transforms and contrasts, and numpy functions through ``np.``.
FORMULA_NAMES = frozenset({"C", "I", "Q", "np", "center", "scale", "standardize", "poly", "bs", "lag",
                           "contr", "Treatment", "Sum", "Helmert", "Diff", "Poly", "SAS", "levels",
                           "reference", "log", "log2", "log10", "exp", "sqrt", "abs"})


def check_covariate_formula(covariates: str, columns) -> str:
    """Refuse a ``--covariates`` formula that names anything but columns and known transforms.

    The formula engine evaluates terms as Python (as statsmodels formulas do), so
    ``I(__import__('os').system(...))`` would run; this check allows column names,
    the transforms of :data:`FORMULA_NAMES` and ``np.<function>`` only.
    """
    unquoted = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", "", covariates)
    if "__" in unquoted or "lambda" in unquoted.split():
        raise ValueError(f"--covariates {covariates!r}: dunder names and lambdas are not allowed")
    allowed = {str(c) for c in columns} | FORMULA_NAMES
    for match in re.finditer(r"(?<![\w.])([A-Za-z_]\w*)", unquoted):
        name = match.group(1)
        if name not in allowed:
            raise ValueError(f"--covariates {covariates!r}: {name!r} is neither a column of the response table "
                             f"({', '.join(map(str, columns))}) nor a known transform ({', '.join(sorted(FORMULA_NAMES))})")
    for match in re.finditer(r"\.\s*(\w+)", unquoted):
        if match.group(1).startswith("_"):
            raise ValueError(f"--covariates {covariates!r}: private attributes are not allowed")
    return covariates


def _formula(response: str, k: int, n_motifs: int, covariates: str | None, sequences: str = "seq") -> str:
    lhs = response if response.isidentifier() else f"`{response}`"
    rhs = f"motifs({sequences}, k={k}, n_motifs={n_motifs})"
    return f"{lhs} ~ {rhs}" + (f" + {covariates}" if covariates else "")


#: Files a run writes into ``--out``, and the marker file that says a folder was written by seism.
OUTPUT_FILES = ("report.html", "summary.txt", "summary.html", "motifs.csv", "logos.png", "motifs.meme",
                "motifs.jaspar", "settings.json")
MARKER = ".seism-output"


def _input_paths(args: argparse.Namespace) -> list[Path]:
    """The files a run reads (resolved): ``--out`` may never hold one of them."""
    given = [args.fasta, args.response, args.control, args.bed, args.genome,
             None if args.motif_db == "jaspar" else args.motif_db]
    return [Path(p).resolve() for p in given if p]


def _written_by_seism(folder: Path) -> bool:
    """Whether ``folder`` holds the marker, or the settings.json manifest of an earlier run."""
    if (folder / MARKER).is_file():
        return True
    try:
        manifest = json.loads((folder / "settings.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and {"formula", "settings", "sampler"} <= set(manifest)


def _umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _prepare_output(out: Path, force: bool, inputs: list[Path], shown: str | None = None) -> tuple[Path, int | None]:
    """Check ``--out`` (an absolute, resolved path) before any work; return a staging folder beside it.

    Outputs are written into the staging folder and moved into place at the end
    (:func:`_publish`), so a failed or interrupted run leaves no half-written set.
    The results replace the whole folder, so ``--out`` may not be the working
    folder (or hold it), nor hold an input; ``--force`` replaces only a folder
    that seism wrote and that holds nothing else. Returns the staging folder
    and the inode of ``out`` as it was (None when it did not exist), which
    :func:`_publish` checks again.
    """
    shown = shown or str(out)
    here = Path.cwd().resolve()
    if out == here or out in here.parents:
        raise ValueError(f"--out {shown} is the folder this command runs in, or holds it; the results replace "
                         "the whole folder, so name a new sub-folder (e.g. --out results)")
    for path in inputs:
        if path == out:
            raise ValueError(f"--out {shown} is the input file {path}; name a new folder for the results "
                             "(e.g. --out results)")
        if out in path.parents:
            raise ValueError(f"--out {shown} holds the input {path}; the results replace the whole folder, so "
                             "choose another folder for them")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {shown} exists and is not a folder")
    before = None
    if out.is_dir():
        before = out.stat().st_ino
        held = sorted(p.name for p in out.iterdir())
        if held and not force:
            listed = ", ".join(held[:4]) + (", ..." if len(held) > 4 else "")
            raise ValueError(f"--out {shown} already holds files ({listed}); use --force to replace the results "
                             "of an earlier run")
        foreign = [name for name in held if name not in OUTPUT_FILES + (MARKER,)]
        if held and (foreign or not _written_by_seism(out)):
            what = (f"files seism did not write ({', '.join(foreign[:4])}{', ...' if len(foreign) > 4 else ''})"
                    if foreign else "files seism did not write")
            raise ValueError(f"--out {shown} holds {what}; --force replaces only the results of an earlier run, "
                             "so choose another folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        staging.chmod(0o777 & ~_umask())  # a folder as mkdir makes it, not mkdtemp's private 0700
        from ._version import __version__
        (staging / MARKER).write_text(json.dumps({"written_by": "seism_stats", "version": __version__}) + "\n")
    except OSError as exc:
        raise ValueError(f"cannot write into {out.parent}: {exc.strerror or exc}") from None
    return staging, before


def _publish(staging: Path, out: Path, before: int | None, shown: str | None = None) -> Path | None:
    """Replace ``out`` by the finished staging folder (no stale file of an earlier run survives).

    If ``out`` appeared, or was replaced, while the run was working (``before``
    no longer matches), nothing is replaced: the results are kept in a new
    folder beside it, named in the error. Returns the hidden folder that holds the
    earlier run's results (None if there were none), for the caller to remove. If the
    second rename fails or is interrupted (Ctrl-C), the earlier results are put back; if
    they cannot be, their hidden folder is kept and named in the error.
    """
    now = out.stat().st_ino if out.is_dir() else None
    if now != before or (out.exists() and not out.is_dir()):
        kept = Path(tempfile.mkdtemp(prefix=f"{out.name}.seism-", dir=out.parent))
        kept.rmdir()
        staging.rename(kept)
        raise ValueError(f"--out {shown or out} appeared or changed while this run was working (another run "
                         f"or program?); nothing was replaced, the results are in {kept}")
    old = None
    try:
        if before is not None:
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            out.rename(old / out.name)
        staging.rename(out)
    except BaseException:  # an OSError, or Ctrl-C around the renames
        if old is not None and (old / out.name).exists():
            if not staging.exists():  # the new results landed (Ctrl-C just after): the earlier ones can go
                shutil.rmtree(old, ignore_errors=True)
            elif not out.exists():  # put the earlier results back
                (old / out.name).rename(out)
                shutil.rmtree(old, ignore_errors=True)
            else:  # another program made --out meanwhile: keep the earlier results aside, and say where
                raise OSError(f"--out {shown or out} changed while this run replaced it; nothing was replaced, "
                              f"the earlier results are kept in {old / out.name}") from None
        elif old is not None:
            shutil.rmtree(old, ignore_errors=True)
        raise
    return old


@contextlib.contextmanager
def _output_lock(out: Path, shown: str | None = None):
    """Hold a lock on ``out`` for the whole run: a second run into the same folder is refused.

    The lock is ``.<name>.seism-lock`` beside the folder (``flock``: released
    when the process ends, however it ends); where ``fcntl`` is missing, only
    :func:`_publish`'s check applies.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot write into {out.parent}: {exc.strerror or exc}") from None
    path = out.parent / f".{out.name}.seism-lock"
    for _ in range(3):
        try:
            handle = open(path, "a+")
        except OSError as exc:
            raise ValueError(f"cannot write into {out.parent}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise ValueError(f"--out {shown or out}: another seism run is writing into this folder (lock {path}); "
                             "wait for it to end or choose another --out") from None
        try:  # the file locked must still be the one at that path (a run ending may have removed it)
            if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        handle.close()
    else:  # pragma: no cover - three races in a row
        raise ValueError(f"--out {shown or out}: could not lock {path}; try again")
    try:
        yield
    finally:
        try:
            path.unlink()
        except OSError:
            pass
        handle.close()


def _check_arguments(args: argparse.Namespace):
    """Settings, optional packages and the motif database, checked before any file is read or written.

    Returns the motif database to match with (``{id: (name, PPM)}``), or None.
    """
    from .selection.greedy import check_n_motifs
    from .utils.validation import check_positive_int
    from .sampling.budget import check_budget
    from .stats.tilted_permutations import MAX_AUTO_MOTIFS
    check_n_motifs(args.n_motifs)
    for name in ("chains", "thin", "max_replays"):
        check_positive_int(getattr(args, name), f"--{name.replace('_', '-')}")
    check_positive_int(args.burn_in, "--burn-in", minimum=0)
    # Options that only act with another one are refused without it, not ignored.
    if args.bed is None:
        for flag, value, what in (("--genome", args.genome, "the genome the intervals are read from"),
                                  ("--width", args.width, "the width the intervals are re-centred to")):
            if value is not None:
                raise ValueError(f"{flag} only acts with --bed ({what})" +
                                 ("; --fasta sequences are used as they are" if args.fasta else ""))
    if args.shuffle_kmer is not None:
        if args.control != "shuffle":
            raise ValueError("--shuffle-kmer sets the k-mers --control shuffle keeps: give it with --control shuffle")
        check_positive_int(args.shuffle_kmer, "--shuffle-kmer")
    elif args.control == "shuffle":
        from .io.composition import SHUFFLE_KMER
        args.shuffle_kmer = SHUFFLE_KMER  # recorded in settings.json
    if args.interval_draws is not None:
        check_positive_int(args.interval_draws, "--interval-draws", minimum=0)
    # "auto" is resolved by the response: a background set (--control) makes it binary, hence the tilted
    # permutations; otherwise the circles' plan (the smaller of the two) is checked now, the other once y is read.
    permutations = "tilted" if args.n_motifs <= MAX_AUTO_MOTIFS else "mcmc"
    method = (permutations if args.control is not None else "circles") if args.method == "auto" else args.method
    if args.n_samples is not None:
        if args.n_samples == 0 and method != "circles":
            raise ValueError("--n-samples 0 draws no permutation (the null of " +
                             ("--control" if args.control is not None else f"--method {args.method}") +
                             "): every p-value would be 1; give at least 1 (0 is the circles' exact test on the "
                             "observed direction alone, for a continuous --response)")
        check_positive_int(args.n_samples, "--n-samples", minimum=0 if method == "circles" else 1)
        check_budget(method, args.n_samples, args.chains, args.burn_in, args.thin, "tree", args.max_replays,
                     args.n_motifs)
    if args.bed is not None:
        from .io.genome import genome_reader
        genome_reader()  # an ImportError naming the extra, before any work
    if not args.motif_db:
        return None
    from .report.motif_match import database_label, default_database, resolve_database
    choice = default_database(args.motif_db)
    return None if choice is None else (resolve_database(choice), database_label(choice))


def fit(args: argparse.Namespace) -> int:
    from . import SelectiveMotifModel
    from .io.sequences import encode_sequences, read_fasta

    import matplotlib
    matplotlib.use("Agg")

    database = _check_arguments(args)
    out = Path(args.out).resolve()  # '.', '..' and links as the folder they are
    landed = None  # the staging folder's inode: --out is the new results once it has this inode

    def published() -> bool:
        try:
            return landed is not None and out.stat().st_ino == landed
        except OSError:
            return False

    try:
        with _output_lock(out, args.out):
            staging, before = _prepare_output(out, args.force, _input_paths(args), args.out)
            try:
                summary = _fit_into(args, staging, database, SelectiveMotifModel, encode_sequences, read_fasta)
                landed = staging.stat().st_ino
                earlier = _publish(staging, out, before, args.out)
                if earlier is not None:  # the replaced run's results (--force), which may take a while
                    shutil.rmtree(earlier, ignore_errors=True)
            finally:
                if staging.exists() and not published():
                    shutil.rmtree(staging, ignore_errors=True)
        # Printed only once the outputs are in place: a reader that stops early (``| head``) loses nothing.
        if summary is not None:
            print(summary)
        if not args.quiet:
            print(f"results written to {args.out.rstrip('/')}/")
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except BrokenPipeError:
        if not published():
            raise
        _silence(sys.stdout)
        return 141  # as a process stopped by SIGPIPE
    except KeyboardInterrupt:  # once the outputs are in place, say so, not main's "no output was written"
        if not published():
            raise
        print(f"seism: interrupted; the results were written to {args.out.rstrip('/')}/", file=sys.stderr)
        return 130
    return 0


def _silence(stream) -> None:
    """Point a stream's file at /dev/null after its reader has gone, so that the exit's flush does not fail."""
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a notebook, a test's capture)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)


class _TolerantStream:
    """A text stream whose writes are dropped once its reader has gone (``2>&1 | head``).

    Progress lines must not end a fit whose outputs are not yet in place.
    """

    def __init__(self, stream):
        self._stream, self.gone = stream, False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self.gone = True
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self.gone = True

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _read_checked_fasta(path, read_fasta, encode_sequences) -> tuple[list[str], list[str]]:
    ids, sequences = read_fasta(path)  # refuses empty and duplicate ids, naming the line
    encode_sequences(sequences, ids)  # report bad letters before anything else
    return ids, sequences


def _control_table(ids, sequences, args, seed: int, read_fasta, encode_sequences) -> tuple[pd.DataFrame, str]:
    """Foreground (the --fasta sequences, 1) against background (--control, 0): the SEA/HOMER/STREME set-up.

    ``--control shuffle`` shuffles each foreground sequence keeping its k-mer counts
    (``--shuffle-kmer``), seeded by the first child of ``SeedSequence(seed)``; the
    ``--composition`` covariates are added (:func:`seism_stats.io.composition.foreground_background`).
    """
    from .io.composition import foreground_background
    if args.control == "shuffle":
        background, background_ids = "shuffle", None
    else:
        background_ids, background = _read_checked_fasta(args.control, read_fasta, encode_sequences)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    return foreground_background(sequences, background, kmer=args.shuffle_kmer, composition=args.composition,
                                 ids=ids, background_ids=background_ids, random_state=rng), "foreground"


def _input_sequences(args, read_fasta, encode_sequences):
    """Ids and sequences from ``--fasta``, or from ``--bed`` intervals on ``--genome`` (and the BED table)."""
    if (args.fasta is None) == (args.bed is None):
        raise ValueError("give the sequences either as --fasta FILE or as --bed FILE --genome FASTA")
    if args.fasta is not None:
        return (*_read_checked_fasta(args.fasta, read_fasta, encode_sequences), None)
    from .io.genome import bed_sequences, check_unique_names, read_bed
    if args.genome is None:
        raise ValueError("--bed needs --genome (an indexed or indexable genome FASTA)")
    bed = read_bed(args.bed)
    if args.response:
        check_unique_names(bed, args.bed, f"they key the rows of {args.response}")
    sequences = bed_sequences(bed, args.genome, args.width)
    # Repeated names (allowed when they key nothing) get the interval's line to tell them apart.
    repeated = bed["name"].duplicated(keep=False)
    ids = [f"{name}:line{line}" if twin else name for name, line, twin in zip(bed["name"], bed.index, repeated)]
    encode_sequences(sequences, ids)
    return ids, sequences, bed


def _fit_into(args, out: Path, database, model_class, encode_sequences, read_fasta) -> str | None:
    """Fit, write every output into ``out``; return the summary to print once the outputs are in place."""
    from .utils.validation import fresh_seed
    from .io.composition import composition_covariates, composition_terms, default_composition
    ids, sequences, bed = _input_sequences(args, read_fasta, encode_sequences)
    missing = unmatched = 0
    seq_column = "seq"  # the column of the sequences in the table handed to the model
    seed = fresh_seed() if args.seed is None else args.seed  # one recorded seed: shuffle and fit
    args.composition = args.composition or default_composition(args.control)
    covariates = " + ".join(filter(None, [args.covariates] + composition_terms(args.composition)))
    if bed is not None and not args.response and not args.control:
        if bed["score"].isna().all():
            raise ValueError(f"{args.bed} has no score column (5th); give --response with a table keyed by "
                             "the interval names")
        data, response = pd.DataFrame({"bed_score": bed["score"].to_numpy(), "seq": sequences}, index=ids), "bed_score"
        said = f"the score (5th column) of {args.bed}"
    elif args.control:
        if args.response or args.covariates:
            raise ValueError("--control compares the FASTA with a background set: give no --response "
                             "or --covariates with it")
        data, response = _control_table(ids, sequences, args, seed, read_fasta, encode_sequences)
        said = f"1 for the sequences of {args.fasta or args.bed}, 0 for those of {args.control}"
    else:
        if not args.response:
            raise ValueError("give --response (a table of responses) or --control (background sequences)")
        table, response = _read_response(Path(args.response), args.id_column, args.response_column, ids,
                                         args.covariates)
        if args.covariates:
            check_covariate_formula(args.covariates, table.columns)
        shared = [i for i in ids if i in table.index]
        if not shared:
            raise ValueError(f"no sequence id of {args.fasta or args.bed} (e.g. {ids[0]!r}) is in {args.response} "
                             f"(e.g. {table.index[0]!r})")
        missing = len(ids) - len(shared)
        unmatched = len(table.index) - len(shared)
        data = table.loc[shared].copy()
        # The sequences' column: a name the table does not use already (its own 'seq' may be the response).
        seq_column = _free_column(("seq", "sequence"), table.columns)
        data[seq_column] = pd.Series(dict(zip(ids, sequences)))[shared]
        said = (f"column {response!r} of {args.response} (ids in column {table.index.name!r}; {len(shared)} of "
                f"{len(ids)} sequences have one)")
    if not args.control and args.composition != "none":
        composition = composition_covariates(data[seq_column], args.composition)
        if set(composition.columns) & set(data.columns):
            clash = ", ".join(c for c in composition.columns if c in data.columns)
            raise ValueError(f"--composition {args.composition} adds the columns {', '.join(composition.columns)}, "
                             f"but the response table already has {clash}")
        data = data.join(composition)
    if not args.quiet:  # said before any work: the summary comes only at the end
        print(f"seism: response: {said}", file=sys.stderr)
    model = model_class.from_formula(_formula(response, args.k, args.n_motifs, covariates, seq_column), data,
                                     lam=args.lam, pooling=args.pooling, revcomp=not args.no_revcomp)
    windows_added = _window_covariate(model, data, seq_column, args)
    if windows_added:
        name, note = windows_added
        covariates = " + ".join(filter(None, [covariates, name]))
        model = model_class.from_formula(_formula(response, args.k, args.n_motifs, covariates, seq_column), data,
                                         lam=args.lam, pooling=args.pooling, revcomp=not args.no_revcomp)
        if not args.quiet:
            print(f"seism: covariate {name!r} added: {note}", file=sys.stderr)
    model.data.n_without_response = missing  # left out before the model: said in the summary's header and notes
    start = time.perf_counter()
    res = model.fit(method=args.method, hypothesis=args.hypothesis, n_samples=args.n_samples, burn_in=args.burn_in,
                    thin=args.thin, n_chains=args.chains, tail_draws=args.tail_draws,
                    interval_draws=args.interval_draws, ties=args.ties, random_state=seed,
                    n_jobs=args.jobs, n_threads=args.threads, max_replays=args.max_replays, progress=not args.quiet)
    seconds = time.perf_counter() - start
    if database is not None and res.n_selected:
        motifs, label = database
        if not args.quiet:
            print(f"seism: matching the motifs with {label} (Tomtom, memelite)", file=sys.stderr)
        res.match_known_motifs(motifs, label=label)
    if not args.quiet:
        print(f"seism: writing the report, tables, logos and motif files into {args.out}", file=sys.stderr)
    summary = res.summary()
    (out / "summary.txt").write_text(summary.as_text() + "\n")
    (out / "summary.html").write_text(summary.as_html() + "\n")
    res.summary_frame().to_csv(out / "motifs.csv")  # with the 95% intervals
    res.plot_motifs().savefig(out / "logos.png", dpi=120)
    if res.n_selected:
        res.to_meme(out / "motifs.meme")
        res.to_jaspar(out / "motifs.jaspar")
    written = ["motifs.meme", "motifs.jaspar"] * bool(res.n_selected) + ["motifs.csv", "logos.png", "summary.txt",
                                                                          "summary.html", "settings.json"]
    res.to_html(out / "report.html", title=f"SEISM motifs: {args.fasta or args.bed}", files=written)
    info = {key: (value.item() if isinstance(value, np.generic) else value)
            for key, value in res.sampler_info.items()}
    settings = {
        "fasta": args.fasta, "bed": args.bed, "genome": args.genome, "width": args.width,
        "response": args.response, "control": args.control,
        "shuffle_kmer": args.shuffle_kmer, "composition": args.composition,
        "response_column": response,
        "formula": model.formula,
        "sequences_in_fasta": len(ids), "sequences_without_response": missing,
        "responses_without_sequence": unmatched,
        "rows_dropped_missing": model.data.n_dropped, "n_used": res.nobs,
        "windows_covariate": windows_added[0] if windows_added else None,
        "settings": res.inference.settings, "sampler": info, "seconds": seconds,
    }
    (out / "settings.json").write_text(json.dumps(_json_safe(settings), indent=2, allow_nan=False, default=str)
                                       + "\n")
    # Unmatched ids are often a naming mismatch between the files (a suffix, a prefix): said even with --quiet.
    if missing:
        print(f"note: {missing} sequences of {args.fasta or args.bed} have no response and were left out",
              file=sys.stderr)
    if unmatched:
        print(f"note: {unmatched} rows of {args.response} have no sequence in {args.fasta or args.bed} and "
              "were left out", file=sys.stderr)
    return None if args.quiet else str(summary)


def _free_column(names: tuple[str, ...], taken) -> str:
    """The first of ``names``, then ``<names[0]>_1``, ``_2``, ... that is not a column in ``taken``."""
    taken = set(taken)
    candidates = (*names, *(f"{names[0]}_{i}" for i in range(1, len(taken) + 2)))
    return next(name for name in candidates if name not in taken)


def _window_covariate(model, data: pd.DataFrame, seq_column: str, args) -> tuple[str, str] | None:
    """Add the sequences' numbers of usable windows to ``data`` when they matter (sum pooling).

    With sum pooling every motif feature carries the number of windows of k letters without N
    (:func:`seism_stats.window_counts`): when the response follows it, or it varies much off the
    covariates (unequal lengths, masked runs of N), the library warns
    (:func:`seism_stats.inference.stages.window_finding`, on the rows and covariates of
    ``model``); the command line takes it out as a covariate instead, in a column the table
    does not use (``windows``, else ``windows_1``, ...). Returns its name and what was found,
    for the note on stderr; None when nothing was added.
    """
    from .features.kmers import window_counts
    from .inference.stages import window_finding
    from .utils.validation import residual_basis
    if args.pooling != "sum":
        return None
    k = min(args.k) if isinstance(args.k, list) else args.k
    counts = window_counts(data[seq_column], k)
    kept = counts.loc[model.data.row_labels].to_numpy()
    finding = window_finding(kept, model.data.endog.to_numpy(dtype=np.float64),
                             residual_basis(model.data.exog.to_numpy(dtype=np.float64)))
    if finding is None:
        return None
    name = _free_column(("windows",), data.columns)
    data[name] = counts.astype(np.float64)
    why = (f"the response follows them (correlation {finding.correlation:.2f} after the covariates)"
           if finding.kind == "confound" else f"relative spread {finding.spread:.2f} after the covariates")
    return name, (f"the sequences' numbers of windows of k={k} letters without N vary ({int(kept.min())}-{int(kept.max())}; "
                  f"{why}); with sum pooling every motif feature carries that number")


def _json_safe(value):
    """``value`` with NaN and infinities as None (null: JSON has no NaN) and NumPy scalars as Python ones."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _positive_width(text: str) -> int:
    """``--width``: a positive number of bases."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--width takes a positive integer (bases), got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"--width must be at least 1 base, got {value}")
    return value


def _motif_lengths(text: str):
    """``8`` or ``6,8,10`` from the command line."""
    parts = [v.strip() for v in text.split(",")]
    if not any(parts):
        raise argparse.ArgumentTypeError("--k is empty")
    try:
        values = [int(v) for v in parts]  # an empty item ("6,,8", "6,") is an error, not skipped
    except ValueError:
        raise argparse.ArgumentTypeError(f"--k takes an integer or integers separated by commas, got {text!r}")
    return values[0] if len(values) == 1 else values


class _DefaultsHelp(argparse.HelpFormatter):
    """Help that shows each option's default, where it has a value worth showing."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__

    parser = argparse.ArgumentParser(prog="seism", description="Selective inference for sequence motifs.")
    parser.add_argument("--version", action="version", version=f"seism_stats {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("fit", help="select motifs and compute selective p-values",
                            description=__doc__.split("\n\n")[0],
                            formatter_class=_DefaultsHelp)
    p.add_argument("--fasta", default=None, help="sequences (FASTA, plain or .gz)")
    p.add_argument("--bed", default=None,
                   help="peak intervals (BED) to read from --genome instead of --fasta; the response is the "
                        "BED score column unless --response names a table keyed by the interval names")
    p.add_argument("--genome", default=None, help="genome FASTA of --bed (indexed by pyfaidx)")
    p.add_argument("--width", type=_positive_width, default=None,
                   help="re-centre every --bed interval on its midpoint with this width")
    p.add_argument("--response", default=None,
                   help="table with a sequence-id column and the response (tab-separated; comma for .csv)")
    p.add_argument("--control", default=None,
                   help="background: a FASTA file, or 'shuffle' (each --fasta sequence shuffled keeping its "
                        "k-mer counts, as STREME and HOMER do); the --fasta sequences (response 1) are tested "
                        "against it (0) with the permutation null, instead of a --response table")
    p.add_argument("--shuffle-kmer", type=int, default=None,
                   help="k-mers whose counts --control shuffle keeps (default 2: dinucleotides)")
    p.add_argument("--composition", choices=["gc-cpg", "dinucleotides", "none"], default=None,
                   help="composition covariates a motif must beat: GC fraction and CpG o/e ratio, or all "
                        "dinucleotide frequencies (default: gc-cpg with --control shuffle, dinucleotides with a "
                        "--control file, none with --response)")
    p.add_argument("--id-column", default=None, help="id column of the response table (default: first)")
    p.add_argument("--response-column", default=None,
                   help="response column (default: the one numeric column that is not the id and not in "
                        "--covariates; refused when several could be)")
    p.add_argument("--covariates", default=None,
                   help="covariate terms of the response table, as a formula, e.g. 'gc + C(batch)'. "
                        "A formula is code (like a statsmodels formula): only column names, formulaic "
                        "transforms (C, I, center, scale, ...) and np.<function> are accepted")
    p.add_argument("--k", type=_motif_lengths, default=8,
                   help="motif length (the grid has 4^k cells), or several separated by commas (6,8,10): "
                        "one selection over the union of their grids")
    p.add_argument("--n-motifs", type=int, default=1, help="motifs selected greedily")
    p.add_argument("--lam", type=float, default=1.0, help="kernel bandwidth: a mismatch weighs exp(-lam)")
    p.add_argument("--pooling", choices=["sum", "max"], default="sum", help="pooling over windows")
    p.add_argument("--no-revcomp", action="store_true", help="do not merge k-mers with their reverse complements")
    p.add_argument("--method", choices=["auto", "circles", "tilted", "mcmc", "rejection", "cmc", "split", "naive"],
                   default="auto",
                   help="p-values of the summary: selective (auto: circles for a continuous response, tilted "
                        "permutations for a binary one or --control, both exact at any number of draws; mcmc; "
                        "rejection; cmc: conditional Monte Carlo estimate of the global null), data split or naive")
    p.add_argument("--hypothesis", choices=["motif", "global", "both"], default=None,
                   help="what each selective p-value tests: motif (default with circles: the motif adds "
                        "nothing to the selected model), global (no motif matters; tilted, mcmc, rejection, cmc) "
                        "or both (motif, with the global null's p-values beside it: twice the sampling)")
    p.add_argument("--n-samples", type=int, default=None,
                   help="null draws B (default: 1000 great circles per motif for circles, more, up to 16 "
                        "times for n <= 1000 and k <= 8, none from n = 16,000 or k = 10, for a motif whose pilot draws "
                        "predict fewer than 100 effective ones; 10000 "
                        "tilted permutations per motif, 2000 MCMC draws); a number given is drawn exactly")
    p.add_argument("--ties", choices=["conservative", "randomised"], default="conservative",
                   help="tilted permutations: ties with the observed statistic count as exceeding it "
                        "(conservative, default) or are broken at random (exact)")
    p.add_argument("--burn-in", type=int, default=50, help="unrecorded moves before each chain's first draw")
    p.add_argument("--thin", type=int, default=1, help="moves between recorded draws")
    p.add_argument("--chains", type=int, default=16, help="MCMC chains advanced in lockstep")
    p.add_argument("--max-replays", type=int, default=2_000_000,
                   help="budget of replayed candidates: a sampling plan above it is refused before any work, "
                        "and a sample that still runs out gives NaN p-values, never a p-value of fewer draws")
    p.add_argument("--tail-draws", type=int, default=256,
                   help="draws of the tail estimate for p-values at the floor 1/(B+1) (0: off)")
    p.add_argument("--interval-draws", type=int, default=None,
                   help="great circles per motif of the exact selective intervals (circles; default: 50, or "
                        "--n-samples if fewer); each holds 8 x 4^k bytes, so fewer let a large k fit in memory")
    p.add_argument("--jobs", type=int, default=1, help="processes for the chain groups (joblib; -1: every usable core)")
    p.add_argument("--threads", type=int, default=None, help="OpenMP threads of the kernels (default: all cores)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: a fresh one, recorded)")
    p.add_argument("--motif-db", default="auto",
                   help="known motifs to match the refined motifs with (Tomtom's statistics, memelite): a MEME "
                        "or JASPAR file, 'jaspar' for JASPAR CORE vertebrates (needs pyjaspar), 'none'; "
                        "'auto': JASPAR CORE when pyjaspar is installed, else none")
    p.add_argument("--out", required=True,
                   help="output folder (created; refused if it already holds files, unless --force; never the "
                        "working folder or one that holds an input)")
    p.add_argument("--force", action="store_true",
                   help="replace the results of an earlier run in --out (a folder seism wrote that holds nothing "
                        "else; no stale file is left)")
    p.add_argument("--quiet", action="store_true", help="no progress bars, no printed summary")
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings of a command-line run as one line each (the code location means nothing to its user)."""
    print(f"seism: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Stage lines, progress bars and notes go to stderr: a reader of stderr that stops early must not
    # end the fit before its outputs are in place.
    stderr = _TolerantStream(sys.stderr)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(stderr):
            warnings.showwarning = _one_line_warning
            return fit(args)
    except KeyboardInterrupt:
        print("seism: interrupted; no output was written", file=stderr)
        return 130
    except (ValueError, TypeError, OSError, ImportError, MemoryError) as exc:
        print(f"seism: error: {str(exc) or type(exc).__name__}", file=stderr)
        return 2
    finally:
        if stderr.gone:
            _silence(sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
