"""Run ``seism fit`` as a HOMER/STREME user would and take a screenshot of its report in headless Chromium.

An AP-1-like site (ATGACTCAT, 85% on each consensus letter) is planted in 40% of
300 GC-rich promoter-like sequences (``simulations.data.markov_sequences``); the
foreground is tested against its dinucleotide shuffle (``--control shuffle``) and
matched with JASPAR CORE when pyjaspar is installed. The report is rendered at
1,400 px wide (:data:`seism_stats.report.html.PAGE_WIDTH`), the width the report's table
must fit without sideways scrolling. Run from the repository root (needs a
Chromium or Chrome binary; Debian: ``apt-get install chromium``)::

    python examples/report_screenshot.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
#: Written into a copy of the page, then read back from Chromium's DOM dump: the page's and the motif table's widths.
MEASURE = ("<script>window.addEventListener('load', function () {var t = document.querySelector('table.motifs');"
           "document.body.setAttribute('data-measure', [document.documentElement.scrollWidth, "
           "document.documentElement.clientWidth, t ? Math.round(t.getBoundingClientRect().right) : 0].join(' '));"
           "});</script>")


def find_browser() -> str | None:
    """Path of a Chromium-family browser, or None."""
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def _chromium(*arguments: str) -> str:
    browser = find_browser()
    if browser is None:
        raise RuntimeError("no Chromium/Chrome binary found")
    run = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                          *arguments], check=True, capture_output=True, text=True, timeout=120)
    return run.stdout


def screenshot(html: Path, png: Path, width: int = 1400, height: int = 1250) -> Path:
    """Render ``html`` headless (no network) into ``png``."""
    _chromium(f"--window-size={width},{height}", f"--screenshot={png.resolve()}", html.resolve().as_uri())
    return png


def measure(html: Path, width: int = 1400) -> dict[str, int]:
    """The page's scroll width, its visible width and the motif table's right edge (px) at ``width``."""
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / html.name
        page.write_text(html.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"), encoding="utf-8")
        dom = _chromium(f"--window-size={width},1000", "--virtual-time-budget=5000", "--dump-dom", page.as_uri())
    numbers = re.search(r'data-measure="(\d+) (\d+) (\d+)"', dom)
    if numbers is None:
        raise RuntimeError("the page did not report its width")
    scroll, visible, table = map(int, numbers.groups())
    return {"scroll_width": scroll, "client_width": visible, "table_right": table}


def write_example(folder: Path, seed: int = 1) -> Path:
    """The example's FASTA and ``seism fit`` output in ``folder``; returns the report's path."""
    from seism_stats.cli import main
    from simulations.data import markov_sequences

    folder.mkdir(parents=True, exist_ok=True)
    sequences, _ = markov_sequences(300, 100, consensus="ATGACTCAT", fraction=0.4, confidence=0.85, random_state=seed)
    (folder / "peaks.fa").write_text("".join(f">peak{i}\n{s}\n" for i, s in enumerate(sequences)))
    here = Path.cwd()
    os.chdir(folder)  # relative paths, as typed: the report's title names peaks.fa
    try:
        code = main(["fit", "--fasta", "peaks.fa", "--control", "shuffle", "--k", "8", "--n-motifs", "2",
                     "--n-samples", "1000", "--seed", str(seed), "--out", "results", "--force", "--quiet"])
    finally:
        os.chdir(here)
    if code:
        raise RuntimeError(f"seism fit failed (exit {code})")
    return folder / "results" / "report.html"


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        report = write_example(Path(tmp))
        print(f"widths at 1400 px: {measure(report)}")
        out.mkdir(parents=True, exist_ok=True)
        print(f"screenshot written to {screenshot(report, out / 'report.png')}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    main(parser.parse_args().out)
