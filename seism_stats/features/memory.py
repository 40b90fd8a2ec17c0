"""Memory a fit needs, estimated before anything large is allocated (issue 10).

The grid has 4^k cells and every lockstep walker keeps a few float64 vectors of
that length, so memory grows as ``8 * 4^k * (vectors)``: 128 MiB per vector at
k = 12. :func:`check_fit_memory` refuses a fit whose estimate exceeds
``max_memory`` with an error that names k, n, the bytes needed and what to
change, instead of running out of memory after minutes of work.
"""

from __future__ import annotations

import os

import numpy as np

from . import _kron

#: Default share of the currently available memory a fit may plan to use.
DEFAULT_MEMORY_FRACTION = 0.8
#: Directions whose transforms the circles compute together (``seism_stats.stats.circle_tests.BLOCK``
#: is this number, defined here so that the estimate below counts what the sampler holds).
CIRCLE_BLOCK = 32
#: Directions the conditional Monte Carlo transforms together (``seism_stats.stats.conditional_mc.BLOCK``).
CMC_BLOCK = 64
#: Draws the tilted permutations replay together (``seism_stats.stats.tilted_permutations.BLOCK``).
TILTED_BLOCK = 64
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


def motif_lengths(k) -> list[int]:
    """The motif lengths of ``k``: one length, or several (a grid of every length's cells)."""
    return [int(k)] if isinstance(k, (int, np.integer)) else sorted({int(v) for v in k})


def grid_vector_bytes(k) -> int:
    """Bytes of one float64 vector over the grid of the motif length(s) ``k`` (every strand's cells)."""
    return 8 * sum(4**v for v in motif_lengths(k))


def estimate_fit_bytes(n: int, total_length: int, k, n_motifs: int, n_chains: int, pooling: str,
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
    observed transforms). ``k``: the motif length, or several (the grid holds every length's cells,
    each length has its own counts, and every method's transforms hold one length's block beside the
    rows it is copied into).
    """
    lengths = motif_lengths(k)
    vector = grid_vector_bytes(lengths)
    cells = vector // 8
    counts = 0
    for length in lengths:
        counts += 2 * 16 * total_length
        if _kron.uses_gather(length):  # C^T by chunks of sequences: 8 bytes per non-zero, offsets per chunk
            counts += 2 * 8 * total_length + 8 * (4**length + 1) * -(-max(n, 1) // _kron.gather_chunk())
    selection = (8 + 2 * n_motifs) * vector
    dense = 8 * n * cells if pooling == "max" else 0
    transformed = 0  # rows transformed at once (one length's block sits beside them with several lengths)
    if method == "mcmc":
        walkers, transformed = 4 * max(2, n_chains) * vector, max(2, n_chains)
    elif method == "rejection":
        walkers, transformed = 2 * 256 * vector, 256
    elif method == "cmc":
        walkers, transformed = 2 * CMC_BLOCK * vector, CMC_BLOCK  # one block of directions and its transform
    elif method == "tilted":  # a block of draws: transforms, subsets, responses
        walkers, transformed = TILTED_BLOCK * vector + TILTED_BLOCK * 8 * 4 * n, TILTED_BLOCK
    elif method == "circles":
        q, threads, circles = max(1, n_motifs), max(1, n_threads), 1 + max(0, interval_draws)
        rows = max(CIRCLE_BLOCK + min(threads, CIRCLE_BLOCK), circles + min(threads, circles))
        lines = max(1, circle_runs) * (7 * q * q + 3 * q)
        step_cells = (sum(4**v // 2 + 4 ** ((v + 1) // 2) for v in lengths)  # canonical k-mers, at most
                      if strands_merged else cells)
        walkers, transformed = (rows + 4) * vector + lines * 8 * step_cells, rows
    else:
        walkers = 0
    if len(lengths) > 1:  # the transform of several lengths: one length's block beside the rows it fills
        walkers += transformed * 8 * 4 ** max(lengths)
    draws = BYTES_PER_DRAW * (n_samples + n_chains) * n_motifs if method in ("mcmc", "rejection", "cmc") else 0
    if method == "tilted":  # each draw's cell counts (44 feature bins x up to 12 strata of the other motif: 528
        draws = (8 * 528 + BYTES_PER_DRAW) * n_samples  # cells), weight and statistic
    return counts + selection + dense + walkers + draws


def check_fit_memory(n: int, total_length: int, k, n_motifs: int, n_chains: int, pooling: str,
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
        lengths, grid = motif_lengths(k), grid_vector_bytes(k)
        per_walker = 4 * grid
        hint = (f"; each MCMC chain holds {per_walker / 2**30:.2f} GiB, so fewer chains (n_chains) help"
                if method == "mcmc" else
                f"; the circles hold grid vectors of {grid / 2**30:.2f} GiB each: about {1 + interval_draws} for "
                f"the intervals (interval_draws; --interval-draws) and 7 per motif squared, so fewer motifs help"
                if method == "circles" else "")
        draws = (f", {BYTES_PER_DRAW * n_samples * n_motifs / 2**30:.1f} GiB of them for n_samples={n_samples:,}"
                 if BYTES_PER_DRAW * n_samples * n_motifs > need / 4 else "")
        raise MemoryError(f"a fit with k={','.join(map(str, lengths))} on n={n} sequences needs about "
                          f"{need / 2**30:.1f} GiB{draws} but "
                          f"max_memory allows {max_memory / 2**30:.1f} GiB{hint}; use a smaller k, "
                          "sum pooling, fewer draws, or raise max_memory (bytes)")
    return need
