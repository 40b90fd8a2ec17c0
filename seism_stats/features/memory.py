"""Memory a fit needs, estimated before anything large is allocated (issue 10).

The grid has 4^k cells and every lockstep walker keeps a few float64 vectors of
that length, so memory grows as ``8 * 4^k * (vectors)``: 128 MiB per vector at
k = 12. :func:`check_fit_memory` refuses a fit whose estimate exceeds
``max_memory`` with an error that names k, n, the bytes needed and what to
change, instead of running out of memory after minutes of work.
"""

from __future__ import annotations

import os

from . import _kron

#: Default share of the currently available memory a fit may plan to use.
DEFAULT_MEMORY_FRACTION = 0.8
#: Directions whose transforms the circles compute together (``seism_stats.stats.circle_tests.BLOCK``
#: is this number, defined here so that the estimate below counts what the sampler holds).
CIRCLE_BLOCK = 32
#: Bytes per null draw and motif: the recorded statistic, its copies when the sampler's pieces are
#: joined, and the exceedance indicators and effective-sample-size arrays of the p-values (MCMC,
#: rejection), or the log masses of the conditional Monte Carlo.
BYTES_PER_DRAW = 40


def available_memory() -> int | None:
    """Bytes of memory available now (Linux ``MemAvailable``), or None where unknown."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def estimate_fit_bytes(n: int, total_length: int, k: int, n_motifs: int, n_chains: int, pooling: str,
                       method: str, n_samples: int = 0, interval_draws: int = 0, n_threads: int = 1,
                       circle_runs: int = 1, strands_merged: bool = False) -> int:
    """Rough upper estimate of the peak bytes of :func:`~seism_stats.selective_inference`.

    Counts the sparse k-mer counts (both strands, and from k = 8 their transpose
    for the transform: int32 and float32, 8 bytes per non-zero, and 4^k offsets
    per chunk of sequences), the grid vectors of the selection (numerators,
    norms, cross products, inverse denominators), the dense
    matrix of max pooling, and per walker the current and direction numerators,
    the transform output and the arc scratch (4 vectors of 4^k doubles each;
    rejection sampling replays blocks of 256, the conditional Monte Carlo
    transforms blocks of 64), and per null draw and motif the statistic and what the
    p-values compute from it (:data:`BYTES_PER_DRAW`). The great circles (``method="circles"``)
    hold a block of :data:`CIRCLE_BLOCK` directions' transforms or, later, the intervals' ``1 +
    interval_draws`` circles' transforms, each with the arcs' lines of one row per thread (at most
    one per row); per motif and step the circles' lines and the order of the step's cells, about
    7 q^2 + 3 q vectors for q motifs while they are built (3 q^2 + 3 q after), counted whole for each
    of ``circle_runs`` hypotheses tested (2 with the global null beside the per-motif one), over the
    steps' competing cells (about half the grid with ``strands_merged``); and a few more (the
    observed transforms).
    """
    cells = 4**k
    vector = 8 * cells
    counts = 2 * 16 * total_length
    if _kron.uses_gather(k):  # C^T by chunks of sequences: 8 bytes per non-zero, offsets per chunk
        counts += 2 * 8 * total_length + 8 * (cells + 1) * -(-max(n, 1) // _kron.gather_chunk())
    selection = (8 + 2 * n_motifs) * vector
    dense = 8 * n * cells if pooling == "max" else 0
    if method == "mcmc":
        walkers = 4 * max(2, n_chains) * vector
    elif method == "rejection":
        walkers = 2 * 256 * vector
    elif method == "cmc":
        walkers = 2 * 64 * vector  # one block of directions (conditional_mc.BLOCK) and its transform
    elif method == "tilted":  # a block of 64 draws (tilted_permutations.BLOCK): transforms, subsets, responses
        walkers = 64 * vector + 64 * 8 * 4 * n
    elif method == "circles":
        q, threads, circles = max(1, n_motifs), max(1, n_threads), 1 + max(0, interval_draws)
        rows = max(CIRCLE_BLOCK + min(threads, CIRCLE_BLOCK), circles + min(threads, circles))
        lines = max(1, circle_runs) * (7 * q * q + 3 * q)
        step_cells = cells // 2 + 4 ** ((k + 1) // 2) if strands_merged else cells  # canonical k-mers, at most
        walkers = (rows + 4) * vector + lines * 8 * step_cells
    else:
        walkers = 0
    draws = BYTES_PER_DRAW * (n_samples + n_chains) * n_motifs if method in ("mcmc", "rejection", "cmc") else 0
    if method == "tilted":  # each draw's cell counts (44 feature bins x up to 12 strata of the other motif: 528
        draws = (8 * 528 + BYTES_PER_DRAW) * n_samples  # cells), weight and statistic
    return counts + selection + dense + walkers + draws


def check_fit_memory(n: int, total_length: int, k: int, n_motifs: int, n_chains: int, pooling: str,
                     method: str, max_memory: float | None, n_samples: int = 0, interval_draws: int = 0,
                     n_threads: int = 1, circle_runs: int = 1, strands_merged: bool = False) -> int:
    """Raise ``MemoryError`` naming k, n and the bytes needed when the estimate exceeds the limit.

    ``max_memory``: bytes, or None for :data:`DEFAULT_MEMORY_FRACTION` of the
    available memory (no check where that is unknown). Returns the estimate.
    """
    need = estimate_fit_bytes(n, total_length, k, n_motifs, n_chains, pooling, method, n_samples, interval_draws,
                              n_threads, circle_runs, strands_merged)
    if max_memory is None:
        available = available_memory()
        if available is None:
            return need
        max_memory = DEFAULT_MEMORY_FRACTION * available
    if need > max_memory:
        per_walker = 4 * 8 * 4**k
        hint = (f"; each MCMC chain holds {per_walker / 2**30:.2f} GiB, so fewer chains (n_chains) help"
                if method == "mcmc" else
                f"; the circles hold grid vectors of {8 * 4**k / 2**30:.2f} GiB each: about {1 + interval_draws} for "
                f"the intervals (interval_draws; --interval-draws) and 7 per motif squared, so fewer motifs help"
                if method == "circles" else "")
        draws = (f", {BYTES_PER_DRAW * n_samples * n_motifs / 2**30:.1f} GiB of them for n_samples={n_samples:,}"
                 if BYTES_PER_DRAW * n_samples * n_motifs > need / 4 else "")
        raise MemoryError(f"a fit with k={k} on n={n} sequences needs about {need / 2**30:.1f} GiB{draws} but "
                          f"max_memory allows {max_memory / 2**30:.1f} GiB{hint}; use a smaller k, "
                          "sum pooling, fewer draws, or raise max_memory (bytes)")
    return need
