"""Functional API: from sequences and a response to selective p-values (SPEC 1-7).

:func:`selective_inference` runs the stages of :mod:`seism_stats.inference.stages` in
turn: it checks the options, prepares the data, plans the fit, builds the grid features,
selects motifs greedily, refines them, tests them given the selection event, adds the
tail estimate, the naive and data-split tests and the intervals' pivots, and returns them
side by side in a :class:`~seism_stats.inference.result.MotifInference`. The model/results
classes of :mod:`seism_stats.model` sit on top of it.
"""

from __future__ import annotations

from ..selection.greedy import select_motifs
from ..utils.validation import RandomStateLike
from .options import check_options
from .result import MotifInference
from .stages import (
    RandomStreams,
    StageLines,
    Timings,
    build_features,
    check_residual_tails,
    classical_tests,
    fit_settings,
    plan_fit,
    prepare_data,
    refine_selected,
    selective_pivots,
    selective_pvalues_of,
    tail_estimate,
)


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
        ``"tilted"`` under the permutation null (binary response, or ``null="permutation"``) with one or two
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
    hypothesis : {"motif", "global", "both"}, optional
        What each motif's p-value tests. ``"motif"`` (default with ``method="circles"``):
        motif j adds nothing to the selected model (the covariates and the other selected
        motifs, whose effects are free). ``"global"``: no motif matters (the paper's null;
        the only one of ``"mcmc"``, ``"rejection"`` and ``"cmc"``). ``"both"``: the motif
        hypothesis in ``pvalues`` and, with several motifs, the global null's p-values beside
        it (``pvalues_global``, the summary's ``P global``), at twice the sampling; the
        default leaves them out (with one motif the two hypotheses are the same test).
    null : {"auto", "sphere", "permutation"}
        Null model: uniform on the residual sphere (Gaussian linear model) or
        permutations of the residuals; ``"auto"`` picks permutation for binary y.
    n_samples : int, optional
        Null draws in the selection event (B); for ``method="circles"``, directions drawn
        per motif besides the observed one (0 is allowed: the exact test given the
        observed direction alone); for ``method="tilted"``, tilted permutations per motif (at
        least 1: with none every p-value would be 1).
        Default: :data:`DEFAULT_CIRCLES` for circles (more, up to 16 times for n <= 1000 and
        k <= 8, none from n = 16,000 or k = 10, for a motif whose
        pilot draws, discarded, predict a weights' effective sample size below 100:
        :func:`~seism_stats.stats.circle_tests.estimate_draws`; ``settings["circle_draws"]``
        holds each motif's number; an explicit ``n_samples`` is drawn exactly; an even number lets a
        motif drawn given part of its direction take its circles in mirrored pairs, two per transform,
        while an odd one is drawn singly),
        :data:`DEFAULT_TILTED` for tilted, :data:`DEFAULT_DRAWS` for the other methods.
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
        ties is reported (``settings["tilted_tie_mass"]``) either way. Other methods do not break
        ties (the MCMC counts a tie as exceeding): ``"randomised"`` is refused there.
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
        be repeated. A Generator is recorded as ``"Generator (no seed)"``: pass an int for
        a run that can be repeated from its summary.
    n_threads : int, optional
        OpenMP threads of the kernels (default: usable cores).
    n_jobs : int
        Processes for the sampler blocks (joblib; -1 for every usable core); results do not depend on it.
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
    options = check_options(**{name: value for name, value in locals().items()  # the arguments, first of all
                               if name not in ("sequences", "y", "covariates")})
    timings = Timings()
    data = prepare_data(sequences, y, covariates, options)
    plan = plan_fit(data, options)
    circle_intervals = plan.selective and plan.method == "circles"  # a stage of their own
    stage = StageLines(progress, StageLines.planned(options.refine, plan.selective, circle_intervals))
    stage(f"features of {data.n} sequences on {sum(4**v for v in data.ks):,} k-mers (k={data.k}, "
          f"{options.pooling} pooling)")
    features = build_features(data, options)
    timings.stop("features")

    # Drawn before the method matters. The selection's pass over the feature norms also sums those of the
    # split's selection rows.
    streams = RandomStreams.draw(options.rng, data, split_fraction)
    features.share_norms_with(streams.rows[0])

    timings.start()
    stage(f"greedy selection of {options.n_motifs} motif(s)")
    selection = select_motifs(features, data.y, data.basis, options.n_motifs)
    timings.stop("selection")
    if not selection.event.n_selected:  # no refinement, selective tests or intervals will run
        stage.total = StageLines.planned(False, False, False)
    residual_tails = check_residual_tails(selection, data, plan)

    timings.start()
    refined = ()
    if options.refine and selection.event.n_selected:
        stage("refinement of the selected filters")
        refined = refine_selected(selection, data, options, features)
    timings.stop("refinement")

    timings.start()
    tests = selective_pvalues_of(features, selection, data, plan, options, streams, stage)
    timings.stop("sampling")
    timings.start()
    tail = tail_estimate(features, selection, data, plan, options, tests, streams)
    timings.stop("tail")

    timings.start()
    stage("data split, naive OLS tests" + (" and selective intervals" if plan.selective and not circle_intervals
                                            else ""))
    naive, split = classical_tests(features, selection, data, options.n_motifs, streams.rows)
    timings.stop("classical")
    timings.start()
    pivots = selective_pivots(features, selection, data, plan, tests, streams, naive, stage)
    timings.stop("intervals")

    settings = fit_settings(options, plan, data, features, tests, tail, residual_tails)
    return MotifInference(
        settings, data.n, data.names, selection, refined,
        tests.null_sample, tests.pvalues, tests.se, tests.upper, naive, split, seconds=dict(timings), pivots=pivots,
        pvalues_tail=None if tail is None else tail.pvalues, pvalues_tail_se=None if tail is None else tail.se,
        pvalues_global=tests.pvalues_global, pvalues_global_se=tests.pvalues_global_se,
        statistics_t=tests.statistics_t, null_laws=tests.null_laws)
