"""No package imports itself round in a circle.

The import graph of every package under ``libs/*/src``, ``services/*/src`` and
``tools/*/src`` is built from the source with ``ast``: every ``import`` and
``from … import`` statement anywhere in a module counts — at module level,
inside functions (deferred imports) and inside ``if TYPE_CHECKING:`` blocks
alike, since a circle that only type checking or a late call closes is still
two modules that cannot be understood one without the other. An edge goes to
the module named (``from pkg import sub`` → ``pkg.sub`` when that is a module,
else ``pkg``); importing a package's ``__init__`` on the way is not an edge of
its own, so an ``__init__`` re-exporting its modules is no circle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = sorted(p for pattern in ("libs/*/src/*", "services/*/src/*", "tools/*/src/*")
                  for p in ROOT.glob(pattern) if (p / "__init__.py").is_file())


def modules(package: Path) -> dict[str, Path]:
    """Dotted module name → file, for every module of ``package``."""
    found = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(name: str, path: Path, tree: ast.AST, known: dict[str, Path]) -> Iterator[str]:
    """The modules of ``known`` that module ``name`` (file ``path``) imports anywhere in ``tree``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = alias.name
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target:
                    yield target
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                if f"{base}.{alias.name}" in known:
                    yield f"{base}.{alias.name}"
                elif base in known:
                    yield base


def graph(package: Path) -> dict[str, set[str]]:
    known = modules(package)
    return {name: {t for t in imported(name, path, ast.parse(path.read_text(), str(path)), known) if t != name}
            for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_packages_are_found() -> None:
    names = {p.name for p in PACKAGES}
    assert {"emms_bus", "emms_runtime", "emms_collector", "emms_fep", "emms_sim"} <= names


@pytest.mark.parametrize("package", PACKAGES, ids=[p.name for p in PACKAGES])
def test_no_import_cycle(package: Path) -> None:
    assert cycles(graph(package)) == []


def test_the_check_sees_deferred_and_type_checking_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from pkg.a import A\n")
    (pkg / "a.py").write_text("A = 1\ndef f():\n    from pkg import b\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub.c import C\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("from .. import a\nimport pkg.sub\n")
    edges = graph(pkg)
    assert edges["pkg"] == {"pkg.a"} and edges["pkg.a"] == {"pkg.b"} and edges["pkg.b"] == {"pkg.sub.c"}
    assert edges["pkg.sub.c"] == {"pkg.a", "pkg.sub"}
    assert cycles(edges) == [["pkg.a", "pkg.b", "pkg.sub.c"]]
