"""The paper's experiments (SPEC 8): calibration, power and speed, as tables.

Every data set is seeded from one master seed (``numpy.random.SeedSequence``
children), so a run is reproducible whatever ``jobs`` is; data sets run in
parallel with joblib, with a progress bar over data sets.
"""

from __future__ import annotations

import argparse
import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from joblib import delayed
from scipy import stats
from statsmodels.stats.proportion import proportion_confint
from tqdm.auto import tqdm

from seism_stats.features.kmers import hamming_to_all, reverse_complement_index, string_to_kmer
from seism_stats.inference.pipeline import selective_inference
from seism_stats.utils.parallel import run_tasks

from .data import simulate_dataset

#: Methods compared in the figures.
METHODS = ("seism_circles", "seism_rejection", "seism_mcmc", "seism_cmc", "data_split", "naive")
#: The calibration run adds the default MCMC at this small number of draws, to show
#: that its p-values are valid at any B (the exchangeable tree design).
SMALL_B = 100
#: ... and the default circles at this one (exact at any B: the observed circle is counted).
CIRCLES_SMALL_B = 10
CALIBRATION_METHODS = ("seism_circles", "seism_circles_small_b", "seism_rejection", "seism_mcmc", "seism_mcmc_small_b",
                       "seism_cmc", "data_split", "naive")
ALPHA = 0.05


@dataclass(frozen=True)
class Setting:
    """One simulation setting.

    ``consensus`` is the planted motif; its length is also the k searched.
    """

    n: int = 100
    length: int = 30
    consensus: str = "GATT"
    fraction: float = 0.5
    beta: float = 0.0
    n_motifs: int = 1
    n_samples: int = 500
    burn_in: int = 50
    methods: tuple = METHODS

    @property
    def k(self) -> int:
        return len(self.consensus)


def run_dataset(setting: Setting, seed: np.random.SeedSequence) -> dict:
    """Simulate one data set and run every method on it; p-values and seconds of each.

    Each SEISM sampler is one call of :func:`selective_inference`; its time is
    features + selection + sampling. The data-split and naive p-values come
    with every call (same split seed); the data split's time is features +
    the classical stage (selection on one part, OLS on the other).
    """
    data_seed, method_seed = seed.spawn(2)
    data = simulate_dataset(setting.n, setting.length, consensus=setting.consensus,
                            fraction=setting.fraction, beta=setting.beta,
                            random_state=np.random.default_rng(data_seed))
    row: dict = {"n": setting.n, "k": setting.k, "beta": setting.beta, "n_samples": setting.n_samples}
    target = string_to_kmer(setting.consensus)
    # Cells are canonical k-mers of the reverse-complement grid: the planted motif may be
    # named by its reverse complement.
    distance_to_target = np.minimum(hamming_to_all(target, setting.k),
                                    hamming_to_all(int(reverse_complement_index(setting.k)[target]), setting.k))
    engines = [m for m in setting.methods if m.startswith("seism_")] or ["split"]
    result = None
    for method in engines:
        engine = {"seism_circles": "circles", "seism_circles_small_b": "circles", "seism_rejection": "rejection",
                  "seism_mcmc": "mcmc", "seism_mcmc_small_b": "mcmc", "seism_cmc": "cmc", "split": "split"}[method]
        # The circles and the conditional Monte Carlo need the sphere null: the responses here are Gaussian
        # (null="auto" would pick permutations on the 1% of data sets failing the kurtosis test).
        null = {"null": "sphere"} if engine in ("cmc", "circles") else {}
        if method == "seism_circles":  # the global null's p-values beside the default's, compared too
            null["hypothesis"] = "both"
        small = method.endswith("_small_b")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = selective_inference(data.sequences, data.y, k=setting.k, n_motifs=setting.n_motifs,
                                         method=engine,
                                         n_samples=(CIRCLES_SMALL_B if engine == "circles" else SMALL_B) if small
                                         else setting.n_samples,
                                         burn_in=setting.burn_in, refine=False, n_threads=1,
                                         random_state=np.random.default_rng(method_seed), **null)
        if method != "split":
            t = result.seconds
            row[f"p_{method}"] = float(result.pvalues[0]) if result.n_selected else np.nan
            row[f"seconds_{method}"] = t["features"] + t["selection"] + t["sampling"]
            row[f"draws_{method}"] = result.null_sample.n_draws if result.null_sample else 0
            if method == "seism_circles" and result.pvalues_global is not None:  # the global null, beside
                row["p_seism_circles_global"] = float(result.pvalues_global[0])
    row["p_data_split"] = float(result.pvalues_split[0]) if result.n_selected else np.nan
    row["p_naive"] = float(result.naive.pvalues[0]) if result.n_selected else np.nan
    row["seconds_data_split"] = result.seconds["features"] + result.seconds["classical"]
    row["correct_kmer"] = bool(result.n_selected and distance_to_target[result.cells[0]] <= 1)
    return row


def run_many(settings: list[Setting], seed: int, jobs: int = 1, desc: str = "data sets",
             backend: str = "joblib", client=None) -> pd.DataFrame:
    """Run each setting once per entry of ``settings``, each with its own child seed.

    ``backend="dask"`` sends the data sets to a ``dask.distributed`` Client.
    """
    children = np.random.SeedSequence(seed).spawn(len(settings))
    tasks = [delayed(run_dataset)(s, c) for s, c in zip(settings, children)]
    rows = run_tasks(tasks, jobs, backend, client, as_generator=True)
    return pd.DataFrame(list(tqdm(rows, total=len(settings), desc=desc, unit="set")))


# -- calibration -------------------------------------------------------------------------
def calibration(n_datasets: int, seed: int = 1, jobs: int = 1, base: Setting | None = None,
                backend: str = "joblib", client=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """P-values of every method on ``n_datasets`` null data sets, and a KS test per method."""
    base = base or Setting(methods=CALIBRATION_METHODS)
    table = run_many([replace(base, beta=0.0)] * n_datasets, seed, jobs, "calibration", backend, client)
    ks_rows = []
    for method in CALIBRATION_METHODS:
        column = f"p_{method}"
        if column not in table:
            continue
        p = table[column].dropna().to_numpy()
        ks = stats.kstest(p, "uniform") if p.size else None
        ks_rows.append({"method": method, "n_pvalues": p.size,
                        "ks_statistic": ks.statistic if ks else np.nan,
                        "ks_pvalue": ks.pvalue if ks else np.nan,
                        "rejection_rate_0.01": float(np.mean(p <= 0.01)) if p.size else np.nan,
                        "rejection_rate_0.05": float(np.mean(p <= ALPHA)) if p.size else np.nan})
    return table, pd.DataFrame(ks_rows)


# -- power -------------------------------------------------------------------------------
def power(betas, ns, n_datasets: int, seed: int = 2, jobs: int = 1, base: Setting | None = None,
          beta_for_n: float = 0.5, backend: str = "joblib", client=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rejection rates at ALPHA against effect size (n fixed) and against n (beta fixed)."""
    base = base or Setting(methods=("seism_circles", "seism_mcmc", "seism_cmc", "data_split"))
    # The point the two panels share (n = base.n, beta = beta_for_n) is run once and shown in both.
    shared = float(beta_for_n) in [float(b) for b in betas] and base.n in [int(n) for n in ns]
    ns_to_run = [int(n) for n in ns if not (shared and int(n) == base.n)]
    settings = [replace(base, beta=float(b)) for b in betas for _ in range(n_datasets)]
    settings += [replace(base, n=int(n), beta=beta_for_n) for n in ns_to_run for _ in range(n_datasets)]
    table = run_many(settings, seed, jobs, "power", backend, client)
    table["experiment"] = ["effect size"] * (len(betas) * n_datasets) + ["sample size"] * (len(ns_to_run) * n_datasets)
    if shared:
        again = table[(table["experiment"] == "effect size") & (table["beta"] == float(beta_for_n))].copy()
        table = pd.concat([table, again.assign(experiment="sample size")], ignore_index=True)
    summary_rows = []
    for (experiment, n, beta), group in table.groupby(["experiment", "n", "beta"], sort=True):
        for method in ("seism_circles", "seism_mcmc", "seism_cmc", "seism_rejection", "data_split", "naive"):
            column = f"p_{method}"
            if column not in group:
                continue
            p = group[column].to_numpy()
            rejected = int(np.sum(np.nan_to_num(p, nan=1.0) <= ALPHA))
            low, high = proportion_confint(rejected, p.size, alpha=0.05, method="wilson")
            summary_rows.append({"experiment": experiment, "n": n, "beta": beta, "method": method,
                                 "datasets": p.size, "rejections": rejected, "power": rejected / p.size,
                                 "ci_low": low, "ci_high": high,
                                 "correct_kmer_rate": float(group["correct_kmer"].mean())})
    return table, pd.DataFrame(summary_rows)


def rejection_cell(pvalues, alpha: float = ALPHA) -> str:
    """``"rate [low, high]"``: the share of ``pvalues`` at or below ``alpha`` (NaN counts as 1) and its Wilson 95% interval."""
    rejected = np.nan_to_num(np.asarray(pvalues, dtype=float), nan=1.0) <= alpha
    low, high = proportion_confint(int(rejected.sum()), rejected.size, alpha=0.05, method="wilson")
    return f"{rejected.mean():.2f} [{low:.2f}, {high:.2f}]"


def power_benchmark_arguments(description: str, datasets: int = 100, seed: int = 11):
    """The command line of the power benchmarks (``benchmarks/bench_*_power.py``): data sets per row, jobs, seed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--datasets", type=int, default=datasets)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=seed)
    return parser.parse_args()


# -- speed -------------------------------------------------------------------------------
def speed(grid: dict, repeats: int = 3, seed: int = 3, base: Setting | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Wall time of each method against n, k and B (one axis varied at a time), and log-log slopes.

    Timing runs one data set at a time (no joblib) so that the numbers are not
    disturbed by concurrent runs.
    """
    base = base or Setting(n=200, length=50, consensus="GATT", beta=0.5, n_samples=1000)
    consensus_of = {3: "GAT", 4: "GATT", 5: "GATTA", 6: "GATTAC", 7: "GATTACA", 8: "GATTACAG"}
    settings, axes = [], []
    for value in grid.get("n", []):
        settings.append(replace(base, n=int(value)))
        axes.append(("n", value))
    for value in grid.get("k", []):
        settings.append(replace(base, consensus=consensus_of[int(value)]))
        axes.append(("k", value))
    for value in grid.get("B", []):
        settings.append(replace(base, n_samples=int(value)))
        axes.append(("B", value))
    children = np.random.SeedSequence(seed).spawn(len(settings) * repeats)
    rows = []
    for i, (setting, (axis, value)) in enumerate(tqdm(list(zip(settings, axes)), desc="speed", unit="setting")):
        methods = [m for m in setting.methods if m != "naive"]
        if axis == "k" and int(value) > 5 or axis == "n" and int(value) > 1000:
            methods = [m for m in methods if m != "seism_rejection"]  # the event is too rare to wait for
        timed = replace(setting, methods=tuple(methods))
        for r in range(repeats):
            result = run_dataset(timed, children[i * repeats + r])
            for method in methods:
                rows.append({"axis": axis, "value": value, "method": method, "repeat": r,
                             "seconds": result[f"seconds_{method}"]})
    table = pd.DataFrame(rows)
    slopes = []
    for (axis, method), group in table.groupby(["axis", "method"]):
        medians = group.groupby("value")["seconds"].median()
        if len(medians) >= 2 and axis in ("n", "B"):
            slope = np.polyfit(np.log(medians.index.to_numpy(float)), np.log(medians.to_numpy()), 1)[0]
            kind = "log-log slope (time ~ x^slope)"
        elif len(medians) >= 2:
            slope = np.polyfit(medians.index.to_numpy(float), np.log(medians.to_numpy()) / np.log(4), 1)[0]
            kind = "slope in k of log4(time) (time ~ 4^(slope k))"
        else:
            slope, kind = np.nan, "n/a"
        slopes.append({"axis": axis, "method": method, "slope": slope, "kind": kind,
                       "points": len(medians)})
    return table, pd.DataFrame(slopes)
