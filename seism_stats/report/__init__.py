"""What a fit shows: the printed summary, the HTML report, figures and known-motif matches.

Owns: :mod:`.summary` (the statsmodels ``Summary``), :mod:`.html` (one self-contained
report), :mod:`.plotting` (logos, null distributions, Q-Q plots), :mod:`.motif_match`
(Tomtom matches against JASPAR or a motif file). The functions take the results they
render as arguments.

May import: :mod:`seism_stats.inference` and the layers below it.
"""
