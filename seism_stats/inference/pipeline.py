"""Functional API: from sequences and a response to selective p-values (SPEC 1-7).

:func:`selective_inference` encodes the sequences, builds the grid features,
selects motifs greedily, refines them, samples the null conditioned on the
selection event and returns selective, data-split and naive p-values side by
side in a :class:`MotifInference`. The model/results classes of
:mod:`seism_stats.model.motif_model` sit on top of it.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from joblib import delayed
from scipy.stats import kurtosistest
from tqdm.auto import tqdm

from ..sampling import budget, samplers
from ..utils.validation import (
    RandomStateLike,
    check_bool,
    check_covariates,
    check_lam,
    check_positive_int,
    check_random_state,
    check_response,
    check_same_labels,
    default_threads,
    fresh_seed,
    residual_basis,
)
from ..utils.canonical import canonical_order
from ..stats.circle_intervals import circle_pivots
from ..stats.circle_tests import check_hypothesis, circle_pvalues
from ..stats.conditional_mc import check_sphere_null, conditional_pvalues
from ..stats.classical import OLSMotifTests, SplitTests, naive_tests, split_rows, split_tests
from ..sampling.exchangeable import DESIGNS, TreeLayout, hub_chains, run_design
from ..features.grid import grid_features, grid_size, locate_cell
from ..stats.intervals import motif_pivots, selective_estimates
from ..features.kmers import check_motif_lengths, kmer_to_string, reverse_complement_index
from ..features.memory import check_fit_memory
from ..utils.parallel import check_backend, run_tasks
from ..sampling.pvalues import monte_carlo_pvalues
from ..selection.refinement import RefinedMotif, WindowDesign, consensus, kmer_ppm, refine_motif
from ..selection.replay import SelectionReplay
from ..selection.greedy import Selection, check_n_motifs, select_motifs
from ..stats.tail import tail_pvalues
from ..stats.tilted_permutations import MAX_AUTO_MOTIFS, TIES, tilted_pvalues
from ..io.sequences import encode_sequences
from ..sampling.walkers import walker_factory

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
class MotifInference:
    """Everything :func:`selective_inference` found.

    Attributes
    ----------
    settings : dict
        The settings used (k, lam, pooling, sampler, draws, seed, ...).
    n_sequences : int
    covariate_names : list of str
    selection : Selection
        Greedy selection on the full data (cells, observed statistics, event).
    refined : tuple of RefinedMotif
        Refined filter of each selected motif (empty when ``refine=False``).
    null_sample : NullSample or None
        Null draws in the selection event (None for ``method="split"/"naive"``).
    pvalues : ndarray (q,)
        Selective p-values (NaN when no sampler ran).
    pvalues_se : ndarray (q,)
        Their Monte-Carlo standard errors (never 0; see :mod:`seism_stats.sampling.pvalues`).
    pvalues_upper : ndarray (q,)
        95% Monte-Carlo upper bounds of the selective p-values.
    naive : OLSMotifTests
        Uncorrected OLS tests on the full data (contrast only).
    split : SplitTests or None
        Data-split tests.
    seconds : dict
        Wall time of each stage.
    pivots : tuple of TruncatedGaussianPivot
        Conditional law of each motif's coefficient given the selection
        (:mod:`seism_stats.stats.intervals`): selective intervals and estimates.
        Empty for ``method="split"/"naive"``.
    pvalues_tail, pvalues_tail_se : ndarray (q,) or None
        Rao-Blackwellised estimates of the selective p-values and their Monte-Carlo
        errors, for the motifs at the floor (NaN for the others; :mod:`seism_stats.stats.tail`).
    pvalues_global, pvalues_global_se : ndarray (q,) or None
        Selective p-values of the global null (no motif matters) and their Monte-Carlo
        errors, when ``pvalues`` test another hypothesis (``settings["hypothesis"]``);
        None when ``pvalues`` are the global null's own.
    statistics_t : ndarray (q,) or None
        ``method="circles"``: each motif's observed statistic in Student-t units (its t
        statistic in the selected model for the motif hypothesis).
    null_laws : tuple of CircleNullLaw or TiltedNullLaw
        ``method="circles"``: each motif's null law of that statistic given the selection;
        ``method="tilted"``: the weighted law of its step score given the selection and the draws
        (what :meth:`~seism_stats.model.results.SelectiveMotifResults.plot_null` draws).
    """

    settings: dict
    n_sequences: int
    covariate_names: list
    selection: Selection
    refined: tuple
    null_sample: samplers.NullSample | None
    pvalues: np.ndarray
    pvalues_se: np.ndarray
    pvalues_upper: np.ndarray
    naive: OLSMotifTests
    split: SplitTests | None
    seconds: dict = field(default_factory=dict)
    pivots: tuple = ()
    pvalues_tail: np.ndarray | None = None
    pvalues_tail_se: np.ndarray | None = None
    pvalues_global: np.ndarray | None = None
    pvalues_global_se: np.ndarray | None = None
    statistics_t: np.ndarray | None = None
    null_laws: tuple = ()

    @property
    def hypothesis(self) -> str:
        """What :attr:`pvalues` test: ``"motif"`` (motif j adds nothing to the selected model) or ``"global"``."""
        return self.settings.get("hypothesis", "global")

    @property
    def pvalues_global_null(self) -> np.ndarray:
        """Selective p-values of the global null (NaN where none was computed)."""
        if self.hypothesis == "global":
            return self.pvalues
        return self._or_nan(self.pvalues_global)

    @property
    def k(self) -> int:
        """The motif length (the largest one when several were searched)."""
        return max(self.ks)

    @property
    def ks(self) -> list[int]:
        """Motif lengths whose grids were searched together."""
        k = self.settings["k"]
        return [int(v) for v in k] if isinstance(k, (list, tuple)) else [int(k)]

    def _kmer(self, cell: int) -> str:
        return kmer_to_string(*reversed(locate_cell(int(cell), self.ks)))

    @property
    def cells(self) -> np.ndarray:
        return self.selection.cells

    @property
    def kmers(self) -> list[str]:
        """Selected grid k-mers, in selection order."""
        return [self._kmer(c) for c in self.cells]

    @property
    def n_selected(self) -> int:
        return int(self.cells.shape[0])

    @property
    def pvalues_split(self) -> np.ndarray:
        """Data-split p-value of the split's j-th selected motif (NaN where it selected fewer)."""
        out = np.full(self.n_selected, np.nan)
        if self.split is not None:
            m = min(self.n_selected, self.split.tests.pvalues.shape[0])
            out[:m] = self.split.tests.pvalues[:m]
        return out

    @property
    def split_kmers(self) -> list[str]:
        """k-mers selected on the selection part of the split ('' where none)."""
        cells = self.split.tests.cells if self.split is not None else np.zeros(0, dtype=np.int64)
        return [self._kmer(cells[j]) if j < cells.shape[0] else ""
                for j in range(self.n_selected)]

    @property
    def ppms(self) -> list[np.ndarray]:
        """Refined PPM of each motif (one-hot grid k-mer when refinement was off)."""
        if self.refined:
            return [m.ppm for m in self.refined]
        return [kmer_ppm(index, k) for k, index in (locate_cell(int(c), self.ks) for c in self.cells)]

    def _or_nan(self, values) -> np.ndarray:
        return np.full(self.n_selected, np.nan) if values is None else np.asarray(values, dtype=np.float64)

    @property
    def coef_selective(self) -> np.ndarray:
        """Median-unbiased selective estimates (NaN without pivots)."""
        return selective_estimates(self.pivots) if self.pivots else np.full(self.n_selected, np.nan)

    def motif_table(self) -> pd.DataFrame:
        """One row per selected motif: k-mer, consensus, score, p-values side by side."""
        index = pd.Index([f"motif{j + 1}" for j in range(self.n_selected)], name="motif")
        table = pd.DataFrame({
            "kmer": self.kmers,
            "consensus": [consensus(p) for p in self.ppms],
            "score": self.selection.scores,
            "statistic": self.selection.statistics,
            "coef": self.naive.params if self.naive.params.size else np.full(self.n_selected, np.nan),
            "coef_selective": self.coef_selective,
            "pvalue": self.pvalues,
            "pvalue_mc_se": self.pvalues_se,
            "pvalue_mc_upper": self.pvalues_upper,
            "pvalue_global": self.pvalues_global_null,
            "pvalue_tail": self._or_nan(self.pvalues_tail),
            "pvalue_tail_se": self._or_nan(self.pvalues_tail_se),
            "split_kmer": self.split_kmers,
            "pvalue_split": self.pvalues_split,
            "pvalue_naive": self.naive.pvalues if self.naive.pvalues.size else np.full(self.n_selected, np.nan),
        }, index=index)
        if self.refined:
            lengths = [m.ppm.shape[0] for m in self.refined]
            cells = [m.refined_cell for m in self.refined]
            if self.settings.get("revcomp"):
                cells = [min(c, int(reverse_complement_index(k)[c])) for c, k in zip(cells, lengths)]
            table.insert(2, "refined_kmer", [kmer_to_string(c, k) for c, k in zip(cells, lengths)])
            table.insert(4, "refined_score", [m.score for m in self.refined])
        return table


def selective_inference(
    sequences,
    y,
    covariates=None,
    *,
    k: int = 8,
    n_motifs: int = 1,
    lam: float = 1.0,
    pooling: str = "sum",
    revcomp: bool = True,
    method: str = "auto",
    hypothesis: str | None = None,
    null: str = "auto",
    n_samples: int | None = None,
    burn_in: int = 50,
    thin: int = 1,
    n_chains: int = 16,
    bracket: str = "exact",
    mcmc_design: str = "tree",
    max_replays: int = 2_000_000,
    ties: str = "conservative",
    max_memory: float | None = None,
    tail_draws: int = 256,
    interval_draws: int | None = None,
    split_fraction: float = 0.5,
    refine: bool = True,
    add_intercept: bool = True,
    covariate_names: list[str] | None = None,
    random_state: RandomStateLike = None,
    n_threads: int | None = None,
    n_jobs: int = 1,
    backend: str = "joblib",
    client=None,
    progress: bool = False,
) -> MotifInference:
    """Select motifs associated with ``y`` and test them, correcting for the selection.

    Parameters
    ----------
    sequences : list of str, pandas Series, FASTA path or EncodedSequences
        DNA sequences (A, C, G, T; IUPAC ambiguity letters contribute zero).
    y : array-like (n,)
        Response: continuous, or binary 0/1 (then the permutation null is used).
    covariates : array-like (n, p), optional
        Nuisance covariates; an intercept is added unless ``add_intercept=False``.
    k : int or list of int
        Motif length; the grid has 4^k cells. Several lengths (``k=[6, 8]``) are searched
        together: one selection over the union of their grids, the selection event
        defined on that union (so the p-values stay valid).
    n_motifs : int
        Motifs selected greedily.
    lam : float
        Kernel bandwidth: a mismatch multiplies a window's weight by ``exp(-lam)``.
    pooling : {"sum", "max"}
        Pooling of window kernel values over a sequence.
    revcomp : bool
        Merge each k-mer with its reverse complement into one cell and scan
        both strands (default, for double-stranded DNA).
    method : {"auto", "circles", "tilted", "mcmc", "rejection", "cmc", "split", "naive"}
        Sampler for the selective p-values (``"split"``/``"naive"`` skip sampling).
        ``"auto"`` (default): ``"circles"`` under the sphere null (continuous response),
        ``"tilted"`` under the permutation null (binary or heavy-tailed response) with one or two
        motifs, ``"mcmc"`` with more (:data:`~seism_stats.stats.tilted_permutations.MAX_AUTO_MOTIFS`).
        ``"tilted"`` (:mod:`seism_stats.stats.tilted_permutations`): ``n_samples`` i.i.d. permutations
        per motif drawn from a mixture of laws tilted toward the selected motifs' features
        (conditional Poisson sampling of the top group, the positives of a 0/1 response),
        weighted back to the permutation null, the observation counted with its own weight:
        exactly valid for every number of draws (global null, given the same cells and the
        signs of their associations), not limited to ``p >= 1/(B+1)``, with a stated
        Monte-Carlo error.
        ``"circles"`` (:mod:`seism_stats.stats.circle_tests`): ``n_samples`` i.i.d. directions,
        each great circle through the tested motif's axis integrated exactly, the observed
        direction counted: exactly valid for every number of draws, not limited to
        ``p >= 1/(B+1)``, with a stated Monte-Carlo error.
        ``"cmc"`` (sphere null): conditional Monte Carlo
        (:mod:`seism_stats.stats.conditional_mc`) - ``n_samples`` i.i.d. directions per motif with
        the motif's own coordinate integrated exactly; an estimate of the selective p-value
        with a stated error, far more precise per second than the MCMC and not limited
        to ``p >= 1/(B+1)``, but not a rank p-value exact at every B. With several motifs
        each is tested given the part of the response along the other motifs and their
        nearest competitors (settings ``"cmc_neighbours"``): a valid p-value that
        conditions on more than the MCMC's, so the two differ on the same data.
    hypothesis : {"motif", "global"}, optional
        What each motif's p-value tests. ``"motif"`` (default with ``method="circles"``):
        motif j adds nothing to the selected model (the covariates and the other selected
        motifs, whose effects are free). ``"global"``: no motif matters (the paper's null;
        the only one of ``"mcmc"``, ``"rejection"`` and ``"cmc"``). With ``"motif"`` and
        several motifs, the global null's p-values are computed too (``pvalues_global``).
    null : {"auto", "sphere", "permutation"}
        Null model: uniform on the residual sphere (Gaussian linear model) or
        permutations of the residuals; ``"auto"`` picks permutation for binary y.
    n_samples : int, optional
        Null draws in the selection event (B); for ``method="circles"``, directions drawn
        per motif besides the observed one (0 is allowed: the exact test given the
        observed direction alone); for ``method="tilted"``, tilted permutations per motif.
        Default: :data:`DEFAULT_CIRCLES` for circles, :data:`DEFAULT_TILTED` for tilted,
        :data:`DEFAULT_DRAWS` for the other methods.
    burn_in, thin, n_chains : int
        MCMC settings (per chain, counted in moves): chains walked from the hub of the
        exchangeable tree, unrecorded moves before a chain's first draw, moves between draws.
    mcmc_design : {"tree", "start"}
        ``"tree"`` (default): the observation is hidden at a uniformly random node of a tree
        of reversible chains (Besag and Clifford 1989), so the p-value is exactly valid for
        every number of draws (:mod:`seism_stats.sampling.exchangeable`). ``"start"``: chains
        started at the observation, valid only as the draws grow (kept for comparison).
    bracket : {"exact", "shrink"}
        MCMC move on a great circle: uniform on the exact arc of the circle inside the
        event (default), or the elliptical-slice shrinking bracket of SPEC 5.
    max_replays : int
        Budget of replayed candidate responses. The sampling is planned first
        (:mod:`seism_stats.sampling.budget`): a plan that cannot fit (MCMC: one replay per move
        at least; rejection: one per draw, then a pilot's acceptance rate) is refused
        before any work, and a plan over an hour gets a warning with its estimated time.
        A sample that still runs out (shrinking bracket, rare event) gives NaN p-values
        with a warning, never a rank from an incomplete tree of chains.
    ties : {"conservative", "randomised"}
        ``method="tilted"``: permutations whose statistic ties with the observed one count as
        exceeding it (default; valid, conservative where ties carry mass) or are broken by a
        uniform drawn from the seed (exactly uniform under the null). The weighted share of
        ties is reported (``settings["tilted_tie_mass"]``) either way.
    max_memory : float, optional
        Bytes the fit may plan to use; a fit whose estimate
        (:func:`~seism_stats.features.memory.estimate_fit_bytes`) is larger is refused before
        anything large is allocated. Default: 80% of the memory available now.
    tail_draws : int
        For motifs whose selective p-value sits at its floor ``1/(B+1)`` (sphere null),
        draws of the Rao-Blackwellised tail estimate of the same p-value
        (:mod:`seism_stats.stats.tail`), which resolves p-values far below the floor with a
        stated error. 0 turns it off.
    interval_draws : int, optional
        ``method="circles"``: great circles per motif of the selective intervals (exact at
        any number, :mod:`seism_stats.stats.circle_intervals`); default
        ``min(n_samples, DEFAULT_INTERVAL_DRAWS)``.
    split_fraction : float
        Fraction of sequences used for selection in the data-split baseline.
    refine : bool
        Refine each selected motif by gradient ascent (reported, see SPEC 3).
    random_state : int, numpy.random.Generator or None
        Seed of everything random (split, sampler). ``None`` draws a fresh seed and
        records it in ``settings["random_state"]`` (shown in the summary), so any run can
        be repeated.
    n_threads : int, optional
        OpenMP threads of the kernels (default: usable cores).
    n_jobs : int
        Processes for the sampler blocks (joblib); results do not depend on it.
    backend : {"joblib", "dask"}
        ``"dask"`` sends the sampler blocks to a ``dask.distributed`` Client
        (``client``, or the current one); same results as joblib.
    client : dask.distributed.Client, optional
    progress : bool
        A line on stderr as each stage starts (features, selection, refinement,
        sampling, classical tests) and progress bars during sampling.

    Returns
    -------
    MotifInference
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    method = _check_choice(method, METHODS, "method")
    null = _check_choice(null, NULLS, "null")
    pooling = _check_choice(pooling, ("sum", "max"), "pooling")
    revcomp = check_bool(revcomp, "revcomp")
    refine = check_bool(refine, "refine")
    lam = check_lam(lam)
    n_motifs = check_n_motifs(n_motifs)
    if n_samples is not None:
        n_samples = check_positive_int(n_samples, "n_samples",
                                       minimum=0 if method in ("auto", "circles", "tilted") else 1)
    ties = _check_choice(ties, TIES, "ties")
    tail_draws = check_positive_int(tail_draws, "tail_draws", minimum=0)
    burn_in = check_positive_int(burn_in, "burn_in", minimum=0)
    thin = check_positive_int(thin, "thin")
    n_chains = check_positive_int(n_chains, "n_chains")
    bracket = _check_choice(bracket, ("exact", "shrink"), "bracket")
    mcmc_design = _check_choice(mcmc_design, DESIGNS, "mcmc_design")
    n_jobs = check_positive_int(n_jobs, "n_jobs")
    max_replays = check_positive_int(max_replays, "max_replays")
    check_backend(backend)
    if random_state is None:  # a fresh seed, recorded so that the run can be repeated
        random_state = fresh_seed()
    seed_repr = int(random_state) if isinstance(random_state, (int, np.integer)) else type(random_state).__name__
    rng = check_random_state(random_state)
    n_threads = default_threads(n_threads)

    encoded = encode_sequences(sequences)
    if isinstance(sequences, (str, os.PathLike)):  # a FASTA file's ids label its records, as an index does
        check_same_labels(y=y, **{f"the ids of {sequences}": pd.Index(encoded.ids)}, covariates=covariates)
    else:
        check_same_labels(y=y, sequences=sequences, covariates=covariates)
    n = len(encoded)
    y = check_response(y, n)
    ks = check_motif_lengths(k, encoded)
    k = ks[0] if len(ks) == 1 else ks
    design = check_covariates(covariates, n, add_intercept)
    names = _covariate_names(covariate_names, design.shape[1], add_intercept)
    basis = residual_basis(design)
    if null == "auto" and method == "tilted":
        null, null_reason = "permutation", "method='tilted' permutes the response"
    elif null == "auto":
        null, null_reason = choose_null(y, basis)
        if method in ("auto", "cmc", "circles") and null == "permutation" and null_reason != "binary response":
            # The user asked for a Gaussian-model method: the kurtosis test (which also fires
            # on about 1% of Gaussian data sets) is a warning here, not a refusal.
            # With method="auto" too: switching to the permutation MCMC would silently change the hypothesis
            # each p-value tests (per motif -> global) on about 1% of Gaussian data sets.
            warnings.warn(f"method={method!r} uses the Gaussian sphere null, but null='auto' would pick "
                          f"permutations: {null_reason}. If the errors are not Gaussian, use "
                          "null='permutation' (method='tilted' or 'mcmc': they test the global null)", UserWarning,
                          stacklevel=2)
            null, null_reason = "sphere", f"method={method!r} (the residuals' tails were flagged: {null_reason})"
    else:
        null_reason = "chosen by the user"
    if method == "auto":
        method, method_reason = ("circles", "sphere null") if null == "sphere" else \
            ("tilted", f"permutation null ({null_reason})") if n_motifs <= MAX_AUTO_MOTIFS else \
            ("mcmc", f"permutation null ({null_reason}), more than {MAX_AUTO_MOTIFS} motifs")
        if method == "mcmc" and n_samples == 0:
            raise ValueError("n_samples must be at least 1 with the permutation MCMC (method='mcmc')")
    else:
        method_reason = "chosen by the user"
    if method == "tilted" and null != "permutation":
        raise ValueError("method='tilted' samples permutations of the response: use null='permutation' (or 'auto')")
    if n_samples is None:
        n_samples = {"circles": DEFAULT_CIRCLES, "tilted": DEFAULT_TILTED}.get(method, DEFAULT_DRAWS)
    interval_draws = min(n_samples, DEFAULT_INTERVAL_DRAWS) if interval_draws is None else \
        check_positive_int(interval_draws, "interval_draws", minimum=0)
    budget.check_budget(method, n_samples, n_chains, burn_in, thin, mcmc_design, max_replays,
                        n_motifs)  # before any work
    if method in ("cmc", "circles"):
        check_sphere_null(null, null_reason, method)
    hypothesis = _resolve_hypothesis(hypothesis, method)

    check_fit_memory(n, int(encoded.lengths.sum()), max(ks), n_motifs, n_chains, pooling, method, max_memory,
                     n_samples)
    selective = method in SELECTIVE_METHODS
    stage = _StageLines(progress, 3 + int(refine) + int(selective))
    stage(f"features of {n} sequences on {sum(4**v for v in ks):,} k-mers (k={k}, {pooling} pooling)")
    features = grid_features(encoded, ks, lam, pooling, n_threads, revcomp=bool(revcomp))
    features.progress = progress  # a bar over the pass over the feature norms, when it is long
    timings["features"] = time.perf_counter() - clock

    # Seeds of the split and of each sampler block, drawn first so that they do
    # not depend on the method. The split's rows are drawn now: the selection's pass
    # over the feature norms also sums those of the split's selection rows.
    seeds = np.random.SeedSequence(rng.integers(0, 2**63, size=4))
    split_rng, tree_rng, *block_rngs = [np.random.default_rng(s) for s in seeds.spawn(2 + N_SAMPLER_BLOCKS)]
    interval_rng = np.random.default_rng(seeds.spawn(1)[0])
    # Draws over rows follow the rows' canonical order, so that results do not depend on the
    # order of the input records (seism_stats.utils.canonical).
    order = canonical_order(encoded.codes, encoded.offsets, y, design)
    rows = tuple(np.sort(order[part]) for part in split_rows(n, split_fraction, split_rng))
    features.share_norms_with(rows[0])

    clock = time.perf_counter()
    stage(f"greedy selection of {n_motifs} motif(s)")
    selection = select_motifs(features, y, basis, n_motifs)
    timings["selection"] = time.perf_counter() - clock

    clock = time.perf_counter()
    refined: tuple[RefinedMotif, ...] = ()
    if refine and selection.event.n_selected:
        stage("refinement of the selected filters")
        windows = {}  # one window design per motif length in use
        residual = selection.unit_residual * selection.residual_norm
        located = [locate_cell(int(c), ks) for c in selection.cells]
        for length, _ in located:
            windows.setdefault(length, WindowDesign(encoded, length, pooling, revcomp=bool(revcomp)))
        refined = tuple(
            refine_motif(windows[length], lam, residual, np.hstack([basis, selection.event.basis[:, :j]]), index)
            for j, (length, index) in enumerate(located)
        )
    timings["refinement"] = time.perf_counter() - clock


    clock = time.perf_counter()
    null_sample = None
    cmc_ess = float("nan")
    cmc_neighbours: list[int] = []
    cmc_directions = 0
    circles = None
    circles_global = None
    tilted = None
    q = selection.event.n_selected
    pvalues = np.full(q, np.nan)
    pvalues_se = np.full(q, np.nan)
    pvalues_upper = np.full(q, np.nan)
    if selective and q:
        if method == "circles":
            stage(f"exact selective p-values over {n_samples} great circles per motif ({hypothesis} hypothesis)")
            # The selected-model (motif) circles always run: they also give the intervals. With several
            # motifs the global null's run beside them; with one, the two hypotheses are the same test.
            both = q > 1
            circles_motif = circle_pvalues(features, selection, basis, n_samples, tree_rng, order, "motif",
                                           progress, planned=q * n_samples * (2 if both else 1))
            circles = circles_motif
            if hypothesis == "global":
                circles = circle_pvalues(features, selection, basis, n_samples, tree_rng, order, "global") \
                    if both else replace(circles_motif, hypothesis="global")
            elif both:  # the global null's p-values beside them, labelled
                circles_global = circle_pvalues(features, selection, basis, n_samples, tree_rng, order, "global")
            pvalues, pvalues_se, pvalues_upper = circles.pvalues, circles.se, circles.upper
        elif method == "tilted":
            stage(f"exact selective p-values over {n_samples} tilted permutations per motif")
            tilted = tilted_pvalues(features, selection, basis, n_samples, tree_rng, order, ties, n_threads, progress)
            pvalues, pvalues_se, pvalues_upper = tilted.pvalues, tilted.se, tilted.upper
        elif method == "cmc":
            stage(f"conditional Monte Carlo over {n_samples} i.i.d. directions")
            estimate = conditional_pvalues(features, selection, basis, n_samples, tree_rng, progress)
            pvalues, pvalues_se, pvalues_upper = estimate.pvalues, estimate.se, estimate.upper
            cmc_ess = estimate.ess
            cmc_neighbours = [int(v) for v in estimate.neighbours]
            cmc_directions = estimate.n_directions
        else:
            stage(f"null sampling in the selection event ({method}, {n_samples} draws)")
            sampler = _SamplerSpec(method, null, n_samples, burn_in, thin, n_chains, max_replays, bracket,
                                   mcmc_design)
            null_sample = _sample_null(features, selection, basis, sampler, tree_rng, block_rngs, n_threads,
                                       n_jobs, progress, backend, client)
            mc = monte_carlo_pvalues(null_sample, selection.statistics)
            pvalues, pvalues_se, pvalues_upper = mc.pvalues, mc.se, mc.upper
    timings["sampling"] = time.perf_counter() - clock

    clock = time.perf_counter()
    tail = None
    if null_sample is not None and null == "sphere" and tail_draws and null_sample.n_draws >= MIN_TAIL_DRAWS:
        floor = np.flatnonzero(pvalues <= FLOOR_FACTOR / (1.0 + null_sample.n_draws))
        if floor.size:
            tail = tail_pvalues(features, selection, basis, floor, int(tail_draws),
                                np.random.default_rng(seeds.spawn(1)[0]), n_threads)
    timings["tail"] = time.perf_counter() - clock

    clock = time.perf_counter()
    stage("data split, naive OLS tests" + (" and selective intervals" if selective else ""))
    naive = naive_tests(features, y, design, selection.cells)
    split = split_tests(features, y, design, n_motifs, rows)
    timings["classical"] = time.perf_counter() - clock

    clock = time.perf_counter()
    if circles is not None:  # exact with sigma unknown, inverting the selected-model circle test
        stage(f"selective intervals over {interval_draws} great circles per motif")
        pivots = circle_pivots(circles_motif.tests, order, interval_draws, interval_rng, naive.params, naive.bse)
    else:
        pivots = motif_pivots(features, y, basis, selection) if selective else ()
    timings["intervals"] = time.perf_counter() - clock

    settings = {
        "k": k, "n_cells": grid_size(features), "revcomp": bool(revcomp), "lam": float(lam),
        "pooling": pooling,
        "n_motifs": n_motifs, "method": method, "null": null, "null_reason": null_reason,
        "n_samples": n_samples,
        "burn_in": burn_in if method == "mcmc" else 0, "thin": thin if method == "mcmc" else 1,
        "bracket": bracket if method == "mcmc" and null == "sphere" else None,
        "mcmc_design": mcmc_design if method == "mcmc" else None,
        "n_chains": n_chains if method == "mcmc" else N_SAMPLER_BLOCKS if method == "rejection" else 0,
        "method_reason": method_reason, "hypothesis": hypothesis,
        "circle_neighbours": [] if circles is None else [int(v) for v in circles.neighbours],
        "circle_ess": [] if circles is None else [float(v) for v in circles.ess],
        "circle_directions": 0 if circles is None else circles.n_directions + (
            circles_global.n_directions if circles_global is not None else 0),
        "circle_global_neighbours": [] if circles_global is None else [int(v) for v in circles_global.neighbours],
        "max_replays": max_replays, "tail_draws": int(tail_draws), "cmc_ess": cmc_ess,
        "ties": ties if method == "tilted" else None, **_tilted_settings(tilted),
        "cmc_neighbours": cmc_neighbours, "cmc_directions": cmc_directions,
        "tail_draws_used": 0 if tail is None else tail.n_draws,
        "interval_draws": interval_draws if circles is not None else 0, "split_fraction": split_fraction,
        "refine": bool(refine),
        "add_intercept": bool(add_intercept), "random_state": seed_repr, "n_threads": n_threads,
        "n_jobs": n_jobs, "backend": backend,
    }
    return MotifInference(settings, n, names, selection, refined, null_sample, pvalues, pvalues_se,
                          pvalues_upper, naive, split, timings, pivots,
                          None if tail is None else tail.pvalues, None if tail is None else tail.se,
                          None if circles_global is None else circles_global.pvalues,
                          None if circles_global is None else circles_global.se,
                          None if circles is None else circles.statistics,
                          circles.null_laws if circles is not None else tilted.null_laws if tilted is not None else ())


def _tilted_settings(tilted) -> dict:
    """What ``method="tilted"`` used and found, for ``settings`` (empty for the other methods)."""
    if tilted is None:
        return {"tilted_ess": [], "tilted_tie_mass": [], "tilted_hit_rate": [], "tilted_tilts": [],
                "tilted_strata": [], "tilted_replays": 0, "permutation_exact": None}
    return {"tilted_ess": [float(v) for v in tilted.ess], "tilted_tie_mass": [float(v) for v in tilted.tie_mass],
            "tilted_hit_rate": [float(v) for v in tilted.hit_rate],
            "tilted_tilts": [[float(z) for z in c] for c in tilted.components],
            "tilted_strata": [int(v) for v in tilted.strata],
            "tilted_replays": int(tilted.n_replays), "permutation_exact": bool(tilted.exact_null)}


#: ``null="auto"`` switches a continuous response to the permutation null when a one-sided
#: kurtosis test of its residuals rejects normal tails at this level (n >= 20).
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


def selective_pvalues(null_sample: samplers.NullSample, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Selective p-values and their Monte-Carlo standard errors (see :func:`~seism_stats.sampling.pvalues.monte_carlo_pvalues`)."""
    mc = monte_carlo_pvalues(null_sample, observed)
    return mc.pvalues, mc.se


@dataclass(frozen=True)
class _SamplerSpec:
    """Settings of the null sampler."""

    method: str
    null: str
    n_samples: int
    burn_in: int
    thin: int
    n_chains: int
    max_replays: int
    bracket: str
    design: str


def _sample_null(features, selection: Selection, basis: np.ndarray, spec: _SamplerSpec,
                 tree_rng: np.random.Generator, block_rngs: list[np.random.Generator], n_threads: int,
                 n_jobs: int, progress: bool, backend: str = "joblib", client=None) -> samplers.NullSample:
    """Run the sampler as independently seeded blocks, in one process or spread over ``n_jobs``.

    MCMC (:mod:`seism_stats.sampling.exchangeable`): the observation's chain and the walk back
    to the hub run here; the chains walked from the hub are split into blocks with
    their own generators (:class:`~seism_stats.sampling.walkers.ChainGroups`). In one process
    the blocks advance in lockstep (larger batches for the kernels), in several each
    process runs some of them; the draws are the same. Rejection blocks each draw
    ``ceil(n_samples / blocks)`` accepted samples. A pilot (:mod:`seism_stats.sampling.budget`)
    plans the work first; a sample cut short by ``max_replays`` carries a
    ``shortfall`` (its p-values are NaN), decided on the replays of all pieces
    together so that it does not depend on ``n_jobs``.
    """
    together = n_jobs == 1 and backend == "joblib"  # else one task per block
    start = time.perf_counter()
    pilot = SelectionReplay(features, selection.event, n_threads)  # the plan's own replays, counted apart
    if spec.method == "rejection":
        plan = budget.plan_rejection(pilot, _candidates(selection, basis, spec.null), spec.n_samples,
                                     spec.max_replays)
        _announce(plan, spec, progress)
        per_block = -(-spec.n_samples // len(block_rngs))
        tasks = [delayed(_rejection_block)(features, selection, basis, spec, rng, per_block,
                                           spec.max_replays // len(block_rngs),
                                           n_threads if together else 1, progress and b == 0)
                 for b, rng in enumerate(block_rngs)]
        sample = samplers.merge_samples(run_tasks(tasks, n_jobs, backend, client), time.perf_counter() - start)
        return replace(sample, shortfall=budget.shortfall_of_rejection(
            sample.n_draws, spec.n_samples, sample.n_replays, spec.max_replays))

    layout = TreeLayout.for_draws(spec.n_samples, spec.n_chains, spec.burn_in, spec.thin, spec.design)
    start_state = _start_state(selection, spec.null)
    plan = budget.plan_mcmc(walker_factory(pilot, basis, spec.null, selection.unit_residual, spec.bracket),
                            start_state, layout.total_moves, pilot, spec.n_chains)
    _announce(plan, spec, progress)
    replay = SelectionReplay(features, selection.event, n_threads)

    def walk_from_hub(hub, n_from_hub):
        n_blocks = min(len(block_rngs), n_from_hub)
        sizes = [len(c) for c in np.array_split(np.arange(n_from_hub), n_blocks)]
        jobs = [(block_rngs[:n_blocks], n_from_hub)] if together else \
            [([block_rngs[b]], sizes[b]) for b in range(n_blocks)]
        # Every piece may spend all that is left: the tree counts as complete only if the replays of
        # all pieces together fit max_replays (budget.shortfall_of_tree), whatever n_jobs is.
        budget_left = max(0, spec.max_replays - replay.n_replays)
        tasks = [delayed(_hub_block)(features, selection, basis, spec, hub, layout, rngs, chains, budget_left,
                                     n_threads if together else 1, progress and i == 0)
                 for i, (rngs, chains) in enumerate(jobs)]
        return run_tasks(tasks, n_jobs, backend, client)

    tree = run_design(walker_factory(replay, basis, spec.null, selection.unit_residual, spec.bracket), start_state,
                      selection.statistics, layout, spec.design, tree_rng, walk_from_hub,
                      samplers.replay_budget(replay, spec.max_replays), progress)
    method = "mcmc" if spec.null == "sphere" else "permutation-mcmc"
    n_replays = replay.n_replays + tree.n_replays_elsewhere
    return samplers.NullSample(method, tree.statistics, n_replays, tree.n_accepted, spec.burn_in, spec.thin,
                               time.perf_counter() - start, tree.observed_slot,
                               budget.shortfall_of_tree(tree.statistics, n_replays, spec.max_replays))


def _announce(plan: budget.SamplingPlan, spec: _SamplerSpec, progress: bool) -> None:
    """The plan on the progress lines, and a warning before a long or over-budget sampling."""
    if progress:
        tqdm.write(f"seism          plan: {plan.describe()}", file=sys.stderr)
    budget.announce(plan, spec.max_replays, f"{spec.method} sampling of {spec.n_samples:,} draws")


def _start_state(selection: Selection, null: str) -> np.ndarray:
    """The observation's state: its unit residual (sphere) or the identity permutation."""
    return selection.unit_residual if null == "sphere" else np.arange(selection.unit_residual.shape[0])


def _hub_block(features, selection: Selection, basis: np.ndarray, spec: _SamplerSpec, hub: np.ndarray,
               layout: TreeLayout, rngs, n_chains: int, max_replays: int, n_threads: int,
               progress: bool) -> tuple[np.ndarray, int, int]:
    """Chains walked from the hub: (statistics, accepted moves, replays)."""
    features.n_threads = n_threads
    replay = SelectionReplay(features, selection.event, n_threads)
    stats, accepted = hub_chains(walker_factory(replay, basis, spec.null, selection.unit_residual, spec.bracket), hub, n_chains, layout, rngs,
                                 selection.event.n_selected, samplers.replay_budget(replay, max_replays), progress)
    return stats, accepted, replay.n_replays


def _rejection_block(features, selection: Selection, basis: np.ndarray, spec: _SamplerSpec,
                     rng: np.random.Generator, n_samples: int, max_replays: int, n_threads: int,
                     progress: bool) -> samplers.NullSample:
    features.n_threads = n_threads
    replay = SelectionReplay(features, selection.event, n_threads)
    return samplers.sample_rejection(replay, _candidates(selection, basis, spec.null), rng, n_samples,
                                     max_replays=max_replays, progress=progress, method=f"{spec.null}-rejection")


def _candidates(selection: Selection, basis: np.ndarray, null: str):
    """``draw(rng, m)``: m i.i.d. null candidates (sphere points, or permuted residuals)."""
    n = selection.unit_residual.shape[0]
    if null == "sphere":
        return lambda g, m: samplers.sphere_points(g, m, basis, n)
    return lambda g, m: samplers.permutation_points(g, m, selection.unit_residual, basis)


class _StageLines:
    """One line on stderr as each stage of a fit starts (``progress=True``): long fits are never silent."""

    def __init__(self, enabled: bool, total: int):
        self.enabled, self.total, self.count, self.start = enabled, total, 0, time.perf_counter()

    def __call__(self, what: str) -> None:
        self.count += 1
        if self.enabled:
            tqdm.write(f"seism [{self.count}/{self.total}, {time.perf_counter() - self.start:.1f} s] {what}",
                       file=sys.stderr)


def _resolve_hypothesis(hypothesis: str | None, method: str) -> str:
    """The hypothesis the motif p-values of ``method`` test: ``"motif"`` by default where it is available."""
    if hypothesis is None:
        return "global" if method in GLOBAL_ONLY_METHODS else "motif"
    hypothesis = check_hypothesis(hypothesis)
    if hypothesis == "motif" and method in GLOBAL_ONLY_METHODS:
        raise ValueError(f"method={method!r} tests the global null only (no motif matters); the per-motif "
                         "hypothesis (motif j adds nothing to the selected model) needs method='circles'")
    return hypothesis


def _check_choice(value: str, choices: tuple[str, ...], name: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def _covariate_names(names, p: int, add_intercept: bool) -> list[str]:
    if names is not None:
        names = [str(x) for x in names]
        expected = p - int(add_intercept)
        if len(names) not in (p, expected):
            raise ValueError(f"{len(names)} covariate names for {expected} covariate columns")
        if len(names) == expected and add_intercept:
            names = ["Intercept"] + names
        return names
    return (["Intercept"] if add_intercept else []) + [f"x{i}" for i in range(1, p + 1 - int(add_intercept))]
