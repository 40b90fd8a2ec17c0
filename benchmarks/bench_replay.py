"""Benchmark of the hot path: replaying the selection on null responses.

Run from the repository root::

    python benchmarks/bench_replay.py [--quick] [--draws-naive 100] [--csv out.csv]

For n in {500, 1000, 5000}, L = 100, k in {6, 8} and B = 10,000 null draws it
prints, in one table:

(a) naive dense replay: the dense n x 4^k feature matrix times a block of
    responses, then the argmax of the scores (numpy/BLAS);
(b) the package's replay: Kronecker mode products (Cython) then the same
    argmax, for the same responses; it checks that (a) and (b) select the same
    cell on every draw;
(b') the replay as the MCMC sampler pays it: a candidate on a great circle
    re-combines two stored numerator vectors (no transform), and one Kronecker
    transform is paid per accepted move (measured replays per move);
(c) the full selective p-value with the MCMC sampler (B draws);
(d) the data-split p-value;

and the ratios (a)/(b), (a)/(b') and (c)/(d). The naive dense replay of B =
10,000 draws would take hours at n = 5000, k = 8: (a) and (b) are timed on the
first ``--draws-naive`` draws and scaled to B (per-draw cost is constant in B;
the scaling is printed). Peak memory of (c) at the largest setting is traced.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd

from seism_stats import selective_inference
from seism_stats.features.grid import DenseFeatures, make_features
from seism_stats.features.kmers import kmer_count_matrix
from seism_stats.io.sequences import encode_sequences
from seism_stats.sampling.samplers import sphere_points
from seism_stats.utils.validation import check_covariates, default_threads, residual_basis
from simulations.data import simulate_dataset

B = 10_000


def naive_dense_replay(phi: np.ndarray, inv_den: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Argmax cell of each response by the dense product (the baseline)."""
    numerators = points @ phi
    return np.argmax(numerators**2 * inv_den, axis=1)


def kronecker_replay(features, inv_den: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Argmax cell of each response through the package's Kronecker transform."""
    numerators = features.project(points)
    return np.argmax(numerators**2 * inv_den, axis=1)


def timed(function, *args, repeat: int = 1):
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = function(*args)
        best = min(best, time.perf_counter() - start)
    return best, out


def bench_setting(n: int, k: int, length: int, draws_naive: int, threads: int, seed: int) -> dict:
    data = simulate_dataset(n, length, consensus="GATTACAG"[:k], beta=0.5, random_state=seed)
    encoded = encode_sequences(data.sequences)
    counts = kmer_count_matrix(encoded, k)
    features = make_features(counts, k, 1.0, "sum", threads)
    basis = residual_basis(check_covariates(None, n))
    den = features.sq_norms() - np.sum(features.project(basis.T) ** 2, axis=0)
    inv_den = np.where(den > 1e-9 * features.sq_norms(), 1.0 / np.maximum(den, 1e-300), 0.0)
    points = sphere_points(np.random.default_rng(seed), draws_naive, basis, n)

    build_dense, phi = timed(lambda: DenseFeatures.from_kronecker(features).matrix)
    t_dense, cells_dense = timed(naive_dense_replay, phi, inv_den, points, repeat=2)
    del phi
    t_kron, cells_kron = timed(kronecker_replay, features, inv_den, points, repeat=2)
    same = bool(np.array_equal(cells_dense, cells_kron))

    # (b') per candidate inside the circle sampler: measured from a real MCMC run.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        result = selective_inference(data.sequences, data.y, k=k, n_motifs=1, n_samples=B, burn_in=50,
                                     refine=False, random_state=seed, n_threads=threads)
        t_full = time.perf_counter() - start
        split = selective_inference(data.sequences, data.y, k=k, n_motifs=1, method="split",
                                    refine=False, random_state=seed, n_threads=threads)
    sample = result.null_sample
    t_split = split.seconds["features"] + split.seconds["classical"]
    per_candidate_sampler = sample.seconds / sample.n_replays
    scale = B / draws_naive
    return {
        "n": n, "k": k, "cells": 4**k,
        "dense_build_s": build_dense,
        "a_naive_dense_s": t_dense * scale,
        "b_kronecker_s": t_kron * scale,
        "b2_sampler_replay_s": per_candidate_sampler * B,
        "same_cells": same,
        "c_seism_mcmc_s": t_full,
        "d_data_split_s": t_split,
        "a/b": t_dense / t_kron,
        "a/b2": t_dense * scale / (per_candidate_sampler * B),
        "c/d": t_full / t_split,
        "replays_per_move": sample.n_replays / max(sample.n_moves, 1),
        "ess": float(sample.effective_sample_size()[0]),
    }


def peak_memory(n: int, k: int, length: int, threads: int, seed: int) -> float:
    """Peak traced memory (MiB) of a full selective p-value (numpy and Cython buffers are traced)."""
    data = simulate_dataset(n, length, consensus="GATTACAG"[:k], beta=0.5, random_state=seed)
    tracemalloc.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        selective_inference(data.sequences, data.y, k=k, n_samples=B, refine=False, random_state=seed,
                            n_threads=threads)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="n in {500, 1000}, k = 6 only")
    parser.add_argument("--draws-naive", type=int, default=100,
                        help="draws on which (a) and (b) are timed, then scaled to B")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--csv", default=None, help="also write the table here")
    args = parser.parse_args()
    threads = default_threads(args.threads)
    ns, ks = ([500, 1000], [6]) if args.quick else ([500, 1000, 5000], [6, 8])
    print(f"# bench_replay: L=100, B={B}, threads={threads}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, numpy {np.__version__}, "
          f"{time.strftime('%Y-%m-%d')}")
    rows = [bench_setting(n, k, 100, args.draws_naive, threads, seed=n + k) for k in ks for n in ns]
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format", "{:.3g}".format):
        print(table.to_string(index=False))
    print(f"# (a), (b) timed on {args.draws_naive} draws and scaled to B={B}; (b2) = measured sampler "
          "seconds per replayed candidate x B")
    if not table["same_cells"].all():
        raise SystemExit("MISMATCH: the dense and Kronecker replays selected different cells")
    print("# (a) and (b) selected the same cell on every draw")
    n_mem, k_mem = max(ns), max(ks)
    print(f"# peak traced memory, selective p-value n={n_mem}, k={k_mem}, B={B}: "
          f"{peak_memory(n_mem, k_mem, 100, threads, 1):.0f} MiB")
    target = table[(table.n == 1000) & (table.k == 8)] if 8 in ks else None
    if target is not None and len(target):
        row = target.iloc[0]
        print(f"# targets (n=1000, k=8): selective p-value {row['c_seism_mcmc_s']:.2f} s (goal <= 5 s); "
              f"a/b {row['a/b']:.0f}x, a/b2 {row['a/b2']:.0f}x (goal >= 100x); c/d {row['c/d']:.1f}x (goal <= 10x)")
    if args.csv:
        table.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
