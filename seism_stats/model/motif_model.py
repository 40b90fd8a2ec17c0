"""SelectiveMotifModel: the statsmodels-shaped front end of the engine.

``SelectiveMotifModel(endog, sequences, exog)`` or
``SelectiveMotifModel.from_formula("y ~ motifs(seq, k=8, n_motifs=2) + gc", data)``
then ``.fit()`` returns :class:`~seism_stats.model.results.SelectiveMotifResults`.
"""

from __future__ import annotations

import warnings

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..inference.pipeline import selective_inference
from ..utils.validation import RandomStateLike, check_response, is_default_index
from .formula import MotifTerm, parse_formula
from .persistence import register_model
from .results import SelectiveMotifResults


@dataclass
class ModelData:
    """The data a model was built from (statsmodels keeps the same in ``model.data``).

    Attributes
    ----------
    endog : pandas.Series
    sequences : pandas.Series
    exog : pandas.DataFrame
        Covariate design (intercept included when present).
    frame : pandas.DataFrame or None
        The DataFrame given to ``from_formula``.
    n_dropped : int
        Rows dropped for missing values.
    n_without_response : int
        Sequences left out before the model was built because they had no response (the
        CLI's ``--response`` table lacked their ids).
    """

    endog: pd.Series
    sequences: pd.Series
    exog: pd.DataFrame
    frame: pd.DataFrame | None = None
    n_dropped: int = 0
    n_without_response: int = 0

    @property
    def endog_name(self) -> str:
        return str(self.endog.name)

    @property
    def exog_names(self) -> list[str]:
        return [str(c) for c in self.exog.columns]

    @property
    def row_labels(self) -> pd.Index:
        return self.endog.index


class SelectiveMotifModel:
    """Select sequence motifs associated with a response and test them selectively.

    Parameters
    ----------
    endog : array-like (n,)
        Response (continuous, or binary 0/1).
    sequences : list of str, pandas Series or FASTA path
        One DNA sequence per observation.
    exog : array-like (n, p) or DataFrame, optional
        Nuisance covariates. As in statsmodels, a constant is not added for
        you when ``exog`` is given (use ``statsmodels.api.add_constant``);
        with ``exog=None`` the model has an intercept.
    k : int
        Motif length (the grid has 4^k cells).
    n_motifs : int
        Motifs selected greedily.
    lam : float
        Kernel bandwidth.
    pooling : {"sum", "max"}
    revcomp : bool
        Merge each k-mer with its reverse complement (scan both strands).
    missing : {"drop", "raise"}
        Rows with NaN in endog or exog, or without a sequence.
    motif_term : str
        Name used to label motif parameters (``motifs(seq)`` from a formula).

    Attributes
    ----------
    data : ModelData
    formula : str or None
    """

    def __init__(self, endog, sequences, exog=None, *, k: int = 8, n_motifs: int = 1,
                 lam: float = 1.0, pooling: str = "sum", revcomp: bool = True, missing: str = "drop",
                 motif_term: str = "motifs"):
        if missing not in ("drop", "raise", "none"):
            raise ValueError(f"missing must be 'drop', 'raise' or 'none', got {missing!r}")
        labelled = {"endog": isinstance(endog, (pd.Series, pd.DataFrame)),
                    "sequences": isinstance(sequences, (pd.Series, pd.DataFrame, str, bytes))
                    or hasattr(sequences, "__fspath__"),  # a FASTA file's ids label its rows
                    "exog": isinstance(exog, (pd.Series, pd.DataFrame))}
        endog = _as_series(endog, "endog", "y")
        if endog.dtype.kind in "OSU" and endog.map(lambda v: isinstance(v, (str, bytes))).any():
            check_response(endog.to_numpy(), name="endog")  # raises the clear TypeError
        if isinstance(sequences, (str, bytes)) or hasattr(sequences, "__fspath__"):
            from ..io.sequences import read_fasta
            ids, seqs = read_fasta(sequences)
            sequences = pd.Series(seqs, index=pd.Index(ids, name="id"), name="sequence")
        sequences = _as_series(sequences, "sequences", "sequence", index=endog.index)
        exog = None if exog is None else _as_frame(exog, endog.index)
        # The row labels: endog's, or for a plain endog those of the first labelled part (by position).
        source = "endog" if labelled["endog"] else next(
            (name for name, part in (("sequences", sequences), ("exog", exog)) if labelled[name] and part is not None),
            None)
        if source in ("sequences", "exog"):
            part = sequences if source == "sequences" else exog
            if len(part) != len(endog):
                raise ValueError(f"endog has {len(endog)} rows but {source} has {len(part)}")
            endog = endog.set_axis(part.index, axis=0)
        if source is not None and endog.index.has_duplicates:
            duplicate = endog.index[endog.index.duplicated()].tolist()[0]
            raise ValueError(f"{source} has duplicate index labels (e.g. {duplicate!r}): rows are paired by label, "
                             "so the row labels must be unique, and these are not unique")
        sequences = _align(sequences, endog.index, "sequences", labelled["sequences"])
        if exog is None:
            exog = pd.DataFrame({"Intercept": np.ones(len(endog))}, index=endog.index)
        else:
            exog = _align(exog, endog.index, "exog", labelled["exog"])
        for name, part in (("sequences", sequences), ("exog", exog)):
            if len(part) != len(endog):
                raise ValueError(f"endog has {len(endog)} rows but {name} has {len(part)}")
        n_dropped = 0
        if missing != "none":
            bad = endog.isna().to_numpy() | sequences.isna().to_numpy() | exog.isna().any(axis=1).to_numpy()
            if bad.any() and missing == "raise":
                raise ValueError(f"{int(bad.sum())} rows have missing values (missing='raise')")
            n_dropped = int(bad.sum())
            endog, sequences, exog = endog[~bad], sequences[~bad], exog[~bad]
        infinite = np.isinf(exog.to_numpy(dtype=np.float64))
        if infinite.any():
            row, column = np.argwhere(infinite)[0]
            raise ValueError(f"exog column {exog.columns[column]!r} is infinite at row {exog.index[row]} "
                             f"({int(infinite.sum())} infinite values; a transform such as np.log of 0 gives "
                             "-inf): fix or drop those rows")
        self.data = ModelData(endog, sequences, exog, None, n_dropped)
        self.k = k
        self.n_motifs = n_motifs
        self.lam = lam
        self.pooling = pooling
        self.revcomp = revcomp
        self.motif_term = motif_term
        self.formula: str | None = None

    @classmethod
    def from_formula(cls, formula: str, data: pd.DataFrame, subset=None, drop_cols=None,
                     *args, missing: str = "drop", **kwargs) -> "SelectiveMotifModel":
        """Build the model from ``"y ~ motifs(seq, k=8, n_motifs=2) + covariates"``.

        Parameters
        ----------
        formula : str
            One ``motifs(column, k=, n_motifs=, lam=, pooling=, revcomp=)`` term names the
            sequence column and the selection settings; every other term is a
            covariate (parsed by formulaic, so ``C(batch)``, ``np.log(x)`` and
            ``- 1`` work as in statsmodels).
        data : pandas.DataFrame
        subset : array-like, optional
            Rows to use (mask or index labels).
        drop_cols : list of str, optional
            Design columns to drop.
        missing : {"drop", "raise"}
        **kwargs
            Settings not given in ``motifs(...)`` (``k``, ``n_motifs``, ``lam``,
            ``pooling``, ``revcomp``); the term's own settings win.
        """
        if args:
            raise TypeError("from_formula takes no extra positional arguments")
        parsed = parse_formula(formula, data, subset=subset, drop_cols=drop_cols, missing=missing)
        options = {**kwargs, **parsed.motif_term.options}
        model = cls(parsed.endog, parsed.sequences, parsed.exog, missing="none",
                    motif_term=parsed.motif_term.name, **options)
        model.data.frame = data
        model.data.n_dropped = parsed.n_dropped
        model.formula = formula
        model.motif_term_spec: MotifTerm = parsed.motif_term
        model.covariate_spec = parsed.covariate_spec
        model.drop_cols = list(drop_cols or [])
        return model

    @property
    def nobs(self) -> int:
        return len(self.data.endog)

    @property
    def endog_names(self) -> str:
        return self.data.endog_name

    @property
    def exog_names(self) -> list[str]:
        return self.data.exog_names

    def fit(self, method: str = "auto", *, hypothesis: str | None = None, n_samples: int | None = None,
            burn_in: int = 50, thin: int = 1,
            n_chains: int = 16, bracket: str = "exact", mcmc_design: str = "tree", null: str = "auto",
            split_fraction: float = 0.5, refine: bool = True,
            max_replays: int = 2_000_000, max_memory: float | None = None, tail_draws: int = 256,
            interval_draws: int | None = None, ties: str = "conservative", multitest_method: str = "fdr_bh",
            random_state: RandomStateLike = None, n_jobs: int = 1, n_threads: int | None = None,
            backend: str = "joblib", client=None, progress: bool = True) -> SelectiveMotifResults:
        """Select the motifs and compute their p-values.

        Parameters
        ----------
        method : {"auto", "circles", "tilted", "mcmc", "rejection", "cmc", "split", "naive"}
            Which p-values ``results.pvalues`` holds: selective, data split, or naive
            (invalid after selection, for contrast); split and naive p-values are always
            computed too. ``"auto"`` (default): ``"circles"`` for a continuous response
            (exact at every number of draws, :mod:`seism_stats.stats.circle_tests`), ``"tilted"``
            under the permutation null (binary response, or ``null="permutation"``; exact at every
            number of draws, :mod:`seism_stats.stats.tilted_permutations`). ``"mcmc"`` and
            ``"rejection"`` sample the global null; ``"cmc"`` estimates it by conditional
            Monte Carlo (:mod:`seism_stats.stats.conditional_mc`).
        hypothesis : {"motif", "global", "both"}, optional
            What each motif's selective p-value tests: ``"motif"`` (default with
            ``"circles"``), motif j adds nothing to the selected model, the other selected
            motifs free; ``"global"``, no motif matters (the only hypothesis of mcmc,
            rejection and cmc); ``"both"``, the motif hypothesis with the global null's
            p-values beside it (:attr:`~SelectiveMotifResults.pvalues_global`, twice the
            sampling). See :func:`seism_stats.selective_inference`.
        n_samples, burn_in, thin, n_chains, bracket, mcmc_design, null, max_replays, max_memory, tail_draws, ties
            Sampler and resource settings (see :func:`seism_stats.selective_inference`). The default
            ``mcmc_design="tree"`` gives p-values exactly valid for every ``n_samples``.
        interval_draws : int, optional
            Great circles per motif of the exact selective intervals (``method="circles"``; default
            ``min(n_samples, 50)``). Each holds one grid vector (8 x 4^k bytes), so fewer make a
            large-k fit fit in memory (see :func:`seism_stats.selective_inference`).
        split_fraction : float
            Fraction of sequences used for selection by the data split.
        refine : bool
            Refine each motif by gradient ascent (PWM, logo).
        multitest_method : str
            ``statsmodels.stats.multitest.multipletests`` method of the adjusted column.
        random_state : int or numpy.random.Generator
        n_jobs, n_threads : int
            Processes for sampler blocks; OpenMP threads of the kernels.
        backend, client
            ``"joblib"`` (default) or ``"dask"`` (chains sent to a ``dask.distributed``
            Client); the p-values are the same.
        progress : bool
            Progress bar while sampling.

        Returns
        -------
        SelectiveMotifResults
        """
        exog = self.data.exog
        has_intercept = bool(((exog.to_numpy() == 1.0).all(axis=0)).any()) if exog.shape[1] else False
        inference = selective_inference(
            self.data.sequences, self.data.endog.to_numpy(), exog.to_numpy(), k=self.k,
            n_motifs=self.n_motifs, lam=self.lam, pooling=self.pooling, revcomp=self.revcomp,
            method=method, hypothesis=hypothesis, null=null, n_samples=n_samples, burn_in=burn_in, thin=thin,
            n_chains=n_chains, bracket=bracket, mcmc_design=mcmc_design, max_replays=max_replays,
            max_memory=max_memory, tail_draws=tail_draws, interval_draws=interval_draws, ties=ties,
            split_fraction=split_fraction,
            refine=refine, add_intercept=False, covariate_names=self.exog_names,
            random_state=random_state, n_threads=n_threads, n_jobs=n_jobs, backend=backend, client=client,
            progress=progress,
        )
        results = SelectiveMotifResults(self, inference, multitest_method=multitest_method,
                                        has_intercept=has_intercept)
        if results.split_selected_other_motifs:
            warnings.warn(f"method='split': the data split selected other motifs ({', '.join(results.motif_names)}) "
                          f"than the full data ({', '.join(results.param_names)}); results.pvalues and conf_int "
                          "name their motif rows after the split's own motifs", UserWarning, stacklevel=2)
        return results


register_model(SelectiveMotifModel, ModelData)  # results files may hold them (model.persistence)


def _align(part, index: pd.Index, what: str, by_label: bool):
    """``part`` (Series or DataFrame) with its rows in the order of ``index``.

    Plain arrays and lists (``by_label`` False) pair by position. Labelled data
    (pandas objects, FASTA ids) are paired by label as pandas does, never silently
    by position: the same labels in another order are reordered, unless one side
    is 0..n-1, which is ambiguous and raises (labels that
    match only as text, such as FASTA ids "7" and a response labelled 7, count
    as the same); different labels raise, as statsmodels' "indices not aligned"
    error does. A 0..n-1 index (what pandas gives data without labels) against
    labels that share none of it pairs by position.
    """
    if len(part) != len(index):
        raise ValueError(f"endog has {len(index)} rows but {what} has {len(part)}")
    if not by_label:
        return part.set_axis(index, axis=0)
    if part.index.equals(index):
        return part
    if part.index.has_duplicates:
        duplicate = part.index[part.index.duplicated()].tolist()[0]
        raise ValueError(f"{what} has duplicate index labels (e.g. {duplicate!r}): rows are paired with "
                         "endog by label, so labels must be unique")
    as_text, index_text = part.index.astype(str), index.astype(str)
    if part.index.isin(index).all():
        keys, target, how = part.index, index, ""
    elif not as_text.has_duplicates and not index_text.has_duplicates and as_text.isin(index_text).all():
        keys, target, how = as_text, index_text, " (as text)"
    else:
        keys = None
    if keys is not None:  # the same labels: reorder by them, unless that is ambiguous
        if keys.equals(target):
            return part.set_axis(index, axis=0)
        if is_default_index(part.index) or is_default_index(index):
            raise ValueError(f"endog and {what} have the same labels{how} in different orders, and one of them "
                             "is 0..n-1 (what pandas gives data built without labels): pairing by label or "
                             f"by position would differ. Pass {what} as an array (.to_numpy()) to pair by "
                             "position, or give both the same labels")
        return part.set_axis(keys, axis=0).loc[target].set_axis(index, axis=0)
    if not part.index.isin(index).any() and (is_default_index(part.index) or is_default_index(index)):
        return part.set_axis(index, axis=0)
    missing = index[~index.isin(part.index)].tolist()[:3]
    raise ValueError(f"the indices of endog and {what} are not aligned: endog labels {missing!r} are not in "
                     f"{what}. Give {what} the same labels (FASTA ids, DataFrame index), or plain "
                     "arrays/lists to pair rows by position")


def _as_series(values, what: str, default_name: str, index=None) -> pd.Series:
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise ValueError(f"{what} must be one column, got {values.shape[1]}")
        values = values.iloc[:, 0]
    if isinstance(values, pd.Series):
        series = values.copy()
    else:
        if isinstance(values, np.ndarray) and values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        series = pd.Series(list(values) if what == "sequences" else np.asarray(values),
                           index=index if index is not None and len(values) == len(index) else None)
    if series.name is None:
        series.name = default_name
    return series


def _as_frame(exog, index: pd.Index) -> pd.DataFrame:
    if isinstance(exog, pd.Series):
        exog = exog.to_frame()
    if isinstance(exog, pd.DataFrame):
        frame = exog.copy()
    else:
        array = np.asarray(exog, dtype=np.float64)
        if array.ndim == 1:
            array = array[:, None]
        frame = pd.DataFrame(array, columns=[f"x{i + 1}" for i in range(array.shape[1])],
                             index=index if len(array) == len(index) else None)
    try:
        return frame.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"exog must be numeric; encode categories first (or use a formula "
                        f"with C(...)): {exc}") from None
