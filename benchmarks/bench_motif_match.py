"""Known-motif matching against Tomtom's statistics (memelite), on JASPAR CORE vertebrates.

Issue 25's check: 30 queries made from JASPAR CORE vertebrates motifs (6 exact
copies, 6 reverse complements, 6 exact 6-column truncations, 6 extended by 3
random columns on each side, 6 noisy: every column redrawn from a Dirichlet
around it), compared with the whole collection by

* ``memelite``: :func:`memelite.tomtom` called directly (the reference);
* ``seism_stats``: :func:`seism_stats.report.motif_match.match_table` / ``match_motifs``;
* ``b6397f3``: the package's former hand-written comparison (Pearson column
  scores, sampled column null), read from that commit with ``git show``.

Per method: top-hit agreement with memelite, top hit = the motif the query was
made from, the Spearman correlation of log p with memelite's over the union of
both top-50 lists (median over queries), the median log10 p of the top hit,
queries with p = 0, the largest E-value of the truncated queries, and seconds per
query (one query per call, after a warm-up; median). Then the first-use numba
compile: a process with an empty numba cache folder, then a second process.

Run from the repository root (needs pyjaspar: ``pip install -e ".[jaspar]"``)::

    python benchmarks/bench_motif_match.py > benchmarks/bench_motif_match_output.txt
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
import types

import numpy as np
from scipy.stats import spearmanr

from seism_stats.report.motif_match import jaspar_core_database, match_motifs, match_table

OLD_COMMIT = "b6397f3"
KINDS = ("exact", "reverse complement", "truncated to 6", "extended 3+3", "noisy")
TOP = 50


def make_queries(database: dict, seed: int = 25) -> list[tuple[str, str, np.ndarray]]:
    """(kind, source id, PPM) for 6 queries of each kind, from distinct motifs at least 10 wide."""
    rng = np.random.default_rng(seed)
    wide = [i for i, (_, ppm) in database.items() if ppm.shape[0] >= 10]
    sources = rng.choice(wide, size=6 * len(KINDS), replace=False)
    queries = []
    for n, source in enumerate(sources):
        kind, ppm = KINDS[n // 6], database[source][1]
        if kind == "reverse complement":
            ppm = ppm[::-1, ::-1]
        elif kind == "truncated to 6":
            start = int(rng.integers(0, ppm.shape[0] - 6 + 1))
            ppm = ppm[start:start + 6]
        elif kind == "extended 3+3":
            ppm = np.vstack([rng.dirichlet(np.ones(4), 3), ppm, rng.dirichlet(np.ones(4), 3)])
        elif kind == "noisy":
            ppm = np.array([rng.dirichlet(20 * row + 0.5) for row in ppm])
        queries.append((kind, str(source), np.ascontiguousarray(ppm)))
    return queries


def old_module():
    """The former motif_match.py (commit b6397f3), or None outside a git checkout."""
    try:
        source = subprocess.run(["git", "show", f"{OLD_COMMIT}:seism_stats/report/motif_match.py"], check=True,
                                capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("old_motif_match")
    module.__package__ = "seism_stats"
    sys.modules[module.__name__] = module  # dataclasses look their module up there
    exec(compile(source, f"{OLD_COMMIT}:motif_match.py", "exec"), module.__dict__)
    return module


def old_pvalues(old, query: np.ndarray, database: dict) -> np.ndarray:
    """The former method's p-value of the query against every database motif (its own loop, unchanged)."""
    rng = np.random.default_rng(0)
    ids = list(database)
    all_columns = np.vstack([database[i][1] for i in ids])
    background = old._standardised(all_columns[rng.integers(0, all_columns.shape[0], old.NULL_COLUMNS)])
    q = old._standardised(query)
    out = np.empty(len(ids))
    for n, target_id in enumerate(ids):
        ppm = database[target_id][1]
        best, count = None, 0
        for target in (ppm, old._reverse_complement(ppm)):
            t = old._standardised(target)
            null_similarity, similarity = background @ t.T / 4.0, q @ t.T / 4.0
            for _, qi, ti in old._alignments(q.shape[0], t.shape[0]):
                count += 1
                score = float(similarity[qi, ti].sum())
                if best is None or score > best[0]:
                    best = (score, old._sum_tail(null_similarity[:, ti], similarity[qi, ti]))
        out[n] = min(1.0, best[1] * count)
    return out


def spearman_top(p_a: np.ndarray, p_b: np.ndarray) -> float:
    """Spearman correlation of log p over the union of both methods' top-50 database motifs."""
    union = np.union1d(np.argsort(p_a, kind="stable")[:TOP], np.argsort(p_b, kind="stable")[:TOP])
    floor = 1e-300  # log of a p-value of exactly 0 (the former method's)
    return float(spearmanr(np.log10(np.maximum(p_a[union], floor)), np.log10(np.maximum(p_b[union], floor)))[0])


def summarise(name: str, pvalues: list[np.ndarray], reference: list[np.ndarray], queries, ids, seconds) -> None:
    top = [int(np.argmin(p)) for p in pvalues]
    ref_top = [int(np.argmin(p)) for p in reference]
    agree = sum(a == b for a, b in zip(top, ref_top))
    truth = sum(ids[t] == source for t, (_, source, _) in zip(top, queries))
    rho = np.median([spearman_top(p, r) for p, r in zip(pvalues, reference)])
    best = np.array([p.min() for p in pvalues])
    zeros = int((best == 0).sum())
    log_best = np.log10(np.maximum(best, 1e-300))
    truncated = [p.min() * len(ids) for p, (kind, _, _) in zip(pvalues, queries) if kind == "truncated to 6"]
    print(f"{name:<12} {agree:>5}/30 {truth:>5}/30 {rho:>10.3f} {np.median(log_best):>12.1f} {zeros:>5} "
          f"{max(truncated):>12.3g} {np.median(seconds):>10.4f}")


def compile_times() -> None:
    """First use in a process with an empty numba cache folder, then in a second process."""
    code = ("import time, numpy as np; from seism_stats.report.motif_match import match_motifs; "
            "from simulations.data import motif_pwm; rng = np.random.default_rng(0); "
            "db = {f'm{i}': (f'm{i}', rng.dirichlet(np.ones(4) * 0.4, size=8)) for i in range(40)}; "
            "t = time.perf_counter(); match_motifs([motif_pwm('GATTACA')], db); "
            "print(f'{time.perf_counter() - t:.1f}')")
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": os.getcwd()}
        for label in ("first process (empty numba cache)", "second process (cached)"):
            run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            announced = "compiling memelite's Tomtom" in run.stderr
            print(f"{label:<36} first match call {run.stdout.strip():>6} s; compile announced: {announced}")


def main() -> None:
    database = jaspar_core_database()
    ids = list(database)
    queries = make_queries(database)
    from pyjaspar import jaspardb
    from memelite import tomtom

    print(f"# bench_motif_match: {len(queries)} queries ({', '.join(KINDS)}; 6 each, seed 25) against JASPAR CORE "
          f"vertebrates ({len(ids)} motifs, {jaspardb().release} from pyjaspar); {platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    targets = [np.ascontiguousarray(database[i][1].T) for i in ids]
    tomtom([np.ascontiguousarray(queries[0][2].T)], targets)  # warm-up (compile or load from cache)
    reference, seconds = [], []
    for _, _, q in queries:
        start = time.perf_counter()
        reference.append(tomtom([np.ascontiguousarray(q.T)], targets)[0][0])
        seconds.append(time.perf_counter() - start)
    print(f"{'method':<12} {'top=':>6}mm {'truth':>8} {'spearman50':>10} {'med_log10p':>12} {'p=0':>5} "
          f"{'max_E_trunc':>12} {'s/query':>10}")
    summarise("memelite", reference, reference, queries, ids, seconds)

    ours, seconds = [], []
    for n, (_, _, q) in enumerate(queries):
        start = time.perf_counter()
        match_motifs([q], database)
        seconds.append(time.perf_counter() - start)
        table = match_table([q], database)
        ours.append(table.set_index("match_id")["pvalue"].reindex(ids).to_numpy())
    summarise("seism_stats", ours, reference, queries, ids, seconds)

    old = old_module()
    if old is None:
        print(f"{OLD_COMMIT:<12} (not a git checkout: skipped)")
    else:
        old_p, seconds = [], []
        for _, _, q in queries:
            start = time.perf_counter()
            old_p.append(old_pvalues(old, q, database))
            seconds.append(time.perf_counter() - start)
        summarise(OLD_COMMIT, old_p, reference, queries, ids, seconds)
    print("# top=mm: same top hit as memelite; truth: top hit is the query's source motif; spearman50: median over "
          "queries of the Spearman correlation of log10 p with memelite's over the union of both top-50 lists; "
          "med_log10p: median log10 p of the top hit; p=0: queries whose best p is exactly 0; max_E_trunc: the "
          "largest E-value (p x motifs) of the 6 truncated queries; s/query: median seconds of one single-query "
          "call after a warm-up (seism_stats: match_motifs, including its checks of the 1,019 database PPMs)")
    compile_times()


if __name__ == "__main__":
    main()
