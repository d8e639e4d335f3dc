"""No import cycle among twgrpo's own modules (issue 26): every `import` of every module of the four packages —
at module level, inside functions and under `TYPE_CHECKING` alike — read with `ast`, as one graph that must be
acyclic. A function-level import that would close a cycle is a cycle postponed, not avoided: it ties modules
together all the same. Third-party imports (heavy optional packages are imported inside functions on purpose)
are not part of the graph; first-party ones all are.

A package's `__init__` is a node like any module; importing `a.b.c` also runs `a.b`'s `__init__`, but that
implicit step is not an edge here (a package that imports its own submodules is not a cycle), and neither is an
import inside `if __name__ == "__main__":`, which runs only when the file is a script."""

from __future__ import annotations

import ast
from pathlib import Path

from cli_helpers import REPO

#: import name → folder, as pyproject's `package-dir` installs them
PACKAGES = {"twgrpo_data": "twgrpo_data", "twgrpo_eval": "eval", "twgrpo_train": "train", "twgrpo_cli": "cli"}


def module_files(root: Path, packages: dict[str, str]) -> dict[str, Path]:
    """Dotted module name → its file, for every `.py` file of `packages` under `root`."""
    modules = {}
    for name, folder in packages.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = [name, *path.relative_to(root / folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module → the first-party modules it imports anywhere in its file (a name imported from a package is the
    submodule of that name when there is one, else the package)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*parent, *([node.module] if node.module else [])])
                targets.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names)
        graph[name] = {t for t in (_known(t, modules) for t in targets) if t is not None and t != name}
    return graph


def _walk(tree: ast.AST):
    """Every node of `tree` except those of an `if __name__ == "__main__":` block, which runs only when the file
    is run as a script (as `__main__`, not as the module others import)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not (isinstance(child, ast.If) and "__main__" in ast.unparse(child.test)):
                todo.append(child)


def _known(target: str, modules: dict[str, Path]) -> str | None:
    """The longest first-party module `target` names (`twgrpo_data.io.readers.X` → `twgrpo_data.io.readers`)."""
    while target and target not in modules:
        target = target.rpartition(".")[0]
    return target or None


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as the path of modules that closes it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    return next((found for node in sorted(graph) if node not in state and (found := visit(node))), None)


def test_no_import_cycle_among_the_packages_modules_function_level_imports_included():
    modules = module_files(REPO, PACKAGES)
    graph = import_graph(modules)
    assert "twgrpo_data.sources" in graph and len(modules) > 100
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_function_level_and_relative_imports_are_edges():
    graph = import_graph(module_files(REPO, PACKAGES))
    assert "twgrpo_data.qai.report_html" in graph["twgrpo_cli.qai"]  # imported inside `report_cmd`
    assert "twgrpo_data.qai.verb_lemmas" in graph["twgrpo_data.qai.negation.clause"]  # `from .. import verb_lemmas`
    assert "twgrpo_data.io.readers" in graph["twgrpo_data.sources"]


def test_a_cycle_closed_inside_a_function_is_found(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from .b import g\n\ndef f():\n    return g()\n")
    (tmp_path / "pkg" / "b.py").write_text("def g():\n    from . import a\n\n    return a\n")
    (tmp_path / "pkg" / "c.py").write_text(
        "import json\nfrom pkg import a\n\nif __name__ == '__main__':\n    from pkg import b\n"
    )
    graph = import_graph(module_files(tmp_path, {"pkg": "pkg"}))
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}, "pkg.c": {"pkg.a"}}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.a"]
