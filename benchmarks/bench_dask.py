"""Benchmark: the MCMC chains in one process, in joblib processes and on a Dask cluster.

Run from the repository root (needs ``pip install -e ".[dask]"``)::

    python benchmarks/bench_dask.py [--draws 4000] [--workers 2] [--scheduler ADDRESS]

One fit (n = 1000, L = 100, k = 8, B = ``--draws``) is run in this process
(OpenMP threads), with ``n_jobs=--workers`` joblib processes, and with
``backend="dask"`` on a ``LocalCluster`` of ``--workers`` single-threaded
workers (or on the cluster at ``--scheduler``). It prints the seconds of each,
the speed-up over one process, and checks that the p-values are identical: the
chain groups carry their own seeds, so where they run does not change them.

On a real cluster, start a scheduler and workers (``dask scheduler``,
``dask worker ADDRESS``), or let ``dask-jobqueue`` submit them to SLURM/PBS
(``SLURMCluster(cores=..., memory=...).scale(jobs=...)``), then pass the
scheduler's address here or a ``distributed.Client`` to
``selective_inference(..., backend="dask", client=client)``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd

from seism_stats import selective_inference
from simulations.data import simulate_dataset


def timed(data, **kwargs) -> tuple[float, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        result = selective_inference(data.sequences, data.y, k=8, random_state=1, **kwargs)
    return time.perf_counter() - start, result.pvalues


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scheduler", default=None, help="address of a running Dask scheduler")
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    data = simulate_dataset(1000, 100, consensus="GATTACAG", beta=0.3, fraction=0.3, random_state=0)
    rows = []
    seconds, reference = timed(data, n_samples=args.draws)
    rows.append({"where": "one process (OpenMP threads)", "seconds": seconds, "same_pvalues": True})
    seconds, p = timed(data, n_samples=args.draws, n_jobs=args.workers)
    rows.append({"where": f"joblib, {args.workers} processes", "seconds": seconds,
                 "same_pvalues": bool(np.array_equal(p, reference))})
    if args.scheduler:
        client, cluster = Client(args.scheduler), None
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=None)
        client = Client(cluster)
    with client:
        timed(data, n_samples=200, backend="dask", client=client)  # warm the workers
        seconds, p = timed(data, n_samples=args.draws, backend="dask", client=client)
    if cluster is not None:
        cluster.close()
    where = args.scheduler or f"LocalCluster, {args.workers} workers x 1 thread"
    rows.append({"where": f"dask ({where})", "seconds": seconds, "same_pvalues": bool(np.array_equal(p, reference))})
    table = pd.DataFrame(rows)
    table["speed_up"] = table["seconds"].iloc[0] / table["seconds"]
    print(f"# bench_dask: n=1000, L=100, k=8, B={args.draws}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3g}"))


if __name__ == "__main__":
    main()
