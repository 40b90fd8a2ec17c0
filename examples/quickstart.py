"""Quickstart: simulate peaks with a planted motif, write them as FASTA, fit, print, draw.

Run from the repository root::

    python examples/quickstart.py [--out examples/output]

It writes ``peaks.fa`` and ``peaks.tsv`` (sequences and a response), fits
``expr ~ motifs(seq, k=6, n_motifs=2) + gc`` with the functional API and the
model API, prints the summary and saves the motif logos.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd

from seism_stats import SelectiveMotifModel, read_fasta, selective_inference
from simulations.data import simulate_dataset


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    # 400 sequences of length 100; GATTACA planted in 40% of them; y depends on it.
    data = simulate_dataset(400, 100, consensus="GATTACA", fraction=0.4, beta=1.0,
                            random_state=2024)
    fasta = out / "peaks.fa"
    fasta.write_text("".join(f">peak{i}\n{s}\n" for i, s in enumerate(data.sequences)))
    ids, sequences = read_fasta(fasta)
    table = pd.DataFrame({"seq": sequences, "expr": data.y}, index=ids)
    table["gc"] = [(s.count("G") + s.count("C")) / len(s) for s in sequences]
    table.to_csv(out / "peaks.tsv", sep="\t", index_label="id")

    # Functional API: one call, p-values side by side.
    result = selective_inference(fasta, table["expr"], table[["gc"]], k=6, n_motifs=2, random_state=0)
    print(result.motif_table()[["kmer", "consensus", "pvalue", "pvalue_split", "pvalue_naive"]])
    print()

    # Model API (statsmodels shape).
    start = time.perf_counter()
    model = SelectiveMotifModel.from_formula("expr ~ motifs(seq, k=6, n_motifs=2) + gc", data=table)
    res = model.fit(random_state=0, progress=False)
    seconds = time.perf_counter() - start
    print(res.summary())
    print()
    print(pd.DataFrame({"coef": res.params, "P": res.pvalues, "kind": res.pvalue_kinds}).to_string())
    print(f"\nfit took {seconds:.1f} s")
    res.plot_motifs().savefig(out / "quickstart_logos.png", dpi=110)
    res.plot_null(0).savefig(out / "quickstart_null.png", dpi=110)
    print(f"logos written to {out / 'quickstart_logos.png'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("examples/output"))
    main(parser.parse_args().out)
