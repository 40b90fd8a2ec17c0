"""The tests and intervals: selective p-values, the classical ones beside them, selective intervals.

Owns: :mod:`.circle_tests` (exact great-circle p-values, the default; kernel ``_circles``),
:mod:`.tilted_permutations` (exact permutation p-values), :mod:`.conditional_mc`
(conditional Monte Carlo), :mod:`.tail` (estimates below the Monte-Carlo floor),
:mod:`.classical` (naive OLS, data splitting, fixed motifs), :mod:`.intervals`
(truncated-Gaussian pivots) and :mod:`.circle_intervals` (the circle test inverted).
A new statistic or test is a module here.

May import: :mod:`seism_stats.sampling` and the layers below it. The tests do not import
each other's helpers (the shared geometry is :mod:`seism_stats.selection.geometry`); the
only imports between them are declared in ``tests/test_architecture.py``: the circle
intervals invert the circle test, and the tail estimate's i.i.d. branch is the
conditional Monte Carlo.
"""
