"""Sphinx configuration of the seism_stats documentation (built with warnings as errors by tests/test_docs.py).

Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (needs the test or docs extra).
Pages are Markdown (MyST); the API reference is generated from the numpydoc docstrings
(``sphinx.ext.autodoc`` with ``sphinx.ext.napoleon``). No page links outside the repository.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, with its built kernels

project = "seism_stats"
author = "seism_stats developers"
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3  # links to a page's sections: page.md#a-heading
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the numpydoc "Parameters" sections say the types
autodoc_default_options = {"members": True, "undoc-members": False}
html_theme = "alabaster"
html_theme_options = {"show_powered_by": False}
html_static_path: list[str] = []
napoleon_use_ivar = True  # dataclass Attributes as fields, not second descriptions of autodoc's members
