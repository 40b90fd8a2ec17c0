"""Input checks shared by the public functions (clear errors, never silent fixes)."""

from __future__ import annotations

import numbers
import os

import numpy as np

RandomStateLike = int | np.random.Generator | np.random.SeedSequence | None


def fresh_seed() -> int:
    """A new non-negative 63-bit seed from fresh entropy (recorded, so that a run can be repeated)."""
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))


def check_random_state(random_state: RandomStateLike) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` from a seed, a Generator or None.

    Parameters
    ----------
    random_state : int, numpy.random.Generator, numpy.random.SeedSequence or None
        ``None`` draws fresh entropy; an int or SeedSequence seeds a new PCG64
        generator; a Generator is used as is (and advanced).
    """
    if isinstance(random_state, (bool, np.bool_)):
        raise TypeError(f"random_state must be None, an int, a SeedSequence or a Generator, got the bool "
                        f"{random_state} (True would silently mean seed 1)")
    if random_state is None or isinstance(random_state, (numbers.Integral, np.random.SeedSequence)):
        if isinstance(random_state, numbers.Integral) and random_state < 0:
            raise ValueError(f"random_state must be a non-negative integer, got {random_state}")
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    raise TypeError(
        "random_state must be None, an int, a numpy.random.SeedSequence or a "
        f"numpy.random.Generator, got {type(random_state).__name__}"
    )


def check_response(y, n: int | None = None, name: str = "y") -> np.ndarray:
    """Return ``y`` as a float64 vector; reject text, NaN, infinities, constants and bad lengths.

    Text is never converted (``'1.5'`` or ``'.'`` in a response column is a file
    problem to fix, not a number to guess).
    """
    raw = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if raw.dtype.kind in "USO" and any(isinstance(v, (str, bytes)) for v in raw.ravel()):
        example = next(v for v in raw.ravel() if isinstance(v, (str, bytes)))
        raise TypeError(f"{name} must be numeric, got text values (e.g. {example!r}); convert them first "
                        "(pandas.to_numeric) or code a two-level response as 0/1")
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric, got values of type {np.asarray(y).dtype}") from exc
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} values but there are {n} sequences")
    if arr.shape[0] < 3:
        raise ValueError(f"{name} needs at least 3 values, got {arr.shape[0]}")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} contains {int(bad.sum())} NaN or infinite values (first at index {first})")
    if np.ptp(arr) == 0:
        raise ValueError(f"{name} is constant ({arr[0]:g}): nothing can be associated with it")
    return arr


def check_covariates(covariates, n: int, add_intercept: bool = True) -> np.ndarray:
    """Return the n x p covariate matrix (intercept first when asked), checked."""
    columns = [np.ones((n, 1))] if add_intercept else []
    if covariates is not None:
        try:
            arr = np.asarray(covariates, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError("covariates must be numeric") from exc
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(f"covariates must be 1- or 2-dimensional, got shape {arr.shape}")
        if arr.shape[0] != n:
            raise ValueError(f"covariates have {arr.shape[0]} rows but there are {n} sequences")
        if not np.isfinite(arr).all():
            rows, cols = np.nonzero(~np.isfinite(arr))
            raise ValueError(f"covariates contain {rows.size} NaN or infinite values (first at row {rows[0]}, "
                             f"column {cols[0]}: {arr[rows[0], cols[0]]})")
        columns.append(arr)
    if not columns:
        return np.zeros((n, 0))
    return np.hstack(columns)


def residual_basis(covariates: np.ndarray) -> np.ndarray:
    """Orthonormal basis (n x r) of the column space of the covariates.

    Raises
    ------
    ValueError
        When fewer than two residual degrees of freedom are left.
    """
    n, p = covariates.shape
    if p == 0:
        return np.zeros((n, 0))
    q, r = np.linalg.qr(covariates)
    diag = np.abs(np.diag(r))
    rank = int((diag > 1e-10 * max(diag.max(), 1.0)).sum())
    if rank < p:
        # Rank-deficient covariates: keep an orthonormal basis of their span.
        u, s, _ = np.linalg.svd(covariates, full_matrices=False)
        rank = int((s > 1e-10 * s[0]).sum())
        q = u[:, :rank]
    if n - rank < 2:
        raise ValueError(
            f"{n} sequences and {rank} independent covariates leave fewer than 2 residual "
            "degrees of freedom: use more sequences or fewer covariates"
        )
    return np.ascontiguousarray(q[:, :rank])


def check_lam(lam) -> float:
    """The kernel bandwidth as a finite positive float."""
    try:
        value = float(lam)
    except (TypeError, ValueError):
        raise TypeError(f"lam must be a number, got {lam!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"lam must be a finite positive number, got {lam!r} (a large value such as 20 "
                         "counts exact matches only)")
    return value


def check_bool(value, name: str) -> bool:
    """``value`` as a bool; strings such as ``"no"`` are refused rather than read as True."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r}")


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int >= ``minimum`` or raise a clear error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def default_threads(n_threads: int | None = None) -> int:
    """Number of OpenMP threads for the kernels (all usable cores by default)."""
    if n_threads is not None:
        return check_positive_int(n_threads, "n_threads")
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def is_default_index(index) -> bool:
    """A 0..n-1 RangeIndex: what pandas gives data that carry no labels."""
    import pandas as pd

    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1


def check_same_labels(**parts) -> None:
    """Refuse labelled inputs whose labels disagree, where rows are paired by position.

    ``selective_inference`` pairs ``y``, the sequences and the covariates by
    position. Parts are pandas objects (labelled by their index) or a
    ``pandas.Index`` (the ids of a FASTA file, which label its records); others
    carry no labels. When two labelled parts disagree (a shuffled or filtered
    Series, a response in another order than the FASTA file), pairing by position
    would silently match the wrong rows: raise instead, naming the two parts.
    Labels equal as text count as equal (FASTA ids are text: ``"7"`` and ``7``).
    """
    import pandas as pd

    indexes = [(name, part if isinstance(part, pd.Index) else part.index) for name, part in parts.items()
               if isinstance(part, (pd.Series, pd.DataFrame, pd.Index))]
    labelled = [(name, index) for name, index in indexes if not is_default_index(index)]
    unlabelled = [name for name, index in indexes if is_default_index(index)]
    for (name_a, index_a), (name_b, index_b) in zip(labelled, labelled[1:]):
        text_a, text_b = index_a.astype(str), index_b.astype(str)
        if index_a.equals(index_b) or text_a.equals(text_b):
            continue
        outside = text_a[~text_a.isin(text_b)]
        detail = (f"e.g. {outside[0]!r} of {name_a} is not in {name_b}" if len(outside) else
                  "the same labels in another order" if len(text_a) == len(text_b) else "different lengths")
        raise ValueError(f"{name_a} and {name_b} have different index labels ({detail}), but selective_inference "
                         "pairs rows by position: pass arrays (.to_numpy()) in matching order (y.loc[ids] puts "
                         "y in the order of ids, e.g. a FASTA file's: read_fasta(path)[0]), or use "
                         "SelectiveMotifModel, which pairs rows by label")
    for name, index in labelled:  # 0..n-1 against the same labels in another order: ambiguous
        positions = pd.Index([str(i) for i in range(len(index))])
        text = index.astype(str)
        if unlabelled and text.isin(positions).all() and not text.equals(positions):
            raise ValueError(f"{name} is labelled with 0..n-1 in another order while {unlabelled[0]} has the "
                             "default 0..n-1 index: selective_inference pairs rows by position, which may not "
                             "be what the labels say; pass arrays (.to_numpy()) in matching order")
