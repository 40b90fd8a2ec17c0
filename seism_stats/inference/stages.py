"""The stages of :func:`~seism_stats.inference.pipeline.selective_inference`, in the order they run.

Each stage takes what the ones before it produced and returns a small object:

* :func:`prepare_data`: sequences, response and covariates, checked -> :class:`Data`;
* :func:`plan_fit`: the null, the method, the draws and the hypothesis -> :class:`Plan`;
* :func:`build_features`: the grid's feature map;
* :class:`RandomStreams`: the generators of every later random step, and the split's rows;
* :func:`refine_selected`: the selected filters, refined;
* :func:`selective_pvalues_of`: the method's selective p-values -> :class:`NullTests`;
* :func:`tail_estimate`, :func:`classical_tests`, :func:`selective_pivots`: the tail
  estimate, the naive and data-split tests, the intervals' pivots;
* :func:`fit_settings`: what was used and found.

The greedy selection itself is :func:`~seism_stats.selection.greedy.select_motifs`.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats
from tqdm.auto import tqdm

from ..features.grid import grid_features, grid_size, locate_cell, sum_pooled_counts
from ..features.kmers import check_motif_lengths, check_usable_windows
from ..features.memory import check_fit_memory
from ..io.sequences import EncodedSequences, encode_sequences
from ..sampling import budget, samplers
from ..sampling.blocks import SamplerSpec, sample_null
from ..sampling.pvalues import monte_carlo_pvalues
from ..selection.greedy import Selection
from ..selection.refinement import RefinedMotif, WindowDesign, refine_motif
from ..stats.circle_intervals import circle_pivots
from ..stats.circle_tests import circle_pvalues
from ..stats.classical import naive_tests, split_rows, split_tests
from ..stats.conditional_mc import check_sphere_null, conditional_pvalues
from ..stats.intervals import motif_pivots
from ..stats.tail import tail_pvalues
from ..stats.tilted_permutations import MAX_AUTO_MOTIFS, tilted_pvalues
from ..utils.canonical import canonical_order
from ..utils.validation import check_covariates, check_positive_int, check_response, check_same_labels, residual_basis
from .options import (
    DEFAULT_CIRCLES,
    DEFAULT_DRAWS,
    DEFAULT_INTERVAL_DRAWS,
    DEFAULT_TILTED,
    FLOOR_FACTOR,
    HEAVY_TAIL_LEVEL,
    MIN_TAIL_DRAWS,
    N_SAMPLER_BLOCKS,
    SELECTIVE_METHODS,
    Options,
    choose_null,
    covariate_names,
    resolve_hypothesis,
)


@dataclass(frozen=True)
class Data:
    """The data of a fit, checked: encoded sequences, response, covariates' design and basis.

    Attributes
    ----------
    encoded : EncodedSequences
    y : ndarray (n,)
    ks : list of int
        The motif lengths searched; ``k`` is the one length, or the list.
    design : ndarray (n, p)
        Covariates, with the intercept.
    names : list of str
        The design's column names.
    basis : ndarray (n, p)
        Orthonormal basis of the design.
    """

    encoded: EncodedSequences
    y: np.ndarray
    ks: list
    k: object
    design: np.ndarray
    names: list
    basis: np.ndarray

    @property
    def n(self) -> int:
        return len(self.encoded)


def prepare_data(sequences, y, covariates, options: Options) -> Data:
    """Encode the sequences and check the response and covariates against them (their labels too)."""
    encoded = encode_sequences(sequences)
    if isinstance(sequences, (str, os.PathLike)):  # a FASTA file's ids label its records, as an index does
        check_same_labels(y=y, **{f"the ids of {sequences}": pd.Index(encoded.ids)}, covariates=covariates)
    else:
        check_same_labels(y=y, sequences=sequences, covariates=covariates)
    n = len(encoded)
    y = check_response(y, n)
    ks = check_motif_lengths(options.k, encoded)
    windows = check_usable_windows(encoded, ks)  # at the shortest k, ks[0]
    k = ks[0] if len(ks) == 1 else ks
    design = check_covariates(covariates, n, options.add_intercept)
    names = covariate_names(options.covariate_names, design.shape[1], options.add_intercept)
    basis = residual_basis(design)
    if options.pooling == "sum":
        warn_if_length_confounds(windows, y, basis, ks[0])
    return Data(encoded, y, ks, k, design, names, basis)


#: The response's association with sequence length (after the covariates) that draws a warning: significant
#: at this level and at least this large (at n = 100,000 a correlation of 0.02 is significant and harmless).
LENGTH_WARNING_LEVEL = 1e-3
LENGTH_WARNING_CORRELATION = 0.1
#: The spread of the usable windows' numbers (after the covariates, relative to their mean) that draws a
#: warning when the response does not follow them: every summed feature carries them, as noise.
WINDOW_SPREAD_WARNING = 0.1


class WindowFinding(NamedTuple):
    """How the sequences' numbers of usable windows bear on a sum-pooled fit (:func:`window_finding`)."""

    kind: str  # "confound": the response follows them; "spread": they vary much (noise in every feature)
    correlation: float  # with the response, off the covariates and a constant
    pvalue: float
    spread: float  # their spread off the covariates and a constant, relative to their mean


def window_finding(windows: np.ndarray, y: np.ndarray, basis: np.ndarray) -> WindowFinding | None:
    """Whether the numbers of usable windows, which every summed k-mer feature carries, matter.

    With sum pooling a sequence with more windows of k letters free of N (a longer one, or one
    less masked) has every motif's feature larger. ``"confound"``: the response follows that
    number off the covariates (peak scores that track peak width, a foreground longer or less
    masked than its background), so k-mers can look associated through it alone (the p-values
    stay valid for "the response does not depend on the sequences", but the motif is not the
    cause); significant at :data:`LENGTH_WARNING_LEVEL` with a correlation of at least
    :data:`LENGTH_WARNING_CORRELATION`. ``"spread"``: otherwise, numbers that vary by
    :data:`WINDOW_SPREAD_WARNING` or more off the covariates (masked runs of N in some sequences,
    unequal lengths) are noise in every feature and cost power (measured: a planted motif's naive
    p-value went from 5e-13 to 3e-3 when a third of the sequences had a quarter of their letters
    masked). None when neither, or when the covariates hold the number already.
    """
    count = np.asarray(windows, dtype=np.float64)
    if len(y) - basis.shape[1] < 10 or np.ptp(count) == 0:
        return None  # too few sequences beyond the covariates, or one window count
    # Off the covariates and a constant (a design without an intercept must not turn "y's mean is not 0"
    # into "y follows length").
    span = residual_basis(np.hstack([basis, np.ones((len(y), 1))]))  # >= 10 residual dof: never refused
    count_off = count - span @ (span.T @ count)
    y_off = y - span @ (span.T @ y)
    dof = len(y) - span.shape[1] - 1
    if np.linalg.norm(count_off) <= 1e-9 * np.linalg.norm(count) or not np.any(y_off) or dof < 1:
        return None  # the window count (or the length) is among the covariates
    r = float(count_off @ y_off / (np.linalg.norm(count_off) * np.linalg.norm(y_off)))
    t = r * np.sqrt(dof / max(1.0 - r * r, 1e-300))
    p = float(2 * stats.t.sf(abs(t), dof))
    spread = float(np.linalg.norm(count_off) / np.sqrt(len(y)) / max(np.mean(count), 1e-300))
    if p < LENGTH_WARNING_LEVEL and abs(r) >= LENGTH_WARNING_CORRELATION:
        return WindowFinding("confound", r, p, spread)
    if spread >= WINDOW_SPREAD_WARNING:
        return WindowFinding("spread", r, p, spread)
    return None


def warn_if_length_confounds(windows: np.ndarray, y: np.ndarray, basis: np.ndarray, k: int) -> None:
    """Say :func:`window_finding`'s finding, if any, with the fixes (a warning)."""
    finding = window_finding(windows, y, basis)
    if finding is None:
        return
    fixes = ("Add it as a covariate (seism_stats.window_counts(sequences, k) counts them; the command line adds it "
             "itself), give the sequences one width without masked runs, or use max pooling (pooling='max', "
             "--pooling max)")
    span = f"{int(np.min(windows))}-{int(np.max(windows))} windows"
    if finding.kind == "confound":
        warnings.warn(f"the response follows sequence length (its number of windows of k={k} letters without N: "
                      f"correlation {finding.correlation:.2f} after the covariates, p = {finding.pvalue:.1g}; {span}): "
                      "with sum pooling every k-mer count grows with it, so motifs can be selected for length alone. "
                      f"{fixes}", UserWarning, stacklevel=4)
    else:
        warnings.warn(f"the sequences' numbers of windows of k={k} letters without N vary (relative spread "
                      f"{finding.spread:.2f} after the covariates; {span}: unequal lengths or masked runs of N): "
                      "with sum pooling every motif feature carries that number, which is noise for the motif and "
                      f"costs power. {fixes}", UserWarning, stacklevel=4)


@dataclass(frozen=True)
class Plan:
    """What the fit will do: the null and the method (each with the reason for it), the draws, the hypothesis."""

    null: str
    null_reason: str
    method: str
    method_reason: str
    n_samples: int
    interval_draws: int
    hypothesis: str
    global_beside: bool = False  # hypothesis="both": the global null's p-values beside the motif hypothesis'
    grow: bool = False  # circles with n_samples unset: a motif's draws grow where its pilots ask (estimate_draws)

    @property
    def selective(self) -> bool:
        """Whether the method samples the null in the selection event (selective p-values and intervals)."""
        return self.method in SELECTIVE_METHODS


def circle_runs(n_motifs: int, hypothesis: str, global_beside: bool) -> int:
    """How many hypotheses the circles test: 2 with several motifs when the global null is tested
    (alone, or beside the per-motif one), since with one motif the two are the same test; else 1."""
    return 2 if n_motifs > 1 and (hypothesis == "global" or global_beside) else 1


def plan_fit(data: Data, options: Options) -> Plan:
    """Choose the null and the method (``"auto"``), the draws and the hypothesis; check the budget and memory.

    Raises before any work when the choices contradict each other, the sampling would
    exceed ``max_replays`` or the fit would not fit in memory.
    """
    method, null, n_samples = options.method, options.null, options.n_samples
    if null == "auto" and method == "tilted":
        null, null_reason = "permutation", "method='tilted' permutes the response"
    elif null == "auto":
        null, null_reason = choose_null(data.y, data.basis)
        if method in ("auto", "cmc", "circles") and null == "permutation" and null_reason != "binary response":
            # The response's tails look heavy, but a motif with a strong effect in a few sequences does that
            # too, with Gaussian errors (a reviewer's simulation: 60% of such data sets flagged); switching
            # to permutations there cost the per-motif test and, with two motifs, gave p = 1 to a planted
            # motif. So the sphere null is kept, and the tails that matter, those of the selected model's
            # residuals, are checked after the selection (check_residual_tails), with a warning and a note.
            null_reason = ("Gaussian linear model (the response's own tails were flagged by a kurtosis test; the "
                           "selected model's residuals are checked after the selection)")
            null = "sphere"
    else:
        null_reason = "chosen by the user"
    if method == "auto":
        method, method_reason = ("circles", "sphere null") if null == "sphere" else \
            ("tilted", f"permutation null ({null_reason})") if options.n_motifs <= MAX_AUTO_MOTIFS else \
            ("mcmc", f"permutation null ({null_reason}), more than {MAX_AUTO_MOTIFS} motifs")
        if method != "circles" and n_samples == 0:  # 0 is the circles' exact test on the observed direction
            raise ValueError(f"n_samples must be at least 1 with the permutation null (method='auto' chose "
                             f"method='{method}' for it): with no permutation drawn every p-value would be 1")
    else:
        method_reason = "chosen by the user"
    if method == "tilted" and null != "permutation":
        raise ValueError("method='tilted' samples permutations of the response: use null='permutation' (or 'auto')")
    if method == "tilted" and options.n_motifs > MAX_AUTO_MOTIFS:
        warnings.warn(f"method='tilted' with {options.n_motifs} motifs: beyond {MAX_AUTO_MOTIFS} few tilted "
                      "permutations reach the selection event, so the p-values stay exact but may be 1 or very "
                      "imprecise; method='mcmc' (what method='auto' uses there) is usually more precise",
                      UserWarning, stacklevel=4)
    if options.ties == "randomised" and method != "tilted":
        raise ValueError(f"ties='randomised' breaks ties between tilted permutations only (method='tilted'); "
                         f"method='{method}' ({method_reason}) does not break them" +
                         (" (its permutations count a tie as exceeding)" if method == "mcmc" else ""))
    if n_samples is None:
        n_samples = {"circles": DEFAULT_CIRCLES, "tilted": DEFAULT_TILTED}.get(method, DEFAULT_DRAWS)
    interval_draws = min(n_samples, DEFAULT_INTERVAL_DRAWS) if options.interval_draws is None else \
        check_positive_int(options.interval_draws, "interval_draws", minimum=0)
    budget.check_budget(method, n_samples, options.n_chains, options.burn_in, options.thin, options.mcmc_design,
                        options.max_replays, options.n_motifs)  # before any work
    if method in ("cmc", "circles"):
        check_sphere_null(null, null_reason, method)
    hypothesis, global_beside = resolve_hypothesis(options.hypothesis, method)

    runs = circle_runs(options.n_motifs, hypothesis, global_beside)
    check_fit_memory(data.n, int(data.encoded.lengths.sum()), data.ks, options.n_motifs, options.n_chains,
                     options.pooling, method, options.max_memory, n_samples,
                     interval_draws if method == "circles" else 0, options.n_threads, runs, bool(options.revcomp))
    grow = method == "circles" and options.n_samples is None
    return Plan(null, null_reason, method, method_reason, n_samples, interval_draws, hypothesis, global_beside,
                grow)


#: The excess kurtosis of the selected model's leave-one-out residuals below which heavy tails are not reported
#: (Poisson counts of mean 0.3 have 3.3, log-normal values far more; a trivial 0.04 is significant at n = 100,000).
HEAVY_TAIL_EXCESS = 1.0


def check_residual_tails(selection: Selection, data: Data, plan: Plan) -> str | None:
    """Under the sphere null, test the selected model's residuals for tails heavier than Gaussian.

    The sphere null's p-values assume Gaussian errors; with heavy-tailed ones (log-normal values,
    counts) they can be far too small (``tests/test_calibration.py``). The residuals off the
    covariates and the selected motifs are what the errors leave, so a strong motif in a few
    sequences, which makes the response itself look heavy-tailed, does not trip this check. They
    are taken leave-one-out (``e_i / (1 - h_ii)``): motifs picked from noise are picked for the
    sequences with extreme responses and fit them, so plain residuals hide the tails being tested
    (log-normal null responses with three motifs of k = 6: 54% flagged with plain residuals, 93%
    leave-one-out in a reviewer's run, with no more Gaussian data sets flagged). A one-sided
    kurtosis test at :data:`~seism_stats.inference.options.HEAVY_TAIL_LEVEL`, and an excess kurtosis of at
    least :data:`HEAVY_TAIL_EXCESS` (at very large n the test alone flags trivial departures); skipped with
    fewer than 20 residual degrees of freedom or no motif. Returns the one-line finding (also warned), or None.
    """
    q = selection.event.n_selected
    if not plan.selective or plan.null != "sphere" or q == 0 or data.n - data.basis.shape[1] - q < 20:
        return None
    # Orthonormal already: the selected features were orthonormalised off the covariates during the selection.
    basis = np.hstack([data.basis, selection.event.basis])
    residual = data.y - basis @ (basis.T @ data.y)
    leverage = np.sum(basis**2, axis=1)
    kept = leverage < 1.0 - 1e-8  # a row a column fits exactly has no residual to test
    deleted = residual[kept] / (1.0 - leverage[kept])
    if kept.sum() < 20 or not np.any(deleted):
        return None
    test = stats.kurtosistest(deleted, alternative="greater")
    excess = float(stats.kurtosis(deleted))
    if test.pvalue >= HEAVY_TAIL_LEVEL or excess < HEAVY_TAIL_EXCESS:
        return None
    finding = (f"the selected model's residuals have heavier tails than Gaussian errors (excess kurtosis "
               f"{excess:.2g} of the leave-one-out residuals, test p = {test.pvalue:.2g}): the {plan.method!r} "
               "p-values assume Gaussian errors and can be much too small with heavy-tailed ones (counts, "
               "log-normal values). Transform "
               "the response (e.g. a log), or refit under the permutation null, which needs only exchangeable "
               "errors and tests the global null (null='permutation' with method='tilted' up to two motifs or "
               "'mcmc' beyond; --method tilted on the command line)")
    warnings.warn(finding, UserWarning, stacklevel=3)
    return finding


def build_features(data: Data, options: Options):
    """The grid's feature map of the sequences (all ``4^k`` k-mers of each length, :mod:`seism_stats.features.grid`)."""
    features = grid_features(data.encoded, data.ks, options.lam, options.pooling, options.n_threads,
                             revcomp=bool(options.revcomp))
    features.progress = options.progress  # a bar over the pass over the feature norms, when it is long
    return features


@dataclass(frozen=True)
class RandomStreams:
    """Independent generators of every random step after the selection, and the split's rows.

    Drawn first, from the fit's generator, so that they do not depend on the method:
    ``split`` (its rows are drawn at once), ``tree`` (the sampler), ``blocks`` (the sampler's
    independently seeded blocks), ``interval`` (the intervals' circles) and, when it runs,
    :meth:`tail`. Draws over rows follow the rows' canonical order ``order``
    (:mod:`seism_stats.utils.canonical`), so that results do not depend on the order of the
    input records.
    """

    seeds: np.random.SeedSequence
    tree: np.random.Generator
    blocks: list
    interval: np.random.Generator
    order: np.ndarray
    rows: tuple

    @classmethod
    def draw(cls, rng: np.random.Generator, data: Data, split_fraction: float) -> "RandomStreams":
        seeds = np.random.SeedSequence(rng.integers(0, 2**63, size=4))
        split_rng, tree_rng, *block_rngs = [np.random.default_rng(s) for s in seeds.spawn(2 + N_SAMPLER_BLOCKS)]
        interval_rng = np.random.default_rng(seeds.spawn(1)[0])
        order = canonical_order(data.encoded.codes, data.encoded.offsets, data.y, data.design)
        rows = tuple(np.sort(order[part]) for part in split_rows(data.n, split_fraction, split_rng))
        return cls(seeds, tree_rng, block_rngs, interval_rng, order, rows)

    def tail(self) -> np.random.Generator:
        """The tail estimate's generator (spawned when it runs)."""
        return np.random.default_rng(self.seeds.spawn(1)[0])


def refine_selected(selection: Selection, data: Data, options: Options, features=None) -> tuple[RefinedMotif, ...]:
    """Each selected filter refined by gradient ascent, given the covariates and the earlier motifs.

    With sum pooling the window designs reuse the grid's k-mer counts from ``features`` (the
    same counts, not counted again)."""
    windows = {}  # one window design per motif length in use
    residual = selection.unit_residual * selection.residual_norm
    located = [locate_cell(int(c), data.ks) for c in selection.cells]
    for length, _ in located:
        if length not in windows:
            counts = sum_pooled_counts(features, length) if features is not None else None
            windows[length] = WindowDesign(data.encoded, length, options.pooling, revcomp=bool(options.revcomp),
                                           n_threads=options.n_threads, grid_counts=counts)
    return tuple(
        refine_motif(windows[length], options.lam, residual, np.hstack([data.basis, selection.event.basis[:, :j]]),
                     index)
        for j, (length, index) in enumerate(located)
    )


@dataclass(frozen=True)
class NullTests:
    """The selective p-values of the method, their Monte-Carlo errors and upper bounds, and what produced them.

    One of ``circles`` (with ``circles_motif``, the selected-model run that also gives the
    intervals, and ``circles_global`` beside it), ``tilted``, ``cmc`` or ``null_sample``
    is set, by the method; none for ``"split"`` and ``"naive"``.
    """

    pvalues: np.ndarray
    se: np.ndarray
    upper: np.ndarray
    null_sample: samplers.NullSample | None = None
    circles: object = None
    circles_motif: object = None
    circles_global: object = None
    tilted: object = None
    cmc: object = None

    @property
    def pvalues_global(self) -> np.ndarray | None:
        """The global null's p-values run beside the motif hypothesis' (circles, several motifs), else None."""
        return None if self.circles_global is None else self.circles_global.pvalues

    @property
    def pvalues_global_se(self) -> np.ndarray | None:
        return None if self.circles_global is None else self.circles_global.se

    @property
    def statistics_t(self) -> np.ndarray | None:
        """``method="circles"``: the observed statistics in Student-t units, else None."""
        return None if self.circles is None else self.circles.statistics

    @property
    def null_laws(self) -> tuple:
        """Each motif's null law of its statistic (circles or tilted), else empty."""
        if self.circles is not None:
            return self.circles.null_laws
        return self.tilted.null_laws if self.tilted is not None else ()


def selective_pvalues_of(features, selection: Selection, data: Data, plan: Plan, options: Options,
                         streams: RandomStreams, stage) -> NullTests:
    """Run the method's test of every selected motif (:mod:`seism_stats.stats`, :mod:`seism_stats.sampling`)."""
    q = selection.event.n_selected
    none = NullTests(np.full(q, np.nan), np.full(q, np.nan), np.full(q, np.nan))
    if not (plan.selective and q):
        return none
    basis, n_samples, progress = data.basis, plan.n_samples, options.progress
    if plan.method == "circles":
        # The selected-model (motif) circles always run: they also give the intervals. With several
        # motifs and hypothesis="both" the global null's run beside them; with one motif the two
        # hypotheses are the same test.
        runs = circle_runs(q, plan.hypothesis, plan.global_beside)
        both = runs == 2
        tested = f"{plan.hypothesis} hypothesis" + (", the global null beside" if both and plan.global_beside else "")
        grow = plan.grow
        stage(f"exact selective p-values over {n_samples} great circles per motif"
              f"{' (more where the pilots ask)' if grow else ''} ({tested})")
        most = options.max_replays // (q * runs)  # growth stays within max_replays
        circles_motif = circle_pvalues(features, selection, basis, n_samples, streams.tree, streams.order, "motif",
                                       progress, planned=q * n_samples * runs, grow=grow, max_draws=most)
        circles, circles_global = circles_motif, None
        if plan.hypothesis == "global":
            circles = circle_pvalues(features, selection, basis, n_samples, streams.tree, streams.order, "global",
                                     grow=grow, max_draws=most) \
                if both else replace(circles_motif, hypothesis="global")
        elif both:  # the global null's p-values beside them, labelled
            circles_global = circle_pvalues(features, selection, basis, n_samples, streams.tree, streams.order,
                                            "global", grow=grow, max_draws=most)
        return NullTests(circles.pvalues, circles.se, circles.upper, circles=circles, circles_motif=circles_motif,
                         circles_global=circles_global)
    if plan.method == "tilted":
        stage(f"exact selective p-values over {n_samples} tilted permutations per motif")
        tilted = tilted_pvalues(features, selection, basis, n_samples, streams.tree, streams.order, options.ties,
                                options.n_threads, progress)
        missed = [j + 1 for j, rate in enumerate(tilted.hit_rate) if n_samples > 0 and rate == 0]
        if missed:
            warnings.warn(f"no tilted permutation reached the selection event for motif(s) "
                          f"{', '.join(map(str, missed))}: their p-values are exact but rest on the observed "
                          "labelling alone (p = 1 with ties='conservative'); raise n_samples", UserWarning,
                          stacklevel=4)
        return NullTests(tilted.pvalues, tilted.se, tilted.upper, tilted=tilted)
    if plan.method == "cmc":
        stage(f"conditional Monte Carlo over {n_samples} i.i.d. directions")
        estimate = conditional_pvalues(features, selection, basis, n_samples, streams.tree, progress, streams.order)
        return NullTests(estimate.pvalues, estimate.se, estimate.upper, cmc=estimate)
    stage(f"null sampling in the selection event ({plan.method}, {n_samples} draws)")
    sampler = SamplerSpec(plan.method, plan.null, n_samples, options.burn_in, options.thin, options.n_chains,
                          options.max_replays, options.bracket, options.mcmc_design, streams.order)
    null_sample = sample_null(features, selection, basis, sampler, streams.tree, streams.blocks, options.n_threads,
                              options.n_jobs, progress, options.backend, options.client)
    mc = monte_carlo_pvalues(null_sample, selection.statistics)
    return NullTests(mc.pvalues, mc.se, mc.upper, null_sample=null_sample)


def tail_estimate(features, selection: Selection, data: Data, plan: Plan, options: Options, tests: NullTests,
                  streams: RandomStreams):
    """Rao-Blackwellised estimates for the motifs at the Monte-Carlo floor of a sphere-null sample, or None."""
    null_sample = tests.null_sample
    if null_sample is None or plan.null != "sphere" or not options.tail_draws or null_sample.n_draws < MIN_TAIL_DRAWS:
        return None
    floor = np.flatnonzero(tests.pvalues <= FLOOR_FACTOR / (1.0 + null_sample.n_draws))
    if not floor.size:
        return None
    return tail_pvalues(features, selection, data.basis, floor, int(options.tail_draws), streams.tail(),
                        options.n_threads, order=streams.order)


def classical_tests(features, selection: Selection, data: Data, n_motifs: int, rows: tuple):
    """The naive OLS tests of the selected motifs and the data-split tests (contrast, and a valid alternative)."""
    naive = naive_tests(features, data.y, data.design, selection.cells)
    split = split_tests(features, data.y, data.design, n_motifs, rows)
    return naive, split


def selective_pivots(features, selection: Selection, data: Data, plan: Plan, tests: NullTests,
                     streams: RandomStreams, naive, stage) -> tuple:
    """Each motif's pivot, whose inversion gives its selective interval and estimate.

    Exact with sigma unknown by inverting the selected-model circle test (``method="circles"``),
    else truncated-Gaussian pivots; none for ``"split"`` and ``"naive"``.
    """
    if tests.circles is not None:
        stage(f"selective intervals over {plan.interval_draws} great circles per motif")
        return circle_pivots(tests.circles_motif.tests, streams.order, plan.interval_draws, streams.interval,
                             naive.params, naive.bse)
    return motif_pivots(features, data.y, data.basis, selection) if plan.selective else ()


def fit_settings(options: Options, plan: Plan, data: Data, features, tests: NullTests, tail,
                 residual_tails: str | None = None) -> dict:
    """What the fit used and found (``MotifInference.settings``); ``residual_tails``: :func:`check_residual_tails`."""
    method, null = plan.method, plan.null
    circles, circles_global, cmc = tests.circles, tests.circles_global, tests.cmc
    return {
        "k": data.k, "n_cells": grid_size(features), "revcomp": bool(options.revcomp), "lam": float(options.lam),
        "pooling": options.pooling,
        "n_motifs": options.n_motifs, "method": method, "null": null, "null_reason": plan.null_reason,
        "residual_tails": residual_tails,
        "n_samples": plan.n_samples,
        "burn_in": options.burn_in if method == "mcmc" else 0, "thin": options.thin if method == "mcmc" else 1,
        "bracket": options.bracket if method == "mcmc" and null == "sphere" else None,
        "mcmc_design": options.mcmc_design if method == "mcmc" else None,
        "n_chains": options.n_chains if method == "mcmc" else N_SAMPLER_BLOCKS if method == "rejection" else 0,
        "method_reason": plan.method_reason, "hypothesis": plan.hypothesis,
        "global_beside": circles_global is not None,  # hypothesis="both" with several motifs and the circles
        "circle_neighbours": [] if circles is None else [int(v) for v in circles.neighbours],
        "circle_ess": [] if circles is None else [float(v) for v in circles.ess],
        "circle_draws": [] if circles is None else [int(v) for v in circles.draws],
        "circle_pairs": [] if circles is None or circles.pairs is None else [bool(v) for v in circles.pairs],
        "circle_grow": circles is not None and plan.grow,  # the default's draws rule
        "circle_global_draws": [] if circles_global is None else [int(v) for v in circles_global.draws],
        "circle_global_pairs": [] if circles_global is None or circles_global.pairs is None
        else [bool(v) for v in circles_global.pairs],
        "circle_directions": circle_directions(tests),
        "circle_global_neighbours": [] if circles_global is None else [int(v) for v in circles_global.neighbours],
        "max_replays": options.max_replays, "tail_draws": int(options.tail_draws),
        "cmc_ess": float("nan") if cmc is None else cmc.ess,
        "ties": options.ties if method == "tilted" else None, **tilted_settings(tests.tilted),
        "cmc_neighbours": [] if cmc is None else [int(v) for v in cmc.neighbours],
        "cmc_directions": 0 if cmc is None else cmc.n_directions,
        "tail_draws_used": 0 if tail is None else tail.n_draws,
        "interval_draws": plan.interval_draws if circles is not None else 0, "split_fraction": options.split_fraction,
        "refine": bool(options.refine),
        "add_intercept": bool(options.add_intercept), "random_state": options.seed_repr,
        "n_threads": options.n_threads, "n_jobs": options.n_jobs, "backend": options.backend,
    }


def circle_directions(tests: NullTests) -> int:
    """Directions the circles drew in all (pilots included): the motif hypothesis' run, and the
    global null's where it ran too (beside it, or as the tested hypothesis with several motifs)."""
    if tests.circles is None:
        return 0
    runs = [tests.circles_motif, tests.circles_global]
    if tests.circles.tests is not tests.circles_motif.tests:  # hypothesis="global", several motifs: its own run
        runs.append(tests.circles)
    return int(sum(run.n_directions for run in runs if run is not None))


def tilted_settings(tilted) -> dict:
    """What ``method="tilted"`` used and found, for ``settings`` (empty for the other methods)."""
    if tilted is None:
        return {"tilted_ess": [], "tilted_numerator_ess": [], "tilted_tie_mass": [], "tilted_hit_rate": [],
                "tilted_tilts": [], "tilted_strata": [], "tilted_replays": 0, "permutation_exact": None}
    return {"tilted_ess": [float(v) for v in tilted.ess],
            "tilted_numerator_ess": [float(v) for v in tilted.numerator_ess],
            "tilted_tie_mass": [float(v) for v in tilted.tie_mass],
            "tilted_hit_rate": [float(v) for v in tilted.hit_rate],
            "tilted_tilts": [[float(z) for z in c] for c in tilted.components],
            "tilted_strata": [int(v) for v in tilted.strata],
            "tilted_replays": int(tilted.n_replays), "permutation_exact": bool(tilted.exact_null)}


def selective_pvalues(null_sample: samplers.NullSample, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Selective p-values and their Monte-Carlo standard errors (see :func:`~seism_stats.sampling.pvalues.monte_carlo_pvalues`)."""
    mc = monte_carlo_pvalues(null_sample, observed)
    return mc.pvalues, mc.se


class StageLines:
    """One line on stderr as each stage of a fit starts (``progress=True``): long fits are never silent."""

    def __init__(self, enabled: bool, total: int):
        self.enabled, self.total, self.count, self.start = enabled, total, 0, time.perf_counter()

    @staticmethod
    def planned(refine: bool, selective: bool, circle_intervals: bool) -> int:
        """Stages of a fit: features, selection and the classical tests, and those that may not run."""
        return 3 + int(refine) + int(selective) + int(circle_intervals)

    def __call__(self, what: str) -> None:
        self.count += 1
        if self.enabled:
            tqdm.write(f"seism [{self.count}/{self.total}, {time.perf_counter() - self.start:.1f} s] {what}",
                       file=sys.stderr)


class Timings(dict):
    """Wall time of each stage: :meth:`stop` records the time since the last :meth:`start` (or creation)."""

    def __init__(self):
        super().__init__()
        self.since = time.perf_counter()

    def start(self) -> None:
        self.since = time.perf_counter()

    def stop(self, stage: str) -> None:
        self[stage] = time.perf_counter() - self.since
