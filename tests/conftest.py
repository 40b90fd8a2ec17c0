"""Shared fixtures: small simulated data sets with fixed seeds."""

import numpy as np
import pytest

from simulations.data import simulate_dataset


@pytest.fixture
def rng():
    return np.random.default_rng(20231212)


@pytest.fixture
def random_sequences(rng):
    """Twenty-five short random sequences of varying lengths, with a few N letters."""
    seqs = []
    for i in range(25):
        s = list(rng.choice(list("ACGT"), size=int(rng.integers(8, 30))))
        if i % 7 == 0:
            s[int(rng.integers(0, len(s)))] = "N"
        seqs.append("".join(s))
    return seqs


@pytest.fixture
def planted_data():
    """A strong planted motif (continuous response)."""
    return simulate_dataset(120, 40, consensus="GATTA", beta=1.5, fraction=0.5, random_state=7)
