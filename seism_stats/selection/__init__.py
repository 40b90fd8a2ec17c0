"""Selection: the greedy selection of motifs (training the one-layer CNN), its replay and its geometry.

Owns: :mod:`.greedy` (:class:`~.greedy.Selection`, :class:`~.greedy.SelectionEvent`,
:func:`~.greedy.select_motifs`; kernel ``_replay``), :mod:`.replay` (the selection replayed
on batches of candidate responses; kernel ``_sphere``), :mod:`.refinement` (the selected
filter refined by gradient ascent) and :mod:`.geometry`: the event along lines and
circles (step lines, side bounds, segments, arcs) and their normal and Student-t masses,
which every test and interval imports.

May import: :mod:`seism_stats.features`, :mod:`seism_stats.io`, :mod:`seism_stats.utils`.
"""
