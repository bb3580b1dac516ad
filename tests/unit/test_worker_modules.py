"""The worker's modules import each other without a circle (issue 11: app -> web -> api -> app).

Type-checking-only imports count too: a circle there still ties the modules together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pipeline.worker

WORKER = Path(pipeline.worker.__path__[0])


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "pipeline.worker":
                names.update(alias.name for alias in node.names)
            elif node.module.startswith("pipeline.worker."):
                names.add(node.module.removeprefix("pipeline.worker.").split(".")[0])
        elif isinstance(node, ast.Import):
            names.update(a.name.removeprefix("pipeline.worker.").split(".")[0]
                         for a in node.names if a.name.startswith("pipeline.worker."))
    return names


def test_worker_modules_import_each_other_without_a_circle() -> None:
    graph = {p.stem: _imports(p) - {p.stem} for p in WORKER.glob("*.py")}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " -> ".join((*path, module))
        if module in done:
            return
        for imported in sorted(graph.get(module, ())):
            visit(imported, (*path, module))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())
    assert "web" not in graph["app"] and "app" not in graph["api"]
