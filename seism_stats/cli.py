"""Command line: ``seism fit --fasta peaks.fa --response y.tsv --k 8 --n-motifs 2 --out results/``.

Writes into ``--out``: ``report.html`` (a self-contained report: tables, logos,
null distributions, settings), ``summary.txt`` and ``summary.html`` (the printed
summary), ``motifs.csv`` (one row per motif, with 95% intervals), ``logos.png``, ``motifs.meme`` and
``motifs.jaspar`` (refined PWMs), and ``settings.json`` (settings, the response
column used, sampler diagnostics). Outputs are written to a staging folder and
moved into place when all are done; errors are one line, exit code 2 (130 for
Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _read_response(path: Path, id_column: str | None, response: str | None,
                   fasta_ids: list[str]) -> tuple[pd.DataFrame, str]:
    """The response table indexed by sequence id, and the name of its response column."""
    if not path.is_file():
        raise FileNotFoundError(f"response file not found: {path}")
    try:
        table = pd.read_csv(path, sep="," if path.suffix.lower() == ".csv" else "\t", encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path} as a TSV/CSV table with a header line: "
                         f"{str(exc).splitlines()[0]}") from None
    if table.shape[1] < 2:
        raise ValueError(f"{path} needs at least two columns (sequence id and response), got {list(table.columns)}")
    header = [str(c) for c in table.columns]
    if header[0] in set(fasta_ids) or any(_is_number(c) for c in header[1:]):
        raise ValueError(f"{path}: the first line ({' '.join(header)!r}) looks like data, not column names; "
                         "the table needs a header line (e.g. 'id<TAB>expr')")
    if table.empty:
        raise ValueError(f"{path} has a header but no rows")
    id_column = id_column or table.columns[0]
    if id_column not in table:
        raise ValueError(f"{path} has no id column {id_column!r} (columns: {list(table.columns)})")
    response = response or [c for c in table.columns if c != id_column][0]
    if response not in table:
        raise ValueError(f"{path} has no response column {response!r} (columns: {list(table.columns)})")
    if response == id_column:
        raise ValueError(f"{path}: the response column {response!r} is the id column; name the response "
                         "with --response-column")
    if table[id_column].duplicated().any():
        duplicate = table[id_column][table[id_column].duplicated()].iloc[0]
        raise ValueError(f"{path}: sequence id {duplicate!r} appears more than once")
    if not pd.api.types.is_numeric_dtype(table[response]):
        text = table[response][pd.to_numeric(table[response], errors="coerce").isna() & table[response].notna()]
        raise ValueError(f"{path}: response column {response!r} is not numeric (e.g. {text.iloc[0]!r} on data "
                         f"row {text.index[0] + 1}); fix the file or choose --response-column")
    return table.set_index(table[id_column].astype(str)), str(response)


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


def _formula(response: str, k: int, n_motifs: int, covariates: str | None) -> str:
    lhs = response if response.isidentifier() else f"`{response}`"
    rhs = f"motifs(seq, k={k}, n_motifs={n_motifs})"
    return f"{lhs} ~ {rhs}" + (f" + {covariates}" if covariates else "")


def _prepare_output(out: Path, force: bool) -> Path:
    """Check ``--out`` before any work and return an empty staging folder beside it.

    Outputs are written into the staging folder and moved into place at the end
    (:func:`_publish`), so a failed or interrupted run leaves no half-written set.
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        held = ", ".join(sorted(p.name for p in out.iterdir())[:4])
        raise ValueError(f"--out {out} already holds files ({held}, ...); use --force to replace them")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as exc:
        raise ValueError(f"cannot write into {out.parent}: {exc.strerror or exc}") from None


def _publish(staging: Path, out: Path) -> None:
    """Replace ``out`` by the finished staging folder (no stale file of an earlier run survives)."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        out.rename(old / out.name)
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def fit(args: argparse.Namespace) -> int:
    from . import SelectiveMotifModel
    from .sequences import encode_sequences, read_fasta

    import matplotlib
    matplotlib.use("Agg")

    out = Path(args.out)
    staging = _prepare_output(out, args.force)
    try:
        _fit_into(args, staging, SelectiveMotifModel, encode_sequences, read_fasta)
        _publish(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    if not args.quiet:
        print(f"results written to {out}/")
    return 0


def _read_checked_fasta(path, read_fasta, encode_sequences) -> tuple[list[str], list[str]]:
    ids, sequences = read_fasta(path)
    encode_sequences(sequences, ids)  # report bad letters before anything else
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: sequence ids are not unique")
    return ids, sequences


def _control_table(ids, sequences, args, seed: int, read_fasta, encode_sequences) -> tuple[pd.DataFrame, str]:
    """Foreground (the --fasta sequences, 1) against background (--control, 0): the SEA/HOMER/STREME set-up.

    ``--control shuffle`` shuffles each foreground sequence keeping its k-mer counts
    (``--shuffle-kmer``), seeded by the first child of ``SeedSequence(seed)``; the
    ``--composition`` covariates are added (:func:`seism_stats.composition.foreground_background`).
    """
    from .composition import foreground_background
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
    from .genome import bed_sequences, read_bed
    if args.genome is None:
        raise ValueError("--bed needs --genome (an indexed or indexable genome FASTA)")
    bed = read_bed(args.bed)
    sequences = bed_sequences(bed, args.genome, args.width)
    ids = list(bed["name"])
    encode_sequences(sequences, ids)
    return ids, sequences, bed


def _fit_into(args, out: Path, model_class, encode_sequences, read_fasta) -> None:
    from ._validation import fresh_seed
    from .composition import composition_covariates, composition_terms, default_composition
    ids, sequences, bed = _input_sequences(args, read_fasta, encode_sequences)
    missing = unmatched = 0
    seed = fresh_seed() if args.seed is None else args.seed  # one recorded seed: shuffle and fit
    args.composition = args.composition or default_composition(args.control)
    covariates = " + ".join(filter(None, [args.covariates] + composition_terms(args.composition)))
    if bed is not None and not args.response and not args.control:
        if bed["score"].isna().all():
            raise ValueError(f"{args.bed} has no score column (5th); give --response with a table keyed by "
                             "the interval names")
        data, response = pd.DataFrame({"bed_score": bed["score"].to_numpy(), "seq": sequences}, index=ids), "bed_score"
    elif args.control:
        if args.response or args.covariates:
            raise ValueError("--control compares the FASTA with a background set: give no --response "
                             "or --covariates with it")
        data, response = _control_table(ids, sequences, args, seed, read_fasta, encode_sequences)
    else:
        if not args.response:
            raise ValueError("give --response (a table of responses) or --control (background sequences)")
        table, response = _read_response(Path(args.response), args.id_column, args.response_column, ids)
        if args.covariates:
            check_covariate_formula(args.covariates, table.columns)
        shared = [i for i in ids if i in table.index]
        if not shared:
            raise ValueError(f"no sequence id of {args.fasta or args.bed} (e.g. {ids[0]!r}) is in {args.response} "
                             f"(e.g. {table.index[0]!r})")
        missing = len(ids) - len(shared)
        unmatched = len(table.index) - len(shared)
        data = table.loc[shared].copy()
        data["seq"] = pd.Series(dict(zip(ids, sequences)))[shared]
    if not args.control and args.composition != "none":
        composition = composition_covariates(data["seq"], args.composition)
        if set(composition.columns) & set(data.columns):
            clash = ", ".join(c for c in composition.columns if c in data.columns)
            raise ValueError(f"--composition {args.composition} adds the columns {', '.join(composition.columns)}, "
                             f"but the response table already has {clash}")
        data = data.join(composition)
    model = model_class.from_formula(_formula(response, args.k, args.n_motifs, covariates), data,
                                     lam=args.lam, pooling=args.pooling, revcomp=not args.no_revcomp)
    start = time.perf_counter()
    res = model.fit(method=args.method, n_samples=args.n_samples, burn_in=args.burn_in, thin=args.thin,
                    n_chains=args.chains, tail_draws=args.tail_draws, random_state=seed, n_jobs=args.jobs,
                    n_threads=args.threads, progress=not args.quiet)
    seconds = time.perf_counter() - start
    from .motif_match import default_database
    database = default_database(args.motif_db)
    if database and res.n_selected:
        if not args.quiet:
            print(f"seism: matching the motifs with {database} (Tomtom, memelite)", file=sys.stderr)
        res.match_known_motifs(database)
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
                                                                          "settings.json"]
    res.to_html(out / "report.html", title=f"SEISM motifs: {args.fasta or args.bed}", files=written)
    info = {key: (value.item() if isinstance(value, np.generic) else value)
            for key, value in res.sampler_info.items()}
    settings = {
        "fasta": args.fasta, "bed": args.bed, "genome": args.genome, "width": args.width,
        "response": args.response, "control": args.control,
        "shuffle_kmer": args.shuffle_kmer if args.control == "shuffle" else None, "composition": args.composition,
        "response_column": response,
        "formula": model.formula,
        "sequences_in_fasta": len(ids), "sequences_without_response": missing,
        "responses_without_sequence": unmatched,
        "rows_dropped_missing": model.data.n_dropped, "n_used": res.nobs,
        "settings": res.inference.settings, "sampler": info, "seconds": seconds,
    }
    (out / "settings.json").write_text(json.dumps(settings, indent=2, default=str) + "\n")
    if not args.quiet:
        print(summary)
    # Unmatched ids are often a naming mismatch between the files (a suffix, a prefix): said even with --quiet.
    if missing:
        print(f"note: {missing} sequences of {args.fasta or args.bed} have no response and were left out",
              file=sys.stderr)
    if unmatched:
        print(f"note: {unmatched} rows of {args.response} have no sequence in {args.fasta or args.bed} and "
              "were left out", file=sys.stderr)


def _motif_lengths(text: str):
    """``8`` or ``6,8,10`` from the command line."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--k takes an integer or integers separated by commas, got {text!r}")
    if not values:
        raise argparse.ArgumentTypeError("--k is empty")
    return values[0] if len(values) == 1 else values


class _DefaultsHelp(argparse.HelpFormatter):
    """Help that shows each option's default, where it has a value worth showing."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

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
    p.add_argument("--width", type=int, default=None,
                   help="re-centre every --bed interval on its midpoint with this width")
    p.add_argument("--response", default=None,
                   help="table with a sequence-id column and the response (tab-separated; comma for .csv)")
    p.add_argument("--control", default=None,
                   help="background: a FASTA file, or 'shuffle' (each --fasta sequence shuffled keeping its "
                        "k-mer counts, as STREME and HOMER do); the --fasta sequences (response 1) are tested "
                        "against it (0) with the permutation null, instead of a --response table")
    p.add_argument("--shuffle-kmer", type=int, default=2,
                   help="k-mers whose counts --control shuffle keeps (2: dinucleotides)")
    p.add_argument("--composition", choices=["gc-cpg", "dinucleotides", "none"], default=None,
                   help="composition covariates a motif must beat: GC fraction and CpG o/e ratio, or all "
                        "dinucleotide frequencies (default: gc-cpg with --control shuffle, dinucleotides with a "
                        "--control file, none with --response)")
    p.add_argument("--id-column", default=None, help="id column of the response table (default: first)")
    p.add_argument("--response-column", default=None, help="response column (default: first non-id column)")
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
    p.add_argument("--method", choices=["mcmc", "rejection", "cmc", "split", "naive"], default="mcmc",
                   help="p-values of the summary: selective (mcmc, rejection; cmc: conditional Monte Carlo "
                        "estimate; with several motifs it conditions on more), data split or naive")
    p.add_argument("--n-samples", type=int, default=2000, help="null draws B")
    p.add_argument("--burn-in", type=int, default=50, help="unrecorded moves before each chain's first draw")
    p.add_argument("--thin", type=int, default=1, help="moves between recorded draws")
    p.add_argument("--chains", type=int, default=16, help="MCMC chains advanced in lockstep")
    p.add_argument("--tail-draws", type=int, default=256,
                   help="draws of the tail estimate for p-values at the floor 1/(B+1) (0: off)")
    p.add_argument("--jobs", type=int, default=1, help="processes for the chain groups (joblib)")
    p.add_argument("--threads", type=int, default=None, help="OpenMP threads of the kernels (default: all cores)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: a fresh one, recorded)")
    p.add_argument("--motif-db", default="auto",
                   help="known motifs to match the refined motifs with (Tomtom's statistics, memelite): a MEME "
                        "or JASPAR file, 'jaspar' for JASPAR CORE vertebrates (needs pyjaspar), 'none'; "
                        "'auto': JASPAR CORE when pyjaspar is installed, else none")
    p.add_argument("--out", required=True,
                   help="output folder (created; refused if it already holds files, unless --force)")
    p.add_argument("--force", action="store_true",
                   help="replace the contents of an existing --out folder (no stale file is left)")
    p.add_argument("--quiet", action="store_true", help="no progress bars, no printed summary")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return fit(args)
    except KeyboardInterrupt:
        print("seism: interrupted; no output was written", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError) as exc:
        print(f"seism: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
