"""The options of :func:`~seism_stats.inference.pipeline.selective_inference`: methods, nulls, defaults, checks.

:func:`check_options` checks every argument before any work (the first stage of the
pipeline); :func:`choose_null` and :func:`resolve_hypothesis` are the choices that
``null="auto"`` and ``hypothesis=None`` make.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import kurtosistest

from ..sampling.exchangeable import DESIGNS
from ..selection.greedy import check_n_motifs
from ..stats.tilted_permutations import TIES
from ..utils.parallel import check_backend
from ..utils.validation import (
    RandomStateLike,
    check_bool,
    check_lam,
    check_positive_int,
    check_random_state,
    default_threads,
    fresh_seed,
)

METHODS = ("auto", "circles", "tilted", "mcmc", "rejection", "cmc", "split", "naive")
#: Methods that sample the null in the selection event (selective p-values and intervals).
SELECTIVE_METHODS = ("circles", "tilted", "mcmc", "rejection", "cmc")
#: Default number of great circles per motif (method="circles") and of null draws (the other methods).
DEFAULT_CIRCLES = 1000
DEFAULT_DRAWS = 2000
#: Default tilted permutations per motif (method="tilted"; benchmarks/bench_tilted.py: about 10% relative
#: Monte-Carlo error on a foreground/background p-value near 0.01).
DEFAULT_TILTED = 10000
#: Default great circles per motif of the selective intervals (method="circles").
DEFAULT_INTERVAL_DRAWS = 50
#: Methods whose p-values test the global null only (no motif matters).
GLOBAL_ONLY_METHODS = ("tilted", "mcmc", "rejection", "cmc")
NULLS = ("auto", "sphere", "permutation")
#: What ``hypothesis=`` may ask for: the motif hypothesis, the global null, or both (the motif
#: hypothesis in ``pvalues``, the global null's beside it in ``pvalues_global``; twice the sampling).
HYPOTHESIS_REQUESTS = ("motif", "global", "both")
#: Chains (MCMC) or draws (rejection) are cut into this many independently seeded
#: blocks; blocks are what ``n_jobs`` spreads over processes, so results do not
#: depend on ``n_jobs``.
N_SAMPLER_BLOCKS = 4
#: Motifs whose selective p-value is within this many resolutions 1/(B+1) of the
#: floor get the Rao-Blackwellised tail estimate (and the summary's floor note).
FLOOR_FACTOR = 2.0
#: A floor 1/(B+1) above 0.01 is not a resolution problem: no tail estimate below this many draws.
MIN_TAIL_DRAWS = 99


@dataclass(frozen=True)
class Options:
    """The arguments of :func:`~seism_stats.inference.pipeline.selective_inference`, checked.

    ``random_state`` is the seed given (a fresh one, recorded, when None was), ``rng`` the
    generator made from it and ``seed_repr`` how the settings record it; ``n_threads`` is
    resolved (all usable cores by default). The other fields are the arguments of the same name.
    """

    k: object
    n_motifs: int
    lam: float
    pooling: str
    revcomp: bool
    method: str
    hypothesis: str | None
    null: str
    n_samples: int | None
    burn_in: int
    thin: int
    n_chains: int
    bracket: str
    mcmc_design: str
    max_replays: int
    ties: str
    max_memory: float | None
    tail_draws: int
    interval_draws: int | None
    split_fraction: float
    refine: bool
    add_intercept: bool
    covariate_names: list | None
    random_state: RandomStateLike
    seed_repr: object
    rng: np.random.Generator
    n_threads: int
    n_jobs: int
    backend: str
    client: object
    progress: bool


def check_options(*, k, n_motifs, lam, pooling, revcomp, method, hypothesis, null, n_samples, burn_in, thin,
                  n_chains, bracket, mcmc_design, max_replays, ties, max_memory, tail_draws, interval_draws,
                  split_fraction, refine, add_intercept, covariate_names, random_state, n_threads, n_jobs,
                  backend, client, progress) -> Options:
    """Check every argument of :func:`~seism_stats.inference.pipeline.selective_inference`, before any work.

    Raises ``ValueError`` naming the first argument out of range. The lengths ``k``, the
    covariates and the choices that depend on the data are checked by the next stages.
    """
    method = check_choice(method, METHODS, "method")
    null = check_choice(null, NULLS, "null")
    pooling = check_choice(pooling, ("sum", "max"), "pooling")
    revcomp = check_bool(revcomp, "revcomp")
    refine = check_bool(refine, "refine")
    lam = check_lam(lam)
    n_motifs = check_n_motifs(n_motifs)
    if n_samples is not None:
        n_samples = check_positive_int(n_samples, "n_samples",
                                       minimum=0 if method in ("auto", "circles") else 1)
    ties = check_choice(ties, TIES, "ties")
    tail_draws = check_positive_int(tail_draws, "tail_draws", minimum=0)
    burn_in = check_positive_int(burn_in, "burn_in", minimum=0)
    thin = check_positive_int(thin, "thin")
    n_chains = check_positive_int(n_chains, "n_chains")
    bracket = check_choice(bracket, ("exact", "shrink"), "bracket")
    mcmc_design = check_choice(mcmc_design, DESIGNS, "mcmc_design")
    # joblib's convention: -1 is every usable core.
    n_jobs = default_threads() if isinstance(n_jobs, (int, np.integer)) and not isinstance(n_jobs, bool) \
        and n_jobs == -1 else check_positive_int(n_jobs, "n_jobs")
    max_replays = check_positive_int(max_replays, "max_replays")
    check_backend(backend)
    if random_state is None:  # a fresh seed, recorded so that the run can be repeated
        random_state = fresh_seed()
    seed_repr = _seed_record(random_state)
    rng = check_random_state(random_state)
    n_threads = default_threads(n_threads)
    return Options(k, n_motifs, lam, pooling, revcomp, method, hypothesis, null, n_samples, burn_in, thin, n_chains,
                   bracket, mcmc_design, max_replays, ties, max_memory, tail_draws, interval_draws, split_fraction,
                   refine, add_intercept, covariate_names, random_state, seed_repr, rng, n_threads, n_jobs, backend,
                   client, progress)


#: A one-sided kurtosis test at this level flags tails heavier than Gaussian (n >= 20): of the response off the
#: covariates, where ``null="auto"`` switches ``method="mcmc"``/``"rejection"`` to permutations, and of the selected
#: model's leave-one-out residuals, where the sphere-null methods warn (``stages.check_residual_tails``).
HEAVY_TAIL_LEVEL = 0.01


def choose_null(y: np.ndarray, covariate_basis: np.ndarray) -> tuple[str, str]:
    """The null model of ``null="auto"`` and why.

    The sphere null is exact for a Gaussian linear model. A binary response, or
    residuals whose tails are clearly heavier than normal (one-sided kurtosis
    test, :data:`HEAVY_TAIL_LEVEL`), get the permutation null, which needs only
    exchangeable errors (exact with an intercept only, Freedman-Lane residual
    permutation with covariates).
    """
    if np.unique(y).shape[0] == 2:
        return "permutation", "binary response"
    residual = y - covariate_basis @ (covariate_basis.T @ y)
    if residual.shape[0] >= 20:
        test = kurtosistest(residual, alternative="greater")
        if test.pvalue < HEAVY_TAIL_LEVEL:
            return "permutation", (f"heavy-tailed residuals (kurtosis test p = {test.pvalue:.2g}): the "
                                   "Gaussian sphere null would be anti-conservative")
    return "sphere", "Gaussian linear model"


def resolve_hypothesis(hypothesis: str | None, method: str) -> tuple[str, bool]:
    """What the motif p-values of ``method`` test, and whether the global null's run beside them.

    ``"motif"`` by default where it is available (``method="circles"``), the global null
    otherwise; ``"both"`` is the motif hypothesis with the global null's p-values beside it.
    """
    if hypothesis is None:
        return ("global" if method in GLOBAL_ONLY_METHODS else "motif"), False
    if not isinstance(hypothesis, str) or hypothesis not in HYPOTHESIS_REQUESTS:
        raise ValueError(f"hypothesis must be one of {', '.join(map(repr, HYPOTHESIS_REQUESTS))}; got {hypothesis!r}")
    if hypothesis != "global" and method in GLOBAL_ONLY_METHODS:
        raise ValueError(f"method={method!r} tests the global null only (no motif matters); the per-motif "
                         f"hypothesis (motif j adds nothing to the selected model), asked by "
                         f"hypothesis={hypothesis!r}, needs method='circles'")
    return ("motif", True) if hypothesis == "both" else (hypothesis, False)


def check_choice(value: str, choices: tuple[str, ...], name: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def covariate_names(names, p: int, add_intercept: bool) -> list[str]:
    if names is not None:
        names = [str(x) for x in names]
        expected = p - int(add_intercept)
        if len(names) not in (p, expected):
            raise ValueError(f"{len(names)} covariate names for {expected} covariate columns")
        if len(names) == expected and add_intercept:
            names = ["Intercept"] + names
        return names
    return (["Intercept"] if add_intercept else []) + [f"x{i}" for i in range(1, p + 1 - int(add_intercept))]


def _seed_record(random_state) -> object:
    """How the settings record ``random_state``: a seed that repeats the run where there is one.

    An int is itself; a root SeedSequence of int entropy is that int (``default_rng(entropy)`` is
    the same generator); a Generator's state is not a seed a reader can pass back, so the record
    says so instead of naming its type alone.
    """
    if isinstance(random_state, (int, np.integer)):
        return int(random_state)
    if isinstance(random_state, np.random.SeedSequence) and not random_state.spawn_key \
            and isinstance(random_state.entropy, (int, np.integer)):
        return int(random_state.entropy)
    return f"{type(random_state).__name__} (no seed)"
