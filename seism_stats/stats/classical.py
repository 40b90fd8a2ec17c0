"""Classical tests beside the selective one (SPEC 6): naive OLS and data splitting.

* Naive: OLS of y on the covariates and the selected motif features, on the same
  data that selected the motifs. Reported for contrast only: these p-values are
  too small under the null because the motifs were chosen to fit y.
* Data split: select on a random fraction of the sequences, then test the
  motifs selected there with an ordinary OLS t-test (statsmodels) on the
  held-out sequences. Valid, but it spends part of the data on selection.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm

from ..features.kmers import check_k
from ..io.motif_files import check_ppm
from ..io.sequences import encode_sequences
from ..selection.greedy import select_motifs
from ..selection.refinement import WindowDesign, quantize
from ..utils.validation import check_covariates, check_response, residual_basis


@dataclass(frozen=True)
class OLSMotifTests:
    """OLS t-tests of the motif coefficients given the covariates.

    Attributes
    ----------
    cells : ndarray of int64 (q,)
        Grid cells tested.
    params, bse, tvalues, pvalues : ndarray (q,)
        Motif coefficient, standard error, t statistic and two-sided p-value.
    conf_int : ndarray (q, 2)
        Confidence interval at ``alpha``.
    df_resid : float
        Residual degrees of freedom.
    n_obs : int
        Sequences used in the fit.
    full : OLSFit or None
        The whole selected model (covariates first, then motifs); None when not fitted.
    """

    cells: np.ndarray
    params: np.ndarray
    bse: np.ndarray
    tvalues: np.ndarray
    pvalues: np.ndarray
    conf_int: np.ndarray
    df_resid: float
    n_obs: int
    full: "OLSFit | None" = None

    @classmethod
    def empty(cls, n_obs: int = 0, full: "OLSFit | None" = None) -> "OLSMotifTests":
        nothing = np.zeros(0)
        return cls(np.zeros(0, dtype=np.int64), nothing, nothing, nothing, nothing,
                   np.zeros((0, 2)), float("nan") if full is None else full.df_resid, n_obs, full)


@dataclass(frozen=True)
class OLSFit:
    """The OLS fit of the selected model ``y ~ covariates + motif features`` (statsmodels).

    Attributes
    ----------
    params, bse, tvalues, pvalues : ndarray (p + q,)
        Covariates first, then motifs.
    cov_params : ndarray (p + q, p + q)
    fittedvalues, resid : ndarray (n,)
    rsquared, df_resid : float
    """

    params: np.ndarray
    bse: np.ndarray
    tvalues: np.ndarray
    pvalues: np.ndarray
    cov_params: np.ndarray
    fittedvalues: np.ndarray
    resid: np.ndarray
    rsquared: float
    df_resid: float

    @classmethod
    def from_statsmodels(cls, fit) -> "OLSFit":
        return cls(*(np.asarray(a, dtype=np.float64) for a in (fit.params, fit.bse, fit.tvalues, fit.pvalues,
                                                               fit.cov_params(), fit.fittedvalues, fit.resid)),
                   float(fit.rsquared), float(fit.df_resid))


def ols_motif_tests(y: np.ndarray, covariates: np.ndarray, motif_features: np.ndarray,
                    cells: np.ndarray, alpha: float = 0.05) -> OLSMotifTests:
    """Fit ``y ~ covariates + motif features`` by OLS and test each motif coefficient.

    Parameters
    ----------
    y : ndarray (n,)
    covariates : ndarray (n, p)
        Intercept included when wanted.
    motif_features : ndarray (n, q)
        Feature of each tested motif.
    cells : ndarray (q,)
        Grid cells of the motifs (carried into the result).
    alpha : float
        Level of the confidence intervals.
    """
    q = motif_features.shape[1]
    if q == 0:
        full = OLSFit.from_statsmodels(sm.OLS(y, covariates).fit()) if covariates.shape[1] else None
        return OLSMotifTests.empty(y.shape[0], full)
    design = np.column_stack([covariates, motif_features])
    fit = sm.OLS(y, design).fit()
    motif = slice(covariates.shape[1], covariates.shape[1] + q)
    return OLSMotifTests(
        cells=np.asarray(cells, dtype=np.int64),
        params=np.asarray(fit.params[motif]),
        bse=np.asarray(fit.bse[motif]),
        tvalues=np.asarray(fit.tvalues[motif]),
        pvalues=np.asarray(fit.pvalues[motif]),
        conf_int=np.asarray(fit.conf_int(alpha)[motif]),
        df_resid=float(fit.df_resid),
        n_obs=int(y.shape[0]),
        full=OLSFit.from_statsmodels(fit),
    )


def naive_tests(features, y: np.ndarray, covariates: np.ndarray, cells: np.ndarray,
                alpha: float = 0.05) -> OLSMotifTests:
    """OLS tests of the motifs selected on the same data (no correction for selection)."""
    columns = np.column_stack([features.column(int(c)) for c in cells]) if len(cells) else np.zeros((y.shape[0], 0))
    return ols_motif_tests(y, covariates, columns, cells, alpha)


@dataclass(frozen=True)
class SplitTests:
    """Data-split inference: motifs selected on one part, tested on the other.

    Attributes
    ----------
    select_rows, test_rows : ndarray of int64
        Sequence positions used for selection and for testing.
    tests : OLSMotifTests
        OLS tests on ``test_rows`` of the motifs selected on ``select_rows`` (their
        ``cells`` may differ from the full-data selection).
    """

    select_rows: np.ndarray
    test_rows: np.ndarray
    tests: OLSMotifTests


def split_rows(n: int, split_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sorted positions of the selection part (``split_fraction`` of n) and of the test part."""
    if not 0.0 < split_fraction < 1.0:
        raise ValueError(f"split_fraction must be strictly between 0 and 1, got {split_fraction}")
    order = rng.permutation(n)
    n_select = int(round(split_fraction * n))
    return np.sort(order[:n_select]), np.sort(order[n_select:])


def split_tests(features, y: np.ndarray, covariates: np.ndarray, n_motifs: int,
                rows: tuple[np.ndarray, np.ndarray], alpha: float = 0.05) -> SplitTests:
    """Select ``n_motifs`` on the selection rows, test them on the test rows (see :func:`split_rows`).

    When one part is too small or has a constant response, the split cannot
    be done: a warning is issued and the tests are empty.
    """
    select_rows, test_rows = rows
    try:
        y_select = check_response(y[select_rows], name="y on the selection part of the split")
        check_response(y[test_rows], name="y on the test part of the split")
        basis = residual_basis(covariates[select_rows])
        if test_rows.shape[0] - np.linalg.matrix_rank(covariates[test_rows]) - n_motifs < 1:
            raise ValueError(f"the test part of the split ({test_rows.shape[0]} sequences) is too "
                             "small for the covariates and motifs")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            selection = select_motifs(features.subset(select_rows), y_select, basis, n_motifs)
    except ValueError as exc:
        warnings.warn(f"data split skipped: {exc}", RuntimeWarning, stacklevel=2)
        return SplitTests(select_rows, test_rows, OLSMotifTests.empty(test_rows.shape[0]))
    tests = naive_tests(features.subset(test_rows), y[test_rows], covariates[test_rows],
                        selection.cells, alpha)
    return SplitTests(select_rows, test_rows, tests)


def fixed_motif_test(sequences, y, ppm, covariates=None, *, lam: float = 1.0, pooling: str = "sum",
                     revcomp: bool = True, add_intercept: bool = True, alpha: float = 0.05) -> OLSMotifTests:
    """Ordinary OLS t-test of one motif given in advance (for example read from JASPAR/MEME).

    No selection happens, so the ordinary test is valid. The motif's feature is
    the one-layer-CNN feature of the PPM used as a continuous filter:
    ``phi_z(x) = pool_l exp(-lam/2 ||x_l - z||^2)``.

    Parameters
    ----------
    sequences : list of str, pandas Series or FASTA path
    y : array-like (n,)
    ppm : array-like (width, 4)
        Position probability (or count) matrix, columns A, C, G, T.
    covariates : array-like (n, p), optional
    lam, pooling, revcomp
        Kernel bandwidth, pooling and whether both strands are scanned.

    Returns
    -------
    OLSMotifTests
        One row; ``cells`` holds the k-mer nearest to the PPM.
    """
    ppm = check_ppm(ppm, "ppm")
    encoded = encode_sequences(sequences)
    y = check_response(y, len(encoded))
    k = check_k(ppm.shape[0], encoded)
    design = check_covariates(covariates, len(encoded), add_intercept)
    residual_basis(design)  # raises when too few residual degrees of freedom remain
    if pooling not in ("sum", "max"):
        raise ValueError(f"pooling must be 'sum' or 'max', got {pooling!r}")
    windows = WindowDesign(encoded, k, pooling, revcomp=revcomp)
    feature, _ = windows.features(windows.kmer_weights(ppm, float(lam)))
    return ols_motif_tests(y, design, feature[:, None], np.array([quantize(ppm)]), alpha)
