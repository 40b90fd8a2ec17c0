"""Build the Cython kernels of seism_stats.

Directives are set once here (boundscheck, wraparound and initializedcheck off,
cdivision on). ``SEISM_CYTHON_DEBUG=1`` turns bounds checking back on, and
``SEISM_NO_OPENMP=1`` builds without OpenMP (the kernels then run on one thread).
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

#: Each kernel is built into the subpackage whose modules call it (sources: cython_src/).
KERNELS = {"_encoding": "io", "_kmers": "features", "_kron": "features", "_replay": "selection",
           "_sphere": "selection", "_circles": "stats", "_subsets": "stats"}
DEBUG = os.environ.get("SEISM_CYTHON_DEBUG", "") == "1"


def _openmp_flags() -> list[str]:
    """Return the OpenMP flag when the C compiler accepts it, else nothing."""
    if os.environ.get("SEISM_NO_OPENMP", "") == "1" or sys.platform == "win32":
        return []
    cc = os.environ.get("CC", "cc")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "omp.c"
        src.write_text("#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n")
        try:
            subprocess.run([cc, "-fopenmp", str(src), "-o", str(Path(tmp) / "omp")],
                           check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            print("seism_stats: OpenMP not available, building single-threaded kernels")
            return []
    return ["-fopenmp"]


OPENMP = _openmp_flags()
# -ffp-contract=off: no fused multiply-adds, so a row's sums round the same way
# whichever vectorised or scalar path computes them (results independent of batching).
COMPILE_ARGS = ["-O3", "-ffp-contract=off"] + OPENMP + ([] if DEBUG else ["-DNDEBUG"])

extensions = [
    Extension(
        f"seism_stats.{package}.{name}",
        [f"cython_src/{name}.pyx"],
        include_dirs=[np.get_include(), "cython_src"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=COMPILE_ARGS,
        extra_link_args=OPENMP,
    )
    for name, package in KERNELS.items()
]

setup(
    ext_modules=cythonize(
        extensions,
        include_path=["cython_src"],
        compiler_directives={
            "language_level": 3,
            "boundscheck": DEBUG,
            "wraparound": DEBUG,
            "initializedcheck": DEBUG,
            "cdivision": not DEBUG,
        },
        annotate=os.environ.get("SEISM_CYTHON_ANNOTATE", "") == "1",
    ),
)
