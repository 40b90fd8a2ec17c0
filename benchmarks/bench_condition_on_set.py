"""Benchmark: conditioning the per-motif test on the selected *set* instead of the selection path.

Run from the repository root::

    python benchmarks/bench_condition_on_set.py [--null 2000] [--planted 100] [--jobs 2]

The default per-motif p-value (:mod:`seism_stats.stats.circle_tests`) conditions on the
selection path: the same cells selected in the same order. Its first motif has less power than
the global null's with several motifs (``benchmarks/bench_motif_power_output.txt``). Conditioning
on less would give more power, and the selected model is the *set* of cells, so a natural
candidate is the union over orders: on each circle the event of "these cells, in any order" is
the disjoint union of the events of each order (the greedy path is a function of the response),
so ``D`` and ``N`` add up over orders and the circles' theorem holds word for word for a motif
fixed in advance. This script measures, on the power simulation's data (GATT in half of n = 100
sequences of length 30, k = 4, three motifs, B = 500 uniform directions, no conditioning
subspace), the first selected motif's p-value given

* ``path``: the selection path (the default's event);
* ``set``: the selected set, any order;
* ``set + rank``: the selected set, with the tested motif at its observed rank.

Printed: rejection rates at 1% and 5% with Wilson 95% intervals on null data sets (beta = 0)
and on planted ones (beta = 1).
"""

from __future__ import annotations

import itertools
import os
import platform
import time
import warnings

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import special

from seism_stats.features.grid import grid_features
from seism_stats.io.sequences import encode_sequences
from seism_stats.sampling.pvalues import ratio_pvalue
from seism_stats.selection.greedy import select_motifs
from seism_stats.stats.circle_tests import CircleTests
from seism_stats.utils.canonical import gaussian_rows
from seism_stats.utils.validation import residual_basis
from simulations.data import simulate_dataset
from simulations.experiments import rejection_cell

EVENTS = ("path", "set", "set + rank")
N_MOTIFS, DRAWS = 3, 500


def first_motif_pvalues(beta: float, seed: np.random.SeedSequence) -> dict:
    """The first selected motif's p-value given each event of :data:`EVENTS` (NaN if fewer motifs)."""
    data_seed, draw_seed = seed.spawn(2)
    data = simulate_dataset(100, 30, consensus="GATT", fraction=0.5, beta=beta,
                            random_state=np.random.default_rng(data_seed))
    features = grid_features(encode_sequences(data.sequences), [4], 1.0, "sum", 1, revcomp=True)
    basis = residual_basis(np.ones((len(data.y), 1)))
    y = np.asarray(data.y, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        observed = select_motifs(features, y, basis, N_MOTIFS)
    cells = [int(c) for c in observed.cells]
    if len(cells) < N_MOTIFS:
        return {event: np.nan for event in EVENTS}
    tested = cells[0]
    # Every order's circles of the tested motif: the same circles (eta, P_S y and the directions do not
    # depend on the order), each with its own event.
    orders = []
    for order in itertools.permutations(cells):
        selection = observed if list(order) == cells else select_motifs(features, y, basis, N_MOTIFS, order)
        tests = CircleTests(features, selection, basis, "motif")
        orders.append((order, tests, tests.axes[order.index(tested)]))
    axis = orders[0][2]
    rng = np.random.default_rng(draw_seed)
    directions = gaussian_rows(rng, DRAWS, np.arange(len(y)))
    for _ in range(2):
        directions -= (directions @ axis.off) @ axis.off.T
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    directions = np.vstack([axis.direction[None, :], directions])  # the observed direction first
    masses = {}
    for order, tests, motif_axis in orders:
        masses[order] = tests.log_masses(motif_axis, tests.direction_terms(directions))
    chosen = {"path": [tuple(cells)], "set": list(masses),
              "set + rank": [o for o in masses if o.index(tested) == cells.index(tested)]}
    row = {}
    for event, members in chosen.items():
        log_den = special.logsumexp([masses[o][0] for o in members], axis=0)
        log_num = special.logsumexp([masses[o][1] for o in members], axis=0)
        row[event] = ratio_pvalue(log_num, log_den)[0]
    return row


def main() -> None:
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--null", type=int, default=2000, help="null data sets")
    parser.add_argument("--planted", type=int, default=100, help="data sets with GATT at beta = 1")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    rows = []
    for beta, count, seed in ((0.0, args.null, args.seed), (1.0, args.planted, args.seed + 6)):
        seeds = np.random.SeedSequence(seed).spawn(count)
        table = pd.DataFrame(Parallel(n_jobs=args.jobs)(delayed(first_motif_pvalues)(beta, s) for s in seeds))
        for event in EVENTS:
            rows.append({"beta": beta, "data sets": count, "event": event,
                         "at 1%": rejection_cell(table[event], 0.01), "at 5%": rejection_cell(table[event], 0.05)})
    print(f"# bench_condition_on_set: the first motif's p-value given the path, the set, or the set and its rank; "
          f"n=100, L=30, k=4, GATT in 50%, {N_MOTIFS} motifs, B={DRAWS} uniform directions; {platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}, "
          f"{time.perf_counter() - start:.0f} s")
    print(pd.DataFrame(rows).to_string(index=False))
    print("# rejection rates [Wilson 95%]; valid p-values reject at most 1% and 5% on null data sets (beta = 0)")


if __name__ == "__main__":
    main()
