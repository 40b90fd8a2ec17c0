"""SelectiveMotifModel / SelectiveMotifResults: formulas, tables, summary, plots, persistence."""

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from statsmodels.iolib.summary import Summary

import seism_stats.formula.api as smf
from seism_stats import SelectiveMotifModel, SelectiveMotifResults, qqplot_pvalues
from simulations.data import simulate_dataset


@pytest.fixture(scope="module")
def frame():
    data = simulate_dataset(150, 40, consensus="GATTA", beta=3.0, covariate=0.5, random_state=21)
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "seq": data.sequences,
        "expr": data.y,
        "gc": [(s.count("G") + s.count("C")) / len(s) for s in data.sequences],
        "batch": rng.choice(["a", "b", "c"], len(data.y)),
    }, index=[f"peak{i}" for i in range(len(data.y))])
    df.loc["peak3", "gc"] = np.nan
    df.loc["peak5", "seq"] = None
    return df


@pytest.fixture(scope="module")
def results(frame):
    model = SelectiveMotifModel.from_formula("expr ~ motifs(seq, k=5, n_motifs=2) + gc + C(batch)", frame)
    return model.fit(n_samples=400, random_state=3, progress=False)


@pytest.fixture(scope="module")
def mcmc_results(frame):
    model = SelectiveMotifModel.from_formula("expr ~ motifs(seq, k=5, n_motifs=2) + gc + C(batch)", frame)
    return model.fit(method="mcmc", n_samples=400, random_state=3, progress=False)


def test_formula_builds_covariates_and_drops_missing(frame):
    model = SelectiveMotifModel.from_formula("expr ~ motifs(seq, k=5, n_motifs=2) + gc + C(batch)", frame)
    assert model.formula.startswith("expr ~")
    assert model.data.frame is frame
    assert model.exog_names == ["Intercept", "gc", "C(batch)[T.b]", "C(batch)[T.c]"]
    assert model.endog_names == "expr"
    assert model.nobs == 148 and model.data.n_dropped == 2
    assert "peak3" not in model.data.row_labels and "peak5" not in model.data.row_labels
    assert (model.k, model.n_motifs) == (5, 2)


def test_formula_api_alias_and_kwargs(frame):
    model = smf.selective_motifs("expr ~ motifs(seq) + gc - 1", frame, k=4, n_motifs=3)
    assert (model.k, model.n_motifs) == (4, 3)
    assert model.exog_names == ["gc"]


@pytest.mark.parametrize("formula, message", [
    ("expr ~ gc", "no motifs"),
    ("expr ~ motifs(seq) + motifs(seq, k=3)", "2 motifs"),
    ("expr ~ motifs(sequence)", "'sequence' is not a column"),
    ("expr ~ motifs(seq) + gcc", "gcc"),
    ("expr ~ motifs(seq, width=3)", "unknown option 'width'"),
    ("expr ~ motifs(seq):gc", "interaction"),
    ("expr ~ motifs(seq) +", "cannot parse"),
    ("motifs(seq) + gc", "no response"),
    ("expr ~ motifs(seq, k=x)", "must be a literal"),
])
def test_bad_formulas(frame, formula, message):
    with pytest.raises(ValueError, match=message):
        SelectiveMotifModel.from_formula(formula, frame)


def test_data_must_be_a_frame():
    with pytest.raises(TypeError, match="DataFrame"):
        SelectiveMotifModel.from_formula("y ~ motifs(seq)", {"y": [1, 2]})


def test_results_are_pandas_with_motif_names(results):
    assert isinstance(results, SelectiveMotifResults)
    names = results.param_names
    assert names[0] == "motifs(seq)[GATTA]"
    for series in (results.motif_params, results.motif_pvalues, results.pvalues_split,
                   results.pvalues_naive, results.pvalues_adjusted, results.pvalues_mc_se):
        assert isinstance(series, pd.Series)
        assert list(series.index) == names and series.index.name == "motif"
    # statsmodels' shape: every term, covariates first, each p-value labelled by its kind.
    terms = results.exog_names + names
    assert set(results.exog_names) == {"Intercept", "C(batch)[T.b]", "C(batch)[T.c]", "gc"}
    for series in (results.params, results.bse, results.tvalues, results.pvalues, results.pvalue_kinds):
        assert list(series.index) == terms
    assert results.pvalue_kinds["gc"] == "OLS in the selected model"
    assert results.pvalue_kinds[names[0]] == "selective, exact (motif adds nothing to the selected model)"
    assert results.hypothesis == "motif" and results.inference.settings["method"] == "circles"
    # the paper's test, labelled; computed beside the default only on request (hypothesis="both")
    assert results.pvalues_global.name == "P (selective, global null)" and results.pvalues_global.isna().all()
    assert results.pvalues[names].equals(results.pvalues_selective.rename(results.pvalues.name).rename_axis("term"))
    assert results.motif_pvalues.iloc[0] < 0.05
    assert np.all((results.pvalues > 0) & (results.pvalues <= 1))
    assert np.all(results.pvalues_adjusted >= results.motif_pvalues - 1e-15)
    assert results.cov_params().shape == (len(terms), len(terms))
    assert results.df_resid == results.nobs - len(terms) and 0 < results.rsquared < 1
    assert np.allclose(results.fittedvalues + results.resid, results.model.data.endog)
    assert list(results.fittedvalues.index) == list(results.model.data.endog.index)
    motifs = results.motifs
    for column in ("kmer", "consensus", "score", "pvalue", "pvalue_mc_se", "pvalue_adj", "pvalue_split",
                   "pvalue_naive", "split_kmer"):
        assert column in motifs.columns
    info = results.sampler_info
    assert info["draws"] >= 400 and info["ess_min"] > 0 and info["replays"] >= 400  # circles: no acceptance rate


def test_conf_int_where_defined(results, frame):
    ci = results.conf_int()
    assert list(ci.columns) == [0, 1] and not ci.isna().any().any()
    assert (ci[0] < ci[1]).all() and results.interval_kind == "selective"
    motif = results.param_names[0]
    # The planted motif: its selective interval excludes 0 and holds the selective estimate.
    assert 0 < ci.loc[motif, 0] < results.params_selective[motif] < ci.loc[motif, 1]
    pd.testing.assert_frame_equal(results.conf_int(cols=[0, 2]), ci.iloc[[0, 2]])  # statsmodels' cols
    pd.testing.assert_frame_equal(results.conf_int(cols=[motif]), ci.loc[[motif]])
    narrow = results.conf_int(0.2)
    assert (narrow[0] >= ci[0] - 1e-12).all() and (narrow[1] <= ci[1] + 1e-12).all()
    frame_ = results.summary_frame(0.1)
    assert {"ci_lower_selective", "ci_upper_selective", "pvalue_selected_model", "coef_selective"} <= set(frame_)
    model = SelectiveMotifModel.from_formula("expr ~ motifs(seq, k=5) + gc", frame)
    split = model.fit(method="split", random_state=1, progress=False)
    ci = split.conf_int(0.1)
    assert ci.shape == (3, 2) and list(ci.index) == ["Intercept", "gc", split.param_names[0]]
    assert (ci[0] < ci[1]).all()
    assert ci.loc["gc", 0] < split.params["gc"] < ci.loc["gc", 1]
    assert split.motif_pvalues.equals(split.pvalues_split)
    assert split.inference.null_sample is None
    naive = model.fit(method="naive", random_state=1, progress=False)
    motif = naive.param_names[0]
    assert naive.conf_int().loc[motif, 0] < naive.params[motif] < naive.conf_int().loc[motif, 1]


def test_summary_text_html_latex(results):
    summary = results.summary()
    assert isinstance(summary, Summary)
    text = summary.as_text()
    assert "GATTA" in text and "SEISM" in text
    assert f"{results.motif_pvalues.iloc[0]:.3g}" in text
    for setting in ("Motif length k:", "Grid cells:", "Null draws (B):", "Hypothesis:", "Acceptance rate:",
                    "Min. ESS:", "Seed (random_state):", "Null model:", "Covariates:", "Rows dropped"):
        assert setting in text
    assert "2 rows with missing values were dropped" in text
    covariates = ", ".join(results.model.exog_names)  # cut short in the header, whole in the notes
    assert len(covariates) > 29 and f"Covariates: {covariates}." in " ".join(text.split())
    assert str(summary) == text
    assert "<table" in summary.as_html()
    latex = summary.as_latex()
    assert "\\begin{tabular}" in latex and "\\newline" in latex and "GATTA" in latex
    assert "GATTA" in summary.as_csv()
    frame = results.summary_frame()
    assert "std_err" in frame.columns and len(frame) == results.n_selected


def test_summary_header_describes_the_sampler(frame, mcmc_results):
    # Chains only for the chain samplers; rejection keeps i.i.d. candidates and reports the share kept.
    assert "Chains/burn/thin:" in mcmc_results.summary().as_text()
    model = SelectiveMotifModel.from_formula("expr ~ motifs(seq, k=5, n_motifs=1) + gc", data=frame)
    text = model.fit(method="rejection", n_samples=50, random_state=3, progress=False).summary().as_text()
    assert "i.i.d. draws" in text and "Chains/burn/thin:" not in text
    rate = re.search(r"Acceptance rate:\s+(\S+)", text).group(1)
    assert 0 < float(rate) <= 1


def test_resolution_warning_in_summary(mcmc_results):
    # The planted motif reaches the smallest p-value B draws allow (MCMC; the default circles have no floor).
    results = mcmc_results
    assert results.motif_pvalues.iloc[0] == pytest.approx(1 / (1 + results.sampler_info["draws"]))
    notes = " ".join(results.summary().extra_txt.split())
    assert "Monte-Carlo resolution" in notes and "motifs(seq)[GATTA]" in notes
    # Below the floor: the Rao-Blackwellised tail estimate, with its Monte-Carlo error.
    floor = 1 / (1 + results.sampler_info["draws"])
    tail, tail_se = results.pvalues_tail.iloc[0], results.pvalues_tail_se.iloc[0]
    assert 0 < tail < floor and 0 < tail_se
    assert "Tail estimate for the motifs at the floor" in notes and f"{tail:.3g}" in notes
    assert "MCMC draws" in notes  # two motifs: directions of draws in the event
    assert "pvalue_tail" in results.motifs.columns


def test_plots_return_figures(results):
    from matplotlib.figure import Figure
    assert isinstance(results.plot_motifs(), Figure)
    assert isinstance(results.plot_null(0), Figure)
    with pytest.raises(IndexError):
        results.plot_null(5)
    name, kmer = results.param_names[0], results.inference.kmers[0]
    assert isinstance(results.plot_null(name), Figure) and isinstance(results.plot_null(kmer.lower()), Figure)
    from seism_stats.io.genome import reverse_complement
    assert results._motif_position(reverse_complement(kmer)) == 0  # either strand names the cell
    with pytest.raises(ValueError, match="no selected motif is named 'motifs.seq..AAAAA.'; the motifs are"):
        results.plot_null("motifs(seq)[AAAAA]")
    assert isinstance(qqplot_pvalues({"uniform": np.linspace(0.01, 0.99, 50)}), Figure)


def test_save_load_round_trip(results, tmp_path):
    path = tmp_path / "res.pkl"
    results.save(path)
    loaded = SelectiveMotifResults.load(path)
    pd.testing.assert_series_equal(loaded.pvalues, results.pvalues)
    pd.testing.assert_frame_equal(loaded.motifs, results.motifs)
    loaded.remove_data()
    assert len(loaded.model.data.endog) == 0
    assert "GATTA" in loaded.summary().as_text()
    # Selective intervals at any level need no data: the pivots are saved.
    pd.testing.assert_frame_equal(loaded.conf_int(0.1), results.conf_int(0.1))
    loaded.save(tmp_path / "small.pkl")
    assert (tmp_path / "small.pkl").stat().st_size < path.stat().st_size


def test_array_interface_and_fasta(tmp_path):
    data = simulate_dataset(60, 30, consensus="GAT", random_state=2)
    fasta = tmp_path / "seqs.fa"
    fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(data.sequences)))
    res_list = SelectiveMotifModel(data.y, data.sequences, k=3).fit(n_samples=100, random_state=0, progress=False)
    res_fasta = SelectiveMotifModel(data.y, str(fasta), k=3).fit(n_samples=100, random_state=0, progress=False)
    pd.testing.assert_series_equal(res_list.pvalues, res_fasta.pvalues)
    assert res_list.model.exog_names == ["Intercept"]
    assert res_list.inference.settings["interval_draws"] == 50  # min(n_samples, 50) by default
    fewer = SelectiveMotifModel(data.y, data.sequences, k=3).fit(n_samples=100, interval_draws=7, random_state=0,
                                                               progress=False)
    assert fewer.inference.settings["interval_draws"] == 7  # what the memory error advises, reachable from fit
    pd.testing.assert_series_equal(fewer.pvalues, res_list.pvalues)  # the intervals' circles are their own stream
    with pytest.raises(ValueError, match="endog has 60 rows but sequences has 59"):
        SelectiveMotifModel(data.y, data.sequences[:59], k=3)


def test_empty_selection_is_reported():
    y = np.random.default_rng(0).standard_normal(20)
    with pytest.warns(UserWarning, match="only 0 of 1 motifs"):
        res = SelectiveMotifModel(y, ["ACGTACGTAC"] * 20, k=3).fit(n_samples=50, random_state=0, progress=False)
    assert res.n_selected == 0 and res.motif_pvalues.empty and res.motifs.empty
    with pytest.raises(ValueError, match="no motif was selected"):
        res.plot_null(0)
    notes = " ".join(res.summary().extra_txt.split())  # the reason the selection stopped, as warned
    assert "No motif was selected: no grid cell has a feature left outside the covariates" in notes
    assert res.sampler_info["draws"] == 0


def test_formula_refuses_duplicate_index_labels(frame):
    # pd.concat([fg, bg]) without ignore_index: a clear error, not an IndexError from inside the formula
    twice = pd.concat([frame, frame])
    with pytest.raises(ValueError, match="data has duplicate index labels .*'peak0'.*ignore_index=True"):
        SelectiveMotifModel.from_formula("expr ~ motifs(seq, k=5) + gc", data=twice)


def test_stage_lines_count_only_the_stages_that_run(capsys):
    # No motif selected: no refinement, selective tests or intervals; the counter ends at its total.
    from seism_stats.inference.pipeline import selective_inference
    y = np.random.default_rng(0).standard_normal(20)
    with pytest.warns(UserWarning, match="only 0 of 1 motifs"):
        selective_inference(["ACGTACGTAC"] * 20, y, k=3, n_samples=50, random_state=0, progress=True)
    counters = [line.split("]")[0].split("[")[1].split(",")[0] for line in capsys.readouterr().err.splitlines()
                if line.startswith("seism [")]
    # Consecutive, and the last stage is the last of the total (known once nothing was selected).
    assert [c.split("/")[0] for c in counters] == ["1", "2", "3"] and counters[-1] == "3/3"


def test_load_runs_no_code_from_a_crafted_file(results, tmp_path):
    import pickle

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    crafted = tmp_path / "crafted.bin"
    crafted.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ValueError, match="not a seism_stats results file"):
        SelectiveMotifResults.load(crafted)
    assert not marker.exists()
    # A pickled object inside an .npz archive is refused too (allow_pickle=False).
    sneaky = tmp_path / "sneaky.npz"
    with open(sneaky, "wb") as handle:
        np.savez(handle, __manifest__=np.array([Evil()], dtype=object))
    with pytest.raises(ValueError):
        SelectiveMotifResults.load(sneaky)
    assert not marker.exists()


def test_saved_file_is_versioned(results, tmp_path):
    import json
    path = tmp_path / "res.seism"
    results.save(path)
    manifest = json.loads(str(np.load(path, allow_pickle=False)["__manifest__"]))
    assert manifest["format"] == "seism_stats.results" and manifest["version"] == 1


def test_default_seed_is_recorded_and_reproduces_the_fit(frame):
    model = SelectiveMotifModel.from_formula("expr ~ motifs(seq, k=4) + gc", frame)
    first = model.fit(n_samples=100, progress=False)
    seed = first.inference.settings["random_state"]
    assert isinstance(seed, int) and f"{seed}" in first.summary().as_text()
    again = model.fit(n_samples=100, progress=False, random_state=seed)
    pd.testing.assert_series_equal(first.pvalues, again.pvalues)


def test_motif_files_carry_significance_and_consensus(results, tmp_path):
    meme = results.to_meme(tmp_path / "m.meme").read_text()
    assert "E= 0\n" not in meme
    assert f"E= {results.motif_pvalues.iloc[0]:.3g}" in meme
    jaspar = results.to_jaspar(tmp_path / "m.jaspar").read_text()
    assert f">1-{results.motifs['consensus'].iloc[0]} {results.motifs['kmer'].iloc[0]}" in jaspar


def test_html_report_is_self_contained(results, tmp_path):
    text = results.to_html(tmp_path / "report.html")
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == text
    for name in results.param_names:
        assert name in text
    # thumbnail, forward and reverse-complement logos, null plot (no known matches compared)
    assert text.count('src="data:image/png;base64,') == 4 * results.n_selected
    assert "http://" not in text and "https://" not in text and "<script src" not in text
    assert 'class="motifs sortable"' in text and "pvalue_split" in text and "pvalue_naive" in text


def test_html_report_renders_in_headless_chromium(results, tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("shot", Path(__file__).parents[1] / "examples" / "report_screenshot.py")
    shot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shot)
    if shot.find_browser() is None:
        pytest.skip("no Chromium/Chrome installed")
    page = tmp_path / "report.html"
    results.to_html(page)
    png = shot.screenshot(page, tmp_path / "report.png", height=900)
    from matplotlib.image import imread
    image = imread(png)
    assert image.shape[0] == 900 and image[..., :3].std() > 0.05  # a rendered page, not a blank one


def test_predict_reproduces_the_fitted_values(results, frame):
    used = frame.loc[results.model.data.row_labels]
    predicted = results.predict(used)
    assert np.allclose(predicted.to_numpy(), results.fittedvalues.to_numpy())
    new = used.iloc[:5]
    assert np.allclose(results.predict(new).to_numpy(), results.fittedvalues.iloc[:5].to_numpy())
    with pytest.raises(ValueError, match="needs exog"):
        results.predict(sequences=list(new["seq"]))
    # New rows are held to what the fit requires: the formula's columns, and a window free of N.
    with pytest.raises(ValueError, match="predict: the covariates of the fit's formula cannot be built"):
        results.predict(new.drop(columns=["gc"]))
    masked = new.copy()
    masked.iloc[0, masked.columns.get_loc("seq")] = "N" * 40
    with pytest.raises(ValueError, match=r"sequence 0 \(peak0\) has no window of k=5 letters without an N"):
        results.predict(masked)


def test_a_formula_whose_covariates_use_the_response_is_refused(frame):
    for formula in ("expr ~ motifs(seq, k=5) + gc + expr", "expr ~ motifs(seq, k=5) + np.log(expr + 10)",
                    "np.exp(expr) ~ motifs(seq, k=5) + expr"):
        with pytest.raises(ValueError, match="the response's column 'expr' is also used by a covariate term"):
            SelectiveMotifModel.from_formula(formula, frame)


def test_summary_rows_are_named_as_the_motif_table(results):
    text = results.summary().as_text()
    for name in results.motifs.index:
        assert name in text


def test_conditional_monte_carlo_through_the_model(frame, tmp_path):
    model = SelectiveMotifModel.from_formula("expr ~ motifs(seq, k=5) + gc", frame)
    res = model.fit(method="cmc", n_samples=300, random_state=3, progress=False)
    assert res.pvalue_kinds.iloc[-1] == "selective (conditional Monte Carlo estimate)"
    assert res.pvalues.iloc[-1] < 1e-6 and 0 < res.pvalues_mc_se.iloc[-1] < res.pvalues.iloc[-1]
    text = res.summary().as_text()
    assert "conditional Monte Carlo" in text and "300 directions" in text
    info = res.sampler_info
    assert info["draws"] == 300 and info["ess_min"] > 1
    with pytest.raises(ValueError, match="no null draws"):
        res.plot_null(0)
    html = res.to_html(tmp_path / "cmc.html")
    assert html.count('src="data:image/png;base64,') == 3  # thumbnail, forward and reverse logos; no null draws
    res.save(tmp_path / "cmc.npz")
    loaded = SelectiveMotifResults.load(tmp_path / "cmc.npz")
    pd.testing.assert_series_equal(loaded.pvalues, res.pvalues)
    assert loaded.summary().as_text() == text


def test_split_pvalues_are_named_after_the_splits_own_motifs(frame):
    # The data split selects its own motifs: a value under a motif's name must be that k-mer's,
    # and every split test is reported (matching them to the full data's selection by k-mer
    # would keep the ones that also look strong on the held-out rows: biased low).
    model = SelectiveMotifModel.from_formula("expr ~ motifs(seq, k=5, n_motifs=3) + gc", frame)
    with pytest.warns(UserWarning, match="data split selected other motifs"):
        res = model.fit(method="split", random_state=1, progress=False)
    split = res.inference.split.tests
    names = [f"motifs(seq)[{kmer}]" for kmer in res.inference.split_kmers]
    assert res.motif_names == names != res.param_names
    assert np.array_equal(res.pvalues[names].to_numpy(), split.pvalues)
    assert list(res.pvalue_kinds.index[-3:]) == names and list(res.pvalues_adjusted.index) == names
    intervals = res.conf_int().loc[names]
    assert np.all(intervals[0] < split.params) and np.all(split.params < intervals[1])
    assert "other k-mers than the full data" in res.summary().as_text()
    assert res.summary_frame().shape[0] == res.n_selected
    selective = model.fit(n_samples=50, random_state=1, progress=False)
    assert selective.motif_names == selective.param_names


def test_predict_refuses_unseen_levels_and_missing_covariates(results, frame):
    row = frame.loc[results.model.data.row_labels].iloc[[0]].copy()
    row["batch"] = "z"
    with pytest.raises(ValueError, match="level the fit did not see"):
        results.predict(row)
    row["batch"], row["gc"] = "a", np.nan
    with pytest.raises(ValueError, match="missing covariate value"):
        results.predict(row)
    with pytest.raises(ValueError, match=r"exog lacks the design column\(s\) \['gc'"):
        results.predict(sequences=row["seq"], exog=pd.DataFrame({"Intercept": [1.0]}, index=row.index))


def test_latex_notes_escape_special_characters(mcmc_results):
    results = mcmc_results  # its notes hold "#{T_b >= T_obs}"
    latex = results.summary().as_latex()
    notes = latex.split("\\end{tabular}")[-1]
    assert "T_b" not in notes and "T\\_b" in notes  # '_' outside math mode breaks LaTeX
    assert ">=" not in notes and "\\textgreater{}=" in notes
