"""Hot loops are pure C: ``cython -a`` scores every line inside ``nogil`` code as white (0)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SOURCES = Path(__file__).resolve().parents[1] / "cython_src"
DIRECTIVES = "boundscheck=False,wraparound=False,initializedcheck=False,cdivision=True"


def nogil_lines(source: list[str]) -> set[int]:
    """Line numbers (1-based) of bodies of ``cdef ... nogil`` functions and of prange/nogil blocks."""
    inside: set[int] = set()
    i = 0
    while i < len(source):
        line = source[i]
        stripped = line.strip()
        header_end = i
        if stripped.startswith("cdef ") and "(" in stripped:  # a function: join its signature
            while header_end < len(source) - 1 and not source[header_end].rstrip().endswith(":"):
                header_end += 1
            signature = " ".join(s.strip() for s in source[i:header_end + 1])
            selected = "nogil" in signature
        else:
            selected = re.search(r"prange\(.*nogil=True|with nogil[:,]", stripped) is not None
        if selected:
            indent = len(line) - len(line.lstrip())
            for j in range(header_end + 1, len(source)):
                body = source[j]
                if body.strip() and len(body) - len(body.lstrip()) <= indent:
                    break
                if body.strip() and not body.strip().startswith("#"):
                    inside.add(j + 1)
        i += 1
    return inside


def test_kernels_are_white(tmp_path):
    pytest.importorskip("Cython")
    checked = 0
    offenders = []
    for pxd in SOURCES.glob("*.pxd"):
        shutil.copy(pxd, tmp_path / pxd.name)
    # The .pxd files hold inline kernels shared between modules: each is annotated as a module of its own.
    kernels = [(pyx, pyx.name) for pyx in sorted(SOURCES.glob("*.pyx"))]
    kernels += [(pxd, f"pxd{pxd.stem}.pyx") for pxd in sorted(SOURCES.glob("*.pxd"))]
    for pyx, name in kernels:
        target = tmp_path / name
        shutil.copy(pyx, target)
        subprocess.run([sys.executable, "-m", "cython", "-3", "-a", "-I", str(tmp_path), "--directive",
                        DIRECTIVES, str(target), "-o", str(target.with_suffix(".c"))],
                       check=True, capture_output=True)
        html = target.with_suffix(".html").read_text()
        scores = {int(n): int(s) for s, n in
                  re.findall(r'<pre class="cython line score-(\d+)"[^>]*>\+?<span class="">(\d+)</span>', html)}
        lines = nogil_lines(pyx.read_text().splitlines())
        checked += len(lines)
        for number in lines:
            if scores.get(number, 0) > 0:
                offenders.append(f"{pyx.name}:{number} (score {scores[number]})")
    assert checked > 100  # the kernels' bodies were found
    assert not offenders, "Python interaction inside nogil code: " + ", ".join(offenders)
