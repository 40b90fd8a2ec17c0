"""The HTML report as MEME-suite and HOMER users read it (and its width in headless Chromium)."""

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

from seism_stats import SelectiveMotifModel
from simulations.data import motif_pwm, simulate_dataset

ROOT = Path(__file__).parents[1]


def _example_module():
    spec = importlib.util.spec_from_file_location("shot", ROOT / "examples" / "report_screenshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def binary_results():
    data = simulate_dataset(160, 40, consensus="GATTACA", beta=4.0, response="binary", random_state=2)
    res = SelectiveMotifModel(data.y, data.sequences, k=6, n_motifs=2).fit(n_samples=200, random_state=0,
                                                                          progress=False)
    rng = np.random.default_rng(3)
    database = {f"MA{i:04d}.1": (f"decoy{i}", rng.dirichlet(np.ones(4) * 0.4, size=int(rng.integers(6, 15))))
                for i in range(40)}
    res.match_known_motifs({**database, "MA9999.1": ("GATTACA-like", motif_pwm("GATTACA", 0.85))})
    return res


def _motif_table(text: str) -> str:
    return re.search(r'<table class="motifs sortable">.*?</table>', text, re.S).group(0)


def test_table_puts_pvalues_first_and_names_motifs_by_consensus(binary_results, tmp_path):
    res = binary_results
    text = res.to_html(tmp_path / "report.html", files=["motifs.meme", "motifs.jaspar", "motifs.csv"])
    table = _motif_table(text)
    headers = re.findall(r"<th(?: [^>]*)?>(.*?)</th>", table)
    # A binary response: the permutation null's MCMC, which tests the global null (and says so).
    assert headers[:4] == ["#", "Motif", "Logo", "p-value (selective, global null)"]
    assert headers[4].startswith("adj. p") and headers[5] == "split p"
    assert "Foreground with site" in headers and "Background with site" in headers and headers[-1] == "Best known match"
    for label in res.motif_labels:  # human names, not formula strings
        assert f'<b class="mono">{label.split("-", 1)[1]}</b>' in table
    assert "motifs(seq)[" not in table
    sites = res.sites()
    assert f"{sites['pct_with_site'].iloc[0]:.1f}% ({sites['seqs_with_site'].iloc[0]})" in table
    assert "GATTACA-like" in table and "E = " in table
    # Per motif: thumbnail, aligned match (table); forward, reverse complement, aligned match, null plot (card).
    assert text.count('src="data:image/png;base64,') == 6 * res.n_selected
    assert "reverse complement" in text and 'id="motif-1"' in text
    for name in ("motifs.meme", "motifs.jaspar", "motifs.csv"):
        assert f'<a href="{name}">' in text
    assert "E= its selective p-value" in text
    # Settings and diagnostics are folded away, after the results.
    settings = text.index("<details><summary>Settings and sampler diagnostics")
    assert settings > text.index("</table>") and "max_replays" not in text[:settings]


def test_report_without_known_motifs_says_how_to_get_them(tmp_path):
    data = simulate_dataset(100, 30, consensus="GATTA", beta=3.0, random_state=1)
    res = SelectiveMotifModel(data.y, data.sequences, k=5).fit(n_samples=100, random_state=0, progress=False)
    text = res.to_html()
    assert "not compared with known motifs" in text and "Sequences with site" in _motif_table(text)
    assert "Background with site" not in text


def test_report_fits_1400_px_in_headless_chromium(tmp_path):
    shot = _example_module()
    if shot.find_browser() is None:
        pytest.skip("no Chromium/Chrome installed")
    report = shot.write_example(tmp_path)
    widths = shot.measure(report, width=1400)
    assert widths["scroll_width"] <= widths["client_width"] == 1400, widths  # no sideways scroll
    assert 0 < widths["table_right"] <= 1400, widths
    png = shot.screenshot(report, tmp_path / "report.png", width=1400, height=1000)
    from matplotlib.image import imread
    image = imread(png)
    assert image.shape[:2] == (1000, 1400) and image[..., :3].std() > 0.05  # a rendered page, not a blank one
    # The measurement can fail: the same page with a table twice too wide scrolls sideways.
    wide = tmp_path / "wide.html"
    wide.write_text(report.read_text().replace("table.motifs { width: 100%; }", "table.motifs { width: 2800px; }"))
    assert shot.measure(wide, width=1400)["scroll_width"] > 1400


def test_effect_column_pairs_each_interval_with_its_own_estimate(tmp_path):
    # The new-user audit found the OLS coefficient beside the selective interval; the estimate shown
    # must be the one the interval belongs to (here the median-unbiased selective estimate).
    from seism_stats.report.html import _cell
    data = simulate_dataset(150, 30, consensus="GATT", beta=1.0, random_state=4)
    res = SelectiveMotifModel(data.y, data.sequences, k=4, n_motifs=1).fit(n_samples=100, random_state=0,
                                                                          progress=False)
    assert res.interval_kind == "selective"
    frame = res.summary_frame()
    row = frame.iloc[0]
    table = _motif_table(res.to_html())
    expected = (f'{_cell(row["coef_selective"])}<br><span class="sub">[{_cell(row["ci_lower_selective"])}, '
                f'{_cell(row["ci_upper_selective"])}]</span>')
    assert expected in table
    assert row["coef_selective"] != row["coef"]


def test_split_and_naive_reports_say_what_their_numbers_are(tmp_path):
    import pandas as pd
    from seism_stats.io.motif_files import read_meme
    data = simulate_dataset(300, 80, consensus="GATTACA", fraction=0.4, beta=1.0, random_state=7)
    model = SelectiveMotifModel.from_formula("y ~ motifs(seq, k=6, n_motifs=2)",
                                             pd.DataFrame({"y": data.y, "seq": data.sequences}))
    with pytest.warns(UserWarning, match="the data split selected other motifs"):
        split = model.fit(method="split", random_state=1, progress=False)
    frame = split.summary_frame()
    other = frame[frame["split_kmer"] != frame["kmer"]]
    assert len(other)  # on these data the split selects another second motif than the whole data
    table = _motif_table(split.to_html(files=["motifs.meme"]))
    row = table.split("<tr>")[1 + 1 + int(np.flatnonzero(frame["split_kmer"] != frame["kmer"])[0])]
    # its p-value, split p and interval are the split's motif's, and the row says which one
    assert row.count(f'split\'s motif <span class="mono">{other["split_kmer"].iloc[0]}</span>') == 3
    text = split.to_html(files=["motifs.meme"])
    assert "valid after the selection" not in text and "no selective p-value (method split)" in text
    assert "E= 1 (method split gives no selective p-value)" in text
    naive = model.fit(method="naive", random_state=1, progress=False)
    text = naive.to_html(files=["motifs.meme"])
    assert "NOT valid after the selection" in text and "valid after the selection (naive)" not in text
    naive.to_meme(tmp_path / "naive.meme")
    assert "E= 1" in (tmp_path / "naive.meme").read_text()  # a naive p-value is no motif's significance
    assert len(read_meme(tmp_path / "naive.meme")) == 2
