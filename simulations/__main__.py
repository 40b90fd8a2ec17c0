"""Command line: ``python -m simulations <calibration|validity|power|speed|intervals|all> [--quick] [--n-datasets N] [--jobs J]``.

Writes each figure (PNG) and its numbers (CSV) into ``paper_figures/`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from . import experiments, figures, intervals, validity

#: Grids of the full run and of ``--quick`` (under 3 minutes on 2 cores).
FULL = {
    "calibration_datasets": 1000,
    "validity_datasets": 3000,
    "power_datasets": 200,
    "betas": [0.0, 0.25, 0.5, 0.75, 1.0, 1.5],
    "ns": [50, 100, 200, 400],
    "speed": {"n": [100, 200, 500, 1000, 2000, 5000], "k": [3, 4, 5, 6, 7, 8], "B": [250, 500, 1000, 2000, 4000, 8000]},
    "speed_repeats": 3,
    "interval_datasets": 500,
    "interval_betas": [0.0, 0.5, 1.0],
    "interval_ns": [40, 60, 100, 400],
}
QUICK = {
    "calibration_datasets": 60,
    "validity_datasets": 40,
    "power_datasets": 16,
    "betas": [0.0, 0.75, 1.5],
    "ns": [50, 200],
    "speed": {"n": [100, 300], "k": [3, 5], "B": [250, 1000]},
    "speed_repeats": 1,
    "interval_datasets": 40,
    "interval_betas": [0.0, 1.0],
    "interval_ns": [100],
}


def replot(experiment: str, out: Path) -> None:
    """Redraw one experiment's figure from its CSV tables."""
    import pandas as pd

    if experiment == "calibration":
        figure = figures.calibration_figure(pd.read_csv(out / "calibration_pvalues.csv"),
                                            pd.read_csv(out / "calibration_ks.csv"))
        name = "calibration_qq.png"
    elif experiment == "validity":
        figure, name = validity.figure(pd.read_csv(out / "validity_rates.csv")), "validity.png"
    elif experiment == "power":
        figure, name = figures.power_figure(pd.read_csv(out / "power.csv")), "power.png"
    elif experiment == "intervals":
        figure, name = intervals.figure(pd.read_csv(out / "intervals_coverage.csv")), "intervals.png"
    else:
        figure = figures.speed_figure(pd.read_csv(out / "speed.csv"), pd.read_csv(out / "speed_slopes.csv"))
        name = "speed.png"
    figure.savefig(out / name, dpi=120)
    print(f"redrew {out / name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulations", description=__doc__.split("\n")[0])
    parser.add_argument("experiment", choices=["calibration", "validity", "power", "speed", "intervals", "all"])
    parser.add_argument("--quick", action="store_true", help="small grid, few data sets (< 3 min)")
    parser.add_argument("--n-datasets", type=int, default=None,
                        help="data sets per calibration run / per power or interval grid point")
    parser.add_argument("--jobs", type=int, default=1, help="parallel processes (joblib)")
    parser.add_argument("--backend", choices=["joblib", "dask"], default="joblib",
                        help="where data sets run: joblib processes, or a dask.distributed cluster")
    parser.add_argument("--scheduler", default=None,
                        help="with --backend dask: scheduler address (default: a local cluster)")
    parser.add_argument("--seed", type=int, default=20231212, help="master seed")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: paper_figures/, or paper_figures_quick/ with --quick "
                             "so that a quick run never overwrites the committed full-run figures)")
    parser.add_argument("--designs", default=",".join(validity.DESIGNS),
                        help="validity: designs to run, comma-separated (tree,start,cmc); a subset replaces "
                             "those designs' rows in the existing validity_pvalues.csv and keeps the others")
    parser.add_argument("--replot", action="store_true",
                        help="redraw the figures from the CSV files already in --out (no new runs)")
    args = parser.parse_args(argv)
    if args.n_datasets is not None and args.n_datasets < 1:
        parser.error("--n-datasets must be at least 1")
    grid = QUICK if args.quick else FULL
    out = args.out or Path("paper_figures_quick" if args.quick else "paper_figures")
    out.mkdir(parents=True, exist_ok=True)
    run = ["calibration", "validity", "power", "speed", "intervals"] if args.experiment == "all" else [args.experiment]
    if args.replot:
        for experiment in run:
            replot(experiment, out)
        return 0
    client = None
    if args.backend == "dask":
        try:
            from distributed import Client
        except ImportError:
            parser.error("--backend dask needs dask.distributed: pip install 'seism_stats[dask]'")
        client = Client(args.scheduler) if args.scheduler else Client(n_workers=args.jobs, threads_per_worker=1)
    for experiment in run:
        start = time.perf_counter()
        if experiment == "calibration":
            n = args.n_datasets or grid["calibration_datasets"]
            table, ks = experiments.calibration(n, seed=args.seed, jobs=args.jobs, backend=args.backend,
                                                client=client)
            table.to_csv(out / "calibration_pvalues.csv", index=False)
            ks.to_csv(out / "calibration_ks.csv", index=False)
            figures.calibration_figure(table, ks).savefig(out / "calibration_qq.png", dpi=120)
            print(ks.to_string(index=False))
        elif experiment == "validity":
            n = args.n_datasets or grid["validity_datasets"]
            designs = tuple(d for d in args.designs.split(",") if d)
            unknown = set(designs) - set(validity.DESIGNS)
            if unknown:
                parser.error(f"unknown validity designs {sorted(unknown)}; choose from {validity.DESIGNS}")
            table, rates = validity.run(n, seed=args.seed + 3, jobs=args.jobs, designs=designs)
            table, rates = validity.merge_designs(out / "validity_pvalues.csv", table, designs)
            table.to_csv(out / "validity_pvalues.csv", index=False)
            rates.to_csv(out / "validity_rates.csv", index=False)
            validity.figure(rates).savefig(out / "validity.png", dpi=120)
            print(rates.to_string(index=False))
        elif experiment == "power":
            n = args.n_datasets or grid["power_datasets"]
            table, summary = experiments.power(grid["betas"], grid["ns"], n, seed=args.seed + 1, jobs=args.jobs,
                                               backend=args.backend, client=client)
            table.to_csv(out / "power_runs.csv", index=False)
            summary.to_csv(out / "power.csv", index=False)
            figures.power_figure(summary).savefig(out / "power.png", dpi=120)
            print(summary.to_string(index=False))
        elif experiment == "intervals":
            n = args.n_datasets or grid["interval_datasets"]
            table = intervals.run(grid["interval_betas"], n, seed=args.seed + 4, jobs=args.jobs)
            coverage = intervals.coverage_table(table)
            table.to_csv(out / "intervals_runs.csv", index=False)
            coverage.to_csv(out / "intervals_coverage.csv", index=False)
            intervals.figure(coverage).savefig(out / "intervals.png", dpi=120)
            print(coverage.to_string(index=False))
            by_n = intervals.coverage_by_n(grid["interval_ns"], n, seed=args.seed + 5, jobs=args.jobs)
            by_n.to_csv(out / "intervals_by_n.csv", index=False)
            print(by_n.to_string(index=False))
        else:
            table, slopes = experiments.speed(grid["speed"], repeats=grid["speed_repeats"], seed=args.seed + 2)
            table.to_csv(out / "speed.csv", index=False)
            slopes.to_csv(out / "speed_slopes.csv", index=False)
            figures.speed_figure(table, slopes).savefig(out / "speed.png", dpi=120)
            print(slopes.to_string(index=False))
        seconds = time.perf_counter() - start
        line = (f"{time.strftime('%Y-%m-%d %H:%M')} {experiment}: {seconds:.0f} s "
                f"({'quick' if args.quick else 'full'}, jobs={args.jobs}, seed={args.seed}, "
                f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()})")
        print(line)
        with open(out / "runs.log", "a") as handle:  # one line per finished experiment
            handle.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
