"""Calibration and power of the exact tilted-permutation p-values (``method="tilted"``, issue 22).

Run from the repository root::

    python -m simulations.tilted calibration [--n-datasets 3000] [--seed 22]
    python -m simulations.tilted power [--n-datasets 200] [--seed 23]

Calibration. Null data sets (uniform sequences; the labels independent of them) in eight
settings: balanced (half positives) or 10% positives, one or two motifs, with or without a
covariate. With the covariate the labels follow it (``y = 1`` for the rows with the largest
``w + logistic noise``) and the null is Freedman-Lane's residual permutation, an
approximation; without it the permutation null is exact. Each data set is fitted once with
B = 100 tilted permutations per motif; the first 20 of them give the B = 20 p-value (the
same proposal, so it is the theorem's estimator at B = 20). For every motif rank the
rejection rate at alpha = 0.01 and 0.05 is compared with alpha by a one-sided binomial test
(:data:`BINOMIAL_LEVEL`) for

* ``tilted`` (the default, ties conservative) and ``tilted-randomised`` (ties broken at
  random, exact): must pass;
* ``no-observation``: the same ratio without the observation's own term (only
  consistent; 1 where no draw is in the event): must fail somewhere, which shows the check
  has teeth;
* ``naive``: the OLS p-value of the selected motif on the same data: must fail.

Power. Binary responses with a planted motif (log-odds ``beta`` times its standardised
feature), ``method="tilted"`` (default B) against ``method="mcmc"`` (default B) and the
data split, on the same data sets and seeds: rejection rates at 0.05 of the first motif
where it is the planted one.
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binom
from tqdm.auto import tqdm

from seism_stats import selective_inference
from seism_stats.features.grid import grid_features
from seism_stats.io.sequences import encode_sequences
from seism_stats.sampling.walkers import residual_points
from seism_stats.selection.greedy import select_motifs
from seism_stats.selection.replay import SelectionReplay
from seism_stats.stats.classical import naive_tests
from seism_stats.stats.tilted_permutations import MotifTerms, PermutationTarget, _MotifTest, motif_terms, weighted_pvalue
from seism_stats.utils.canonical import canonical_order
from seism_stats.utils.validation import check_covariates, residual_basis

from .data import simulate_dataset

ALPHAS = (0.01, 0.05)
#: A rejection rate whose one-sided binomial p-value (H0: rate <= alpha) is below this fails.
BINOMIAL_LEVEL = 0.001
#: Draws per motif of the calibration fits; the first :data:`SMALL_B` of them give the small-B p-values.
LARGE_B, SMALL_B = 100, 20


@dataclass(frozen=True)
class Setting:
    """One null setting."""

    name: str
    positives: float = 0.5
    n_motifs: int = 1
    covariate: bool = False
    n: int = 80
    length: int = 24
    k: int = 4


SETTINGS = tuple(Setting(f"{'balanced' if f == 0.5 else '10% positives'}, {q} motif{'s' * (q > 1)}"
                         f"{', covariate' if c else ''}", positives=f, n_motifs=q, covariate=c)
                 for f in (0.5, 0.1) for q in (1, 2) for c in (False, True))


def fit_parts(sequences, y: np.ndarray, k: int, n_motifs: int, covariates=None):
    """Features, selection, covariate basis, canonical order and design of one data set."""
    encoded = encode_sequences(list(sequences))
    design = check_covariates(covariates, len(y), True)
    basis = residual_basis(design)
    features = grid_features(encoded, [k], 1.0, "sum", 1, revcomp=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        selection = select_motifs(features, np.asarray(y, float), basis, n_motifs)
    return features, selection, basis, canonical_order(encoded.codes, encoded.offsets, y, design), design


def null_labels(setting: Setting, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """0/1 labels with ``round(positives n)`` ones, independent of the sequences (given the covariate)."""
    n, m = setting.n, max(1, int(round(setting.positives * setting.n)))
    w = rng.standard_normal(n) if setting.covariate else None
    score = (w if w is not None else 0.0) + rng.logistic(size=n)
    y = np.zeros(n)
    y[np.argsort(-score)[:m]] = 1.0
    return y, None if w is None else w[:, None]


def motif_pvalues(terms: MotifTerms, rng: np.random.Generator) -> dict:
    """The p-values of one motif's terms: the theorem's (conservative and randomised) and the ratio without the
    observation."""
    conservative = weighted_pvalue(terms, "conservative")[0]
    randomised = weighted_pvalue(terms, "randomised", rng.random())[0]
    drawn = terms.log_weight[1:]
    if np.isfinite(drawn).any():
        weights = np.exp(drawn - np.max(drawn))
        statistic = terms.statistic[1:]
        without = float(weights[statistic >= terms.statistic[0]].sum() / weights.sum())
    else:
        without = 1.0
    return {"tilted": conservative, "tilted-randomised": randomised, "no-observation": without}


def truncated(terms: MotifTerms, draws: int) -> MotifTerms:
    """The terms of the observation and the first ``draws`` draws (i.i.d. from the same proposal)."""
    return MotifTerms(terms.log_weight[:draws + 1], terms.statistic[:draws + 1], terms.tilts, terms.strata)


def null_rows(setting: Setting, seed: int) -> list[dict]:
    """One null data set: a row per motif rank, B and p-value kind."""
    rng = np.random.default_rng(seed)
    data = simulate_dataset(setting.n, setting.length, consensus="A" * setting.k, random_state=rng)
    y, w = null_labels(setting, rng)
    features, selection, basis, order, design = fit_parts(data.sequences, y, setting.k, setting.n_motifs, w)
    q = selection.event.n_selected
    if q < setting.n_motifs:
        return []
    target = PermutationTarget.from_selection(selection, basis)
    replay = SelectionReplay(features, selection.event)
    signs = np.sign(replay.coefficients(residual_points(target.values[None, :], basis))[0])
    naive = naive_tests(features, y, design, selection.cells).pvalues
    fit_rng = np.random.default_rng(10_000_000 + seed)
    rows = []
    for j in range(q):
        terms = motif_terms(_MotifTest(replay, target, basis, signs, j, order), LARGE_B, fit_rng)
        for draws in (SMALL_B, LARGE_B):
            for kind, p in motif_pvalues(truncated(terms, draws), fit_rng).items():
                rows.append({"setting": setting.name, "seed": seed, "rank": j + 1, "B": draws, "kind": kind,
                             "pvalue": p})
        rows.append({"setting": setting.name, "seed": seed, "rank": j + 1, "B": 0, "kind": "naive",
                     "pvalue": float(naive[j])})
    return rows


def rejection_rates(table: pd.DataFrame) -> pd.DataFrame:
    """Rejection rate at each alpha per setting, motif rank, B and kind, with the one-sided binomial verdict."""
    rows = []
    for (setting, rank, draws, kind), group in table.groupby(["setting", "rank", "B", "kind"], sort=False):
        p = group["pvalue"].to_numpy()
        row = {"setting": setting, "rank": rank, "B": draws, "kind": kind, "pvalues": p.size}
        valid = True
        for alpha in ALPHAS:
            rejected = int(np.sum(p <= alpha))
            row[f"rate@{alpha:g}"] = rejected / p.size
            row[f"binom_p@{alpha:g}"] = float(binom.sf(rejected - 1, p.size, alpha))
            valid &= row[f"binom_p@{alpha:g}"] >= BINOMIAL_LEVEL
        row["valid"] = bool(valid)
        rows.append(row)
    return pd.DataFrame(rows)


def calibration(n_datasets: int, seed: int = 22, settings=SETTINGS,
                progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All null rows and their rejection rates."""
    rows = []
    for s, setting in enumerate(settings):
        for i in tqdm(range(n_datasets), desc=setting.name, disable=not progress, mininterval=30):
            rows.extend(null_rows(setting, seed * 1_000_003 + s * 100_003 + i))
    table = pd.DataFrame(rows)
    return table, rejection_rates(table)


def power(n_datasets: int, seed: int = 23, n: int = 150, length: int = 30, beta: float = 1.0,
          fraction: float = 0.3) -> pd.DataFrame:
    """Rejection rates at 0.05 of the planted motif (selected first): tilted, MCMC and split on the same data."""
    rows = []
    for i in range(n_datasets):
        data = simulate_dataset(n, length, consensus="GATTA", beta=beta, fraction=fraction, response="binary",
                                random_state=seed * 1_000_003 + i)
        fits = {}
        for method in ("tilted", "mcmc"):
            clock = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fits[method] = (selective_inference(data.sequences, data.y, k=5, method=method, random_state=i),
                                time.perf_counter() - clock)
        result = fits["tilted"][0]
        found = result.kmers[:1] == ["GATTA"] and fits["mcmc"][0].kmers[:1] == ["GATTA"]
        rows.append({"seed": i, "found": found, "tilted": result.pvalues[0], "mcmc": fits["mcmc"][0].pvalues[0],
                     "split": result.pvalues_split[0] if result.split_kmers[:1] == ["GATTA"] else 1.0,
                     "tilted_s": fits["tilted"][1], "mcmc_s": fits["mcmc"][1]})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulations.tilted", description=__doc__.split("\n")[0])
    parser.add_argument("experiment", choices=["calibration", "power"])
    parser.add_argument("--n-datasets", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    clock = time.perf_counter()
    header = (f"# python -m simulations.tilted {args.experiment}"
              f"{f' --n-datasets {args.n_datasets}' if args.n_datasets else ''}; {platform.machine()}, "
              f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    pd.set_option("display.width", 250)
    if args.experiment == "calibration":
        _, rates = calibration(args.n_datasets or 3000, args.seed or 22, progress=True)
        print(header)
        print(rates.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        exact = rates[rates["kind"].str.startswith("tilted")]
        print(f"# tilted p-values valid in every row: {bool(exact['valid'].all())}; rows where the ratio without "
              f"the observation fails: {int((~rates[rates['kind'] == 'no-observation']['valid']).sum())}; naive "
              f"fails: {int((~rates[rates['kind'] == 'naive']['valid']).sum())} rows; one-sided binomial level "
              f"{BINOMIAL_LEVEL}; {time.perf_counter() - clock:.0f} s")
    else:
        table = power(args.n_datasets or 200, args.seed or 23)
        found = table[table["found"]]
        print(header)
        print(f"data sets: {len(table)}, planted motif selected first by both: {len(found)}")
        for method in ("tilted", "mcmc", "split"):
            p = found[method].to_numpy()
            rate = float(np.mean(p <= 0.05))
            print(f"{method:>7}: rejected at 0.05: {rate:.3f} (s.e. {np.sqrt(rate * (1 - rate) / max(len(p), 1)):.3f})"
                  f"; median p {np.median(p):.3g}" + (f"; median fit {table[method + '_s'].median():.2f} s"
                                                       if method != "split" else ""))
        both = found[(found["tilted"] <= 0.05) != (found["mcmc"] <= 0.05)]
        print(f"data sets where tilted and mcmc disagree at 0.05: {len(both)} "
              f"(tilted only: {int((both['tilted'] <= 0.05).sum())}, mcmc only: {int((both['mcmc'] <= 0.05).sum())})")
        print(f"# {time.perf_counter() - clock:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
