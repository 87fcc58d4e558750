"""The packages import one way: the task runner (cluster, which knows nothing of the rest),
config, then the model, then its cycle models, then the hardware, the co-simulation, the boards
and the reports. A module never imports a later layer, so each
layer can be read, tested and reused without the ones above it."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["cluster", "model", "cycles", "hw", "sim", "boards", "report"]
RANK = {name: i for i, name in enumerate(LAYERS)}


def imported_packages(path: Path) -> set[tuple[str, int]]:
    """(top-level package, line) of every import in ``path``, relative ones resolved."""
    tree = ast.parse(path.read_text(), str(path))
    own = path.relative_to(ROOT).parts[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {(a.name.split(".")[0], node.lineno) for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = own[:len(own) - node.level + 1]
                found.add((base[0] if base else "", node.lineno))
            elif node.module:
                found.add((node.module.split(".")[0], node.lineno))
    return found


def sources():
    return sorted(p for layer in LAYERS for p in (ROOT / layer).rglob("*.py"))


def test_every_layer_has_sources():
    for layer in LAYERS:
        assert list((ROOT / layer).rglob("*.py")), f"{layer}/ has no modules"


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_run_one_way(path):
    layer = path.relative_to(ROOT).parts[0]
    backwards = [f"line {line}: imports {pkg} (layer {RANK[pkg]}), above {layer} (layer {RANK[layer]})"
                 for pkg, line in sorted(imported_packages(path)) if RANK.get(pkg, -1) > RANK[layer]]
    assert not backwards, f"{path.relative_to(ROOT)}: " + "; ".join(backwards)


def test_config_imports_nothing_of_the_model():
    pkgs = {pkg for pkg, _ in imported_packages(ROOT / "model" / "config.py")}
    assert not pkgs & set(LAYERS), pkgs & set(LAYERS)


def test_the_check_sees_a_backward_import(monkeypatch):
    """A model module importing the hardware, directly or inside a function, is caught."""
    probe = ROOT / "model" / "_layering_probe.py"
    text = "import numpy\nfrom .layer import integrate\ndef f():\n    from hw.core import LayerCore\n"
    real = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: text if self == probe else real(self, *a, **k))
    assert imported_packages(probe) == {("numpy", 1), ("model", 2), ("hw", 4)}
    with pytest.raises(AssertionError, match="line 4: imports hw"):
        test_imports_run_one_way(probe)
