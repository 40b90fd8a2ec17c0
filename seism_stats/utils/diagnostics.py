"""Monte-Carlo diagnostics: effective sample size of (multi-chain) MCMC output."""

from __future__ import annotations

import numpy as np


def _autocovariance(x: np.ndarray) -> np.ndarray:
    """Biased autocovariance of each row of ``x`` (chains x draws), by FFT."""
    m = x.shape[1]
    centred = x - x.mean(axis=1, keepdims=True)
    size = 1 << int(np.ceil(np.log2(2 * m)))
    spectrum = np.fft.rfft(centred, n=size, axis=1)
    return np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=1)[:, :m] / m


def effective_sample_size(chains: np.ndarray) -> float:
    """Multi-chain effective sample size (Geyer's initial monotone sequence, as in Stan).

    Parameters
    ----------
    chains : array (n_chains, n_draws)
        One row per chain, draws in order.

    Returns
    -------
    float
        Effective number of independent draws, at most the number of draws. A
        constant input returns the number of draws.
    """
    chains = np.atleast_2d(np.asarray(chains, dtype=np.float64))
    n_chains, m = chains.shape
    total = n_chains * m
    if m < 4:
        return float(total)
    acov = _autocovariance(chains)
    within = acov[:, 0].mean() * m / (m - 1)
    between = chains.mean(axis=1).var(ddof=1) if n_chains > 1 else 0.0
    var_plus = within * (m - 1) / m + between
    if var_plus <= 0:
        return float(total)
    rho = 1.0 - (within - acov.mean(axis=0)) / var_plus
    rho[0] = 1.0
    n_pairs = m // 2
    pairs = rho[: 2 * n_pairs : 2] + rho[1 : 2 * n_pairs : 2]
    negative = np.flatnonzero(pairs < 0)
    if negative.size:
        pairs = pairs[: negative[0]]
    pairs = np.minimum.accumulate(pairs)
    tau = -1.0 + 2.0 * pairs.sum()
    if tau <= 0:
        return float(total)
    return float(min(total, total / tau))
