"""Every tutorial notebook runs top to bottom without errors (its cells assert what they teach)."""

import ast
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# an empty (or missing) notebooks/ is a failure of each test below, not a silent skip
CASES = [pytest.param(p, id=p.name) for p in NOTEBOOKS] or [pytest.param(None, id="none")]


def read(path):
    if path is None:
        pytest.fail(f"{ROOT / 'notebooks'} holds no tutorial notebook")
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("path", CASES)
def test_notebook_asserts_what_it_teaches(path):
    """Running without an error only checks something if the cells assert their claims."""
    notebook = read(path)
    code = [  # IPython magics and shell lines are not Python
        "\n".join(
            line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]
    asserts = [
        node
        for source in code
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Assert)
    ]
    assert asserts, f"{path.name}: no cell asserts anything"


@pytest.mark.parametrize("path", CASES)
def test_notebook_executes(path):
    notebook = read(path)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT)}},
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any(o.output_type in ("execute_result", "display_data") for o in outputs)
