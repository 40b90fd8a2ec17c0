"""The functional API: :func:`~.pipeline.selective_inference` as a pipeline of named stages.

Owns: :mod:`.pipeline` (the orchestration, on one screen), :mod:`.stages` (each stage, a
function or small class with its own tests), :mod:`.options` (the methods, nulls and
defaults, and the checks of the arguments), :mod:`.result`
(:class:`~.result.MotifInference`, what the pipeline returns).

May import: :mod:`seism_stats.stats` and the layers below it.
"""

from .pipeline import selective_inference
from .result import MotifInference

__all__ = ["MotifInference", "selective_inference"]
