"""One self-contained HTML report of a fit (settings, tables, logos, null distributions).

Everything is inside the file (CSS, a few lines of JavaScript to sort the
motif table, figures as base64 PNG), so it opens offline and can be mailed or
archived like a MEME-suite or HOMER report.
"""

from __future__ import annotations

import base64
import html
import io
import os
import time
from pathlib import Path

import numpy as np

STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.6em;
     border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.sub { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f3f5f8; cursor: pointer; } td.text, th.text { text-align: left; }
tr:nth-child(even) td { background: #fafbfc; }
.motif { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; margin: 0.8em 0;
         padding: 0.6em; border: 1px solid #e3e6ea; border-radius: 6px; }
.motif img { max-width: 480px; } .pvals { font-size: 0.9em; } .warn { color: #a33; }
.wide { overflow-x: auto; }
pre { background: #f6f8fa; padding: 0.8em; font-size: 0.8em; white-space: pre-wrap; }
"""

SORT_SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function (th, col) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0];
    var rows = Array.from(body.rows), up = th.dataset.order !== 'asc';
    rows.sort(function (a, b) {
      var x = a.cells[col].innerText, y = b.cells[col].innerText;
      var nx = parseFloat(x), ny = parseFloat(y);
      var d = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
      return up ? d : -d;
    });
    th.dataset.order = up ? 'asc' : 'desc';
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""


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


def _table(rows: list[list], header: list[str], sortable: bool = False, text_columns: int = 1) -> str:
    cls = ' class="sortable"' if sortable else ""
    head = "".join(f'<th class="text">{html.escape(h)}</th>' if i < text_columns else f"<th>{html.escape(h)}</th>"
                   for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td class="text">{_cell(v)}</td>' if i < text_columns else f"<td>{_cell(v)}</td>"
                                    for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_report(results, path: str | os.PathLike | None = None, title: str | None = None) -> str:
    """Write (and return) the HTML report of ``results``.

    Parameters
    ----------
    results : SelectiveMotifResults
    path : str or path-like, optional
        Where to write it; nothing is written when None.
    title : str, optional
    """
    from . import __version__
    from .plotting import plot_motif_logos

    settings = results.inference.settings
    info = results.sampler_info
    motifs = results.summary_frame(0.05)
    kind = results.interval_kind
    title = title or f"SEISM motifs for {results.model.endog_names}"
    parts = [f"<h1>{html.escape(title)}</h1>",
             f'<p class="sub">seism_stats {__version__}, {time.strftime("%Y-%m-%d %H:%M")}; '
             f"{results.nobs} sequences, formula <code>{html.escape(str(results.model.formula or ''))}</code></p>"]

    parts.append("<h2>Motifs</h2>")
    columns = [c for c in ("kmer", "consensus", "refined_kmer", "score", "coef", "coef_selective",
                           f"ci_lower_{kind}", f"ci_upper_{kind}", "pvalue", "pvalue_mc_se",
                           "pvalue_tail", "pvalue_tail_se",
                           "pvalue_mc_upper", "pvalue_adj", "split_kmer", "pvalue_split", "pvalue_naive",
                           "match_id", "match_name", "match_pvalue")
               if c in motifs.columns]
    rows = [[name] + [motifs.loc[name, c] for c in columns] for name in motifs.index]
    parts.append(f'<div class="wide">{_table(rows, ["motif"] + columns, sortable=True, text_columns=4)}</div>')
    parts.append('<p class="sub">pvalue: selective (valid after selection); pvalue_split: data split; '
                 "pvalue_naive: same data, NOT valid after selection, for contrast. coef: OLS coefficient in "
                 f"the selected model; coef_selective and ci_*_{kind}: selective estimate and 95% interval "
                 "(valid given the selection) where the fit was selective. Click a header to sort.</p>")

    for j, name in enumerate(motifs.index):
        row = motifs.loc[name]
        logo = figure_png(plot_motif_logos([results.inference.ppms[j]], titles=[f"{name}: {row['consensus']}"]))
        images = [f'<img alt="logo of {html.escape(name)}" src="{logo}">']
        if results.inference.null_sample is not None or results.inference.null_laws:
            images.append(f'<img alt="null distribution of {html.escape(name)}" src="{figure_png(results.plot_null(j))}">')
        pvals = (f"selective p = {_cell(row['pvalue'])} (MC s.e. {_cell(row['pvalue_mc_se'])}, "
                 f"95% MC bound {_cell(row['pvalue_mc_upper'])})<br>data split p = {_cell(row['pvalue_split'])} "
                 f"({html.escape(str(row['split_kmer']) or '-')})<br>naive p = {_cell(row['pvalue_naive'])}"
                 f"<br>coefficient: OLS {_cell(row['coef'])}, selective {_cell(row['coef_selective'])}, "
                 f"95% {kind} interval [{_cell(row[f'ci_lower_{kind}'])}, {_cell(row[f'ci_upper_{kind}'])}]")
        parts.append(f'<div class="motif">{"".join(images)}<div class="pvals"><b>{html.escape(name)}</b><br>'
                     f"grid k-mer {html.escape(str(row['kmer']))}, consensus {html.escape(str(row['consensus']))}"
                     f"<br>{pvals}</div></div>")
    if not len(motifs):
        parts.append('<p class="warn">No motif was selected.</p>')

    parts.append("<h2>Settings and sampler diagnostics</h2>")
    shown = {**settings, **{f"sampler {k}": v for k, v in info.items()}}
    parts.append(_table([[k, v] for k, v in shown.items()], ["setting", "value"], text_columns=2))
    parts.append("<h2>Summary (as printed)</h2>")
    parts.append(f"<pre>{html.escape(results.summary().as_text())}</pre>")

    document = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
                + "\n".join(parts) + f"<script>{SORT_SCRIPT}</script></body></html>\n")
    if path is not None:
        Path(path).write_text(document, encoding="utf-8")
    return document
