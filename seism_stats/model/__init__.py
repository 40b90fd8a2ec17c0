"""The statsmodels-shaped front end: :class:`~.motif_model.SelectiveMotifModel` and its results.

Owns: :mod:`.motif_model` (the model, from arrays or a formula), :mod:`.results`
(:class:`~.results.SelectiveMotifResults`), :mod:`.formula` (the ``motifs(...)`` term of a
formula), :mod:`.persistence` (saving and loading results without pickle).

May import: :mod:`seism_stats.report`, :mod:`seism_stats.inference` and the layers below them.
"""
