"""SelectiveMotifResults: what ``SelectiveMotifModel.fit`` returns (statsmodels' Results shape)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from ..inference.options import SELECTIVE_METHODS
from ..inference.result import MotifInference
from ..stats.circle_intervals import CirclePivot
from ..stats.intervals import MIN_INTERVAL_DF, selective_intervals
from .persistence import load_results, save_results


class SelectiveMotifResults:
    """Selected motifs and their selective, data-split and naive p-values.

    Attributes
    ----------
    model : SelectiveMotifModel
    inference : MotifInference
        Everything the engine computed (selection, refined motifs, null draws).
    method : str
        Which p-values ``pvalues`` holds.
    multitest_method : str
        Method of ``pvalues_adjusted``.
    known_matches : list of MotifMatch or None
        Best known match of each motif, once :meth:`match_known_motifs` has run.
    known_database : str or None
        What the motifs were matched against.
    """

    def __init__(self, model, inference: MotifInference, multitest_method: str = "fdr_bh",
                 has_intercept: bool = True):
        self.model = model
        self.inference = inference
        self.method = inference.settings["method"]
        self.multitest_method = multitest_method
        self.has_intercept = has_intercept
        self.known_matches: list | None = None  # set by match_known_motifs
        self.known_database: str | None = None  # what the matches were compared with
        self._check_multitest(multitest_method)

    @staticmethod
    def _check_multitest(method: str) -> None:
        try:
            multipletests([0.5], method=method)
        except ValueError:
            raise ValueError(f"unknown multitest_method {method!r} (see "
                             "statsmodels.stats.multitest.multipletests)") from None

    # -- labels -------------------------------------------------------------------------
    @property
    def motif_term(self) -> str:
        return self.model.motif_term

    @property
    def param_names(self) -> list[str]:
        """``motifs(seq)[GATTACA]``: term and level, as formulaic names ``C(batch)[T.b]``."""
        return [f"{self.motif_term}[{kmer}]" for kmer in self.inference.kmers]

    def _series(self, values, name: str, names: list[str] | None = None) -> pd.Series:
        return pd.Series(np.asarray(values, dtype=np.float64),
                         index=pd.Index(self.param_names if names is None else names, name="motif"), name=name)

    # -- numbers ------------------------------------------------------------------------
    @property
    def nobs(self) -> int:
        return int(self.inference.n_sequences)

    @property
    def n_selected(self) -> int:
        return self.inference.n_selected

    @property
    def exog_names(self) -> list[str]:
        """Covariate names (``Intercept``, ``gc``, ``C(batch)[T.b]``, ...)."""
        return list(self.model.exog_names)

    @property
    def _full_fit(self):
        """OLS fit of the selected model on the full data (covariates, then motifs), or None."""
        return self.inference.naive.full

    def _full_series(self, covariate_values, motif_values, name: str, names: list[str] | None = None) -> pd.Series:
        values = np.concatenate([np.asarray(covariate_values, dtype=np.float64),
                                 np.asarray(motif_values, dtype=np.float64)])
        motif_names = self.param_names if names is None else names
        return pd.Series(values, index=pd.Index(self.exog_names + motif_names, name="term"), name=name)

    def _ols_part(self, attribute: str) -> tuple[np.ndarray, np.ndarray]:
        """Covariate and motif parts of one OLS array of the selected model."""
        p = len(self.exog_names)
        full = self._full_fit
        if full is None:
            return np.full(p, np.nan), np.full(self.n_selected, np.nan)
        values = getattr(full, attribute)
        return values[:p], values[p:]

    @property
    def params(self) -> pd.Series:
        """OLS coefficients of the selected model (full data): covariates, then motifs.

        Estimates given the selection; their standard errors and intervals are the
        ordinary ones, not adjusted for the selection (the motif p-values in
        :attr:`pvalues` are).
        """
        return self._full_series(*self._ols_part("params"), "coef")

    @property
    def bse(self) -> pd.Series:
        """OLS standard errors of ``params`` (not adjusted for the selection)."""
        return self._full_series(*self._ols_part("bse"), "std err")

    @property
    def tvalues(self) -> pd.Series:
        """OLS t statistics of ``params`` (not adjusted for the selection)."""
        return self._full_series(*self._ols_part("tvalues"), "t")

    @property
    def pvalues(self) -> pd.Series:
        """P-values of every term: covariates by OLS in the selected model, motifs by the fitted method.

        Motifs: selective for ``method="circles"|"tilted"|"mcmc"|"rejection"|"cmc"``, data split or
        naive otherwise (:attr:`pvalue_kinds` says which, and which hypothesis a selective
        p-value tests); :attr:`motif_pvalues` has the motif rows alone.
        """
        return self._full_series(self._ols_part("pvalues")[0], self.motif_pvalues.to_numpy(), "P>|t| / P>T",
                                 self.motif_names)

    @property
    def pvalue_kinds(self) -> pd.Series:
        """Which p-value each row of :attr:`pvalues` is."""
        tested = {"motif": "motif adds nothing to the selected model",
                  "global": "global null"}[self.inference.hypothesis]
        tilted = (f"selective ({tested}; Freedman-Lane residual permutation, an approximate null)"
                  if self.inference.freedman_lane else f"selective, exact ({tested})")
        motif_kind = {"circles": f"selective, exact ({tested})", "tilted": tilted,
                      "mcmc": "selective (MCMC)", "rejection": "selective (rejection)",
                      "cmc": "selective (conditional Monte Carlo estimate)",
                      "split": "data split", "naive": "naive OLS (not valid after selection)"}[self.method]
        kinds = ["OLS in the selected model"] * len(self.exog_names) + [motif_kind] * self.n_selected
        return pd.Series(kinds, index=pd.Index(self.exog_names + self.motif_names, name="term"), name="kind")

    @property
    def motif_params(self) -> pd.Series:
        """OLS coefficient of each selected motif's feature in the selected model."""
        return self._series(self._ols_part("params")[1], "coef")

    @property
    def motif_bse(self) -> pd.Series:
        return self._series(self._ols_part("bse")[1], "std err")

    @property
    def motif_pvalues(self) -> pd.Series:
        """P-values of the motifs for the fitted ``method``: selective for mcmc/rejection/cmc, else split or naive."""
        if self.method in SELECTIVE_METHODS:
            return self.pvalues_selective
        if self.method == "split":
            return self._series(self.inference.pvalues_split, "P (split)", self.motif_names)
        return self.pvalues_naive

    @property
    def motif_names(self) -> list[str]:
        """Names of the motif rows of :attr:`pvalues`, :attr:`pvalue_kinds`, :attr:`pvalues_adjusted`
        and :meth:`conf_int`: :attr:`param_names`, except with ``method="split"``.

        The data split selects its own motifs on part of the sequences and tests
        them on the rest; its j-th motif may be another k-mer than the full data's
        j-th. With ``method="split"`` those rows hold the split's tests, so they are
        named after the split's k-mers (``[no split motif j]`` where it selected
        fewer). Its values are not matched to the full data's motifs by k-mer: the
        full data's selection also saw the held-out sequences, so keeping only the
        split's motifs that it selected too would bias their p-values low.
        """
        if self.method != "split":
            return self.param_names
        return [f"{self.motif_term}[{kmer}]" if kmer else f"{self.motif_term}[no split motif {j + 1}]"
                for j, kmer in enumerate(self.inference.split_kmers)]

    @property
    def split_selected_other_motifs(self) -> bool:
        """``method="split"`` ran the split and its motifs (:attr:`motif_names`) differ from the full data's."""
        return (self.method == "split" and self.inference.split is not None
                and self.motif_names != self.param_names)

    @property
    def df_resid(self) -> float:
        full = self._full_fit
        return float("nan") if full is None else full.df_resid

    @property
    def rsquared(self) -> float:
        full = self._full_fit
        return float("nan") if full is None else full.rsquared

    @property
    def fittedvalues(self) -> pd.Series:
        """Fitted values of the selected model (indexed as the data)."""
        return self._per_row("fittedvalues", "fitted")

    @property
    def resid(self) -> pd.Series:
        """Residuals of the selected model (indexed as the data)."""
        return self._per_row("resid", "resid")

    def _per_row(self, attribute: str, name: str) -> pd.Series:
        full = self._full_fit
        values = np.full(self.nobs, np.nan) if full is None else getattr(full, attribute)
        labels = self.model.data.row_labels
        index = labels if len(labels) == len(values) else None  # remove_data() drops the labels
        return pd.Series(values, index=index, name=name)

    def predict(self, data: pd.DataFrame | None = None, *, sequences=None, exog=None) -> pd.Series:
        """Predicted response of new sequences under the selected model (OLS coefficients).

        The motif features of the new sequences are the grid-cell features of the
        selected k-mers, with the fit's k, lam, pooling and strands: the features the
        fitted coefficients belong to.

        Parameters
        ----------
        data : pandas.DataFrame, optional
            Formula models: the sequence column and the covariate columns, transformed by
            the formula as in the fit (categories keep the fit's levels).
        sequences : list of str, pandas Series or FASTA path, optional
            Models built from arrays (or to override ``data``'s sequence column).
        exog : array-like or DataFrame, optional
            Covariate design with the fit's columns (:attr:`exog_names`), for models built
            from arrays; defaults to an intercept when that is the only covariate.
        """
        from ..features.grid import grid_features
        from ..features.kmers import check_usable_windows
        from ..io.sequences import encode_sequences

        model = self.model
        if data is not None:
            spec = getattr(model, "covariate_spec", None)
            term = getattr(model, "motif_term_spec", None)
            if spec is None or term is None:
                raise ValueError("predict(data=...) needs a model built by from_formula in this session "
                                 "(a loaded model has no formula transforms): pass sequences= and exog=")
            if sequences is None:
                sequences = data[term.column]
            if exog is None:
                exog = _new_covariates(spec, data)
                exog = exog.drop(columns=[c for c in getattr(model, "drop_cols", []) if c in exog.columns])
        if sequences is None:
            raise ValueError("predict needs new sequences (sequences=, or data= for formula models)")
        encoded = encode_sequences(sequences)  # a Series' labels are its ids: errors name them
        check_usable_windows(encoded, self.inference.ks)  # as in the fit: no motif can occur in an all-N one
        n = len(encoded)
        if exog is None:
            if self.exog_names != ["Intercept"]:
                raise ValueError(f"predict needs exog with the columns {self.exog_names}")
            exog = np.ones((n, 1))
        if isinstance(exog, pd.DataFrame):
            absent = [c for c in self.exog_names if c not in exog.columns]
            if absent:
                raise ValueError(f"exog lacks the design column(s) {absent}: it needs the fit's columns "
                                 f"{self.exog_names} (the formula's transforms applied: 'Intercept', "
                                 "'C(batch)[T.b]', ...), or pass data= with a formula model built in this session")
            exog = exog[self.exog_names].to_numpy(float)
        else:
            exog = np.asarray(exog, float)
        exog = exog.reshape(n, -1)
        if exog.shape[1] != len(self.exog_names):
            raise ValueError(f"exog has {exog.shape[1]} columns; the model has {len(self.exog_names)}: {self.exog_names}")
        settings = self.inference.settings
        features = grid_features(encoded, self.inference.ks, settings["lam"], settings["pooling"],
                                 revcomp=settings["revcomp"])
        motif_columns = [features.column(int(c)) for c in self.inference.cells]
        design = np.column_stack([exog] + motif_columns) if motif_columns else exog
        index = sequences.index if isinstance(sequences, pd.Series) else None
        return pd.Series(design @ self.params.to_numpy(), index=index, name="predicted")

    def cov_params(self) -> pd.DataFrame:
        """OLS covariance of ``params`` (not adjusted for the selection)."""
        names = self.exog_names + self.param_names
        full = self._full_fit
        matrix = np.full((len(names), len(names)), np.nan) if full is None else full.cov_params
        return pd.DataFrame(matrix, index=names, columns=names)

    @property
    def hypothesis(self) -> str:
        """What the selective p-values test: ``"motif"`` (motif j adds nothing to the selected model,
        the other selected motifs free) or ``"global"`` (no motif matters)."""
        return self.inference.hypothesis

    @property
    def pvalues_selective(self) -> pd.Series:
        """Selective p-values of the motifs (of :attr:`hypothesis`)."""
        name = "P>|t| (selective)" if self.hypothesis == "motif" else "P>T (selective, global null)"
        return self._series(self.inference.pvalues, name)

    @property
    def pvalues_global(self) -> pd.Series:
        """Selective p-values of the global null (no motif matters), labelled as such.

        The same as :attr:`pvalues_selective` when that tests the global null; with
        ``method="circles"``, several motifs and ``hypothesis="both"``, computed beside the
        per-motif ones (NaN when no global p-value was computed, as by default).
        """
        return self._series(self.inference.pvalues_global_null, "P (selective, global null)")

    @property
    def pvalues_split(self) -> pd.Series:
        """Data-split p-values (the split's own j-th motif: see ``motifs['split_kmer']``)."""
        return self._series(self.inference.pvalues_split, "P (split)")

    @property
    def pvalues_naive(self) -> pd.Series:
        """Naive OLS p-values on the data that selected the motifs (too small; contrast only)."""
        return self._series(self.inference.naive.pvalues if self.n_selected else [], "P (naive)")

    @property
    def pvalues_mc_se(self) -> pd.Series:
        """Monte-Carlo standard errors of the selective p-values."""
        return self._series(self.inference.pvalues_se, "MC std err")

    @property
    def pvalues_mc_upper(self) -> pd.Series:
        """95% Monte-Carlo upper bounds of the selective p-values."""
        return self._series(self.inference.pvalues_upper, "MC 95% upper")

    @property
    def pvalues_tail(self) -> pd.Series:
        """Rao-Blackwellised estimates of the selective p-values below their floor ``1/(B+1)``.

        Computed for the motifs whose rank p-value sits at its floor (NaN for the
        others): an estimate of the same p-value, with the Monte-Carlo error in
        :attr:`pvalues_tail_se` (:mod:`seism_stats.stats.tail`).
        """
        return self._series(self.inference._or_nan(self.inference.pvalues_tail), "P tail (RB)")

    @property
    def pvalues_tail_se(self) -> pd.Series:
        """Monte-Carlo standard errors of :attr:`pvalues_tail`."""
        return self._series(self.inference._or_nan(self.inference.pvalues_tail_se), "P tail MC s.e.")

    @property
    def pvalues_adjusted(self) -> pd.Series:
        """Motif p-values adjusted for the number of motifs (``multitest_method``, BH by default)."""
        p = self.motif_pvalues.to_numpy()
        adjusted = np.full_like(p, np.nan)
        finite = np.isfinite(p)
        if finite.any():
            adjusted[finite] = multipletests(p[finite], method=self.multitest_method)[1]
        return self._series(adjusted, f"P ({self.multitest_method})", self.motif_names)

    @property
    def params_selective(self) -> pd.Series:
        """Median-unbiased selective estimate of each motif coefficient (NaN without a selective fit).

        The value ``b`` at which the selective pivot is 1/2: given the selection, the
        estimate is as likely to fall below the coefficient as above it
        (:mod:`seism_stats.stats.intervals`). Selection pulls the OLS coefficient in
        :attr:`params` away from zero; this one corrects for it.
        """
        return self._series(self.inference.coef_selective, "coef (selective)")

    @property
    def pvalues_selected_model(self) -> pd.Series:
        """Two-sided selective p-value of ``coef = 0`` in the selected model (the test the intervals invert).

        It conditions on the other selected motifs and on the data orthogonal to the
        motif's direction, so it can differ from :attr:`pvalues_selective`, which
        tests the global null over the sphere.
        """
        values = [p.pvalue_zero() for p in self.inference.pivots] or np.full(self.n_selected, np.nan)
        return self._series(values, "P>|t| (selected model)")

    @property
    def interval_df_caveat(self) -> str | None:
        """Why the selective intervals may be too short (fewer than ``MIN_INTERVAL_DF`` residual degrees
        of freedom), or None."""
        pivots = self.inference.pivots
        if not pivots or pivots[0].df_resid >= MIN_INTERVAL_DF or self.intervals_exact:
            return None
        return (f"selective intervals with {pivots[0].df_resid} residual degrees of freedom (< {MIN_INTERVAL_DF}): "
                "sigma is estimated from the selected model, which the selection biases low, so these "
                "intervals can be too short")

    @property
    def intervals_exact(self) -> bool:
        """Whether the selective intervals are exact with sigma unknown (``method="circles"``,
        :mod:`seism_stats.stats.circle_intervals`), rather than the truncated-Gaussian pivot with sigma estimated."""
        return bool(self.inference.pivots) and isinstance(self.inference.pivots[0], CirclePivot)

    @property
    def conf_int_mc_se(self) -> pd.DataFrame:
        """Monte-Carlo standard errors of the ends of the 95% selective intervals (exact circles only; NaN else)."""
        rows = [(p.end_se(0.05, False), p.end_se(0.05, True)) if isinstance(p, CirclePivot) else (np.nan, np.nan)
                for p in self.inference.pivots] or [(np.nan, np.nan)] * self.n_selected
        return pd.DataFrame(rows, index=pd.Index(self.param_names, name="motif"), columns=[0, 1])

    @property
    def interval_kind(self) -> str:
        """Which motif intervals :meth:`conf_int` gives: ``selective``, ``split`` or ``naive``."""
        if self.method == "naive":
            return "naive"
        return "selective" if self.inference.pivots else "split"

    def conf_int(self, alpha: float = 0.05, cols=None) -> pd.DataFrame:
        """Confidence intervals of every term: the valid ones the method has.

        * Covariates: OLS intervals in the selected model on the full data.
        * Motifs, ``method="mcmc"|"rejection"``: selective intervals for the motif
          coefficients in the selected model, valid given the selection event
          (truncated-Gaussian pivot, :mod:`seism_stats.stats.intervals`).
        * Motifs, ``method="split"``: OLS intervals on the held-out sequences for the
          motifs selected on the other part, in rows named after the split's own
          motifs (see :attr:`motif_names`).
        * Motifs, ``method="naive"``: OLS intervals on the full data (not valid after
          selection).

        :attr:`interval_kind` says which of these the motif rows are. ``cols``, as in
        statsmodels, keeps only the terms at those positions (or with those names).
        """
        alpha = check_alpha(alpha)
        q = self.n_selected
        motifs = np.full((q, 2), np.nan)
        kind = self.interval_kind
        if kind == "naive":
            if q:
                motifs = _t_intervals(self.inference.naive, alpha)
        elif kind == "selective":
            motifs = selective_intervals(self.inference.pivots, alpha)
            if self.interval_df_caveat:
                warnings.warn(self.interval_df_caveat, UserWarning, stacklevel=2)
        elif self.inference.split is not None:
            tests = _t_intervals(self.inference.split.tests, alpha)
            m = min(q, tests.shape[0])
            motifs[:m] = tests[:m]
        p = len(self.exog_names)
        full = self._full_fit
        covariates = _t_intervals(full, alpha)[:p] if full is not None else np.full((p, 2), np.nan)
        table = pd.DataFrame(np.vstack([covariates, motifs]),
                             index=pd.Index(self.exog_names + self.motif_names, name="term"), columns=[0, 1])
        if cols is None:
            return table
        cols = [cols] if np.isscalar(cols) else list(cols)
        if all(isinstance(c, str) for c in cols):
            unknown = [c for c in cols if c not in table.index]
            if unknown:
                raise KeyError(f"conf_int: no term named {unknown}; terms are {list(table.index)}")
            return table.loc[cols]
        return table.iloc[[int(c) for c in cols]]

    # -- tables -------------------------------------------------------------------------
    @property
    def motif_labels(self) -> list[str]:
        """Human names of the motifs, ``1-AGTTtg``: rank and consensus (upper case where a letter has
        probability >= 0.5). The identifiers of the MEME and JASPAR files and the report's names."""
        from ..selection.refinement import consensus
        return [f"{j + 1}-{consensus(ppm)}" for j, ppm in enumerate(self.inference.ppms)]

    def sites(self, max_mismatches: int = 0) -> pd.DataFrame:
        """Sites of each motif and sequences with a site, in the foreground and background.

        A site is an occurrence of the motif's grid k-mer on either strand (when the grid
        merges reverse complements), with at most ``max_mismatches`` mismatches
        (:mod:`seism_stats.features.sites`). With a 0/1 response the ones are the foreground and
        the zeros the background (``bg_*`` columns); otherwise every sequence is the
        foreground. NaN after :meth:`remove_data`, unless counted before.

        Returns
        -------
        pandas.DataFrame
            ``sites``, ``seqs_with_site``, ``pct_with_site`` (and ``bg_*``), one row per motif.
        """
        from ..features.sites import site_table
        cache = self.__dict__.setdefault("_sites", {})
        if max_mismatches not in cache:
            data = self.model.data
            y = data.endog.to_numpy(dtype=np.float64)
            binary = y.size > 0 and set(np.unique(y)) <= {0.0, 1.0} and np.unique(y).size == 2
            if len(data.sequences) == 0 or not self.n_selected:
                columns = ["sites", "seqs_with_site", "pct_with_site"]
                return pd.DataFrame(np.nan, index=pd.Index(self.param_names, name="motif"), columns=columns)
            cache[max_mismatches] = site_table(
                data.sequences, self.inference.kmers, foreground=(y == 1.0) if binary else None,
                revcomp=bool(self.inference.settings.get("revcomp")), max_mismatches=max_mismatches,
                index=pd.Index(self.param_names, name="motif"))
        return cache[max_mismatches].copy()

    @property
    def motifs(self) -> pd.DataFrame:
        """One row per selected motif: name, k-mer, consensus, score, p-values side by side, sites."""
        table = self.inference.motif_table()
        table.index = pd.Index(self.param_names, name="motif")
        position = table.columns.get_loc("pvalue_mc_upper") + 1
        table.insert(position, "pvalue_adj", self.pvalues_adjusted.to_numpy())
        table.insert(0, "name", self.motif_labels)
        table = table.join(self.sites())
        if self.known_matches is not None:
            table["match_id"] = [m.match_id if m else "" for m in self.known_matches]
            table["match_name"] = [m.match_name if m else "" for m in self.known_matches]
            table["match_pvalue"] = [m.pvalue if m else np.nan for m in self.known_matches]
            table["match_evalue"] = [m.evalue if m else np.nan for m in self.known_matches]
            table["match_strand"] = [m.strand if m else "" for m in self.known_matches]
        return table

    def match_known_motifs(self, database="jaspar", label: str | None = None) -> pd.DataFrame:
        """Compare each refined motif with a motif database by Tomtom's statistics (:mod:`seism_stats.report.motif_match`).

        Parameters
        ----------
        database : "jaspar", path or dict
            ``"jaspar"``: JASPAR CORE vertebrates via the optional ``pyjaspar``; a MEME or
            JASPAR file; or ``{id: (name, PPM)}``.
        label : str, optional
            How the database is named in the summary and the report (default: from ``database``).

        Returns
        -------
        pandas.DataFrame
            ``res.motifs``, which now carries ``match_id``, ``match_name``,
            ``match_pvalue``, ``match_evalue`` and ``match_strand`` (also in the summary,
            the report and the CLI's tables); :attr:`known_matches` holds the
            :class:`~seism_stats.report.motif_match.MotifMatch` objects (alignment, matched PPM).
        """
        from ..report.motif_match import database_label, match_motifs, resolve_database
        self.known_matches = match_motifs(self.inference.ppms, resolve_database(database))
        self.known_database = label or database_label(database)
        return self.motifs

    @property
    def sampler_info(self) -> pd.Series:
        """Sampler settings and diagnostics: draws, burn-in, acceptance, ESS, replays, seconds, and the
        ``shortfall`` of a sample cut short by ``max_replays`` (its p-values are NaN).

        For ``method="circles"`` or ``"cmc"``, draws are the directions per motif (with the
        circles, the most any motif drew: see ``settings["circle_draws"]``; 0 when every motif
        is tested given all of its observed direction), replays
        all directions drawn (pilots included) and ``ess_min`` the smallest effective
        sample size of the importance weights; for ``"tilted"``, draws are the tilted
        permutations per motif, replays include the pilots, and the acceptance rate is the
        share of draws inside the selection event.
        """
        s = self.inference.settings
        sample = self.inference.null_sample
        if self.method in ("circles", "tilted"):
            tilted = self.method == "tilted"
            ess = s.get("tilted_ess" if tilted else "circle_ess") or []
            hits = s.get("tilted_hit_rate") or []
            grown = [] if tilted else s.get("circle_draws") or []  # circles: B of each motif (may exceed n_samples)
            draws = max(grown) if grown else s["n_samples"] if self.n_selected else 0
            info = {"method": s["method"], "null": s["null"], "draws": draws,
                    "chains": 0,
                    "burn_in": 0, "thin": 1, "acceptance_rate": float(np.mean(hits)) if len(hits) else np.nan,
                    "ess_min": float(np.min(ess)) if len(ess) else np.nan,
                    "replays": s.get("tilted_replays" if tilted else "circle_directions", 0),
                    "seconds": self.inference.seconds.get("sampling", 0.0), "random_state": s["random_state"]}
            return pd.Series(info, name="sampler", dtype=object)
        info = {
            "method": s["method"], "null": s["null"],
            "draws": sample.n_draws if sample else s["n_samples"] if self.method == "cmc" else 0,
            "chains": sample.n_chains if sample else 0,
            "burn_in": s["burn_in"], "thin": s["thin"],
            "acceptance_rate": sample.acceptance_rate if sample else np.nan,
            "ess_min": (float(np.min(sample.effective_sample_size())) if sample and self.n_selected
                        else s.get("cmc_ess", np.nan)),
            "replays": (sample.n_replays if sample else s.get("cmc_directions") or s["n_samples"]
                        if self.method == "cmc" else 0),
            "seconds": sample.seconds if sample else self.inference.seconds.get("sampling", 0.0),
            "random_state": s["random_state"],
            "shortfall": sample.shortfall if sample else "",  # why the p-values are NaN ('' when they are not)
        }
        return pd.Series(info, name="sampler", dtype=object)

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Tidy table: one row per motif, estimates, p-values and intervals at ``1 - alpha``.

        The interval columns are named after :attr:`interval_kind`
        (``ci_lower_selective`` after a selective fit); a selective fit also has
        ``pvalue_selected_model``.
        """
        frame = self.motifs.copy()
        frame.insert(frame.columns.get_loc("coef") + 1, "std_err", self.motif_bse.to_numpy())
        with warnings.catch_warnings():  # the summary's notes say it
            warnings.simplefilter("ignore", UserWarning)
            ci = self.conf_int(alpha).iloc[len(self.exog_names):]  # the motif rows, in order
        kind = self.interval_kind
        frame[f"ci_lower_{kind}"] = ci[0].to_numpy()
        frame[f"ci_upper_{kind}"] = ci[1].to_numpy()
        if kind == "selective":
            frame["pvalue_selected_model"] = self.pvalues_selected_model.to_numpy()
        return frame

    def summary(self, alpha: float = 0.05):
        """A ``statsmodels.iolib.summary.Summary``: settings header, motif table, notes."""
        from ..report.summary import build_summary
        return build_summary(self, alpha)

    def __repr__(self) -> str:
        return (f"<SelectiveMotifResults: {self.n_selected} motif(s) {self.inference.kmers}, "
                f"method={self.method!r}, nobs={self.nobs}>")

    # -- plots --------------------------------------------------------------------------
    def plot_motifs(self, **kwargs):
        """Sequence logo of each refined PWM (returns the matplotlib Figure)."""
        from ..report.plotting import plot_motif_logos
        if self.method == "split":  # the split's p-values belong to its own motifs (motif_names), not these
            titles = list(self.param_names)
        else:
            titles = [f"{name}  p={p:.3g}" for name, p in zip(self.param_names, self.motif_pvalues)]
        return plot_motif_logos(self.inference.ppms, titles=titles, **kwargs)

    def plot_null(self, j: int | str = 0, **kwargs):
        """Null distribution of motif j's statistic in the selection event, with the observed value.

        ``j`` is the motif's position (0 for the first selected) or its name, as in
        :attr:`param_names` (``"motifs(seq)[GATTA]"``) or the k-mer alone (``"GATTA"``).
        """
        from ..report.plotting import plot_null_distribution, plot_null_law, plot_weighted_null
        if self.n_selected == 0:
            raise ValueError("no motif was selected, so there is no null distribution to plot")
        j = self._motif_position(j)
        sample = self.inference.null_sample
        laws = self.inference.null_laws
        if sample is None and not laws:
            raise ValueError(f"no null draws: the model was fitted with method={self.method!r}")
        if laws:
            plot = plot_weighted_null if hasattr(laws[j], "weights") else plot_null_law
            return plot(laws[j], title=f"{self.param_names[j]} (p = {self.pvalues_selective.iloc[j]:.3g})",
                                 **kwargs)
        return plot_null_distribution(sample.draws[:, j], float(self.inference.selection.statistics[j]),
                                      title=f"{self.param_names[j]} (p = {self.pvalues_selective.iloc[j]:.3g})",
                                      **kwargs)

    def _motif_position(self, j: int | str) -> int:
        """The position of motif ``j``: an index, a name of :attr:`param_names` or a k-mer."""
        if isinstance(j, str):
            names = list(self.param_names)
            kmers = list(self.inference.kmers)
            if j in names:
                return names.index(j)
            from ..io.genome import reverse_complement
            strands = (j.upper(), reverse_complement(j.upper())) if self.inference.settings.get("revcomp") \
                else (j.upper(),)
            for kmer in strands:  # with merged strands a cell is named by its canonical member
                if kmer in kmers:
                    return kmers.index(kmer)
            raise ValueError(f"no selected motif is named {j!r}; the motifs are {', '.join(names)}")
        if isinstance(j, bool) or not isinstance(j, (int, np.integer)):
            raise TypeError(f"the motif must be its position (an int) or its name, got {type(j).__name__}")
        if not 0 <= j < self.n_selected:
            raise IndexError(f"motif index {j} out of range ({self.n_selected} motifs selected)")
        return int(j)

    def to_html(self, path=None, title: str | None = None, files=None) -> str:
        """A self-contained HTML report: motif table, logos, known matches, settings (:mod:`seism_stats.report.html`).

        ``files`` names files written beside the report (motif files, tables) to link from it.
        """
        from ..report.html import html_report
        return html_report(self, path, title, files)

    # -- motif files --------------------------------------------------------------------
    def _nsites(self) -> list[int]:
        """Foreground sites of each motif (:meth:`sites`), at least 1 (a PFM needs a count); 1 if unknown."""
        counts = self.sites()["sites"].to_numpy(dtype=np.float64)
        return [int(c) if np.isfinite(c) and c >= 1 else 1 for c in counts]

    def to_meme(self, path, nsites: int | None = None):
        """Write the refined PWMs in MEME minimal format (for Tomtom, SEA, ...).

        Each motif is ``MOTIF <name> <grid k-mer>`` (:attr:`motif_labels`, the same as in
        the JASPAR file and the report), ``nsites=`` its foreground sites (:meth:`sites`;
        or ``nsites`` for all), and ``E=`` its selective p-value: MEME puts a motif's
        E-value there; ours is the p-value of the selective test (``method="split"`` and
        ``"naive"`` give none, and ``E= 1`` is written: the split tests its own motifs,
        and a naive p-value is not valid after the selection).
        """
        from ..io.motif_files import write_meme
        return write_meme(self.inference.ppms, self.motif_labels, path,
                          nsites=[nsites] * self.n_selected if nsites else self._nsites(),
                          alt_names=self.inference.kmers,
                          significance=self.motif_pvalues.to_numpy() if self.method in SELECTIVE_METHODS else None)

    def to_jaspar(self, path, nsites: int | None = None):
        """Write the refined PWMs as JASPAR PFMs: ``>name grid-k-mer``, counts = probability x sites.

        The sites are each motif's foreground sites (:meth:`sites`), or ``nsites`` for
        all; each position's counts sum to them. A motif without an exact site is written
        with 1 (a PFM needs a count), which rounds its matrix to its consensus: pass
        ``nsites`` to keep the matrix's shape.
        """
        from ..io.motif_files import write_jaspar
        return write_jaspar(self.inference.ppms, self.inference.kmers, path,
                            nsites=[nsites] * self.n_selected if nsites else self._nsites(), ids=self.motif_labels)

    # -- persistence --------------------------------------------------------------------
    def save(self, path, remove_data: bool = False) -> None:
        """Write the results to ``path`` (as statsmodels' ``save``, but never as pickle).

        The file is a versioned ``.npz`` archive with a JSON manifest
        (:mod:`seism_stats.model.persistence`): loading it cannot run code, so results
        files can be shared safely.
        """
        if remove_data:
            self.remove_data()
        save_results(self, path)

    @classmethod
    def load(cls, path) -> "SelectiveMotifResults":
        """Load results written by :meth:`save` (no pickle: a file cannot run code)."""
        return load_results(path, cls)

    def remove_data(self) -> None:
        """Drop the arrays with one entry per observation (data, residuals, split rows).

        Tables, summaries, null draws and plots keep working.
        """
        data = self.model.data
        data.frame = None
        data.endog = data.endog.iloc[:0]
        data.sequences = data.sequences.iloc[:0]
        data.exog = data.exog.iloc[:0]
        inference = self.inference
        selection = inference.selection
        empty = np.zeros((0,) + selection.event.basis.shape[1:])
        object.__setattr__(selection.event, "basis", empty)
        object.__setattr__(selection, "unit_residual", np.zeros(0))
        if inference.split is not None:
            object.__setattr__(inference.split, "select_rows", np.zeros(0, dtype=np.int64))
            object.__setattr__(inference.split, "test_rows", np.zeros(0, dtype=np.int64))


def check_alpha(alpha) -> float:
    """``alpha`` as a float strictly between 0 and 1, or a clear error."""
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, (int, float, np.integer, np.floating)) \
            and not (isinstance(alpha, np.ndarray) and alpha.ndim == 0):
        raise TypeError(f"alpha must be a number in (0, 1), got {type(alpha).__name__} {alpha!r}")
    alpha = float(alpha)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return alpha


def _new_covariates(spec, data: pd.DataFrame) -> pd.DataFrame:
    """The covariate design of new rows, by the fit's formula transforms (formulaic's model spec).

    A category level the fit did not see, or a row with a missing value, has no
    covariate row: formulaic would encode the first as the reference level and drop
    the second. Both raise instead, naming the problem.
    """
    from formulaic.errors import FormulaicError
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            exog = pd.DataFrame(spec.get_model_matrix(data))
        except FormulaicError as exc:  # as in the fit (model.formula): a missing column, a bad transform
            raise ValueError(f"predict: the covariates of the fit's formula cannot be built from data: "
                             f"{str(exc).splitlines()[0]}") from None
    for warning in caught:
        text = str(warning.message)
        if "categor" in text or "levels" in text:
            raise ValueError(f"predict: a categorical covariate has a level the fit did not see ({text})")
        warnings.warn(warning.message, warning.category, stacklevel=3)
    if len(exog) != len(data):
        raise ValueError(f"predict: {len(data) - len(exog)} of {len(data)} rows have a missing covariate value "
                         "(the formula drops them); fill or drop them first")
    return exog


def _t_intervals(tests, alpha: float) -> np.ndarray:
    """Two-sided t intervals ``params -/+ t_(1-alpha/2, df) * bse`` (OLS motif tests or a whole OLSFit)."""
    half = stats.t.isf(alpha / 2, tests.df_resid) * tests.bse  # isf: exact for tiny alpha, unlike ppf(1 - a)
    return np.column_stack([tests.params - half, tests.params + half])
