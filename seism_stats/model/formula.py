"""The ``motifs(seq, k=8, n_motifs=2)`` term of a model formula.

Formulas are parsed by formulaic (the engine statsmodels 0.15 uses). The
``motifs(...)`` call is found among formulaic's terms; its arguments are read
with Python's own parser (:mod:`ast`), its column is looked up in the data, and
every other term is materialised by formulaic as a nuisance covariate.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from formulaic import Formula, model_matrix
from formulaic.errors import FormulaicError
from formulaic.parser.types import Factor

EvalMethod = Factor.EvalMethod

#: Selection settings a ``motifs(...)`` term may carry.
MOTIF_OPTIONS = ("k", "n_motifs", "lam", "pooling", "revcomp")


@dataclass(frozen=True)
class MotifTerm:
    """What ``motifs(column, **options)`` asks for.

    Attributes
    ----------
    column : str
        Name of the sequence column.
    options : dict
        Selection settings (subset of :data:`MOTIF_OPTIONS`).
    expression : str
        The term as written in the formula.
    """

    column: str
    options: dict = field(default_factory=dict)
    expression: str = ""

    @property
    def name(self) -> str:
        """Short term name used to label parameters: ``motifs(seq)``."""
        return f"motifs({self.column})"


@dataclass(frozen=True)
class ParsedFormula:
    """A formula split into response, motif term and covariate design."""

    endog: pd.Series
    sequences: pd.Series
    exog: pd.DataFrame
    motif_term: MotifTerm
    covariate_formula: str
    n_dropped: int
    row_labels: pd.Index
    covariate_spec: object = None  # formulaic ModelSpec of the covariates (for predict)


def _parse_motif_call(expression: str) -> MotifTerm:
    # A backquoted column name (formulaic's quoting) is read as patsy's Q('...').
    python = re.sub(r"`([^`]*)`", lambda m: f"Q({m.group(1)!r})", expression)
    try:
        call = ast.parse(python, mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"cannot read the motifs term {expression!r}: {exc.msg}") from None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "motifs"):
        raise ValueError(f"{expression!r} is not a motifs(...) call")
    column = _column_name(call.args[0]) if len(call.args) == 1 else None
    if column is None:
        raise ValueError(f"motifs() takes the name of one sequence column as its first argument, "
                         f"as in motifs(seq, k=8), or Q('name') for a name that is not a Python "
                         f"identifier (motifs(Q('my seq'), k=8)); got {expression!r}")
    options = {}
    for keyword in call.keywords:
        if keyword.arg not in MOTIF_OPTIONS:
            raise ValueError(f"unknown option {keyword.arg!r} in {expression!r}; "
                             f"motifs() accepts {', '.join(MOTIF_OPTIONS)}")
        try:
            options[keyword.arg] = ast.literal_eval(keyword.value)
        except ValueError:
            raise ValueError(f"option {keyword.arg} of motifs() must be a literal value, "
                             f"got {ast.unparse(keyword.value)!r}") from None
    return MotifTerm(column, options, expression)


def _column_name(argument: ast.expr) -> str | None:
    """The column a motifs() argument names: ``seq``, or ``Q('my seq')`` as in patsy and formulaic; else None."""
    if isinstance(argument, ast.Name):
        return argument.id
    if (isinstance(argument, ast.Call) and isinstance(argument.func, ast.Name) and argument.func.id == "Q"
            and len(argument.args) == 1 and not argument.keywords and isinstance(argument.args[0], ast.Constant)
            and isinstance(argument.args[0].value, str)):
        return argument.args[0].value
    return None


def split_formula(formula: str) -> tuple[str, MotifTerm, str]:
    """Return (response expression, motif term, covariate right-hand side)."""
    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string, got {type(formula).__name__}")
    try:
        parsed = Formula(formula)
    except FormulaicError as exc:
        raise ValueError(f"cannot parse formula {formula!r}: {exc}") from None
    if not hasattr(parsed, "lhs") or len(parsed.lhs) == 0:
        raise ValueError(f"formula {formula!r} has no response: write it as 'y ~ motifs(seq) + ...'")
    if len(parsed.lhs) != 1:
        raise ValueError(f"formula {formula!r} must have exactly one response term")
    motif_terms, covariate_terms = [], []
    for term in parsed.rhs:
        is_motif = [f.expr.replace(" ", "").startswith("motifs(") for f in term.factors]
        if any(is_motif):
            if len(term.factors) > 1:
                raise ValueError(f"the motifs term cannot be part of an interaction ({term}); "
                                 "adjust for covariates with '+' instead")
            motif_terms.append(term.factors[0].expr)
        else:
            covariate_terms.append(_term_text(term))
    if not motif_terms:
        raise ValueError(f"formula {formula!r} has no motifs(...) term: say which column holds "
                         "the sequences, e.g. 'y ~ motifs(seq, k=8) + gc'")
    if len(motif_terms) > 1:
        raise ValueError(f"formula {formula!r} has {len(motif_terms)} motifs(...) terms; use one "
                         "(select several motifs with n_motifs=)")
    rhs = " + ".join(covariate_terms) if covariate_terms else "0"
    if "1" not in covariate_terms and covariate_terms:
        rhs = rhs + " - 1"  # formulaic would otherwise add back the intercept that was removed
    return _term_text(parsed.lhs[0]), _parse_motif_call(motif_terms[0]), rhs


def _term_text(term) -> str:
    """A parsed term written back as formula text, column names that are not identifiers in backquotes.

    ``str(term)`` drops the backquotes of ```log2 fold-change```, and the formula it is
    put back into would then read ``log2 fold - change``.
    """
    def factor(f) -> str:
        method = getattr(f, "eval_method", None)
        if method == EvalMethod.LOOKUP:
            return f.expr if f.expr.isidentifier() else f"`{f.expr}`"
        if method == EvalMethod.PYTHON and not _is_call(f.expr):
            return f"{{{f.expr}}}"  # {gc * 2}: written back as Python, not as formula operators
        return f.expr

    return ":".join(factor(f) for f in term.factors)


def _is_call(expression: str) -> bool:
    """Whether a Python factor is one call (``C(batch)``, ``np.log(x)``): formulaic reads it back as is."""
    try:
        return isinstance(ast.parse(expression, mode="eval").body, ast.Call)
    except SyntaxError:
        return False


def response_name(lhs: str) -> str:
    """The response's name from its formula text: a backquoted column name without its backquotes."""
    return lhs[1:-1] if len(lhs) > 2 and lhs[0] == lhs[-1] == "`" else lhs


def _is_numeric_response(column: pd.Series) -> bool:
    """Numbers or booleans (a declared 0/1 response); not strings or categories."""
    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def parse_formula(formula: str, data: pd.DataFrame, subset=None, drop_cols=None,
                  missing: str = "drop") -> ParsedFormula:
    """Materialise a SEISM formula on a DataFrame.

    Parameters
    ----------
    formula : str
        ``"y ~ motifs(seq, k=8, n_motifs=2) + gc + C(batch)"``.
    data : pandas.DataFrame
    subset : array-like, optional
        Boolean mask or index labels of the rows to use.
    drop_cols : list of str, optional
        Covariate columns of the design to drop after materialisation.
    missing : {"drop", "raise"}
        Rows with a missing value in a used column are dropped (statsmodels'
        default) or raise an error.
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if missing not in ("drop", "raise"):
        raise ValueError(f"missing must be 'drop' or 'raise', got {missing!r}")
    lhs_text, term, rhs = split_formula(formula)
    lhs = response_name(lhs_text)
    try:
        shared = sorted(Formula(lhs_text).required_variables & Formula(rhs).required_variables)
    except FormulaicError:  # reported with the model matrix below
        shared = []
    if shared:
        raise ValueError(f"formula {formula!r}: the response's column {shared[0]!r} is also used by a covariate "
                         "term; it would explain the response, leaving the motifs nothing to test")
    if term.column not in data.columns:
        raise ValueError(f"motifs({term.column}): {term.column!r} is not a column of data "
                         f"(columns: {', '.join(map(str, data.columns))})")
    if subset is not None:
        data = data.loc[subset]
    if data.index.has_duplicates:  # rows are matched by label once missing values are dropped
        duplicate = data.index[data.index.duplicated()].tolist()[0]
        raise ValueError(f"data has duplicate index labels (e.g. {duplicate!r}): rows are matched by label, so "
                         "they must be unique (pd.concat(..., ignore_index=True) or data.reset_index(drop=True))")
    n_total = len(data)
    try:
        matrices = model_matrix(f"{lhs_text} ~ {rhs}", data, na_action="drop" if missing == "drop" else "raise")
    except FormulaicError as exc:
        message = str(exc).split("\n")[0]
        raise ValueError(f"formula {formula!r}: {message}") from None
    keep = matrices.rhs.index
    sequences = data.loc[keep, term.column]
    has_sequence = sequences.notna().to_numpy()
    if not has_sequence.all() and missing == "raise":
        raise ValueError(f"{int((~has_sequence).sum())} rows have no sequence in column {term.column!r}")
    keep = keep[has_sequence]
    if not len(keep):
        used = Formula(f"{lhs_text} ~ {rhs}").required_variables | {term.column}
        empty = [str(c) for c in data.columns if c in used and data[c].isna().all()]
        raise ValueError(f"every one of the {n_total} rows has a missing value in a column the formula uses, so none "
                         "is left" + (f" (no value at all in {', '.join(map(repr, empty))})" if empty else ""))
    exog = pd.DataFrame(matrices.rhs).loc[keep]
    if drop_cols:
        unknown = [c for c in drop_cols if c not in exog.columns]
        if unknown:
            raise ValueError(f"drop_cols {unknown} are not columns of the design ({list(exog.columns)})")
        exog = exog.drop(columns=list(drop_cols))
    response = pd.DataFrame(matrices.lhs)
    if response.shape[1] != 1 or (lhs in data.columns and not _is_numeric_response(data[lhs])):
        column = data[lhs] if lhs in data.columns else None
        kind = f"dtype {column.dtype}" if column is not None else f"{response.shape[1]} indicator columns"
        raise TypeError(f"the response {lhs!r} must be numeric (got {kind}); formulaic would recode it as "
                        "category indicators. Convert it with pandas.to_numeric, or code a two-level "
                        "response as 0/1 yourself")
    endog = response.loc[keep].iloc[:, 0].astype(np.float64)
    endog.name = lhs
    return ParsedFormula(endog=endog, sequences=data.loc[keep, term.column], exog=exog.astype(np.float64),
                         motif_term=term, covariate_formula=rhs, n_dropped=n_total - len(keep),
                         row_labels=keep, covariate_spec=getattr(matrices.rhs, "model_spec", None))
