"""Benchmark: two kernels of the large fits, before and after, in one run (issues 21 and 22).

Run from the repository root::

    python benchmarks/bench_kernels.py [--n 100000] [--repeats 3] [--quick]

1. **Refinement** (issue 21, item 6: the n = 100,000 fit). The CNN-style refinement of a
   selected motif (:func:`seism_stats.selection.refinement.refine_motif`, 200 L-BFGS
   iterations) on n sequences of length 200, both strands, k = 8. Each evaluation of the
   score and its gradient is two products with the sequences x k-mers count matrix
   (38 million non-zeros at n = 100,000). Before: SciPy's CSR products (int64 indices,
   float64 counts, one thread). After (the default): :class:`~seism_stats.selection.refinement.
   CountMatrix` (int32 indices, float32 counts, rows in parallel). Both give the same sums bit
   for bit, so the refined filter is the same: checked.
2. **Tilted subsets** (issue 22: foreground vs background at n = 20,000). The rows of the
   smallest uniform keys in each cell, for 10,000 draws of n = 20,000 rows (the
   :class:`~seism_stats.stats.tilted_permutations.Cells` of the benchmark's planted motif, 44
   cells). Before: a NumPy sort of each cell's keys (one thread). After (the default): the
   quickselect kernel, on one thread and on all. The same rows: checked.

Printed: median seconds over the repeats, and the ratio before / after.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from seism_stats.io.sequences import encode_sequences
from seism_stats.selection.refinement import WindowDesign, refine_motif
from seism_stats.stats.tilted_permutations import Cells
from seism_stats.utils.validation import default_threads
from simulations.data import simulate_dataset


class ScipyCounts:
    """The former products: SciPy's CSR matrix (int64 indices, float64 counts), one thread."""

    def __init__(self, counts):
        matrix = counts.to_scipy()
        self.matrix = sp.csr_array((matrix.data, matrix.indices.astype(np.int64), matrix.indptr),
                                   shape=matrix.shape)

    def dot(self, g):
        return self.matrix @ g

    def rdot(self, h):
        return self.matrix.T @ h


def median_seconds(run, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def refinement_rows(n: int, repeats: int) -> list[dict]:
    data = simulate_dataset(n, 200, consensus="GATTACAG", beta=0.05, fraction=0.3, random_state=1)
    encoded = encode_sequences(data.sequences)
    design = WindowDesign(encoded, 8, "sum", revcomp=True, n_threads=default_threads())
    residual = data.y - data.y.mean()
    basis = np.full((n, 1), 1.0 / np.sqrt(n))
    cell = int(np.argmax(design.counts.rdot(residual)))  # a start with some signal
    compact = design.counts
    design.counts = ScipyCounts(compact)
    before, old = median_seconds(lambda: refine_motif(design, 1.0, residual, basis, cell), repeats)
    design.counts = compact
    after, new = median_seconds(lambda: refine_motif(design, 1.0, residual, basis, cell), repeats)
    same = bool(np.array_equal(old.ppm, new.ppm) and old.score == new.score)
    return [{"kernel": f"refinement (n={n:,}, {compact.nnz / 1e6:.1f}M non-zeros)", "before_s": before, "after_s": after,
             "ratio": before / after, "same_result": same}]


def sorted_fill(cells: Cells, counts: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The former fill: a sort of each cell's keys."""
    out = np.zeros(keys.shape, dtype=bool)
    picks = np.arange(keys.shape[0])
    for g in range(cells.n_cells):
        members = cells.rows[cells.starts[g]:cells.starts[g + 1]]
        c = counts[:, g]
        if not c.any():
            continue
        block = keys[:, members]
        ordered = np.sort(block, axis=1)
        threshold = np.where(c > 0, ordered[picks, np.maximum(c - 1, 0)], -1.0)
        out[:, members] = block <= threshold[:, None]
    return out


def fill_rows(repeats: int, draws: int = 10_000, block: int = 64) -> list[dict]:
    rng = np.random.default_rng(0)
    n = 20_000
    feature = rng.standard_normal(n)
    cells = Cells.from_directions(feature, [])
    counts = np.stack([rng.binomial(cells.sizes, 0.5) for _ in range(block)])
    keys = rng.random((block, n))
    blocks = draws // block
    before, old = median_seconds(lambda: [sorted_fill(cells, counts, keys) for _ in range(blocks)][-1], repeats)
    rows = []
    for threads in sorted({1, default_threads()}):
        after, new = median_seconds(lambda: [cells.fill(counts, keys, threads) for _ in range(blocks)][-1], repeats)
        rows.append({"kernel": f"tilted subsets ({blocks * block:,} draws of n={n:,}, {cells.n_cells} cells; "
                               f"kernel on {threads} thread(s))",
                     "before_s": before, "after_s": after, "ratio": before / after,
                     "same_result": bool(np.array_equal(old, new))})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="sequences of the refinement row")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="n = 10,000, one repeat")
    args = parser.parse_args()
    n, repeats = (10_000, 1) if args.quick else (args.n, args.repeats)
    start = time.perf_counter()
    table = pd.DataFrame(fill_rows(repeats) + refinement_rows(n, repeats))
    print(f"# bench_kernels: before / after in one run, {repeats} repeat(s), {default_threads()} threads; "
          f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}, load average {os.getloadavg()[0]:.1f} at the end, "
          f"{time.perf_counter() - start:.0f} s")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3g}"))


if __name__ == "__main__":
    main()
