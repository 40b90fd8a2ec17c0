r"""Exact selective p-values from great circles, valid at every number of draws (issue 21): the default.

Two hypotheses per selected motif j
-----------------------------------
* ``hypothesis="motif"`` (default), the selected-model test
  ``H0_j: y = W gamma + sum_{i != j} beta_i phi_i + sigma eps``: motif j adds
  nothing to the model made of the covariates and the other selected motifs,
  whose effects are free (they may be real). This is what a user reads motif j's
  p-value as. Its statistic is motif j's t statistic in the selected model.
* ``hypothesis="global"``, the paper's global null ``y = W gamma + sigma eps`` (no
  motif matters), statistic the step-j association score (the fraction of the
  residual sum of squares the j-th motif explains off the covariates and the
  earlier motifs). For motif 2 and later it is not a test of motif j when an
  earlier motif is real.

Route (Fithian, Sun and Taylor 2014, "Optimal inference after model selection")
------------------------------------------------------------------------------
Write ``S`` for the nuisance span: ``span(W, phi_i, i != j)`` for the motif
hypothesis, ``span(W)`` for the global one. Under the hypothesis, with ``eps``
spherically symmetric (Gaussian, say), ``(P_S y, rho = ||(I - P_S) y||)`` is
sufficient for the nuisance parameters and the direction ``u = (I - P_S) y / rho``
is uniform on the unit sphere of ``S^perp`` (dimension ``m``), independent of
``(P_S y, rho)``. Conditioning on them and on the selection event ``E`` leaves
the law of ``u`` uniform on the part of that sphere where ``P_S y + rho u``
selects the same cells. Let ``eta`` be the tested axis, a unit vector of ``S^perp``
fixed by the selected cells (motif j's feature off ``S`` for the motif
hypothesis, off the covariates and the earlier motifs for the global one) and
write

    ``u = cos(w) eta + sin(w) d``,   ``d`` a unit vector of ``K = S^perp`` orthogonal to ``eta``.

If ``d`` is uniform on the sphere of ``K`` (dimension ``m - 1``) and, independently,
``w`` has density ``f(w)`` proportional to ``|sin w|^(m - 2)`` on ``[0, 2 pi)``,
then ``u`` is uniform on the sphere of ``S^perp`` (the map is two to one:
``(w, d)`` and ``(2 pi - w, -d)`` give the same ``u``, with the same density).
``cot(w) sqrt(m - 1)`` is Student t with ``m - 1`` degrees of freedom on each half
circle; with ``T(w) = |cos w| / |sin w|`` the statistic is
``T sqrt(m - 1)`` = motif j's |t statistic| (motif hypothesis) or a monotone
function of the step score (global: the step-j score on the unit residual is
``<e_j, u>^2 = cos(w)^2``, ``e_j`` motif j's feature off the covariates and the
earlier motifs, a function of ``w`` alone). On the circle ``C(d) = {cos(w) eta + sin(w) d}``
every step score is the square of an affine function of ``(cos w, sin w)``, so
the event on it is an exact union of arcs (:mod:`seism_stats.stats._circles`), and

    ``D(d) = int f 1_E``,  ``N_t(d) = int f 1_E 1{T >= t}``

are sums of Student-t masses (computed in log space, however small).

Theorem (exact at every B)
--------------------------
Let ``d_0`` be the observed direction (``u``'s unit component orthogonal to
``eta``), ``d_1, ..., d_B`` i.i.d. uniform on the sphere of ``K``, independent of
the data, and ``t_obs = T(w_0)``. Then under the hypothesis, for every
``alpha`` in (0, 1) and every B >= 0,

    ``p = sum_{b=0..B} N_{t_obs}(d_b) / sum_{b=0..B} D(d_b)``  satisfies  ``P(p <= alpha | E, P_S y, rho) = alpha``.

Proof. Work given ``(P_S y, rho)``; all maps above are then fixed. ``D``, ``N_t``
and ``T`` are invariant under ``d -> -d`` (the circle is the same set, traversed
by ``w -> -w``, and ``f(-w) = f(w)``, ``T(-w) = T(w)``), so ``p`` is the same
whichever representative ``(w_0, d_0)`` or ``(2 pi - w_0, -d_0)`` of the
observation is used (pathwise here, where the draws do not depend on ``d_0``; in
law when they are drawn given ``b = V^T d_0``, below, since ``-r`` has the law of
``r``); take it at random, so that without selection ``(w_0, d_0)``
has the product law ``f(w) dw x mu(dd)`` (``mu`` uniform on the sphere of ``K``).
Given ``E`` the joint density of ``(w_0, d_0, d_1, ..., d_B)`` is proportional to
``f(w_0) 1_E(w_0, d_0) prod_b mu(d_b)``, which is symmetric in ``d_0, ..., d_B``
but for the factor ``1_E(w_0, d_0)``. So given the unordered set
``Delta = {d_0, ..., d_B}`` (a.s. distinct), the observed direction is its element
``delta_k`` with probability ``D(delta_k) / sum_l D(delta_l)``, and given that,
``w_0`` has density ``f 1_E(., delta_k) / D(delta_k)``. Hence

    ``P(T(w_0) >= t | Delta, E) = sum_k N_t(delta_k) / sum_k D(delta_k) = G_Delta(t)``:

``G_Delta`` is the survival function of the observed statistic given ``Delta``
and ``E``, and ``p = G_Delta(t_obs)``. For a random variable with continuous
survival function ``G``, ``G(X)`` is uniform (``P(G(X) <= a) <= a`` in general),
and ``T(w_0)`` given ``Delta`` has a density. So ``p`` is uniform given
``Delta``, hence given ``E`` and ``(P_S y, rho)``, for every ``B`` (``B = 0`` is the
exact test given all of ``d``, Lee et al. 2016's conditioning). []

What the proof needs, and the code keeps: the ``d_b`` are drawn from the law of
``d_0`` under the hypothesis (uniform on the sphere of ``K``), independently of
the data; B is fixed before they are drawn, a function of what the theorem conditions on
(the pilots below, "Number of draws"); nothing chooses anything from the ``N`` or
``D`` of the draws in the estimate; the observed direction is counted. The ratio
without ``d_0`` is only consistent (the issue measured 0.075 rejections at
alpha = 0.1, B = 1). This is Harrison (2012, Biometrika 99:57-69)'s conservative
importance-sampling p-value with the proposal equal to the target's direction law,
each circle integrated exactly (Rao-Blackwellised) instead of drawn.

Several motifs: conditioning on a little more
---------------------------------------------
With several motifs a uniform ``d`` seldom keeps the *other* motifs' steps (their
nearest competitors, cells one or two letters away, are beaten only by the
observed direction), so most ``D(d_b)`` are negligible and the ratio is imprecise;
and for a strong motif ``D(d)`` is a far tail mass whose threshold (where the motif
beats its own competitors on that circle) moves with ``d``, so the weights span
orders of magnitude. Motif j is then tested given also ``b = V^T d``, the part of
``d`` in a subspace ``V`` of ``K`` spanned by the features of every step's most
correlated competitors (and, for the global hypothesis, the other selected
features), all taken off ``S`` and ``eta``; ``V`` depends on the selected cells only. Under the
hypothesis ``w`` is independent of ``d``, so the theorem holds word for word
given ``b``: the ``d_b`` are drawn from the law of ``d`` given ``b = b_obs``,
``V b_obs + sqrt(1 - |b_obs|^2) r`` with ``r`` uniform on the sphere of
``K`` orthogonal to ``V`` (:class:`DirectionLaw`). How much ``V`` holds is chosen
per motif from nested levels (:data:`NEIGHBOUR_LADDER` competitors per step), tried
in order: the first whose *pilot* directions (drawn at that level from a fixed seed,
then discarded) give weights ``D`` an effective sample size of at least
:data:`LIGHT_PILOT_ESS` per direction while ``V`` and the next level's stay light (at
most :data:`LIGHT_SHARE` of ``K``), and :data:`MIN_PILOT_ESS` from the last light level
on (:func:`choose_level`). The pilots of a level depend on the data only through
that level's ``b`` (a function of every finer level's ``b``: the levels nest), and the
rule stops at the first level that passes, so the level chosen is a function of its
own ``b`` and of draws independent of the data and of the estimate; given it, the
estimate's ``B`` directions are fresh and the theorem applies. The pilots' seed is fixed, not ``random_state``: each level
defines another (equally valid) p-value, and a level that changed with the seed
made the reported p-value move by orders of magnitude between seeds (measured: a
spread of 80-190% over ten seeds with two motifs), far more than its Monte-Carlo
error; with a fixed seed a seed changes only the estimate's own draws. When no level qualifies the motif is tested given all of ``d``
(``B = 0``: exact, no Monte-Carlo error). Conditioning on more never costs
validity, only power (Fithian, Sun and Taylor 2014), and the cost can be large at
deep levels (a strong motif's p-value grew from about 5e-8 at 16 competitors per
step to 1e-3 at 128 on one data set), which is why the first qualifying level, the
least conditioning, is used. Light levels cost little (the measurements at
:data:`LIGHT_PILOT_ESS`), and a pilot overstates the ESS of a heavy-tailed estimate (a 1%
pilot ESS at level 0 went with 0.36% over the estimate's 500 circles, n = 1000, k = 8, three
motifs), so among light levels the bar is higher: more precision, and a stated error that
can be trusted (issue 21, item 3), at no measured cost in power at 5% (:data:`LIGHT_PILOT_ESS`;
far in the tail a strong motif's p-value grows, since it is tested given more). The rule is
not monotone in the pilot's ESS: a light level between the two bars is passed over for the
next, and were every later level to fail the lower bar too, the motif would be tested given
all of its direction (B = 0), which the 1% bar alone would not have done.

Mirrored pairs (one transform, two circles)
-------------------------------------------
Where ``V`` is not empty the estimate's directions come in pairs: each ``r_b`` drawn gives
``d_b = V b_obs + sqrt(1 - |b_obs|^2) r_b`` and its mirror ``R d_b = V b_obs - sqrt(1 - |b_obs|^2) r_b``,
and the observed direction comes with its own mirror ``R d_0 = 2 V b_obs - d_0``: the ratio sums
``N`` and ``D`` over the ``2 (h + 1)`` circles of ``h`` drawn pairs and the observed one (``B = 2 h``
drawn circles; an odd ``B`` given is drawn singly, as is every ``B`` with ``V`` empty, and a grown odd
``B`` is rounded to whole pairs within its cap). A pair costs one Kronecker transform (the transform is
linear: ``Phi^T (-r) = -Phi^T r``, exactly), and the mirror is as good as a fresh draw (measured,
three motifs at n = 1000, k = 8: 512 pairs gave half the variance of 512 single circles, 1.99-2.38
times, and the ``D`` of a circle and of its mirror were uncorrelated, |r| < 0.05), so a circle
costs half a transform less. With ``V`` empty the mirror of ``d`` is ``-d``, the same circle, and
the directions are drawn singly.

Theorem (mirrored pairs). The ratio over the pairs, the observed pair counted, satisfies the
theorem above. Proof. ``R`` (``r -> -r`` on the sphere ``{d in K : V^T d = b_obs}``) is an
involution that keeps the law of ``d`` given ``b_obs`` (uniform on that sphere; call it ``mu`` here),
and ``R d != d`` almost surely (``|b_obs| < 1``), so the ``2 (h + 1)`` circles are a.s. distinct. The joint density of
``(w_0, d_0, d_1, ..., d_h)`` given ``E`` is proportional to ``f(w_0) 1_E(w_0, d_0) prod_b mu(d_b)``;
``mu`` being invariant under ``R`` and the product symmetric, exchanging ``d_0`` with any element
``delta`` of the set ``Pi = {d_b, R d_b : b = 0..h}`` (the pair of ``delta`` taking ``d_0``'s place,
``delta``'s partner its mirror) maps the configuration to another of the same density but for the
factor ``1_E(w_0, delta)``; these maps are bijections between the labelled configurations that give
the same ``Pi``, each element of ``Pi`` being ``d_0`` in equally many (``h! 2^h``). So given ``Pi``
(unordered) the observed direction is ``delta`` with
probability ``D(delta) / sum_{Pi} D``, and the rest of the proof above holds word for word with
``Delta`` replaced by ``Pi``. The representative ``(2 pi - w_0, -d_0)`` has ``-b_obs``, whose pairs are
the negated pairs (``R`` commutes with ``d -> -d`` across the two laws), so the p-value's law is the
same for both. []

The pairs are i.i.d., so the Monte-Carlo error below is the delta method over pairs (each pair's
``N`` and ``D`` summed), and the stated ESS counts pairs: ``(sum W)^2 / sum W^2`` over the pair
weights ``W = D(d) + D(R d)``, the observed pair's included. Where few circles carry the weight (the
case the ESS rules below are for) a pair's ESS is about its two circles' (with a share ``a`` of
circles meeting the event, about ``2 a / (1 + a)`` per pair against ``a`` per circle); with even
weights it is half (each pair is one independent term), so :data:`TARGET_ESS` and the summary's
warning, set on circles, ask no more of heavy-tailed weights and are stricter with light ones.

Number of draws
---------------
With the default number of draws (a fit's ``n_samples`` left unset) a motif whose chosen level's
pilot gives an ESS per direction ``r`` with ``r B < TARGET_ESS`` draws ``ceil(TARGET_ESS / r)``
directions instead, at most ``MAX_GROWTH B``, ``MAX_GROWTH_WORK / n``, ``MAX_GROWTH_CELLS`` over a
step's cells and the motif's share of ``max_replays`` (but never fewer than B: large data sets and
grids keep their cost; :func:`most_draws`, :func:`estimate_draws`). Far in the tail the
weights are heavy-tailed, and with few effective circles the delta-method error understated the
spread over seeds about twice (bench_circle_precision). The number drawn is a function of the
pilots, which depend on the data only through what the test conditions on (``b``, ``P_S y``,
``rho``) and on draws from a fixed seed that are not in the estimate: given what the theorem
conditions on it is fixed before the estimate's draws, and the theorem holds for it as for any
fixed B. An explicit ``n_samples`` is drawn exactly. A pilot of 128 directions sees a heavy tail
poorly (it overstated the estimate's ESS per direction up to 3.4 times in development runs), so
where it predicts fewer than half of the target a second pilot of 1024 directions at the chosen
level (fixed seed, antithetic pairs, discarded: the same argument) sets the number instead
(:func:`growth_rate`). The ESS reached can still stay below the target; the summary says when it
is below 30.

The draws follow the canonical order of the rows (:mod:`seism_stats.utils.canonical`),
so p-values do not depend on the order of the input records.

Screening (a computation, not an approximation)
-----------------------------------------------
With several motifs most drawn circles keep the other motifs' steps only on slivers
next to ``w = 0`` and ``pi`` (measured, three motifs at n = 1000, k = 8: ``log D``
about -900 on 97% of the circles against -12 on the observed one), and resolving
their events against every competing cell was most of the cost. Where the steps have
many cells (:data:`SCREEN_MIN_CELLS`), each drawn circle's event is first intersected with the selected cell and the :data:`LEADING_CELLS`
competitors likeliest to bind at each step only: a superset of its event, so its mass
``D'`` is at least ``D``. A circle with ``D' < exp(-40) N_0 / (B + 1)`` (:data:`SCREEN_MARGIN`;
``N_0 <= sum_b N_b``, the observed circle's exceedance mass, its pair's with mirrored pairs, is
computed first) is
counted with ``D = N = 0``. Likewise, while the other cells are resolved, a side of a step
whose intervals come to lie where ``|sin w| < s`` is emptied at once (:func:`sliver_sine`:
that set has mass at most the same ``exp(-40) N_0 / (B + 1)``, and every part so dropped from a
circle lies inside it). The dropped circles' and parts' ``D`` (and ``N <= D``) sum to less than
``exp(-40) N_0 <= 4.3e-18 sum_b N_b <= 4.3e-18 sum_b D_b``: the ratio's numerator and
denominator move by less than a relative 4.3e-18, below the rounding of a double (1.1e-16),
and the s.e. (below) by a like amount. The p-value computed is the theorem's up to the
rounding of its sums (bit for bit on the fits tested); only its cost changes. Two degenerate
cases read the drawn terms differently: when every drawn circle is screened out the s.e. is
reported unknown (NaN), as when no drawn circle meets the event (the unscreened delta method
said about 0 there, from terms 1e-17 of the observed one's, which was no error estimate either),
and a p-value of 1 whose every resolved share is 1 gets the binomial error of
:func:`~seism_stats.sampling.pvalues.ratio_pvalue` where a screened circle's share might not
have been. The pilots, which must not
depend on ``t_obs``, are screened against the largest ``D`` of their earlier blocks instead
(:func:`_log_masses_of_law`).

Monte-Carlo error
-----------------
``p`` depends on the directions drawn. Its standard error is the delta-method
error of the ratio over the ``B + 1`` terms,
``sqrt(sum_{b >= 1} (N_b - p D_b)^2) / sum_{b >= 0} D_b`` (the observed
direction's term is not random given ``Delta``'s draw, so it adds no variance; with mirrored
pairs the terms are the pairs' sums); 0
only for ``B = 0`` (the observed direction alone is exact and has no Monte-Carlo error).
``benchmarks/bench_circle_precision.py`` checks it against the spread over seeds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
from scipy import special, stats
from tqdm.auto import tqdm

from ..features.memory import CIRCLE_BLOCK
from ..sampling import budget
from ..sampling.pvalues import log_weight_ess, ratio_pvalue
from ..selection.geometry import (NEIGHBOUR_LADDER, OBSERVED_DIRECTION, arc_statistic_segments, segment_log_masses,
                                  step_cells, step_lines)
from ..selection.greedy import Selection
from ..utils.canonical import gaussian_rows
from ..utils.parallel import single_threaded_blas
from . import _circles

HYPOTHESES = ("motif", "global")
#: Cells of each step examined first, by their reach on the observed circles (they set the floor
#: that lets most others be passed over); the rest follow in the grid's order, so that the kernel
#: reads each row's numerators in order instead of at random (1.6-1.7x per direction against
#: every cell in order of reach, n = 1000, k = 8; the same arcs, bit for bit).
LEADING_CELLS = 256
#: A drawn circle whose event mass, bounded from its steps' leading cells, is below
#: ``exp(-SCREEN_MARGIN) / (B + 1)`` of the observed circle's exceedance mass ``N_0`` is not
#: resolved further: its ``D`` and ``N`` count as 0 (see "Screening" in the module docstring).
SCREEN_MARGIN = 40.0
#: The screen runs where every step has at least this many competing cells (k >= 7 with merged
#: strands): with fewer, resolving every cell costs less than the screen's own pass (development
#: measurements: k = 6, n = 400, sampling 0.21 s without, 0.26 s with; k = 8, n = 1000, three
#: motifs, 2.9 s with against 5.6 s before it and the grid-order reading).
SCREEN_MIN_CELLS = 4096
#: Below this log mass the sides are not emptied early (:func:`sliver_sine`; ``1e-300``, above the subnormals).
SMALLEST_SLIVER_LOG_MASS = float(np.log(1e-300))
#: Directions whose transforms and arcs are computed together (defined where the memory estimate counts them).
BLOCK = CIRCLE_BLOCK
#: With several motifs, the levels of V tried in turn are geometry's NEIGHBOUR_LADDER (competitors
#: per step, the motif's own included, whose features join it; levels that would take more than 7/8 of K
#: are skipped).
#: Directions of each level's pilot (drawn, used to choose the level, discarded).
PILOT = 128
#: Directions of a pilot's first block, resolved against every cell (no earlier ``D`` to screen by); the
#: later blocks are screened below the largest ``D`` before them (:func:`_log_masses_of_law`).
PILOT_FIRST_BLOCK = 8
#: Seed of the pilots (fixed: the level must not depend on ``random_state``; see :func:`choose_level`).
PILOT_SEED = 21
#: A level is kept when its pilot's weights ``D`` have at least this effective sample size per direction.
#: Low on purpose: a deeper level conditions on more and costs power (three motifs, n = 100, GATT at
#: beta = 1: 38% rejections at 5% with 0.05, 47% with 0.01, 50% with level 0 always), while the
#: p-value stays exact at any level and its Monte-Carlo error is stated.
MIN_PILOT_ESS = 0.01
#: The bar of the levels that condition on at most :data:`LIGHT_SHARE` of ``K``: the first of them whose
#: pilot's ESS reaches this share of its directions is used before the levels above are looked at.
#: Power at 5% (not in the far tail: there a strong motif's p-value grows, 5e-7 -> 3e-5 in
#: benchmarks/bench_circle_precision_output.txt), measured on planted data, three motifs, 500
#: circles (motif 1's p-value at 5%, Wilson 95%; the deeper level forced, before the rule):
#: n = 1000, k = 8, 40 data sets: level 0 (the 1% bar's usual choice) 0.42 [0.29, 0.58] with a
#: median weights' ESS of 1.8, level 16 0.47 [0.33, 0.63] with 10.3; n = 300, k = 6, 100 data
#: sets: 0.48 [0.38, 0.58] with 3.1, level 16 0.48 [0.38, 0.58] with 26. At n = 100, k = 4
#: (a level 16 holding half of K) the deeper level cost power (0.45 against 0.57), hence the cap.
LIGHT_PILOT_ESS = 0.05
#: Levels whose ``V`` holds at most this share of ``K``'s dimension are "light".
LIGHT_SHARE = 1.0 / 8.0
#: With the default number of draws, a motif whose pilots predict fewer effective circles than this
#: draws more (:func:`estimate_draws`): below it the delta-method s.e. of a far-tail p-value rests on
#: a few heavy weights and understates the spread over seeds (about half near ESS 7-25, within 10-30%
#: from about 90 on; bench_circle_precision).
TARGET_ESS = 100.0
#: At most this many times the requested draws per motif (:func:`estimate_draws`).
MAX_GROWTH = 16
#: And at most this many sequence-directions (``B n``) per motif: the draws grow up to 16 times at
#: n = 1000, 1.6 times at n = 10,000 and not from n = 16,000 on (a direction's transform and draw
#: cost about n; at n = 100,000 the default fit's 1000 circles took 9-11 s of its 26-38 s).
MAX_GROWTH_WORK = 16_000_000
#: And at most this many cell-directions (``B`` times the competing cells of a step): the circles'
#: kernel and transform cost about the grid's size per direction, so the draws grow up to 16 times to
#: k = 8 (32,896 cells with merged strands), 4 times at k = 9 and not from k = 10 on.
MAX_GROWTH_CELLS = 2**29
#: Where the level's pilot predicts fewer than half of :data:`TARGET_ESS` effective circles, a second
#: pilot of this many directions at the chosen level measures the ESS per direction again before the
#: number of draws is set (:func:`growth_rate`): 128 directions see a heavy tail poorly (they
#: overstated the estimate's ESS per direction 3.4 times on the honesty table's far-tail data set).
GROWTH_PILOT = 1024
#: Seed of that second pilot (fixed, like :data:`PILOT_SEED`, and another stream).
GROWTH_PILOT_SEED = 22


@dataclass(frozen=True)
class CircleAxis:
    """The circles of one test: ``y(w) / rho = offset + cos(w) axis + sin(w) d`` for every direction d.

    Attributes
    ----------
    j : int
        The tested motif.
    offset_lines, axis_lines : list of ndarray
        Per step s, the step lines (``<g_c, v> / ||g_c||`` over the competing cells, in the
        order of :attr:`CircleTests.steps`) of the offset ``P_S y / rho`` and of the axis ``eta``.
    cos_obs, sin_obs : float
        The observation's angle on its circle (``sin_obs > 0``).
    df : int
        ``m - 1``: the Student-t degrees of freedom of ``cot(w) sqrt(m - 1)``.
    direction : ndarray (n,)
        The observed direction ``d_0`` (unit, in ``K``).
    space : ndarray (n, dim K)
        Not stored: ``K`` is the complement of :attr:`off`.
    off : ndarray (n, r)
        Orthonormal basis of ``K``'s complement (the covariates, and every selected
        feature for the motif hypothesis or ``eta`` for the global one).
    fixed_lines : list of ndarray
        Per step, the step lines of ``P_S u`` itself (the offset before scaling by ``1 / rho``).
    along, size : float
        The observation's coordinates ``<eta, u>`` and ``||u off S and eta||`` (``u`` the unit residual).
    eta_norm : float
        ``||eta_raw||``: the norm of motif j's feature off ``S`` before normalising (motif hypothesis),
        so that the coefficient ``b`` of the feature moves the circle's centre by ``b ||eta_raw||``.
    shift : float
        The centre's coordinate along ``eta`` of the tested value's circles (:meth:`tested`; 0 for ``b = 0``).
    """

    j: int
    offset_lines: list
    axis_lines: list
    cos_obs: float
    sin_obs: float
    df: int
    direction: np.ndarray
    off: np.ndarray
    fixed_lines: list = ()
    along: float = 0.0
    size: float = 1.0
    eta_norm: float = 1.0
    shift: float = 0.0

    def tested(self, shift: float) -> "CircleAxis":
        """The circles of ``H0: coefficient = b``, with ``shift = b ||eta_raw|| / ||y off W||`` (motif hypothesis).

        The observation ``u = P_S u + along eta + size d_0`` is ``b``'s centre ``P_S u + shift eta``
        plus ``rho_b (cos w_b eta + sin w_b d_0)``: only the offset and the observed angle change.
        """
        along = self.along - shift
        rho = float(np.hypot(along, self.size))
        offset = [(f + shift * a) / rho for f, a in zip(self.fixed_lines, self.axis_lines)]
        return replace(self, offset_lines=offset, cos_obs=along / rho, sin_obs=self.size / rho, shift=float(shift))

    @property
    def t_obs(self) -> float:
        """The observed signed statistic ``cot(w_0) sqrt(df)`` (motif j's t statistic, motif hypothesis)."""
        return self.cos_obs / self.sin_obs * np.sqrt(self.df)


@dataclass(frozen=True)
class CircleNullLaw:
    """The law of one motif's statistic given the selection and the drawn directions (the theorem's G).

    A mixture over the B + 1 circles: on each, the Student-t density of the statistic
    restricted to the circle's part of the event. The p-value is its survival function
    at the observed statistic.

    Attributes
    ----------
    segments : ndarray (S, 2)
        Ranges of the signed statistic (Student-t units) inside the event, over all circles.
    df : int
        Degrees of freedom of the Student-t law on each circle.
    log_total : float
        ``log sum_b D(d_b)``: the mixture's normaliser.
    observed : float
        The observed signed statistic.
    two_sided : bool
        Whether the p-value counts both tails (``|t| >= |t_obs|``).
    """

    segments: np.ndarray
    df: int
    log_total: float
    observed: float
    two_sided: bool = True

    def density(self, t: np.ndarray) -> np.ndarray:
        """The mixture density of the signed statistic at ``t``."""
        t = np.asarray(t, dtype=np.float64)
        flat = t.reshape(-1)
        inside = ((self.segments[:, 0][None, :] <= flat[:, None]) & (flat[:, None] <= self.segments[:, 1][None, :]))
        return (inside.sum(1) * 0.5 * np.exp(stats.t.logpdf(flat, self.df) - self.log_total)).reshape(t.shape)


@dataclass(frozen=True)
class CircleEstimate:
    """Exact selective p-values of every selected motif.

    Attributes
    ----------
    pvalues, se, upper : ndarray (q,)
        The p-values, their Monte-Carlo standard errors and one-sided 95% Monte-Carlo
        upper bounds (``p + 1.645 se``, at most 1).
    statistics : ndarray (q,)
        Observed signed statistics ``sqrt(df) cot(w_0)``: motif j's t statistic in the
        selected model (motif hypothesis), or the signed square root of its step score
        in Student-t units (global).
    df : ndarray of int (q,)
        Their Student-t degrees of freedom.
    ess : ndarray (q,)
        Effective sample size of the weights ``D(d_b)`` over the B + 1 directions (over the B / 2 + 1
        pairs' sums where the directions come in mirrored pairs: the independent terms).
    neighbours : ndarray of int (q,)
        Competitors per step (the motif's own included) in each motif's conditioning subspace (0: none;
        :data:`OBSERVED_DIRECTION`: tested given all of its direction).
    hypothesis : str
    n_draws : int
        Directions requested per motif for its estimate, besides the observed one.
    n_directions : int
        Directions (circles) drawn in all, pilots included: one Kronecker transform each, or one per
        pair for the pilots' antithetic pairs and the mirrored pairs.
    seconds : float
    null_laws : tuple of CircleNullLaw
        Each motif's conditional null law (for plots).
    tests : CircleTests or None
        The circles themselves (not saved with results).
    laws : tuple of DirectionLaw or None
        Each motif's direction law (None: tested given all of its direction), for the intervals.
    draws : ndarray of int (q,)
        Directions each motif's estimate drew (B): ``n_draws``, more where its pilots predicted few
        effective circles (:func:`estimate_draws`; a grown odd number rounded to whole pairs within
        the cap), 0 for a motif tested given all of its direction. A number given is drawn exactly.
    pairs : ndarray of bool (q,)
        Whether each motif's circles came in mirrored pairs (``V`` not empty and ``B`` even, > 0).
    """

    pvalues: np.ndarray
    se: np.ndarray
    upper: np.ndarray
    statistics: np.ndarray
    df: np.ndarray
    ess: np.ndarray
    neighbours: np.ndarray
    hypothesis: str
    n_draws: int
    n_directions: int
    seconds: float
    null_laws: tuple = ()
    tests: object = None
    laws: tuple = ()
    draws: np.ndarray = None
    pairs: np.ndarray = None


@dataclass(frozen=True)
class CirclePlanes:
    """The cells that can bind in each row's plane of one motif's circles (:meth:`CircleTests.planes`).

    Attributes
    ----------
    j : int
        The motif whose circles' planes these are.
    half_width : float
        The square ``|x|, |z| <= half_width`` of the plane coordinates in which the cells
        were listed: the lists hold for circles inside it.
    steps : tuple
        Per step, :func:`_circles.plane_cells`' lists (cells, their direction lines,
        counts, the selected cell's lines).
    """

    j: int
    half_width: float
    steps: tuple

    def holds(self, axis: CircleAxis) -> bool:
        """Whether the circle of ``axis`` (``CircleAxis.tested``) lies inside the square."""
        rho = float(np.hypot(axis.along - axis.shift, axis.size))
        return axis.j == self.j and abs(axis.shift) + rho <= self.half_width


def check_hypothesis(hypothesis: str) -> str:
    """Return ``hypothesis`` if it is one of :data:`HYPOTHESES`, else raise ``ValueError``."""
    if not isinstance(hypothesis, str) or hypothesis not in HYPOTHESES:
        raise ValueError(f"hypothesis must be one of {', '.join(map(repr, HYPOTHESES))}; got {hypothesis!r}")
    return hypothesis


class CircleTests:
    """The circles of every selected motif under one hypothesis, and their event masses.

    Parameters
    ----------
    features : feature map of the grid (``project``, ``column``, ``n_threads``)
    selection : Selection
    covariate_basis : ndarray (n, p)
        Orthonormal basis of the covariates.
    hypothesis : {"motif", "global"}
    """

    def __init__(self, features, selection: Selection, covariate_basis: np.ndarray, hypothesis: str = "motif"):
        self.features, self.selection, self.hypothesis = features, selection, check_hypothesis(hypothesis)
        event = selection.event
        self.event, self.q = event, event.n_selected
        self.n, self.p = selection.unit_residual.shape[0], covariate_basis.shape[1]
        self.covariate_basis = covariate_basis
        self.steps = [step_cells(event, s) for s in range(self.q)]
        u = selection.unit_residual
        self.observed_numerators = features.project(u[None])[0]  # Phi^T u
        self.coefficients = u @ event.basis  # E^T u
        if self.hypothesis == "motif" and np.linalg.norm(u - event.basis @ self.coefficients) <= 1e-12:
            raise ValueError("the selected model fits y exactly: no residual left to test the motifs")
        axes = [self._axis(j) for j in range(self.q)]
        # The selected cell, then the cells likeliest to bind (largest reach on the observed circles),
        # then the rest in the grid's order: the kernel's cost, never its result, depends on this order.
        # The first 1 + LEADING_CELLS positions of each step are the screen's cells (arcs(cut=...)).
        observed = [self.lines(*self.direction_terms(a.direction)) for a in axes]
        orders = []
        for s, (cells, selected) in enumerate(self.steps):
            reach = np.max([np.abs(a.offset_lines[s]) + np.abs(a.axis_lines[s]) + np.abs(o[s][0])
                            for a, o in zip(axes, observed)], axis=0)
            ranked = np.argsort(-reach, kind="stable")
            leading = ranked[ranked != selected][:LEADING_CELLS]
            rest = np.ones(reach.size, dtype=bool)
            rest[leading] = False
            rest[selected] = False
            order = np.concatenate([[selected], leading, np.flatnonzero(rest)])
            orders.append(order)
            self.steps[s] = (cells[order], int(np.flatnonzero(order == selected)[0]))
        self.axes = [replace(a, offset_lines=[v[o] for v, o in zip(a.offset_lines, orders)],
                             axis_lines=[v[o] for v, o in zip(a.axis_lines, orders)],
                             fixed_lines=[v[o] for v, o in zip(a.fixed_lines, orders)]) for a in axes]
        self.step_scales = [np.sqrt(event.inv_den[s, cells]) for s, (cells, _) in enumerate(self.steps)]
        # Whether arcs(cut=...) screens: every step has enough cells for the screen to pay (SCREEN_MIN_CELLS).
        self.screens = min((cells.size for cells, _ in self.steps), default=0) >= SCREEN_MIN_CELLS
        self.cross_t = np.ascontiguousarray(event.cross.T)
        self._ranked: dict[int, np.ndarray] = {}  # conditioning_space's rankings of each step's competitors

    def lines(self, numerators: np.ndarray, coefficients: np.ndarray) -> list:
        """Per step, the step lines ``(R, G_s)`` of R vectors given their numerators and E-coefficients."""
        return [line for line, _ in step_lines(self.event, numerators, coefficients, self.steps)]

    def direction_terms(self, vectors: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Numerators ``Phi^T v`` and E-coefficients of vectors (rows, or one vector).

        ``out`` (rows x grid cells, C-contiguous float64), when given, receives the numerators.
        """
        vectors = np.atleast_2d(vectors)
        with single_threaded_blas():
            coefficients = vectors @ self.event.basis
        return self.features.project(vectors, out), coefficients

    def _axis(self, j: int) -> CircleAxis:
        event, c, u = self.event, self.coefficients, self.selection.unit_residual
        if self.hypothesis == "global":
            eta = event.basis[:, j]
            fixed = np.zeros(self.q)
            off = np.hstack([self.covariate_basis, eta[:, None]])
            df = self.n - self.p - 1
            eta_coefficients = np.eye(self.q)[j]
            eta_norm = 1.0
        else:
            # The selected features in E-coordinates: r[m, i] = <e_m, phi_i> (upper triangular).
            r = event.cross[event.cells, :].T
            others = np.delete(r, j, axis=1)
            q_others = np.linalg.qr(others)[0] if others.shape[1] else np.zeros((self.q, 0))
            eta_coefficients = r[:, j] - q_others @ (q_others.T @ r[:, j])
            eta_norm = float(np.linalg.norm(eta_coefficients))
            eta_coefficients /= eta_norm
            eta = event.basis @ eta_coefficients
            fixed = q_others @ (q_others.T @ c)  # P_S u in E-coordinates
            off = np.hstack([self.covariate_basis, event.basis])
            df = self.n - self.p - self.q
        along = float(eta @ u)
        rest = u - event.basis @ fixed - along * eta  # u off S and eta: sin(w0) rho d0
        size = float(np.linalg.norm(rest))
        rho = float(np.hypot(along, size))  # ||u off S||
        fixed_lines = [a[0].copy() for a in self.lines((event.cross @ fixed)[None], fixed[None])]
        axis = self.lines((event.cross @ eta_coefficients)[None], eta_coefficients[None])
        return CircleAxis(j, [a / rho for a in fixed_lines], [b[0].copy() for b in axis], along / rho, size / rho,
                          int(df), rest / size, off, fixed_lines, along, size, eta_norm)

    def arcs(self, axis: CircleAxis, rows: tuple, planes: "CirclePlanes | None" = None,
             cut: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The event's intervals of ``w`` on the circle of each row (``(R, K, 2)`` and counts).

        ``rows`` are the directions' numerators ``(R, G)`` and E-coefficients ``(R, q)``
        (:meth:`direction_terms`); the kernel builds each row's step lines itself.
        ``planes``, when given (:meth:`planes`, for the same rows and the axis's plane),
        lists the cells that can bind in each row's plane: the same arcs (but for slivers
        thinner than ``2e-12`` of the planes' square), from a handful of cells per step,
        provided the circle lies inside the square. ``cut``, when given (a log mass), screens
        the rows first: a row whose event on its steps' leading cells alone (a superset of
        its event) has a log mass below ``cut`` is dropped (count 0) before the other cells.
        """
        numerators = np.ascontiguousarray(rows[0], dtype=np.float64)
        coefficients = np.ascontiguousarray(rows[1], dtype=np.float64)
        arcs = np.zeros((numerators.shape[0], _circles.max_arcs(), 2))
        arcs[:, 0, 1] = 2.0 * np.pi
        counts = np.ones(numerators.shape[0], dtype=np.int64)
        if planes is not None and not planes.holds(axis):
            raise ValueError("the circle leaves the square its planes' cells were listed in")
        sliver = 0.0
        if cut is not None and planes is None and self.screens:
            sliver = sliver_sine(cut, axis.df)
            lead = 1 + LEADING_CELLS  # the selected cell, first, and the leading ones (__init__)
            for s in self.step_order(axis):
                cells = self.steps[s][0]
                _circles.step_arcs_rows(arcs, counts, axis.offset_lines[s][:lead], axis.axis_lines[s][:lead],
                                        numerators, coefficients, self.cross_t, s, cells[:lead],
                                        self.step_scales[s][:lead], 0, self.features.n_threads)
            self._check_overflow(counts)
            lo, hi, owner = arc_statistic_segments(arcs, counts)
            bound, _ = segment_log_masses(lo, hi, owner, counts.shape[0], axis.df, 0.0, "none")
            counts[bound < cut] = 0
        for s in self.step_order(axis):
            cells, selected = self.steps[s]
            if planes is None:
                _circles.step_arcs_rows(arcs, counts, axis.offset_lines[s], axis.axis_lines[s], numerators,
                                        coefficients, self.cross_t, s, cells, self.step_scales[s], selected,
                                        self.features.n_threads, sliver)
            else:
                _circles.step_arcs_listed(arcs, counts, axis.offset_lines[s], axis.axis_lines[s], *planes.steps[s],
                                          numerators, coefficients, self.cross_t, s, cells, self.step_scales[s],
                                          selected, self.features.n_threads)
        self._check_overflow(counts)
        return arcs, counts

    @staticmethod
    def _check_overflow(counts: np.ndarray) -> None:
        if (counts < 0).any():
            raise RuntimeError(f"the selection event on {int((counts < 0).sum())} circle(s) has more than "
                               f"{_circles.max_arcs()} arcs; please report this data set")

    def step_order(self, axis: CircleAxis) -> list[int]:
        """The steps in the order their events are intersected: the other motifs' first, motif j's last."""
        return [s for s in range(self.q) if s != axis.j] + [axis.j]

    def planes(self, axis: CircleAxis, rows: tuple, reach: float) -> "CirclePlanes":
        """The cells that can bind, per step and side, in each row's plane of motif j's circles.

        Every circle of ``H0: coefficient = b`` through a row's direction ``d`` lies in
        the plane ``{P_S u + x eta + z d}`` (:meth:`CircleAxis.tested`: only the centre
        ``(shift, 0)`` and the radius change with ``b``), where the event is one fixed
        set. Listing once the cells that cut each step's sides there (inside a square
        holding every circle with ``|b| <= reach``) makes each further ``b`` cost a
        handful of cells per step instead of all of them (:func:`_circles.plane_cells`).
        """
        numerators = np.ascontiguousarray(rows[0], dtype=np.float64)
        coefficients = np.ascontiguousarray(rows[1], dtype=np.float64)
        shift = float(reach) * axis.eta_norm / self.selection.residual_norm
        half_width = 2.0 * (2.0 * shift + abs(axis.along) + axis.size)
        steps = [None] * self.q
        for s in range(self.q):
            cells, selected = self.steps[s]
            steps[s] = _circles.plane_cells(axis.fixed_lines[s], axis.axis_lines[s], numerators, coefficients,
                                            self.cross_t, s, cells, self.step_scales[s], selected, half_width,
                                            axis.size, self.features.n_threads)
        return CirclePlanes(axis.j, half_width, tuple(steps))

    def segments(self, axis: CircleAxis, rows: tuple, planes: "CirclePlanes | None" = None,
                 cut: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """The event's ranges of ``cot``-statistic on each row's circle: ``lo, hi``, their rows, the row count."""
        arcs, counts = self.arcs(axis, rows, planes, cut)
        return (*arc_statistic_segments(arcs, counts), counts.shape[0])

    def log_masses(self, axis: CircleAxis, rows: tuple, segments: list | None = None,
                   two_sided: bool = True, cut: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``log D`` and ``log N`` at the observed statistic of each row's circle.

        ``N`` counts ``|t| >= |t_obs|`` (two-sided) or ``t >= t_obs``. ``segments``, when
        given, collects the rows' event ranges of the statistic (Student-t units). ``cut``:
        rows screened out below it (:meth:`arcs`) get ``-inf`` for both.
        """
        lo, hi, owner, count = self.segments(axis, rows, cut=cut)
        if segments is not None:
            segments.append(np.column_stack([lo, hi]) * np.sqrt(float(axis.df)))
        threshold = axis.cos_obs / axis.sin_obs
        return segment_log_masses(lo, hi, owner, count, axis.df, abs(threshold) if two_sided else threshold,
                                  "two-sided" if two_sided else "upper")

    def conditioning_space(self, axis: CircleAxis, neighbours: int, features: dict | None = None) -> np.ndarray:
        """Orthonormal basis of motif j's conditioning subspace ``V`` at a level (module docstring).

        Spanned, in one fixed order (so the levels nest exactly), by the other selected
        features (global hypothesis) and, for each step i (the motif's own included), the
        features of its ``neighbours`` competitors most correlated with the selected one at
        that step, all taken off ``K``'s complement (Gram-Schmidt, twice). ``features``, when
        given, keeps the competitors' features by cell between calls (the levels share them).
        """
        event, j = self.event, axis.j
        others = [i for i in range(self.q) if i != j]
        ranked = [self._competitors(i)[:neighbours] for i in range(self.q)]
        columns = [event.basis[:, i] for i in others] if self.hypothesis == "global" else []
        cache = {} if features is None else features
        for rank in range(neighbours):
            for cells in ranked:
                if rank < len(cells):
                    cell = int(cells[rank])
                    if cell not in cache:
                        cache[cell] = self.features.column(cell)
                    columns.append(cache[cell])
        basis = np.zeros((self.n, len(columns)))
        kept = 0
        for column in columns:
            vector = np.array(column, dtype=np.float64)
            size = np.linalg.norm(vector - axis.off @ (axis.off.T @ vector))
            for _ in range(2):  # twice: one pass loses digits on nearly collinear features
                vector -= axis.off @ (axis.off.T @ vector) + basis[:, :kept] @ (basis[:, :kept].T @ vector)
            if size > 0 and np.linalg.norm(vector) > 1e-6 * size:
                basis[:, kept] = vector / np.linalg.norm(vector)
                kept += 1
        return basis[:, :kept]


    def _competitors(self, i: int) -> np.ndarray:
        """Step i's competing cells by decreasing correlation with its selected cell (those above 0),
        ranked once for every motif and level (:meth:`conditioning_space`)."""
        if i not in self._ranked:
            event = self.event
            correlation = np.abs(event.cross[:, i]) * np.sqrt(event.inv_den[i])
            correlation[event.cells] = 0.0  # the selected cells are in the span already
            nearest = np.argsort(-correlation, kind="stable")
            self._ranked[i] = nearest[:np.count_nonzero(correlation > 0)]
        return self._ranked[i]


class DirectionLaw:
    """I.i.d. directions of motif j's circles given ``b = V^T d`` at its observed value.

    ``d = V b_obs + sqrt(1 - |b_obs|^2) r``, ``r`` uniform on the unit sphere of ``K``
    orthogonal to ``V`` (``d = r`` when ``V`` is empty). ``Phi^T V b_obs`` is computed
    once, so each direction costs one transform. Gaussian coordinates are drawn in
    the canonical order of the rows.
    """

    def __init__(self, tests: CircleTests, axis: CircleAxis, space: np.ndarray, order: np.ndarray):
        self.tests, self.order, self.rank = tests, order, space.shape[1]
        self.off = np.hstack([axis.off, space])
        b = space.T @ axis.direction
        self.fixed = space @ b
        self.scale = float(np.sqrt(max(1.0 - b @ b, 0.0)))
        self.fixed_terms = tests.direction_terms(self.fixed) if self.rank else None

    def draw(self, rng: np.random.Generator, m: int, antithetic: bool = False,
             out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Numerators ``(m, G)`` and E-coefficients ``(m, q)`` of ``m`` directions.

        ``antithetic``: draw ``ceil(m / 2)`` directions ``r`` and use ``+r`` (rows ``0 .. h - 1``)
        and ``-r`` (rows ``h ..``, the first ``m - h`` of them negated): the pilots, whose weights
        are then the same for ``b`` and ``-b`` (:func:`choose_level`), and the mirrored pairs of
        :func:`circle_pvalues`. The transform being linear, ``-r``'s terms are the negated terms
        of ``r`` (exactly: rounding is symmetric), so a pair costs one transform.
        ``out`` (``(m, G)``, C-contiguous float64), when given, receives the numerators.
        """
        half = (m + 1) // 2 if antithetic else m
        g = gaussian_rows(rng, half, self.order)
        with single_threaded_blas():  # skinny products between the transforms' threads
            for _ in range(2):  # twice: one pass leaves rounding along the span
                g -= (g @ self.off) @ self.off.T
        g /= np.linalg.norm(g, axis=1, keepdims=True)
        cells = self.tests.observed_numerators.shape[0]
        if out is None:  # every row written in place: the transforms, then the mirrors (no second block)
            out = np.empty((m, cells))
        elif out.shape != (m, cells):
            raise ValueError(f"out has shape {out.shape}, expected {(m, cells)}")
        _, coefficients = self.tests.direction_terms(g, out[:half])
        # fixed + scale * terms, and (antithetic) fixed - scale * terms, in one pass
        shift = None if self.fixed_terms is None else self.fixed_terms[0][0]
        _circles.mirrored_affine_rows(out, half, self.scale, shift, self.tests.features.n_threads)
        if antithetic:
            coefficients = np.vstack([coefficients, -coefficients[:m - half]])
        if self.fixed_terms is not None:
            coefficients *= self.scale
            coefficients += self.fixed_terms[1]
        return out, coefficients


def _log_masses_of_law(tests: CircleTests, axis: CircleAxis, law: DirectionLaw, m: int,
                       rng: np.random.Generator, bar=None, segments: list | None = None,
                       antithetic: bool = False, cut: float | None = None,
                       pilot: bool = False, pairs: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``log D`` and ``log N`` of ``m`` directions drawn from ``law``, by blocks of :data:`BLOCK`.

    ``cut``: :meth:`CircleTests.arcs`' screen. ``pilot``: screen each block after the first
    below ``exp(-SCREEN_MARGIN) / m`` of the largest ``D`` of the blocks before it (a function of
    the pilots alone; the dropped weights sum to less than ``exp(-40)`` of the largest, so the
    weights' ESS is the same to the rounding of a double); the first block, unscreened, is
    :data:`PILOT_FIRST_BLOCK` directions (the antithetic pairs are the same whatever the blocks: the
    draws' stream is the same, provided every block is even, which is checked). ``antithetic`` with
    ``V`` empty and no ``segments`` to collect resolves each pair's circle once. ``pairs`` (``m`` even): the mirrored
    pairs ``V b +- s r`` of :func:`circle_pvalues`, one sum per pair (``m / 2`` terms).
    """
    if (pairs or antithetic) and (m % 2 or BLOCK % 2 or (pilot and PILOT_FIRST_BLOCK % 2)):
        # an odd block would leave a +r without its -r: the pilots' weights would then differ between
        # b and -b (choose_level needs them equal), and the pairs' sums would be misread
        raise ValueError(f"antithetic or mirrored pairs need even block sizes; got {m} directions, blocks of "
                         f"{BLOCK}" + (f" (first {PILOT_FIRST_BLOCK})" if pilot else ""))
    dens, nums = [], []
    first = 0
    while first < m:
        size = min(PILOT_FIRST_BLOCK if pilot and first == 0 else BLOCK, m - first)
        if pilot and dens:
            top = max(float(np.max(d)) for d in dens) - float(np.log(m)) - SCREEN_MARGIN
            cut = top if np.isfinite(top) else None
        if antithetic and not pairs and law.rank == 0 and segments is None:
            # V empty: the circle of -r is the circle of r (the same set, traversed w -> -w), so
            # its D and N are r's: only the r are drawn (the same stream as the pairs' first half).
            half = (size + 1) // 2
            den, num = tests.log_masses(axis, law.draw(rng, half), cut=cut)
            den, num = np.concatenate([den, den[:size - half]]), np.concatenate([num, num[:size - half]])
        else:  # the block's transforms are freed before the next block's (the memory estimate counts one)
            den, num = tests.log_masses(axis, law.draw(rng, size, antithetic or pairs), segments, cut=cut)
        if pairs:  # rows i and size / 2 + i are a pair (DirectionLaw.draw)
            den, num = _pair_sums(den, num)
        dens.append(den)
        nums.append(num)
        if bar is not None:
            bar.update(size)
        first += size
    return (np.concatenate(dens), np.concatenate(nums)) if dens else (np.zeros(0), np.zeros(0))


def _pair_sums(log_den: np.ndarray, log_num: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each mirrored pair's ``log D`` and ``log N`` (rows ``i`` and ``R / 2 + i`` of ``R`` rows are a pair)."""
    return np.logaddexp(*log_den.reshape(2, -1)), np.logaddexp(*log_num.reshape(2, -1))


def sliver_sine(cut: float, df: int) -> float:
    """The ``s`` whose set ``{|sin w| < s}`` has mass at most ``exp(cut)`` on every circle (0 if none is found).

    ``cot(w) sqrt(df)`` is Student t: the set is ``{|t| > sqrt(df) sqrt(1 - s^2) / s}``.
    """
    if not cut > SMALLEST_SLIVER_LOG_MASS:  # scipy's quantile is unreliable for subnormal tail masses
        return 0.0
    with np.errstate(all="ignore"):
        t = float(stats.t.isf(0.5 * np.exp(cut), df))
    if not np.isfinite(t) or t <= 0:
        return 0.0
    ratio = t / np.sqrt(float(df))
    return (1.0 - 1e-6) / float(np.sqrt(1.0 + ratio * ratio))  # a little inside: rounding of the t quantile


def screen_cut(log_observed_exceedance: float, n_draws: int) -> float | None:
    """The screen's log mass: ``log N_0 - log(B + 1) - SCREEN_MARGIN`` (None when ``N_0`` is 0 or unknown)."""
    if not np.isfinite(log_observed_exceedance):
        return None
    return float(log_observed_exceedance) - float(np.log(n_draws + 1.0)) - SCREEN_MARGIN


def choose_level(tests: CircleTests, axis: CircleAxis,
                 order: np.ndarray) -> tuple[DirectionLaw | None, int, int, float]:
    """Motif j's direction law: a level of :data:`NEIGHBOUR_LADDER` chosen from its pilot's weights.

    The levels are tried in order, each against a bar on its pilot's ESS per direction:
    :data:`LIGHT_PILOT_ESS` while the next level is light too (``V`` at most :data:`LIGHT_SHARE`
    of ``K``), :data:`MIN_PILOT_ESS` for the last light level and the heavier ones; the first
    level that passes its bar is used (none: the observed direction alone). The rule only moves
    forward, so the level chosen depends on the pilots of the levels up to it, hence on its own
    ``b`` (the levels nest), as the theorem needs.

    Returns the law (None: test given all of the direction), its level (competitors per
    step, or :data:`OBSERVED_DIRECTION`), the pilot directions drawn and the chosen level's
    pilot ESS per direction (NaN with no law; :func:`estimate_draws`). The pilots are
    drawn from a fixed seed (:data:`PILOT_SEED`): independent of the data, so the theorem
    holds, and the same for every ``random_state``, so that the level, hence the p-value
    that the Monte Carlo estimates, is a function of the data alone and a seed changes
    only the estimate's own draws. They come in antithetic pairs ``+r, -r``: the pilots
    of ``b`` and ``-b`` are then negatives of each other and, ``D`` being even in the
    direction, their weights agree, so the level is a function of ``+-b`` (which of the
    observation's two representatives ``(w, d)``, ``(2 pi - w, -d)`` is used does not
    matter; the theorem needs the level to be a function of ``+-b``).
    """
    rng = np.random.default_rng(PILOT_SEED)
    dim = tests.n - axis.off.shape[1]  # dimension of K
    room = dim - max(1, dim // 8)  # r keeps at least an eighth of K
    spaces: dict = {}
    features: dict = {}  # the competitors' features, shared by the levels

    def space_of(i: int) -> np.ndarray | None:  # level i's V (None past the ladder or the room), built once
        if i >= len(NEIGHBOUR_LADDER):
            return None
        if i not in spaces:
            spaces[i] = tests.conditioning_space(axis, NEIGHBOUR_LADDER[i], features)
        return spaces[i] if spaces[i].shape[1] <= room else None

    def light(space: np.ndarray | None) -> bool:
        return space is not None and space.shape[1] <= LIGHT_SHARE * dim

    drawn = 0
    for i, count in enumerate(NEIGHBOUR_LADDER):
        space = space_of(i)
        if space is None:
            break
        law = DirectionLaw(tests, axis, space, order)
        log_den, _ = _log_masses_of_law(tests, axis, law, PILOT, rng, antithetic=True, pilot=True)
        drawn += PILOT
        ess = log_weight_ess(log_den)
        if ess >= LIGHT_PILOT_ESS * PILOT:
            return law, count, drawn, ess / PILOT
        if ess >= MIN_PILOT_ESS * PILOT and not (light(space) and light(space_of(i + 1))):
            return law, count, drawn, ess / PILOT
    return None, OBSERVED_DIRECTION, drawn, float("nan")


def growth_rate(tests: CircleTests, axis: CircleAxis, law: DirectionLaw | None, pilot_rate: float,
                n_draws: int, grow: bool, most: int) -> tuple[float, int]:
    """The ESS per direction that sets a motif's number of draws, and the directions drawn to measure it.

    The level's pilot rate, unless the draws may grow and it predicts fewer than half of
    :data:`TARGET_ESS` effective circles from ``n_draws`` and the draws may grow by at least the
    second pilot's size (``most``, :func:`most_draws`): then a second pilot of
    :data:`GROWTH_PILOT` directions at the chosen level, from the fixed seed
    :data:`GROWTH_PILOT_SEED` and in antithetic pairs like the first (so that the rate is a function
    of ``+-b``), then discarded. Both depend on the data only through what the test conditions
    on, so the number of draws set from them keeps the theorem (module docstring).
    """
    if (not grow or law is None or n_draws <= 0 or not pilot_rate * n_draws < 0.5 * TARGET_ESS
            or most - n_draws < GROWTH_PILOT):
        return pilot_rate, 0
    rng = np.random.default_rng(GROWTH_PILOT_SEED)
    log_den, _ = _log_masses_of_law(tests, axis, law, GROWTH_PILOT, rng, antithetic=True, pilot=True)
    return log_weight_ess(log_den) / GROWTH_PILOT, GROWTH_PILOT


def most_draws(n_draws: int, n_sequences: int, n_cells: int, limit: int | None = None) -> int:
    """The most directions :func:`estimate_draws` may give a motif.

    :data:`MAX_GROWTH` times ``n_draws``, at most :data:`MAX_GROWTH_WORK` sequence-directions
    (``B n``), :data:`MAX_GROWTH_CELLS` cell-directions (``B`` times a step's competing cells) and
    ``limit`` (the motif's share of ``max_replays``), but never fewer than ``n_draws``: a large
    data set or grid keeps the cost it asked for.
    """
    most = min(MAX_GROWTH * n_draws, MAX_GROWTH_WORK // max(int(n_sequences), 1),
               MAX_GROWTH_CELLS // max(int(n_cells), 1))
    if limit is not None:
        most = min(most, int(limit))
    return int(max(n_draws, most))


def estimate_draws(n_draws: int, pilot_rate: float, grow: bool, most: int) -> int:
    """Directions of one motif's estimate: ``n_draws``, or more where its pilots predict few effective ones.

    With ``grow``, a motif whose chosen level's pilot ESS per direction ``pilot_rate`` predicts
    fewer than :data:`TARGET_ESS` effective circles from ``n_draws`` gets
    ``ceil(TARGET_ESS / pilot_rate)`` directions, at most ``most`` (:func:`most_draws`; all of
    them when the rate is 0: no pilot met the event; NaN, no pilot: ``n_draws``). B is then a
    function of the pilots and of the data's size, which depend on the data only through what the
    test conditions on (module docstring, "Number of draws"), so it is fixed before the
    estimate's draws and the theorem holds.
    """
    if not grow or n_draws <= 0 or np.isnan(pilot_rate):
        return int(n_draws)
    most = max(int(n_draws), int(most))
    if pilot_rate <= 0:  # no pilot met the event: as many as allowed
        return most
    wanted = int(np.ceil(TARGET_ESS / pilot_rate))
    return int(min(most, max(n_draws, wanted)))


def circle_pvalues(features, selection: Selection, covariate_basis: np.ndarray, n_draws: int,
                   rng: np.random.Generator, order: np.ndarray, hypothesis: str = "motif",
                   progress: bool = False, planned: int | None = None, grow: bool = False,
                   max_draws: int | None = None) -> CircleEstimate:
    """Exact selective p-values of every selected motif (module docstring: theorem and proof).

    Parameters
    ----------
    features : feature map of the grid
    selection : Selection
    covariate_basis : ndarray (n, p)
    n_draws : int
        Directions drawn per motif (B >= 0) besides the observed one (at least; see ``grow``).
    rng : numpy.random.Generator
    order : ndarray of int64 (n,)
        Canonical order of the rows (:func:`seism_stats.utils.canonical.canonical_order`).
    hypothesis : {"motif", "global"}
    progress : bool
        A progress bar over the directions.
    planned : int, optional
        Directions the whole fit will draw (default: this call's ``q x n_draws``): timed on the
        first block, a plan longer than :data:`~seism_stats.sampling.budget.LONG_SAMPLING_SECONDS` is
        announced by a warning with its estimate before the rest is drawn.
    grow : bool
        Let a motif whose pilots predict few effective circles draw more than ``n_draws``
        (:func:`estimate_draws`; the default number of draws of a fit). False: exactly ``n_draws``.
    max_draws : int, optional
        With ``grow``, the most directions any motif's estimate may draw (its share of ``max_replays``).

    Returns
    -------
    CircleEstimate
    """
    start = time.perf_counter()
    check_hypothesis(hypothesis)
    q = selection.event.n_selected
    pvalues, se, ess = np.full(q, np.nan), np.full(q, np.nan), np.zeros(q)
    neighbours = np.zeros(q, dtype=np.int64)
    if q == 0:
        return CircleEstimate(pvalues, se, pvalues.copy(), pvalues.copy(), np.zeros(0, dtype=np.int64), ess,
                              neighbours, hypothesis, int(n_draws), 0, time.perf_counter() - start,
                              draws=np.zeros(0, dtype=np.int64), pairs=np.zeros(0, dtype=bool))
    tests = CircleTests(features, selection, covariate_basis, hypothesis)
    drawn = 0
    laws, chosen = [], []
    draws = np.zeros(q, dtype=np.int64)  # B of each motif's estimate
    pairs = np.zeros(q, dtype=bool)  # whether it drew mirrored pairs
    most = most_draws(n_draws, tests.n, max(cells.size for cells, _ in tests.steps), max_draws)
    with tqdm(total=n_draws * q, disable=not progress, desc="circles", unit="direction") as bar:
        for j, axis in enumerate(tests.axes):
            law, neighbours[j], pilots, pilot_rate = choose_level(tests, axis, order)
            chosen.append(law)
            pilot_rate, more = growth_rate(tests, axis, law, pilot_rate, n_draws, grow, most)
            drawn += pilots + more
            m = estimate_draws(n_draws, pilot_rate, grow, most) if law is not None else 0
            if m > n_draws and m % 2:  # grown: to whole pairs, within the cap
                m = m + 1 if m < most else m - 1
            mirrored = pairs[j] = m > 0 and m % 2 == 0 and law.rank > 0  # module docstring, "Mirrored pairs"
            draws[j] = m
            if m > n_draws:
                bar.total += m - n_draws
                bar.refresh()
            segments: list = []
            observed = np.vstack([axis.direction, 2.0 * law.fixed - axis.direction]) if mirrored else axis.direction
            obs_den, obs_num = tests.log_masses(axis, tests.direction_terms(observed), segments)
            if mirrored:  # the observed pair's sums
                obs_den, obs_num = _pair_sums(obs_den, obs_num)
            cut = screen_cut(obs_num[0], m)
            if law is None:
                den, num = obs_den, obs_num
                bar.update(n_draws)
            else:
                if j == 0 and m > BLOCK:  # time the first block, announce a long plan, go on
                    clock = time.perf_counter()
                    first_den, first_num = _log_masses_of_law(tests, axis, law, BLOCK, rng, bar, segments, cut=cut,
                                                              pairs=mirrored)
                    per_direction = (time.perf_counter() - clock) / BLOCK
                    total = (planned if planned is not None else q * n_draws) + m - n_draws  # later growth unknown
                    budget.announce(budget.SamplingPlan(total, total * per_direction), np.inf,
                                    f"circles sampling of {total:,} directions")
                    rest_den, rest_num = _log_masses_of_law(tests, axis, law, m - BLOCK, rng, bar, segments,
                                                            cut=cut, pairs=mirrored)
                    den, num = np.concatenate([first_den, rest_den]), np.concatenate([first_num, rest_num])
                else:
                    den, num = _log_masses_of_law(tests, axis, law, m, rng, bar, segments, cut=cut, pairs=mirrored)
                den, num = np.concatenate([obs_den, den]), np.concatenate([obs_num, num])
                drawn += m
            pvalues[j], se[j], ess[j] = ratio_pvalue(num, den)
            laws.append(CircleNullLaw(np.vstack(segments), axis.df, float(special.logsumexp(den)), axis.t_obs))
    upper = np.minimum(1.0, pvalues + stats.norm.ppf(0.95) * se)
    statistics = np.array([a.t_obs for a in tests.axes])
    return CircleEstimate(pvalues, se, upper, statistics, np.array([a.df for a in tests.axes]), ess, neighbours,
                          hypothesis, int(n_draws), int(drawn), time.perf_counter() - start, tuple(laws), tests,
                          tuple(chosen), draws, pairs)
