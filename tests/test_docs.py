"""The documentation: the Sphinx site builds with warnings as errors, and no link leaves the repository."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def test_docs_build_with_warnings_as_errors(tmp_path):
    if importlib.util.find_spec("sphinx") is None or importlib.util.find_spec("myst_parser") is None:
        pytest.skip("the docs need sphinx and myst-parser (the test extra)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                          str(ROOT / "docs"), str(tmp_path / "html")], capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    built = (tmp_path / "html" / "api.html").read_text(encoding="utf-8")
    assert "match_motifs" in built and "shuffle_sequence" in built  # the API reference came from the docstrings
    for page in (tmp_path / "html").glob("*.html"):
        assert not re.search(r'(href|src)="https?://', page.read_text(encoding="utf-8")), page.name


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_no_link_leaves_the_repository(page):
    text = page.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    for target in LINK.findall(text):
        path = target.split("#", 1)[0]
        if not path:
            continue  # an anchor on the same page
        resolved = (page.parent / path).resolve()
        assert resolved.is_relative_to(ROOT.resolve()), f"{page.name}: {target} is outside the repository"
        assert resolved.exists(), f"{page.name}: {target} does not exist"


def test_readme_keeps_the_setup_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install -e . && python examples/quickstart.py" in readme
    assert 'pip install -e ".[test]" && python -m pytest' in readme
    assert len(readme.splitlines()) < 200  # the first hour; the rest is in docs/


def _numbers_match(expected: str, got: str, rtol: float = 1e-6) -> bool:
    """Same words, and the same numbers to ``rtol`` (the last printed digit may differ across BLAS builds)."""
    left, right = expected.split(), got.split()
    if len(left) != len(right):
        return False
    for a, b in zip(left, right):
        try:
            if not abs(float(a) - float(b)) <= rtol * max(abs(float(a)), abs(float(b))):
                return False
        except ValueError:
            if a != b:
                return False
    return True


def test_readme_first_example_prints_what_the_readme_shows(capsys):
    # "A number in the README is one that the code produced": run the first example and compare.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A first example", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    shown = section.split("Output of that code", 1)[1].split("```\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README first example", "exec"), {})
    assert _numbers_match(shown, capsys.readouterr().out), "README's first example output is stale"
