"""Shared utilities: input checks, the rows' canonical order, parallel backends, MCMC diagnostics.

Owns: :mod:`.validation` (checks shared by the public functions), :mod:`.canonical`
(an order of the rows that random draws follow), :mod:`.parallel` (joblib / Dask
tasks), :mod:`.diagnostics` (effective sample sizes).

May import: nothing else of the package (the bottom layer, beside ``_version``).
"""
