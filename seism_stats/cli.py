"""Command line: ``seism fit --fasta peaks.fa --response y.tsv --k 8 --n-motifs 2 --out results/``.

Writes into ``--out``: ``summary.txt`` and ``summary.html`` (the printed
summary), ``motifs.csv`` (one row per motif), ``logos.png``, ``motifs.meme`` and
``motifs.jaspar`` (refined PWMs), and ``settings.json`` (settings and sampler
diagnostics).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _read_response(path: Path, id_column: str | None, response: str | None) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"response file not found: {path}")
    try:
        table = pd.read_csv(path, sep="," if path.suffix.lower() == ".csv" else "\t")
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path} as a TSV/CSV table: {exc}") from None
    if table.shape[1] < 2:
        raise ValueError(f"{path} needs at least two columns (sequence id and response), got {list(table.columns)}")
    id_column = id_column or table.columns[0]
    if id_column not in table:
        raise ValueError(f"{path} has no id column {id_column!r} (columns: {list(table.columns)})")
    response = response or [c for c in table.columns if c != id_column][0]
    if response not in table:
        raise ValueError(f"{path} has no response column {response!r} (columns: {list(table.columns)})")
    if table[id_column].duplicated().any():
        duplicate = table[id_column][table[id_column].duplicated()].iloc[0]
        raise ValueError(f"{path}: sequence id {duplicate!r} appears more than once")
    table = table.set_index(table[id_column].astype(str))
    return table.rename(columns={response: "response"}) if response != "response" else table


def _formula(k: int, n_motifs: int, covariates: str | None) -> str:
    rhs = f"motifs(seq, k={k}, n_motifs={n_motifs})"
    return f"response ~ {rhs}" + (f" + {covariates}" if covariates else "")


def fit(args: argparse.Namespace) -> int:
    from . import SelectiveMotifModel
    from .sequences import encode_sequences, read_fasta

    import matplotlib
    matplotlib.use("Agg")

    ids, sequences = read_fasta(args.fasta)
    encode_sequences(sequences, ids)  # report bad letters before anything else
    if len(set(ids)) != len(ids):
        raise ValueError(f"{args.fasta}: sequence ids are not unique")
    table = _read_response(Path(args.response), args.id_column, args.response_column)
    shared = [i for i in ids if i in table.index]
    if not shared:
        raise ValueError(f"no sequence id of {args.fasta} (e.g. {ids[0]!r}) is in {args.response} "
                         f"(e.g. {table.index[0]!r})")
    missing = len(ids) - len(shared)
    data = table.loc[shared].copy()
    data["seq"] = pd.Series(dict(zip(ids, sequences)))[shared]
    model = SelectiveMotifModel.from_formula(_formula(args.k, args.n_motifs, args.covariates), data,
                                             lam=args.lam, pooling=args.pooling, revcomp=not args.no_revcomp)
    start = time.perf_counter()
    res = model.fit(method=args.method, n_samples=args.n_samples, burn_in=args.burn_in, thin=args.thin,
                    n_chains=args.chains, random_state=args.seed, n_jobs=args.jobs,
                    progress=not args.quiet)
    seconds = time.perf_counter() - start
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = res.summary()
    (out / "summary.txt").write_text(summary.as_text() + "\n")
    (out / "summary.html").write_text(summary.as_html() + "\n")
    res.motifs.to_csv(out / "motifs.csv")
    res.plot_motifs().savefig(out / "logos.png", dpi=120)
    if res.n_selected:
        res.to_meme(out / "motifs.meme")
        res.to_jaspar(out / "motifs.jaspar")
    info = {key: (value.item() if isinstance(value, np.generic) else value)
            for key, value in res.sampler_info.items()}
    settings = {
        "fasta": str(args.fasta), "response": str(args.response), "formula": model.formula,
        "sequences_in_fasta": len(ids), "sequences_without_response": missing,
        "rows_dropped_missing": model.data.n_dropped, "n_used": res.nobs,
        "settings": res.inference.settings, "sampler": info, "seconds": seconds,
    }
    (out / "settings.json").write_text(json.dumps(settings, indent=2, default=str) + "\n")
    if not args.quiet:
        print(summary)
        if missing:
            print(f"note: {missing} sequences of {args.fasta} have no response and were left out")
        print(f"results written to {out}/")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seism", description="Selective inference for sequence motifs.")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("fit", help="select motifs and compute selective p-values",
                            description=__doc__.split("\n\n")[0])
    p.add_argument("--fasta", required=True, help="sequences (FASTA, plain or .gz)")
    p.add_argument("--response", required=True,
                   help="table with a sequence-id column and the response (tab-separated; comma for .csv)")
    p.add_argument("--id-column", default=None, help="id column of the response table (default: first)")
    p.add_argument("--response-column", default=None, help="response column (default: first non-id column)")
    p.add_argument("--covariates", default=None,
                   help="covariate terms of the response table, as a formula, e.g. 'gc + C(batch)'")
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--n-motifs", type=int, default=1)
    p.add_argument("--lam", type=float, default=1.0)
    p.add_argument("--pooling", choices=["sum", "max"], default="sum")
    p.add_argument("--no-revcomp", action="store_true", help="do not merge k-mers with their reverse complements")
    p.add_argument("--method", choices=["mcmc", "rejection", "split", "naive"], default="mcmc")
    p.add_argument("--n-samples", type=int, default=2000)
    p.add_argument("--burn-in", type=int, default=50)
    p.add_argument("--thin", type=int, default=1)
    p.add_argument("--chains", type=int, default=16)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--quiet", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return fit(args)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"seism: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
