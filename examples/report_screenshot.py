"""Write the quickstart fit's HTML report and take a screenshot of it in headless Chromium.

Run from the repository root (needs a Chromium or Chrome binary; Debian: ``apt-get install chromium``)::

    python examples/report_screenshot.py [--out examples/output]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import pandas as pd

from seism_stats import SelectiveMotifModel
from simulations.data import simulate_dataset

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_browser() -> str | None:
    """Path of a Chromium-family browser, or None."""
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def screenshot(html: Path, png: Path, width: int = 1200, height: int = 1700) -> Path:
    """Render ``html`` headless (no network) into ``png``."""
    browser = find_browser()
    if browser is None:
        raise RuntimeError("no Chromium/Chrome binary found")
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--window-size={width},{height}", f"--screenshot={png.resolve()}", html.resolve().as_uri()],
                   check=True, capture_output=True, timeout=120)
    return png


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data = simulate_dataset(400, 100, consensus="GATTACA", fraction=0.4, beta=1.0, random_state=2024)
    df = pd.DataFrame({"seq": data.sequences, "expr": data.y})
    df["gc"] = [(s.count("G") + s.count("C")) / len(s) for s in df["seq"]]
    res = SelectiveMotifModel.from_formula("expr ~ motifs(seq, k=6, n_motifs=2) + gc", data=df).fit(
        n_samples=4000, random_state=0, progress=False)
    report = out / "quickstart_report.html"
    res.to_html(report, title="SEISM motifs: quickstart peaks")
    print(f"report written to {report}")
    print(f"screenshot written to {screenshot(report, out / 'quickstart_report.png')}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("examples/output"))
    main(parser.parse_args().out)
