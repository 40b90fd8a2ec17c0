"""What :func:`~seism_stats.inference.pipeline.selective_inference` returns: :class:`MotifInference`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..features.grid import locate_cell
from ..features.kmers import kmer_to_string, reverse_complement_index
from ..sampling import samplers
from ..selection.greedy import Selection
from ..selection.refinement import consensus, kmer_ppm
from ..stats.classical import OLSMotifTests, SplitTests
from ..stats.intervals import selective_estimates


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
        errors, when ``pvalues`` test another hypothesis (``settings["hypothesis"]``) and they
        were asked for beside it (``hypothesis="both"`` with several motifs:
        ``settings["global_beside"]`` is then True); None otherwise.
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
    def freedman_lane(self) -> bool:
        """Whether the tilted permutations permuted residuals off covariates (Freedman-Lane's
        residual permutation, an approximate null) rather than the response itself."""
        return self.settings.get("permutation_exact") is False

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
        """One row per selected motif: k-mer, consensus, score, p-values side by side.

        ``statistic`` is the selection's step statistic (the fraction of the residual sum of
        squares the motif explains at its step, off the covariates and the earlier motifs);
        ``statistic_t`` the statistic of the circles' test in Student-t units (motif j's t
        statistic in the selected model for the motif hypothesis; for the global one, the signed
        square root of the step score in Student-t units, the t of motif j's step off the
        covariates and the earlier motifs; NaN for other methods).
        """
        index = pd.Index([f"motif{j + 1}" for j in range(self.n_selected)], name="motif")
        table = pd.DataFrame({
            "kmer": self.kmers,
            "consensus": [consensus(p) for p in self.ppms],
            "score": self.selection.scores,
            "statistic": self.selection.statistics,
            "statistic_t": self._or_nan(self.statistics_t),
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
