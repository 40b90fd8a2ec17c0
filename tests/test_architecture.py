"""The package's imports go only downward through its declared layers, and never in a circle.

Parses every module of ``seism_stats`` (``ast``, nothing is imported), resolves its imports,
module-level and deferred ones alike, to modules of the package and checks them against
:data:`LAYERS` (bottom first; the order ``docs/architecture.md`` describes). A new module
belongs to a layer by its subpackage; a new subpackage must be added here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "seism_stats"
#: The compiled kernels (cython_src/*.pyx): modules that import nothing of the package.
KERNELS = {p.stem for p in (PACKAGE.parent / "cython_src").glob("*.pyx")}

#: Layers, bottom first: a module may import its own layer and those below, never one above.
LAYERS = (
    ("_version", "utils"),  # shared checks, parallel backends, diagnostics, row order
    ("io",),  # sequences, genome intervals, motif files, backgrounds
    ("features",),  # k-mer indexing and the grid's feature map
    ("selection",),  # the greedy selection, its replay, refinement and the event's geometry
    ("sampling",),  # null samplers in the event, their budget and Monte-Carlo p-values
    ("stats",),  # the tests and intervals: circles, tilted, cmc, tail, classical, pivots
    ("inference",),  # the functional API: the pipeline of named stages
    ("report",),  # summary, HTML report, figures, known-motif matches
    ("model",),  # SelectiveMotifModel, its results, formulas and persistence
    ("formula", "cli", "__main__", "__init__"),  # the interfaces: formula API, command line, package root
)

#: Within ``stats`` the tests import none of each other, except these (importer, imported):
#: the circle intervals invert the circle test; the tail estimate's i.i.d. branch is the
#: conditional Monte Carlo. Their shared geometry lives in ``selection.geometry``.
STATS_EDGES = {("circle_intervals", "circle_tests"), ("tail", "conditional_mc")}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that module ``name`` imports (a name imported from a package counts as the
    package's submodule when there is one, else as the package)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [(source, a.name) for a in node.names]
        else:
            continue
        for source, attribute in targets:
            if not (source == "seism_stats" or source.startswith("seism_stats.")):
                continue
            if attribute and (f"{source}.{attribute}" in known or attribute in KERNELS):
                found.add(f"{source}.{attribute}")
            else:
                found.add(source)
    found.discard(name)
    return found


def layer(name: str) -> int:
    parts = name.split(".")
    key = "__init__" if len(parts) == 1 else parts[1]
    for i, members in enumerate(LAYERS):
        if key in members:
            return i
    raise AssertionError(f"{name} belongs to no declared layer: add its subpackage to LAYERS")


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports(name, path, known) for name, path in found.items()}


def test_every_module_has_a_layer():
    for name in graph():
        layer(name)


def test_imports_only_go_down():
    upward = [f"{a} (layer {LAYERS[layer(a)][0]}) imports {b} (layer {LAYERS[layer(b)][0]})"
              for a, targets in graph().items() for b in sorted(targets) if layer(b) > layer(a)]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_tests_do_not_import_each_other():
    sideways = []
    for a, targets in graph().items():
        for b in targets:
            pa, pb = a.split("."), b.split(".")
            if pa[1:2] == pb[1:2] == ["stats"] and len(pa) == len(pb) == 3 and not pb[2].startswith("_"):
                if (pa[2], pb[2]) not in STATS_EDGES:
                    sideways.append(f"{a} imports {b}")
    assert not sideways, "tests import each other (move the shared part to selection.geometry):\n" + \
        "\n".join(sideways)


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_no_import_circle():
    cycle = find_cycle(graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_checker_sees_circles_and_upward_imports():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert layer("seism_stats.stats.tail") > layer("seism_stats.selection.geometry")
    with pytest.raises(AssertionError, match="no declared layer"):
        layer("seism_stats.newthing.module")


@pytest.mark.parametrize("package", [p.parent for p in sorted(PACKAGE.glob("*/__init__.py"))],
                         ids=lambda p: p.name)
def test_subpackages_say_what_they_own(package):
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    assert "May import" in doc, f"{package.name}/__init__.py: say what it owns and what it may import"
