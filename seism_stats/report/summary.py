"""The printed summary of SelectiveMotifResults (a statsmodels ``Summary``).

The header shows the method's settings, not only coefficients (statsmodels
issue 5461): data, grid, kernel, sampler, draws, acceptance, ESS, seed, null
model, covariates. The motif table puts selective, data-split and naive
p-values side by side; notes warn about coarse Monte-Carlo resolution.
"""

from __future__ import annotations

import textwrap
import warnings

import numpy as np
from statsmodels.iolib.summary import Summary
from statsmodels.iolib.table import SimpleTable
from statsmodels.iolib.tableformatting import fmt_2cols, fmt_params

from ..inference.options import FLOOR_FACTOR, SELECTIVE_METHODS
from ..selection.geometry import OBSERVED_DIRECTION
from ..stats.circle_tests import TARGET_ESS
from ..stats.conditional_mc import MIN_WEIGHT_ESS
from ..stats.tilted_permutations import MIN_NUMERATOR_ESS

#: Width of the wrapped notes under the tables.
NOTE_WIDTH = 96
#: Methods whose null draws are i.i.d. (no chains, burn-in or thinning to report).
IID_METHODS = ("circles", "tilted", "cmc")
#: Methods with no chains, burn-in or thinning: the i.i.d. ones and rejection (i.i.d. candidates kept).
CHAINLESS_METHODS = IID_METHODS + ("rejection",)


class MotifSummary(Summary):
    """statsmodels ``Summary`` whose tables differ in width; LaTeX renders each table on its own."""

    def as_latex(self) -> str:
        latex = "\n".join(table.as_latex_tabular() for table in self.tables)
        if self.extra_txt is not None:  # as statsmodels' Summary.as_latex, with LaTeX's special characters escaped
            notes = "".join(LATEX_ESCAPES.get(char, char) for char in self.extra_txt)
            latex = latex + "\n\n" + notes.replace("\n", " \\newline\n ")
        return latex


#: Text-mode LaTeX for the characters the notes may hold (``_``, ``#``, ``>=``, ``~``, ...).
LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                 "<": r"\textless{}", ">": r"\textgreater{}"}


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "None"
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return "nan"
        return f"{value:.{digits}g}"
    return str(value)


#: Characters of the covariate list the header shows (a longer list is cut there and given whole in the notes).
COVARIATES_SHOWN = 29


def _dropped(data) -> str:
    """The header's count of rows left out: missing values, and sequences without a response (CLI)."""
    unmatched = getattr(data, "n_without_response", 0)  # absent from results saved before it existed
    return f"{data.n_dropped} (+{unmatched} no resp.)" if unmatched else str(data.n_dropped)


def _header(results) -> SimpleTable:
    s = results.inference.settings
    info = results.sampler_info
    model = results.model
    covariates = ", ".join(model.exog_names) or "none"
    left = [
        ("Dep. Variable:", model.endog_names),
        ("Model:", "SelectiveMotifModel"),
        ("No. Observations:", str(results.nobs)),
        ("Rows dropped (missing):", _dropped(model.data)),
        ("Motif length k:", str(s["k"])),
        ("Grid cells:", f"{s['n_cells']} ({'k-mer + rev. comp.' if s.get('revcomp') else 'all k-mers'})"),
        ("Kernel:", f"Gaussian lam={_fmt(s['lam'])}, {s['pooling']}-pool"),
        ("Motifs selected:", f"{results.n_selected} of {s['n_motifs']}"),
        ("Covariates:", covariates if len(covariates) <= COVARIATES_SHOWN else
         covariates[:COVARIATES_SHOWN - 3] + "..."),
    ]
    method = s["method"] + (" (exact)" if s["method"] in ("circles", "tilted") else "")
    if s["method"] == "tilted" and results.inference.freedman_lane:
        method = "tilted (Freedman-Lane)"  # exact for the residual permutation, an approximate null
    tested = {"motif": "motif | sel. model", "global": "global null"}[results.hypothesis]
    right = [
        ("Method:", method),
        ("Hypothesis:", tested if results.method in SELECTIVE_METHODS else "-"),
        ("Null model:", {"sphere": "residual sphere", "permutation": "permutation"}[s["null"]]),
        ("Null draws (B):", str(info["draws"])),
        # i.i.d. samplers have no chains (rejection keeps i.i.d. candidates: its acceptance rate is
        # the share kept); the tilted draws' "acceptance" is the share inside the event.
        ("Sampling:", "i.i.d. draws") if s["method"] in CHAINLESS_METHODS else
        ("Chains/burn/thin:", f"{info['chains']} / {info['burn_in']} / {info['thin']}"),
        ("Draws in event:", _fmt(info["acceptance_rate"], 3)) if s["method"] == "tilted" else
        ("Acceptance rate:", "-" if s["method"] in IID_METHODS else _fmt(info["acceptance_rate"], 3)),
        ("Min. ESS:", _fmt(info["ess_min"], 4)),
        ("Transforms:" if s["method"] in ("circles", "cmc") else "Replays:", str(info["replays"])),
        ("Seed (random_state):", str(s["random_state"])),
    ]
    # Built as statsmodels' summary_top does: two stub/value tables joined side by side.
    title = "SEISM selective motif inference"
    table = SimpleTable([[v] for _, v in left], None, [k for k, _ in left], title=title, txt_fmt=fmt_2cols)
    table.extend_right(SimpleTable([[v] for _, v in right], None,
                                   [f"{'  ' + k:<21}" for k, _ in right], title=title, txt_fmt=fmt_2cols))
    return table


def _motif_table(results, alpha: float) -> SimpleTable:
    motifs = results.motifs
    with warnings.catch_warnings():  # the notes say it
        warnings.simplefilter("ignore", UserWarning)
        ci = results.conf_int(alpha).iloc[len(results.exog_names):].to_numpy()  # the motif rows, in order
    low, high = f"[{alpha / 2:g}", f"{1 - alpha / 2:g}]"
    selective = "P>|t| sel." if results.hypothesis == "motif" else "P>T sel."
    global_column = results.hypothesis == "motif" and results.inference.pvalues_global is not None
    headers = ["kmer", "consensus", "score", "coef", "coef sel.", low, high, selective, "MC s.e.", "MC 95% up",
               f"P {results.multitest_method}"] + (["P global"] if global_column else []) + \
        ["split kmer", "P split", "P naive"]
    rows = []
    for (_, row), (lo, hi) in zip(motifs.iterrows(), ci):
        rows.append([row["kmer"], row["consensus"], _fmt(row["score"]), _fmt(row["coef"]),
                     _fmt(row["coef_selective"]), _fmt(lo), _fmt(hi),
                     _fmt(row["pvalue"], 3), _fmt(row["pvalue_mc_se"], 2), _fmt(row["pvalue_mc_upper"], 2),
                     _fmt(row["pvalue_adj"], 3)] + ([_fmt(row["pvalue_global"], 3)] if global_column else []) +
                    [row["split_kmer"] or "-", _fmt(row["pvalue_split"], 3), _fmt(row["pvalue_naive"], 3)])
    if not rows:
        rows = [["(none)"] + [""] * (len(headers) - 1)]
        stubs = [""]
    else:
        stubs = list(results.param_names)  # the row names of res.motifs and motifs.csv
    return SimpleTable(rows, headers=headers, stubs=stubs, txt_fmt=fmt_params)


def _match_table(results) -> SimpleTable | None:
    """Best known match of each motif (Tomtom's statistics), or None when no database was compared."""
    if results.known_matches is None or not results.n_selected:
        return None
    headers = ["best match", "name", "strand", "offset", "overlap", "Tomtom p", "E-value"]
    rows = [[m.match_id, m.match_name, m.strand, str(m.offset), str(m.overlap), _fmt(m.pvalue, 3), _fmt(m.evalue, 3)]
            if m else ["(none)", "", "", "", "", "", ""] for m in results.known_matches]
    return SimpleTable(rows, headers=headers, stubs=list(results.param_names), txt_fmt=fmt_params,
                       title="Known motif matches")


def _notes(results, alpha: float) -> list[str]:
    notes = []
    s = results.inference.settings
    if results.n_selected == 0:
        why = results.inference.selection.stopped or "no grid cell could be selected"  # "": saved before the field
        notes.append(f"[!] No motif was selected: {why}.")
    sample = results.inference.null_sample
    if results.method in SELECTIVE_METHODS and s.get("null_reason", "").startswith("heavy"):
        notes.append(f"[!] Null model: permutation, chosen by null='auto' from {s['null_reason']}.")
    if s.get("residual_tails"):
        finding = s["residual_tails"]
        notes.append(f"[!] Null model: {finding[0].upper()}{finding[1:]}.")
    if results.method == "circles":
        notes.extend(_circle_notes(results))
    elif results.method == "tilted":
        notes.extend(_tilted_notes(results))
    elif results.method == "cmc":
        notes.append(f"P>T sel.: selective p-value estimated by conditional Monte Carlo: {s['n_samples']} "
                     "directions drawn i.i.d. on the residual sphere, the motif's own coordinate integrated "
                     f"exactly (ESS of the weights {_fmt(s.get('cmc_ess'), 3)}). An estimate with a stated "
                     "Monte-Carlo error, consistent as B grows and not limited to p >= 1/(B+1); not a rank "
                     "p-value exact at every B (that is method='mcmc'). MC 95% up: p + 1.645 MC s.e.")
        levels = s.get("cmc_neighbours") or []
        if len(levels) > 1:
            given = ", ".join("the observed direction (exact, MC s.e. 0)" if v == OBSERVED_DIRECTION
                              else f"{v} competitor(s) per other motif" for v in levels)
            notes.append("Several motifs: each is tested given the part of the response along the other "
                         "selected motifs and their nearest competitors (so that they are selected again), "
                         f"per motif: {given}. A valid selective p-value that conditions on more than "
                         "method='mcmc' does, so the two differ on the same data.")
        unreached = np.asarray(results.param_names)[results.motif_pvalues.to_numpy() == 0]
        if unreached.size:
            notes.append(f"[!] Conditional Monte Carlo: no direction reached the observed statistic of "
                         f"{', '.join(unreached)}: p is estimated as 0 and only its bound (MC 95% up, the rule "
                         "of three on the weights' ESS) is informative; increase n_samples.")
        if s.get("cmc_ess", np.inf) < MIN_WEIGHT_ESS:
            notes.append(f"[!] Conditional Monte Carlo: the weights' effective sample size is only "
                         f"{_fmt(s['cmc_ess'], 3)} of {s['n_samples']} directions, so the MC s.e. may understate "
                         "the error; increase n_samples.")
    elif results.method in SELECTIVE_METHODS:
        exact = ("the observation sits at a random node of a tree of reversible chains "
                 "(Besag-Clifford), so the p-value is exactly valid for every B"
                 if s.get("mcmc_design") == "tree" else
                 "i.i.d. draws" if results.method == "rejection" else
                 "chains started at the observation: valid only as B grows")
        notes.append("P>T sel.: selective p-value (1 + #{T_b >= T_obs}) / (1 + B) over null draws "
                     f"conditioned on selecting the same grid cells ({exact}); ties count as >=. "
                     "MC s.e. from the effective sample size of the exceedance indicator; "
                     "MC 95% up: Monte-Carlo upper bound of the p-value infinitely many draws would give.")
    if sample is not None and results.n_selected:
        resolution = 1.0 / (1.0 + sample.n_draws)
        coarse = results.pvalues_selective.to_numpy() <= FLOOR_FACTOR * resolution
        tail, tail_se = results.pvalues_tail.to_numpy(), results.pvalues_tail_se.to_numpy()
        resolved = coarse & np.isfinite(tail)
        if coarse.any():
            names = ", ".join(np.asarray(results.param_names)[coarse])
            bounds = ", ".join(f"p <= {u:.2g}" for u in results.inference.pvalues_upper[coarse])
            notes.append(f"[!] Monte-Carlo resolution: with B = {sample.n_draws} draws the smallest "
                         f"possible p-value is {resolution:.2g}; {names} sit(s) at or near that floor "
                         f"(95% Monte-Carlo bound: {bounds}). "
                         + ("See the tail estimate below." if resolved.any() else
                            "Increase n_samples to resolve smaller p-values."))
        if resolved.any():
            values = ", ".join(f"{name}: p = {p:.3g} (MC s.e. {e:.2g})" for name, p, e in
                               zip(np.asarray(results.param_names)[resolved], tail[resolved], tail_se[resolved]))
            how = (f"conditional Monte Carlo, {s.get('tail_draws_used')} i.i.d. directions with the motif's "
                   "own coordinate integrated exactly; an estimate of the same selective p-value, not a test "
                   "exact at any B" if results.n_selected == 1 else
                   f"Rao-Blackwellised along each motif's direction, {s.get('tail_draws_used')} MCMC draws; an "
                   "estimate of the same selective p-value, not a test exact at any B; below about 1e-8 read "
                   "it as an order of magnitude: there a few rare draws carry the mean, and the s.e. "
                   "understates the error; method='cmc' gives a p-value with a dependable error there, "
                   "conditioned on a little more")
            notes.append(f"Tail estimate for the motifs at the floor ({how}): {values}.")
        if sample.shortfall:
            notes.append(f"[!] {sample.shortfall[0].upper()}{sample.shortfall[1:]}: the selective p-values are "
                         "NaN. Raise max_replays or lower n_samples"
                         + (", or use method='mcmc'." if results.method == "rejection" else "."))
    if results.method in SELECTIVE_METHODS and results.n_selected and sample is not None and sample.n_draws == 0:
        notes.append("[!] No null draw fell in the selection event: selective p-values are undefined.")
    kind = results.interval_kind
    if kind == "selective" and results.n_selected and results.intervals_exact:
        ends = results.conf_int_mc_se.to_numpy()
        error = f"{np.nanmax(ends):.2g}" if np.isfinite(ends).any() else "nan"
        notes.append(f"coef sel. and [{alpha / 2:g}, {1 - alpha / 2:g}]: median-unbiased estimate and "
                     f"{1 - alpha:.0%} interval of each motif's coefficient in the selected model, exact given "
                     "the same selection event with sigma unknown at any n (the selected-model circle test of "
                     f"'coef = b' inverted over {s.get('interval_draws')} great circles per motif, the observed "
                     f"one counted); largest Monte-Carlo s.e. of an end of the 95% intervals: {error}.")
    elif kind == "selective" and results.n_selected:
        notes.append(f"coef sel. and [{alpha / 2:g}, {1 - alpha / 2:g}]: median-unbiased estimate and "
                     f"{1 - alpha:.0%} interval of each motif's coefficient in the selected model, valid "
                     "given the same selection event (truncated-Gaussian pivot after Lee et al. 2016, "
                     "residual length integrated out; sigma estimated from the selected model's "
                     "residuals). They widen when a small change of the data would change the selection.")
        if s["null"] == "permutation":
            notes.append("[!] The intervals assume Gaussian noise; the p-values use the permutation null.")
        if results.interval_df_caveat:
            notes.append(f"[!] The {results.interval_df_caveat}.")
    elif kind == "split" and results.n_selected:
        notes.append(f"[{alpha / 2:g}, {1 - alpha / 2:g}]: OLS intervals on the held-out sequences for the "
                     "split's motifs (see 'split kmer').")
    elif results.n_selected:
        notes.append(f"[{alpha / 2:g}, {1 - alpha / 2:g}]: naive OLS intervals, NOT valid after selection.")
    if results.split_selected_other_motifs:
        notes.append("[!] method='split': the split selected other k-mers than the full data; res.pvalues "
                     "and conf_int name their motif rows after the split's own motifs ('split kmer').")
    matches = [m for m in (results.known_matches or []) if m]
    if matches:
        notes.append(f"Known motif matches: Tomtom's statistics (memelite) against {results.known_database} "
                     f"({matches[0].database_size} motifs); E-value = Tomtom p x number of database motifs; "
                     "offset: start of the database motif relative to the motif's first column, on its strand.")
    notes.append("P split: motifs selected on a random "
                 f"{s['split_fraction']:.0%} of the sequences and tested by OLS on the rest "
                 "(the split may select other k-mers: see 'split kmer').")
    notes.append("P naive: OLS on the same data that selected the motifs; NOT valid after "
                 "selection, shown for contrast. coef is the OLS coefficient in the selected model.")
    covariates = ", ".join(results.model.exog_names)
    if len(covariates) > COVARIATES_SHOWN:  # cut short in the header
        notes.append(f"Covariates: {covariates}.")
    if results.model.data.n_dropped:
        notes.append(f"{results.model.data.n_dropped} rows with missing values were dropped.")
    unmatched = getattr(results.model.data, "n_without_response", 0)
    if unmatched:
        notes.append(f"{unmatched} sequences had no response (their ids were not in the response table) "
                     "and were left out before the fit.")
    if not results.has_intercept:
        notes.append("The covariates have no intercept: the null model is not centred.")
    return notes


def _grown_draws(draws: list[int], n_samples: int) -> str:
    """Each motif's circles, listed, where the draws rule gave one more than ``n_samples``; else ''."""
    return ", ".join(map(str, draws)) if any(v > n_samples for v in draws) else ""


def _circle_notes(results) -> list[str]:
    """What the exact circle p-values test and how they were computed (``method="circles"``)."""
    s = results.inference.settings
    notes = []
    draws = [int(v) for v in s.get("circle_draws") or []]
    grown = _grown_draws(draws, s["n_samples"])
    count = (f"{grown} random great circles (motifs in order; {s['n_samples']} by default, more "
             f"where a motif's pilot draws predicted an effective sample size below {TARGET_ESS:g})" if grown
             else f"{s['n_samples']} random great circles per motif")
    how = (f"over {count} and the observed one, each integrated "
           "exactly (the observed direction counted, so the p-value is exactly valid for every number of "
           "draws and not limited to 1/(B+1)); MC s.e.: delta-method error of that ratio, MC 95% up: "
           "p + 1.645 MC s.e")
    if results.hypothesis == "motif":
        notes.append("P>|t| sel.: exact selective p-value of 'motif j adds nothing to the selected model' "
                     "(the covariates and the other selected motifs, whose effects are free), given the "
                     "selection of the same grid cells; its statistic: motif j's t statistic in the selected "
                     f"model (column statistic_t of summary_frame and motifs.csv; column statistic is the "
                     f"selection's step statistic); {how}.")
        if results.inference.pvalues_global is not None:
            grown_global = _grown_draws([int(v) for v in s.get("circle_global_draws") or []], s["n_samples"])
            over = f" (over {grown_global} random great circles, motifs in order)" if grown_global else ""
            notes.append(f"P global: the same construction for the global null (no motif matters){over}, the "
                         "paper's test; for motif 2 and later it is not a test of that motif when an "
                         "earlier one is real.")
    else:
        notes.append("P>T sel.: exact selective p-value of the global null (no motif matters) for each "
                     f"motif's step score, given the selection of the same grid cells; {how}.")
    levels = s.get("circle_neighbours") or []
    if any(v != 0 for v in levels):
        given = ", ".join("all of its direction (exact, MC s.e. 0)" if v == OBSERVED_DIRECTION
                          else f"{v} competitor(s) per step" for v in levels)
        notes.append("Conditioning: each motif's circles are drawn given the part of the observed direction "
                     "along the nearest competitors of the selection's steps (the level chosen by discarded pilot "
                     f"draws; valid, conditions on a little more), per motif: {given}.")
    if any(s.get("circle_pairs") or []) or any(s.get("circle_global_pairs") or []):
        paired = [", ".join(f"motif {j + 1}" for j, v in enumerate(s.get(key) or []) if v)
                  for key in ("circle_pairs", "circle_global_pairs")]
        which = "; ".join(f"{label}: {motifs}" for label, motifs in zip(("P>|t| sel." if results.hypothesis == "motif"
                                                                          else "P>T sel.", "P global"), paired)
                          if motifs)
        notes.append("Mirrored pairs: where a motif's circles are drawn given part of their direction, each draw "
                     "gives two circles, the part off that subspace kept and negated (the observed direction's "
                     "mirror counted with it; exact again), two circles per transform; the MC s.e. and the ESS "
                     f"count pairs ({which}).")
    if s["n_samples"] == 0:
        notes.append("n_samples = 0: each motif is tested given all of its observed direction (the circle through "
                     "the observation alone): exact, with no Monte-Carlo error (MC s.e. 0), but it conditions on "
                     "more than the test over random circles and has less power.")
    ess = np.asarray(s.get("circle_ess") or [], dtype=float)
    drawn = np.array([v != OBSERVED_DIRECTION for v in levels] or [True] * ess.size, dtype=bool)
    low = (ess < MIN_WEIGHT_ESS) & drawn[:ess.size]
    if low.any() and s["n_samples"] > 0:
        more = (f"for precision set n_samples above the {max(draws)} circles drawn (a number given is drawn "
                "exactly)" if s.get("circle_grow") and draws else "increase n_samples for precision")
        names = ", ".join(np.asarray(results.param_names)[low])
        notes.append(f"[!] Few of the circles carry the selection event for {names} (weights' effective sample "
                     f"size below {MIN_WEIGHT_ESS:g}): the p-value stays exact, but its Monte-Carlo error is "
                     "large and its stated s.e. too small (in benchmarks, half the spread over sampler seeds at "
                     f"an ESS near 7); {more}.")
    return notes


def _tilted_notes(results) -> list[str]:
    """What the exact tilted-permutation p-values test and how they were computed (``method="tilted"``)."""
    s = results.inference.settings
    names = np.asarray(results.param_names)
    approximate = results.inference.freedman_lane
    null = ("the residuals off the covariates are exchangeable (Freedman-Lane residual permutation)" if approximate
            else "the response is exchangeable")
    kind = "selective p-value (approximate null, see below)" if approximate else "exact selective p-value"
    notes = [f"P>T sel.: {kind} of the global null ({null}) for each motif's step score, given "
             "the selection of the same grid cells with the same signs of association; over "
             f"{s['n_samples']} permutations per motif drawn from laws tilted toward the selected motifs "
             "(conditional Poisson sampling of the positives, or of the rows above the mean residual) and "
             "weighted back to the permutation null, the observed labelling counted with its own weight "
             "(Harrison 2012), so the p-value is exactly valid under that null for every number of draws and "
             "not limited to "
             "1/(B+1); MC s.e.: delta-method error of that ratio, MC 95% up: p + 1.645 MC s.e."]
    if approximate:
        notes.append("[!] Covariates: the permuted values are the residuals off them (Freedman-Lane), an "
                     "approximation of the null that is exact only when those residuals are exchangeable.")
    strata = s.get("tilted_strata") or []
    if any(v > 1 for v in strata):
        notes.append("Several motifs: each motif is tested given also how many positives (rows above the mean "
                     "residual) fall in each of a few strata of the other motifs' features (so that they are "
                     "selected again; valid, conditions on a little more), per motif: "
                     f"{', '.join(f'{v} strata' for v in strata)}.")
    ties = np.asarray(s.get("tilted_tie_mass") or [], dtype=float)
    if ties.size and s["n_samples"] > 0:
        shares = ", ".join(f"{name} {share:.2%}" for name, share in zip(names, ties))
        how = ("count as exceeding it (ties='conservative'; ties='randomised' breaks them at random and is "
               "exact)" if s.get("ties") == "conservative" else "are broken at random (ties='randomised')")
        notes.append(f"Ties with the observed statistic {how}; their weighted share, the observed labelling's "
                     f"own weight included: {shares}.")
    ess = np.asarray(s.get("tilted_ess") or [], dtype=float)
    low = ess < MIN_WEIGHT_ESS
    if low.any() and s["n_samples"] > 0:
        notes.append(f"[!] Few of the tilted permutations carry the selection event for {', '.join(names[low])} "
                     f"(weights' effective sample size below {MIN_WEIGHT_ESS:g}): the p-value stays exact, but its "
                     "Monte-Carlo error is large and its s.e. approximate; increase n_samples for precision.")
    numerator_terms = np.asarray(s.get("tilted_numerator_ess") or [], dtype=float)
    # Results saved before the numerator's ESS was recorded have none; a motif flagged above is not flagged twice.
    few = (numerator_terms < MIN_NUMERATOR_ESS) & ~low if numerator_terms.size == ess.size else \
        np.zeros(0, dtype=bool)
    if few.any() and s["n_samples"] > 0:
        counts = " and ".join(f"about {value:.0f} for {name}" for name, value in zip(names[few], numerator_terms[few]))
        notes.append(f"[!] Few weighted permutations are at least as extreme as the observed data ({counts}; "
                     f"fewer than {MIN_NUMERATOR_ESS:g}): the MC s.e. is then probably too small (1.3-1.7 times "
                     "in the package's benchmarks). The p-value itself stays exact; a larger n_samples gives a "
                     "more precise estimate.")
    return notes


def build_summary(results, alpha: float = 0.05) -> MotifSummary:
    """Assemble the summary of a :class:`~seism_stats.model.results.SelectiveMotifResults`."""
    summary = MotifSummary()
    summary.tables.append(_header(results))
    summary.tables.append(_motif_table(results, alpha))
    matches = _match_table(results)
    if matches is not None:
        summary.tables.append(matches)
    summary.add_extra_txt([textwrap.fill(note, NOTE_WIDTH, subsequent_indent="  ") for note in _notes(results, alpha)])
    return summary
