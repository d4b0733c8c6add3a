"""The import graph runs with the data flow: training needs tensors, not audio code or a data
source, and synthesis needs a checkpoint, not the trainer. Checked on the source, so a lazy
import inside a function (the CLI's) counts too; imports only for type checkers do not."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ganaudio"

LATER_THAN_TRAINING = {"ganaudio.data", "ganaudio.audio", "ganaudio.features", "ganaudio.synth",
                       "ganaudio.evaluate", "ganaudio.augment", "ganaudio.cli"}
NOT_IMPORTED = {
    "train.py": LATER_THAN_TRAINING,
    "gan.py": LATER_THAN_TRAINING | {"ganaudio.train", "ganaudio.run_folder", "ganaudio.checkpoint"},
    # The loop serves any model: it knows none of them, nor their recipes.
    "loop.py": LATER_THAN_TRAINING | {"ganaudio.train", "ganaudio.gan", "ganaudio.models", "ganaudio.losses",
                                      "ganaudio.config"},
    "synth.py": {"ganaudio.train", "ganaudio.data", "ganaudio.evaluate", "ganaudio.augment", "ganaudio.cli"},
}


def runtime_imports(path: Path) -> set[str]:
    """Every module an import statement of `path` names, except under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text())
    type_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                 and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
                 for stmt in block.body for node in ast.walk(stmt)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("module", sorted(NOT_IMPORTED))
def test_a_stage_does_not_import_later_stages(module):
    imported = runtime_imports(PACKAGE / module)
    wrong = {name for name in imported for banned in NOT_IMPORTED[module]
             if name == banned or name.startswith(banned + ".")}
    assert not wrong, f"{module} imports {sorted(wrong)}"
