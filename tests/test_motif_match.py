"""Known-motif matching: Tomtom's statistics through memelite."""

import warnings

import numpy as np
import pytest

from seism_stats.io.motif_files import write_jaspar, write_meme
from seism_stats.report import motif_match
from seism_stats.report.motif_match import load_motif_database, match_motifs
from simulations.data import motif_pwm

pytest.importorskip("memelite")


def decoy_database(n: int = 120, seed: int = 3) -> dict:
    """Realistic-looking PWMs (peaked Dirichlet columns, widths 6 to 15) plus a GATA-like motif."""
    rng = np.random.default_rng(seed)
    decoys = {f"MA{i:04d}.1": (f"decoy{i}", rng.dirichlet(np.ones(4) * 0.4, size=int(rng.integers(6, 16))))
              for i in range(n)}
    return {**decoys, "MA9999.1": ("GATA-like", motif_pwm("AGATAAGATC", 0.85))}


def test_planted_motif_is_found_on_the_reverse_strand_and_aligned():
    database = decoy_database()
    query = motif_pwm("GATCTTATCT", 0.85)[1:8]  # reverse complement, 7 of its 10 columns
    match = match_motifs([query], database)[0]
    assert match.match_id == "MA9999.1" and match.match_name == "GATA-like" and match.strand == "-"
    assert match.evalue < 0.01 and match.evalue == pytest.approx(match.pvalue * len(database))
    # Query column j faces column j - offset of the matched strand: the same letters.
    j = np.arange(query.shape[0])
    np.testing.assert_allclose(query[j], match.ppm[j - match.offset], atol=1e-12)
    assert match.overlap == 7


def test_truncated_exact_submotif_is_significant_and_p_is_never_zero():
    database = decoy_database()
    target = database["MA0007.1"][1]
    truncated = match_motifs([target[2:8]], database)[0]  # 6 exact columns
    assert truncated.match_id == "MA0007.1" and truncated.evalue < 0.01
    long_exact = np.vstack([target] * 4)  # a very strong match: p far below 1e-30, still > 0
    assert match_motifs([long_exact], database)[0].pvalue > 0


def test_matches_are_memelites_best_hits():
    from memelite import tomtom
    database = decoy_database()
    rng = np.random.default_rng(8)
    queries = [rng.dirichlet(np.ones(4) * 0.4, size=8) for _ in range(5)]
    pvalues = tomtom([q.T.copy() for q in queries], [v[1].T.copy() for v in database.values()])[0]
    for match, row in zip(match_motifs(queries, database), pvalues):
        assert match.pvalue == pytest.approx(row.min(), rel=1e-12)
        assert match.match_id == list(database)[int(np.argmin(row))]


def test_unrelated_queries_are_rarely_significant():
    database = decoy_database()
    rng = np.random.default_rng(11)
    unrelated = match_motifs([rng.dirichlet(np.ones(4) * 0.4, size=8) for _ in range(20)], database)
    assert sum(m.evalue < 0.05 for m in unrelated) <= 2, [m.evalue for m in unrelated]


def test_empty_database_or_no_query():
    assert match_motifs([motif_pwm("GATTA")], {}) == [None]
    assert match_motifs([], decoy_database(30)) == []
    with pytest.raises(ValueError, match="query 1"):
        match_motifs([np.ones((3, 3))], decoy_database(30))


def test_database_names_come_from_the_files(tmp_path):
    ppms = [motif_pwm("GATTA"), motif_pwm("CCCGG")]
    meme = load_motif_database(write_meme(ppms, ["MA1.1", "MA2.1"], tmp_path / "db.meme", alt_names=["Gata", "Sp"]))
    assert meme["MA1.1"][0] == "Gata" and meme["MA2.1"][0] == "Sp"
    jaspar = load_motif_database(write_jaspar(ppms, ["Gata", "Sp"], tmp_path / "db.jaspar", ids=["MA1.1", "MA2.1"]))
    assert jaspar["MA2.1"][0] == "Sp"
    np.testing.assert_allclose(jaspar["MA1.1"][1], ppms[0], atol=1e-2)
    with pytest.raises(TypeError, match="database must be"):
        motif_match.resolve_database(3)


def test_first_use_compile_is_announced_once(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(motif_match, "_compiled_cache", lambda: tmp_path / "none.nbi")
    motif_match._tomtom.cache_clear()
    try:
        motif_match._tomtom()
        motif_match._tomtom()
        assert capsys.readouterr().err.count("compiling memelite's Tomtom with numba on first use") == 1
        motif_match._tomtom.cache_clear()
        (tmp_path / "none.nbi").write_text("")  # compiled and cached: nothing to say
        motif_match._tomtom()
        assert "compiling" not in capsys.readouterr().err
    finally:
        motif_match._tomtom.cache_clear()


def test_numba_cache_of_memelite_is_found():
    motif_match._tomtom()
    assert motif_match._compiled_cache() is not None  # the private numba path still resolves


def test_results_carry_known_motif_matches(tmp_path):
    from seism_stats import SelectiveMotifModel
    from simulations.data import simulate_dataset
    data = simulate_dataset(200, 40, consensus="GATTA", beta=1.5, random_state=1)
    res = SelectiveMotifModel(data.y, data.sequences, k=5).fit(method="naive", progress=False, random_state=0)
    database = {**decoy_database(40), "gatta_like": ("GATTA-like", motif_pwm("GATTA", 0.9))}
    path = write_meme([v[1] for v in database.values()], list(database), tmp_path / "db.meme",
                      alt_names=[v[0] for v in database.values()])
    table = res.match_known_motifs(path)
    assert table["match_id"].iloc[0] == "gatta_like" and table["match_name"].iloc[0] == "GATTA-like"
    assert table["match_evalue"].iloc[0] < 0.05
    assert "GATTA-like" in res.to_html() and "GATTA-like" in res.summary().as_text()


def test_small_database_warns():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        match_motifs([motif_pwm("GATTA")], {"a": ("a", motif_pwm("GATTA")), "b": ("b", motif_pwm("CCGG"))})
    assert any("target" in str(w.message) for w in caught)


def test_match_table_ranks_every_database_motif():
    from seism_stats.report.motif_match import match_table
    database = decoy_database(40)
    queries = [motif_pwm("AGATAAGA", 0.85), database["MA0003.1"][1][::-1, ::-1]]
    table = match_table(queries, database, names=["gata", "rc3"])
    assert len(table) == 2 * len(database) and list(table["rank"][:3]) == [1, 2, 3]
    best = table.groupby("query").first()
    assert best.loc["gata", "match_id"] == "MA9999.1" and best.loc["rc3", "strand"] == "-"
    for name, match in zip(["gata", "rc3"], match_motifs(queries, database)):
        assert best.loc[name, "match_id"] == match.match_id and best.loc[name, "pvalue"] == match.pvalue
        assert (table[table["query"] == name]["pvalue"].diff().dropna() >= 0).all()
    assert len(match_table(queries, database, top=5)) == 10
    with pytest.raises(ValueError, match="1 names for 2 queries"):
        match_table(queries, database, names=["x"])
    with pytest.raises(ValueError, match="motif 'bad'"):
        match_table(queries, {**database, "bad": ("bad", -np.ones((4, 4)))})
