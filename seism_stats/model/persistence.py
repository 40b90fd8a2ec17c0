"""Save and load results in a format that cannot run code: JSON manifest + NumPy arrays in one ``.npz``.

Results are shared between people, so loading must never execute what a file
says (pickle does: a crafted ``__reduce__`` runs on load). The file is a NumPy
``.npz`` archive read with ``allow_pickle=False``; entry ``__manifest__`` holds
a JSON tree that names only the package's own result classes (a fixed
allow-list) and refers to the arrays by key. The manifest carries a format
name and version, checked on load.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

FORMAT = "seism_stats.results"  # the file format's name (not a module path: saved files carry it)
VERSION = 1

#: The model class and its data class (the model layer above this module, which cannot import them):
#: registered by :mod:`seism_stats.model.motif_model` through :func:`register_model`.
_MODEL_CLASSES: tuple[type, ...] = ()


def register_model(model_class: type, data_class: type) -> None:
    """Let results files hold ``model_class`` (rebuilt from :data:`MODEL_ATTRIBUTES`) and its dataclass ``data_class``.

    Called once, by :mod:`seism_stats.model.motif_model` as it defines them.
    """
    global _MODEL_CLASSES
    _MODEL_CLASSES = (model_class, data_class)


def _model_class() -> type:
    if not _MODEL_CLASSES:
        raise RuntimeError("no model class registered (import seism_stats first)")
    return _MODEL_CLASSES[0]


def _allowed_classes() -> dict[str, type]:
    """The dataclasses a results file may name (nothing else is ever built from a file)."""
    from ..stats.circle_intervals import CirclePivot
    from ..stats.circle_tests import CircleNullLaw
    from ..stats.classical import OLSFit, OLSMotifTests, SplitTests
    from .formula import MotifTerm
    from ..inference.result import MotifInference
    from ..stats.intervals import TruncatedGaussianPivot
    from ..selection.refinement import RefinedMotif
    from ..sampling.samplers import NullSample
    from ..selection.greedy import Selection, SelectionEvent
    from ..stats.tilted_permutations import TiltedNullLaw

    classes = (CirclePivot, CircleNullLaw, OLSFit, OLSMotifTests, SplitTests, MotifTerm, MotifInference,
               RefinedMotif, NullSample, Selection, SelectionEvent, TruncatedGaussianPivot, TiltedNullLaw)
    return {cls.__name__: cls for cls in classes + _MODEL_CLASSES[1:]}


#: Attributes of SelectiveMotifModel written to and read from a file.
MODEL_ATTRIBUTES = ("data", "k", "n_motifs", "lam", "pooling", "revcomp", "motif_term", "formula",
                    "motif_term_spec")


class _Encoder:
    """Turn a results object into a JSON tree and a dict of arrays."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def _store(self, values: np.ndarray) -> str:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = values
        return key

    def array(self, values) -> dict:
        values = np.asarray(values)
        if values.dtype.kind != "O":
            return {"__array__": self._store(values)}
        # Text with missing entries (None / NaN): the text, and a mask of the missing.
        flat = values.ravel()
        missing = np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in flat], dtype=bool)
        if not all(isinstance(v, str) for v, gone in zip(flat, missing) if not gone):
            raise TypeError("an object array that is not all text cannot be saved")
        text = np.array(["" if gone else v for v, gone in zip(flat, missing)], dtype=str).reshape(values.shape)
        return {"__array__": self._store(text), "missing": self._store(missing.reshape(values.shape))}

    def index(self, index: pd.Index) -> dict:
        if isinstance(index, pd.RangeIndex):
            return {"__range__": [index.start, index.stop, index.step], "name": index.name}
        return {"__index__": self.array(index.to_numpy()), "name": index.name}

    def encode(self, value):
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return self.array(value)
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v) for v in value]}
        if isinstance(value, list):
            return [self.encode(v) for v in value]
        if isinstance(value, dict):
            return {"__dict__": {str(k): self.encode(v) for k, v in value.items()}}
        if isinstance(value, pd.Series):
            return {"__series__": self.array(value.to_numpy()), "index": self.index(value.index),
                    "name": self.encode(value.name)}
        if isinstance(value, pd.DataFrame):
            return {"__frame__": [self.array(value[c].to_numpy()) for c in value.columns],
                    "columns": [self.encode(c) for c in value.columns], "index": self.index(value.index)}
        if isinstance(value, _model_class()):
            return {"__model__": {name: self.encode(getattr(value, name, None)) for name in MODEL_ATTRIBUTES}}
        if dataclasses.is_dataclass(value) and type(value).__name__ in _allowed_classes():
            return {"__dataclass__": type(value).__name__,
                    "fields": {f.name: self.encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
        raise TypeError(f"cannot save a {type(value).__name__}")


class _Decoder:
    """Rebuild a JSON tree, taking arrays from an ``.npz`` archive (no pickle)."""

    def __init__(self, arrays):
        self.arrays = arrays
        self.classes = _allowed_classes()

    def index(self, tree: dict) -> pd.Index:
        if "__range__" in tree:
            return pd.RangeIndex(*tree["__range__"], name=tree["name"])
        return pd.Index(self.decode(tree["__index__"]), name=tree["name"])

    def decode(self, tree):
        if isinstance(tree, list):
            return [self.decode(v) for v in tree]
        if not isinstance(tree, dict):
            return tree
        if "__array__" in tree:
            values = self.arrays[tree["__array__"]]
            if "missing" in tree:
                values = values.astype(object)
                values[self.arrays[tree["missing"]]] = None
            return values
        if "__tuple__" in tree:
            return tuple(self.decode(v) for v in tree["__tuple__"])
        if "__dict__" in tree:
            return {k: self.decode(v) for k, v in tree["__dict__"].items()}
        if "__series__" in tree:
            return pd.Series(self.decode(tree["__series__"]), index=self.index(tree["index"]),
                             name=self.decode(tree["name"]))
        if "__frame__" in tree:
            columns = [self.decode(c) for c in tree["columns"]]
            return pd.DataFrame(dict(zip(range(len(columns)), (self.decode(c) for c in tree["__frame__"]))),
                                index=self.index(tree["index"])).set_axis(columns, axis=1)
        if "__model__" in tree:
            model = object.__new__(_model_class())
            for name in MODEL_ATTRIBUTES:
                setattr(model, name, self.decode(tree["__model__"].get(name)))
            return model
        if "__dataclass__" in tree:
            cls = self.classes.get(tree["__dataclass__"])
            if cls is None:
                raise ValueError(f"results file names an unknown type {tree['__dataclass__']!r}")
            return cls(**{k: self.decode(v) for k, v in tree["fields"].items()})
        raise ValueError("results file holds an unrecognised entry")


def save_results(results, path: str | os.PathLike) -> Path:
    """Write ``results`` to ``path`` (an ``.npz`` archive; no suffix is added)."""
    path = Path(path)
    data = results.model.data
    frame = data.frame
    try:
        _Encoder().encode(frame)  # a trial: the frame is encoded for real with the model below
    except TypeError:
        warnings.warn("the DataFrame given to from_formula holds non-text objects and is not saved "
                      "(model.data.frame will be None after load)", UserWarning, stacklevel=3)
        data.frame = None
    encoder = _Encoder()
    try:
        manifest = {"format": FORMAT, "version": VERSION,
                    "results": {"model": encoder.encode(results.model), "inference": encoder.encode(results.inference),
                                "multitest_method": results.multitest_method,
                                "has_intercept": results.has_intercept}}
    finally:
        data.frame = frame
    with open(path, "wb") as handle:
        np.savez_compressed(handle, __manifest__=np.array(json.dumps(manifest)), **encoder.arrays)
    return path


def load_results(path: str | os.PathLike, cls):
    """Read results written by :func:`save_results`; never runs code from the file.

    A file that is not a complete archive of this format (truncated by a copy,
    damaged, or another kind of file) raises one ValueError naming it, never the
    zip or zlib library's own exception.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"results file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a seism_stats results file (not a complete .npz archive: truncated, "
                         "damaged, or another kind of file)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "__manifest__" not in archive.files:
                raise ValueError(f"{path} is not a seism_stats results file (no manifest)")
            manifest = json.loads(str(_entry(archive, "__manifest__")))
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                found = manifest.get("format") if isinstance(manifest, dict) else None
                raise ValueError(f"{path} is not a seism_stats results file (format {found!r})")
            if manifest.get("version") != VERSION:
                raise ValueError(f"{path} has results format version {manifest.get('version')}; this version of "
                                 f"seism_stats reads version {VERSION}")
            decoder = _Decoder({key: _entry(archive, key) for key in archive.files if key != "__manifest__"})
            body = manifest["results"]
            return cls(decoder.decode(body["model"]), decoder.decode(body["inference"]),
                       multitest_method=body["multitest_method"], has_intercept=body["has_intercept"])
    except (_Damaged, zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, TypeError,
            json.JSONDecodeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{path} is a damaged seism_stats results file ({detail}); save the results again") from None


class _Damaged(Exception):
    """An entry of a results archive that NumPy cannot read (raised as one ValueError naming the file)."""


def _entry(archive, key: str) -> np.ndarray:
    try:
        return archive[key]
    except ValueError as exc:  # e.g. an object (pickled) array, refused with allow_pickle=False
        raise _Damaged(f"entry {key!r}: {exc}") from None
