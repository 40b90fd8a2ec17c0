"""Formula interface (parsed with formulaic, the engine statsmodels 0.15 uses).

Owns: :mod:`.api`, the ``statsmodels.formula.api``-style constructors
(``seism_stats.formula.api.selective_motifs``). The ``motifs(...)`` term itself is
:mod:`seism_stats.model.formula`.

May import: :mod:`seism_stats.model` and the layers below it (the interface layer, with
the command line and the package root).
"""
