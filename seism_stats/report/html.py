"""One self-contained HTML report of a fit, laid out as MEME-suite and HOMER users read theirs.

First one table, a screen wide (no sideways scroll at 1,400 px), one row per
motif: its name (rank and consensus) and logo, the p-values first (selective,
adjusted, data split), the sequences with a site in the foreground and the
background (HOMER's "% of targets" and "% of background"), the effect with its
interval, and the best known match with its logo aligned to the motif's. Then a
card per motif (forward and reverse-complement logos, the aligned match, the
null distribution, every p-value), links to the motif files, and, folded away,
every column, the settings and sampler diagnostics, and the printed summary.

Everything is inside the file (CSS, a few lines of JavaScript to sort the motif
table, figures as base64 PNG), so it opens offline and can be mailed or
archived; only the links to the motif files written beside it point outside.
"""

from __future__ import annotations

import base64
import html
import io
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..inference.options import SELECTIVE_METHODS

#: The widest page the report is laid out for without sideways scrolling (checked in headless Chromium).
PAGE_WIDTH = 1400

STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 1.5em auto;
       max-width: 1320px; padding: 0 1em; color: #222; }
h1 { font-size: 1.45em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.6em;
     border-bottom: 1px solid #ddd; padding-bottom: 0.2em; } h3 { font-size: 1.02em; margin: 0 0 0.4em; }
.sub { color: #666; font-size: 0.85em; } .mono { font-family: Menlo, Consolas, monospace; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border-bottom: 1px solid #e3e6ea; padding: 4px 7px; text-align: right; vertical-align: middle; }
th { background: #f3f5f8; border-bottom: 2px solid #cfd5dc; font-weight: 600; }
table.sortable th { cursor: pointer; } td.text, th.text { text-align: left; }
table.motifs { width: 100%; } table.motifs td img { display: block; max-width: 230px; max-height: 80px; }
.motif { margin: 0.8em 0; padding: 0.7em; border: 1px solid #e3e6ea; border-radius: 6px; }
.figures { display: flex; flex-wrap: wrap; gap: 1.2em; align-items: flex-end; margin-top: 0.6em; }
.motif figure { margin: 0; } .motif figcaption { font-size: 0.75em; color: #666; max-width: 420px; }
.motif figure img { max-width: 420px; max-height: 170px; }
.pvals { font-size: 0.88em; line-height: 1.45; } .warn { color: #a33; }
details { margin: 0.6em 0; } summary { cursor: pointer; font-weight: 600; }
.wide { overflow-x: auto; max-width: 100%; }
pre { background: #f6f8fa; padding: 0.8em; font-size: 0.78em; white-space: pre; overflow-x: auto; }
"""

SORT_SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function (th, col) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0];
    var rows = Array.from(body.rows), up = th.dataset.order !== 'asc';
    function key(row) { var c = row.cells[col]; return c.dataset.sort !== undefined ? c.dataset.sort : c.innerText; }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
      var d = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
      return up ? d : -d;
    });
    th.dataset.order = up ? 'asc' : 'desc';
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""

#: What each motif file written beside the report holds (the command line writes them all).
FILE_NOTES = {
    "motifs.meme": "MEME minimal format, for Tomtom, SEA, FIMO; nsites= is the motif's foreground sites, "
                   "E= its selective p-value (MEME writes an E-value there)",
    "motifs.jaspar": "JASPAR PFMs: counts = probability x foreground sites",
    "motifs.csv": "every column of the motif table",
    "logos.png": "the logos",
    "summary.txt": "the printed summary",
    "summary.html": "the same summary as HTML tables",
    "settings.json": "settings, seed, sampler diagnostics",
}


def figure_png(figure, dpi: int = 100) -> str:
    """A matplotlib figure as a base64 PNG ``data:`` URI (the figure is closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _cell(value) -> str:
    if isinstance(value, (float, np.floating)):
        return "nan" if np.isnan(value) else f"{value:.4g}"
    return html.escape(str(value))


def _p(value) -> str:
    """A p-value for reading: two significant digits, scientific below 0.001."""
    if value is None or not np.isfinite(value):
        return "&ndash;"
    return f"{value:.1e}" if value < 1e-3 else f"{value:.2g}"


def _table(rows: list[list], header: list[str], sortable: bool = False, text_columns: int = 1) -> str:
    cls = ' class="sortable"' if sortable else ""
    head = "".join(f'<th class="text">{html.escape(h)}</th>' if i < text_columns else f"<th>{html.escape(h)}</th>"
                   for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td class="text">{_cell(v)}</td>' if i < text_columns else f"<td>{_cell(v)}</td>"
                                    for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(uri: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="{uri}">'


def _pvalue_kind(results) -> str:
    # "selective" alone is the default test (motif j adds nothing to the selected model); the others say theirs.
    circles = "selective" if results.hypothesis == "motif" else "selective, global null"
    tilted = "selective, global null, Freedman-Lane" if results.inference.freedman_lane else "selective, global null"
    return {"circles": circles, "tilted": tilted, "mcmc": "selective, global null", "rejection": "selective, global null",
            "cmc": "selective estimate, global null", "split": "data split", "naive": "naive"}[results.method]


def _pvalue_note(results) -> str:
    """What the table's p-value column is, for the note under it."""
    if results.method == "split":
        return ("the data split's (motifs selected on part of the sequences, each tested on the rest; the split "
                "may select other k-mers, named under its numbers)")
    if results.method == "naive":
        return "naive OLS on the data that selected the motifs, NOT valid after the selection (shown for contrast)"
    tested = ("tests whether the motif adds to the model of the covariates and the other selected motifs, exactly"
              if results.method == "circles" and results.hypothesis == "motif" else _pvalue_kind(results))
    return f"valid after the selection ({tested})"


def _effect(results, row, j: int, kind: str) -> float:
    """The estimate the motif's interval belongs to (the selective one beside a selective interval)."""
    if kind == "selective":
        return row["coef_selective"]
    if kind == "split":
        params = results.inference.split.tests.params
        return float(params[j]) if j < params.shape[0] else float("nan")
    return row["coef"]


def _motif_table(results, motifs, sites, logos: list[str], aligned: list[str | None]) -> str:
    """The screen-wide table: one row per motif, p-values first."""
    background = "bg_pct_with_site" in sites
    kind = results.interval_kind
    headers = [("#", "rank", True), ("Motif", "name (rank-consensus) and grid k-mer", True),
               ("Logo", "refined PWM, forward strand", True),
               (f"p-value ({_pvalue_kind(results)})", "p-value of the fitted method; below it, the tail "
                "estimate where the rank p-value sits at its Monte-Carlo floor", False),
               (f"adj. p ({results.multitest_method})", "adjusted over the motifs", False),
               ("split p", "data split: selected on half, tested on the other half", False),
               ("Foreground with site" if background else "Sequences with site",
                "% (number) of sequences with an exact site of the grid k-mer, either strand", False)]
    if background:
        headers.append(("Background with site", "% (number) of background sequences with a site", False))
    estimate = {"selective": "median-unbiased selective estimate in the selected model",
                "split": "OLS coefficient on the held-out part (the split's motif)"}.get(kind, "OLS coefficient")
    headers += [("Effect [95% CI]", f"{estimate} and its {kind} interval", False),
                ("Best known match", "Tomtom (memelite): best database motif, its E-value, and its logo "
                 "aligned under the motif's", True)]
    head = "".join(f'<th class="{"text" if text else ""}" title="{html.escape(tip)}">{html.escape(label)}</th>'
                   for label, tip, text in headers)
    rows = []
    adjusted = results.pvalues_adjusted.to_numpy()
    for j, name in enumerate(motifs.index):
        row = motifs.loc[name]
        other = _split_other(row)  # the split's own motif, named where it is another k-mer
        p, tail = row["pvalue"] if results.method in SELECTIVE_METHODS else results.motif_pvalues.iloc[j], \
            row.get("pvalue_tail", np.nan)
        p_cell = _p(p) + (f'<br><span class="sub">tail est. {_p(tail)}</span>' if np.isfinite(tail) else "") \
            + (other if results.method == "split" else "")
        cells = [(str(j + 1), j + 1, True),
                 (f'<a href="#motif-{j + 1}"><b class="mono">{html.escape(row["name"].split("-", 1)[1])}</b></a>'
                  f'<br><span class="sub mono">{html.escape(str(row["kmer"]))}</span>', row["name"], True),
                 (_img(logos[j], f"logo of {row['name']}"), "", True),
                 (p_cell, p, False), (_p(adjusted[j]), adjusted[j], False),
                 (_p(row["pvalue_split"]) + other, row["pvalue_split"], False)]
        for prefix in ("", "bg_") if background else ("",):
            pct, count = sites[f"{prefix}pct_with_site"].iloc[j], sites[f"{prefix}seqs_with_site"].iloc[j]
            cells.append((f"{pct:.1f}% ({int(count)})" if np.isfinite(pct) else "&ndash;", pct, False))
        low, high = row[f"ci_lower_{kind}"], row[f"ci_upper_{kind}"]
        effect = _effect(results, row, j, kind)
        cells.append((f'{_cell(effect)}<br><span class="sub">[{_cell(low)}, {_cell(high)}]</span>'
                      + (other if kind == "split" else ""), effect, False))
        cells.append((_match_cell(results, j, aligned[j]), _match_sort(results, j), True))
        rows.append("<tr>" + "".join(
            f'<td class="{"text" if text else ""}" data-sort="{html.escape(str(key))}">{content}</td>'
            for content, key, text in cells) + "</tr>")
    return (f'<table class="motifs sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _split_other(row) -> str:
    """A line naming the data split's own motif under a split number, where it is another k-mer than the row's."""
    kmer = row.get("split_kmer")
    if not isinstance(kmer, str) or not kmer or kmer == str(row["kmer"]):
        return ""
    return f'<br><span class="sub">split\'s motif <span class="mono">{html.escape(kmer)}</span></span>'


def _match_cell(results, j: int, aligned: str | None) -> str:
    if results.known_matches is None:
        return '<span class="sub">not compared</span>'
    match = results.known_matches[j]
    if match is None:
        return '<span class="sub">none</span>'
    return (f"<b>{html.escape(match.match_name)}</b> <span class=\"sub\">{html.escape(match.match_id)} "
            f"({match.strand})</span><br>E = {_p(match.evalue)}" + (_img(aligned, "aligned logos") if aligned else ""))


def _match_sort(results, j: int) -> float:
    match = None if results.known_matches is None else results.known_matches[j]
    return match.evalue if match else np.inf


def _aligned(results, j: int, labelled: bool = False) -> str | None:
    """Motif j's logo above its best known match's, aligned (labelled and larger for its card)."""
    from .plotting import plot_aligned_logos
    match = None if results.known_matches is None else results.known_matches[j]
    if match is None:
        return None
    if not labelled:
        return figure_png(plot_aligned_logos(results.inference.ppms[j], match.ppm, match.offset))
    return figure_png(plot_aligned_logos(results.inference.ppms[j], match.ppm, match.offset, column_width=0.4,
                                         row_height=0.8, labels=(results.motif_labels[j],
                                                                 f"{match.match_name} ({match.strand})")))


def _motif_card(results, j: int, row) -> str:
    from ..io.motif_files import reverse_complement_ppm
    from .plotting import plot_motif_logos

    ppm = results.inference.ppms[j]
    figures = [("forward strand", figure_png(plot_motif_logos([ppm]))),
               ("reverse complement", figure_png(plot_motif_logos([reverse_complement_ppm(ppm)])))]
    aligned = _aligned(results, j, labelled=True)
    if aligned:
        match = results.known_matches[j]
        figures.append((f"best known match {match.match_id} {match.match_name} ({match.strand} strand, "
                        f"offset {match.offset}, {match.overlap} columns): Tomtom p = {_p(match.pvalue)}, "
                        f"E = {_p(match.evalue)}", aligned))
    if results.inference.null_sample is not None or results.inference.null_laws:
        figures.append(("null distribution of the statistic in the selection event", figure_png(results.plot_null(j))))
    kind = results.interval_kind
    split_kmer = html.escape(str(row['split_kmer']) or '-')
    selective = (f"selective p = {_cell(row['pvalue'])} (Monte-Carlo s.e. {_cell(row['pvalue_mc_se'])}, 95% bound "
                 f"{_cell(row['pvalue_mc_upper'])})" + (f"; tail estimate {_cell(row['pvalue_tail'])} (s.e. "
                                                       f"{_cell(row['pvalue_tail_se'])})"
                                                       if np.isfinite(row['pvalue_tail']) else "")
                 if results.method in SELECTIVE_METHODS else
                 f"no selective p-value (method {html.escape(results.method)})")
    interval_of = f" of the split's motif {split_kmer}" if kind == "split" and _split_other(row) else ""
    pvals = (selective
             + f"<br>data split p = {_cell(row['pvalue_split'])} (the split's motif "
             f"{split_kmer})<br>naive p = {_cell(row['pvalue_naive'])} (same data: "
             f"not valid after selection)<br>coefficient: OLS {_cell(row['coef'])}"
             + (f", selective {_cell(row['coef_selective'])}" if np.isfinite(row['coef_selective']) else "")
             + f", 95% {kind} interval{interval_of} [{_cell(row[f'ci_lower_{kind}'])}, "
             f"{_cell(row[f'ci_upper_{kind}'])}]<br>sites: {_cell(row['sites'])} in the foreground")
    images = "".join(f"<figure>{_img(uri, caption)}<figcaption>{html.escape(caption)}</figcaption></figure>"
                     for caption, uri in figures)
    return (f'<section class="motif" id="motif-{j + 1}"><div class="pvals"><h3 class="mono">'
            f"{html.escape(row['name'])}</h3>grid k-mer <span class=\"mono\">{html.escape(str(row['kmer']))}</span>, "
            f"term <span class=\"mono\">{html.escape(row.name)}</span><br>{pvals}</div>"
            f'<div class="figures">{images}</div></section>')


def html_report(results, path: str | os.PathLike | None = None, title: str | None = None,
                files: Sequence[str] | None = None) -> str:
    """Write (and return) the HTML report of ``results``.

    Parameters
    ----------
    results : SelectiveMotifResults
    path : str or path-like, optional
        Where to write it; nothing is written when None.
    title : str, optional
    files : sequence of str, optional
        Names of files written beside the report (motif files, tables), linked from it.
    """
    from .._version import __version__
    from .plotting import logo_thumbnail

    motifs = results.summary_frame(0.05)
    sites = results.sites()
    title = title or f"SEISM motifs for {results.model.endog_names}"
    settings = results.inference.settings
    groups = ""
    if "bg_sites" in sites:
        y = results.model.data.endog.to_numpy()
        groups = f" ({int((y == 1).sum())} foreground, {int((y == 0).sum())} background)"
    parts = [f"<h1>{html.escape(title)}</h1>",
             f'<p class="sub">seism_stats {__version__}, {time.strftime("%Y-%m-%d %H:%M")}; {results.nobs} '
             f"sequences{groups}; <code>{html.escape(str(results.model.formula or ''))}</code>; method "
             f"{html.escape(results.method)}, seed {html.escape(str(settings['random_state']))}</p>"]

    parts.append("<h2>Motifs</h2>")
    if len(motifs):
        logos = [figure_png(logo_thumbnail(ppm)) for ppm in results.inference.ppms]
        aligned = [_aligned(results, j) for j in range(results.n_selected)]
        parts.append(_motif_table(results, motifs, sites, logos, aligned))
        database = (f"against {html.escape(results.known_database)}" if results.known_matches is not None else
                    "not compared with known motifs (give a motif database: <code>--motif-db</code> or "
                    "<code>res.match_known_motifs</code>; JASPAR CORE needs pyjaspar)")
        parts.append(f'<p class="sub">p-value: {_pvalue_note(results)}; split p: a data '
                     "split's own motif tested on held-out sequences. A site is an exact occurrence of the motif's "
                     f"grid k-mer on either strand. Known matches: Tomtom's statistics (memelite) {database}; "
                     "E = p x database motifs. Click a header to sort, a name for the motif's card.</p>")
        for j, name in enumerate(motifs.index):
            parts.append(_motif_card(results, j, motifs.loc[name]))
    else:
        parts.append('<p class="warn">No motif was selected.</p>')

    if files:
        notes = dict(FILE_NOTES)
        if results.method not in SELECTIVE_METHODS:
            notes["motifs.meme"] = notes["motifs.meme"].replace(
                "E= its selective p-value (MEME writes an E-value there)",
                f"E= 1 (method {results.method} gives no selective p-value)")
        items = "".join(f'<li><a href="{html.escape(name)}">{html.escape(name)}</a>'
                        f'{": " + html.escape(notes[name]) if name in notes else ""}</li>' for name in files)
        parts.append(f"<h2>Files</h2><ul>{items}</ul>")

    columns = list(motifs.columns)
    every = [[name] + [motifs.loc[name, c] for c in columns] for name in motifs.index]
    parts.append(f"<details><summary>Every column (as in motifs.csv)</summary><div class=\"wide\">"
                 f"{_table(every, ['motif'] + columns, text_columns=1)}</div></details>")
    shown = {**settings, **{f"sampler {k}": v for k, v in results.sampler_info.items()}}
    parts.append("<details><summary>Settings and sampler diagnostics</summary>"
                 f"{_table([[k, v] for k, v in shown.items()], ['setting', 'value'], text_columns=2)}</details>")
    parts.append(f"<details><summary>Summary (as printed)</summary><pre>{html.escape(results.summary().as_text())}"
                 "</pre></details>")

    document = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
                + "\n".join(parts) + f"<script>{SORT_SCRIPT}</script></body></html>\n")
    if path is not None:
        Path(path).write_text(document, encoding="utf-8")
    return document
