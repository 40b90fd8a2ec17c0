"""Simulation suite regenerating the paper's calibration, power and speed figures (SPEC 8).

Run ``python -m simulations <calibration|power|speed|all> [--quick]``.
"""
