"""Every ``from fastslow.X import Y`` in the package resolves: most heavy imports sit inside functions (so loading a
config does not import torch), and a module renamed in a refactor would otherwise only fail when that function first
runs, e.g. an hour into a benchmark (fastslow.bench.selection_compare once imported a module that no longer
existed)."""

import ast
import importlib
from pathlib import Path


PACKAGE = Path(__file__).resolve().parents[1] / "src" / "fastslow"
OPTIONAL = ("vllm",)  # extras that a default install may lack


def fastslow_imports():
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("fastslow"):
                for alias in node.names:
                    yield path.relative_to(PACKAGE.parent), node.module, alias.name


def test_every_internal_import_resolves():
    broken = []
    for path, module, name in fastslow_imports():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name and e.name.split(".")[0] in OPTIONAL:
                continue
            broken.append(f"{path}: from {module} import {name} ({e})")
            continue
        if not hasattr(mod, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ModuleNotFoundError:
                broken.append(f"{path}: from {module} import {name} (no such name)")
    assert not broken, "\n".join(broken)
