"""simulator.lm has no import cycles (lazy imports inside functions count), its lookup path
never imports torch, and `python -m simulator.lm` is the `lm` command."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
LM = REPO_ROOT / "simulator" / "lm"


def lm_import_graph() -> dict[str, set[str]]:
    """module -> simulator.lm modules it imports anywhere in its source (top level or lazy)."""
    modules = {f"simulator.lm.{p.stem}" for p in LM.glob("*.py") if p.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for path in LM.glob("*.py"):
        name = "simulator.lm" if path.stem == "__init__" else f"simulator.lm.{path.stem}"
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                edges.add(node.module)
                edges |= {f"{node.module}.{alias.name}" for alias in node.names}
        graph[name] = {m for m in edges if m in modules and m != name}
    return graph


def test_lm_modules_import_no_cycle():
    graph = lm_import_graph()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            pytest.fail("import cycle: " + " -> ".join([*path[path.index(module) :], module]))
        if module in done:
            return
        for target in sorted(graph.get(module, ())):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert "simulator.lm.cli" not in graph["simulator.lm.zoo"]


def test_lookup_and_zoo_facade_do_not_import_torch():
    code = (
        "import sys; import simulator.lm.zoo, simulator.lm.lookup, simulator.lm.fit; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    assert out.stdout.strip() == "False"


def test_python_m_simulator_lm_is_the_lm_command():
    result = subprocess.run(
        [sys.executable, "-m", "simulator.lm", "zoo", "build", "--grid", "huge"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert result.returncode == 2 and "--grid" in result.stderr
