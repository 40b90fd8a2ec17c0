"""Validity at a small number of null draws: rejection rates of null p-values at 1% and 5%.

Many null data sets, each fitted with a few (about 100) null draws, under
several settings (one to three motifs, a covariate, max pooling, a binary
response with the permutation null, heavy-tailed t(3) noise with ``null="auto"``). For each setting, MCMC design and motif
rank the rejection rate at alpha is compared with alpha by a one-sided binomial
test: a valid p-value has ``P(p <= alpha) <= alpha`` for every alpha, whatever
B. The exchangeable tree (default) must pass; chains started at the
observation (``mcmc_design="start"``, the former default) are shown to fail.
The conditional Monte-Carlo estimate (``method="cmc"``, design ``"cmc"`` in the
tables) is run on the settings with a Gaussian response (one to three motifs), with
B = 100 directions per motif and ``null="sphere"`` (``null="auto"`` refuses it on
the 1% of Gaussian data sets whose residuals fail the kurtosis test): an estimate
rather than a rank p-value, and with several motifs one that conditions on more
(:mod:`seism_stats.stats.conditional_mc`), it must pass the same check.

The default since issue 21, ``method="circles"`` (:mod:`seism_stats.stats.circle_tests`),
is run at B = 1, 10 and 100 directions (designs ``circles1``, ``circles10``,
``circles100``) on the Gaussian settings, for its default per-motif hypothesis and,
with several motifs, the global null's p-values it reports beside them (design
``...-global``). The setting "real motif + noise motif" plants an effect along one
grid cell's feature; where the fit selects that cell first, the hypothesis of motif
2 (it adds nothing to the selected model) holds, so rank 2 is a null p-value there
(rank 1 is not, and is left out): only a per-motif test passes it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import delayed
from scipy.stats import binom
from tqdm.auto import tqdm

from seism_stats.inference.pipeline import selective_inference
from seism_stats.utils.parallel import run_tasks

from .data import simulate_dataset

ALPHAS = (0.01, 0.05, 0.1)
#: A rate whose one-sided binomial p-value (H0: rate <= alpha) is below this fails.
BINOMIAL_LEVEL = 0.01


@dataclass(frozen=True)
class NullSetting:
    """One null setting of the validity experiment."""

    name: str
    n: int = 120
    length: int = 40
    k: int = 4
    n_motifs: int = 1
    pooling: str = "sum"
    response: str = "continuous"
    covariate: float | None = None
    noise_df: float | None = None
    n_samples: int = 100
    n_chains: int = 16
    burn_in: int = 50
    planted_cell: str | None = None
    planted_beta: float = 0.0


SETTINGS = (
    NullSetting("1 motif"),
    NullSetting("2 motifs + covariate", n_motifs=2, covariate=0.8),
    NullSetting("3 motifs", n_motifs=3),
    NullSetting("max pooling", pooling="max"),
    NullSetting("binary y, permutation null", response="binary", n=80),
    NullSetting("t(3) noise, null='auto'", noise_df=3.0),
    NullSetting("k=5, 2 motifs", k=5, n=150, n_motifs=2),
    NullSetting("real motif + noise motif", k=5, n=150, n_motifs=2, planted_cell="GATTA", planted_beta=0.6),
)


#: What the experiment compares: the MCMC designs, the conditional Monte Carlo, and the exact circles
#: (the default) at B = 1, 10 and 100 directions.
CIRCLE_DESIGNS = {"circles1": 1, "circles10": 10, "circles100": 100}
DESIGNS = ("tree", "start", "cmc") + tuple(CIRCLE_DESIGNS)


def cmc_applies(setting: NullSetting) -> bool:
    """The conditional Monte Carlo and the circles need the sphere null (Gaussian continuous response)."""
    return setting.response == "continuous" and setting.noise_df is None


def planted_response(data, setting: NullSetting, rng: np.random.Generator) -> np.ndarray:
    """``y = beta * (standardised feature of the planted grid cell) + N(0, 1)``: motif 2's hypothesis holds
    whenever that cell is selected first."""
    from seism_stats.features.grid import grid_features
    from seism_stats.features.kmers import reverse_complement_index, string_to_kmer
    from seism_stats.io.sequences import encode_sequences

    k = len(setting.planted_cell)
    cell = string_to_kmer(setting.planted_cell)
    cell = min(cell, int(reverse_complement_index(k)[cell]))
    phi = grid_features(encode_sequences(data.sequences), [k], 1.0, setting.pooling, 1, revcomp=True).column(cell)
    return setting.planted_beta * (phi - phi.mean()) / phi.std() + rng.standard_normal(phi.shape[0])


def null_pvalues(setting: NullSetting, seed: np.random.SeedSequence, designs=("tree", "start")) -> list[dict]:
    """One null data set fitted with each design (same data, same sampler seed); ``"cmc"`` where it applies."""
    data_seed, fit_seed = seed.spawn(2)
    data_rng = np.random.default_rng(data_seed)
    data = simulate_dataset(setting.n, setting.length, consensus="A" * setting.k, beta=0.0,
                            response=setting.response, covariate=setting.covariate,
                            noise_df=setting.noise_df, random_state=data_rng)
    y = data.y if setting.planted_cell is None else planted_response(data, setting, data_rng)
    rows = []
    for design in designs:
        circles = design in CIRCLE_DESIGNS
        if (design == "cmc" or circles) and not cmc_applies(setting):
            continue
        if setting.planted_cell is not None and not circles:
            continue  # the MCMC designs test the global null, which is false there
        if design == "cmc":
            options = {"method": "cmc", "null": "sphere", "n_samples": setting.n_samples}
        elif circles:
            options = {"method": "circles", "null": "sphere", "n_samples": CIRCLE_DESIGNS[design],
                       "hypothesis": "both"}  # the global null's p-values beside, checked too
        else:
            options = {"method": "mcmc", "mcmc_design": design, "n_chains": setting.n_chains,
                       "burn_in": setting.burn_in, "n_samples": setting.n_samples}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = selective_inference(data.sequences, y, data.covariates, k=setting.k,
                                         n_motifs=setting.n_motifs, pooling=setting.pooling, refine=False,
                                         n_threads=1, random_state=np.random.default_rng(fit_seed), **options)
        draws = result.null_sample.n_draws if result.null_sample is not None else options["n_samples"]
        columns = {design: result.pvalues}
        if circles and result.pvalues_global is not None and setting.planted_cell is None:
            columns[f"{design}-global"] = result.pvalues_global
        for name, values in columns.items():
            for j, p in enumerate(values):
                if setting.planted_cell is not None and (j == 0 or result.kmers[0] != _canonical(setting)):
                    continue  # rank 2 only, where the planted cell was selected first (its hypothesis holds)
                rows.append({"setting": setting.name, "design": name, "rank": j + 1, "pvalue": float(p),
                             "draws": draws, "null": result.settings["null"]})
    return rows


def _canonical(setting: NullSetting) -> str:
    """The planted k-mer as the grid names its cell (the smaller of it and its reverse complement)."""
    from seism_stats.features.kmers import reverse_complement_index, string_to_kmer, kmer_to_string

    k = len(setting.planted_cell)
    cell = string_to_kmer(setting.planted_cell)
    return kmer_to_string(min(cell, int(reverse_complement_index(k)[cell])), k)


def run(n_datasets: int, seed: int = 7, jobs: int = 1, settings=SETTINGS, designs=("tree", "start"),
        n_samples: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """P-values of every setting and design on ``n_datasets`` null data sets each, and the rate table."""
    settings = [replace(s, n_samples=n_samples) if n_samples else s for s in settings]
    children = np.random.SeedSequence(seed).spawn(len(settings) * n_datasets)
    tasks = [delayed(null_pvalues)(s, children[i * n_datasets + d], designs)
             for i, s in enumerate(settings) for d in range(n_datasets)]
    rows = run_tasks(tasks, jobs, as_generator=True)
    table = pd.DataFrame([r for chunk in tqdm(rows, total=len(tasks), desc="validity", unit="set") for r in chunk])
    return table, rejection_rates(table)


def merge_designs(path, table: pd.DataFrame, designs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``table`` plus the rows of other designs already in the CSV at ``path`` (same data sets), and the rates.

    The data sets depend only on the seed, the settings and their number, so the
    rows of a design run today and of one run earlier with the same arguments are
    paired. Rows of the designs in ``designs`` are replaced; without a CSV, ``table`` alone.
    """
    path = Path(path)
    if path.exists():
        earlier = pd.read_csv(path)
        earlier = earlier[~earlier["design"].str.removesuffix("-global").isin(designs)]
        if len(earlier) and earlier.groupby(["setting", "design", "rank"]).size().max() != \
                table.groupby(["setting", "design", "rank"]).size().max():
            raise ValueError(f"{path} was run with another number of data sets; run all designs again")
        order = {name: i for i, name in enumerate(dict.fromkeys(list(earlier["setting"]) + list(table["setting"])))}
        table = pd.concat([earlier, table], ignore_index=True)
        table = table.sort_values("setting", key=lambda s: s.map(order), kind="stable", ignore_index=True)
    return table, rejection_rates(table)


def rejection_rates(table: pd.DataFrame) -> pd.DataFrame:
    """Rejection rate at each alpha per setting, design and rank, with the one-sided binomial test."""
    out = []
    for (setting, design, rank), group in table.groupby(["setting", "design", "rank"], sort=False):
        p = group["pvalue"].dropna().to_numpy()
        for alpha in ALPHAS:
            rejected = int(np.sum(p <= alpha))
            binomial_p = float(binom.sf(rejected - 1, p.size, alpha)) if p.size else np.nan
            out.append({"setting": setting, "design": design, "rank": rank, "alpha": alpha,
                        "pvalues": p.size, "rejections": rejected, "rate": rejected / p.size if p.size else np.nan,
                        "binomial_p": binomial_p, "valid": bool(binomial_p >= BINOMIAL_LEVEL),
                        "median_draws": float(group["draws"].median())})
    return pd.DataFrame(out)


def figure(rates: pd.DataFrame):
    """Rejection rates at 1% and 5% for each setting and rank, tree vs start, the nominal level dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(ALPHAS), 1, figsize=(12, 4.2 * len(ALPHAS)), squeeze=False)
    labels = {"tree": "exchangeable tree (MCMC)", "start": "chains from the observation (former)",
              "cmc": "conditional Monte Carlo", "circles10": "circles, B = 10 (default method)"}
    for ax, alpha in zip(axes[:, 0], ALPHAS):
        part = rates[rates["alpha"] == alpha]
        keys = list(dict.fromkeys(zip(part["setting"], part["rank"])))
        x = np.arange(len(keys))
        for offset, design in ((-0.3, "tree"), (-0.1, "start"), (0.1, "cmc"), (0.3, "circles10")):
            rows = part[part["design"] == design].set_index(["setting", "rank"])
            if rows.empty:
                continue
            rate = np.array([rows.loc[k, "rate"] if k in rows.index else np.nan for k in keys])
            ax.bar(x + offset, rate, width=0.2, label=labels[design])
        ax.axhline(alpha, color="k", ls="--", lw=1)
        ax.set_xticks(x, [f"{s}, rank {r}" for s, r in keys], rotation=35, ha="right", fontsize=7)
        ax.set_ylabel(f"P(p <= {alpha:g}) under the null")
        n = int(part["pvalues"].max()) if len(part) else 0
        ax.set_title(f"alpha = {alpha:g} (up to {n} null data sets per bar; MCMC and conditional MC: "
                     f"B ~ {int(part[part['design'] == 'tree']['median_draws'].median())} draws; circles: B = 10)",
                     fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
