"""Generate the figure tables of ``docs/BENCHMARKS.md`` and the README's results paragraph from
``docs/results/*.json``, so the docs can only say what the artefacts say.

Each generated block sits between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->``; the text between
the markers is replaced by ``BLOCKS[NAME](results_dir)``. The blocks live one topic per file in
``tools/gen_docs/blocks/*.py`` (each exports ``BLOCKS = {"name": render}``), discovered here, so a new benchmark adds
its own file. ``python scripts/gen-docs.py`` rewrites the blocks; ``--check`` exits 1 when a block differs from what
the JSON gives (``tests/test_docs.py`` runs the same check) and prints every result flagged by its provenance.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

MARKER = re.compile(r"(<!-- generated:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /generated:(?P=name) -->)", re.DOTALL)
DOC_FILES = ("docs/BENCHMARKS.md", "README.md")
BLOCK_DIR = Path(__file__).resolve().parent / "blocks"


def discover(folder: Path = BLOCK_DIR) -> dict[str, Callable[[Path], str]]:
    """Every ``BLOCKS`` of ``folder/*.py`` (files starting with ``_`` skipped); a name defined twice is an error."""
    found: dict[str, Callable[[Path], str]] = {}
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"gen_docs_blocks_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, render in getattr(module, "BLOCKS", {}).items():
            if name in found:
                raise ValueError(f"docs block {name!r} is defined twice (second in {path.name})")
            found[name] = render
    return found


BLOCKS = discover()


def provenance_flags(results: Path) -> list[str]:
    """'FILE: why' for every results JSON that cannot be checked against the committed code: no provenance, made from
    a dirty tree, provenance recovered from git history rather than recorded, or judged by other verdict rules than
    the current ones (``rules_hash``)."""
    from fastslow.experiments.summary import rules_hash

    current, out = rules_hash(), []
    for path in sorted(results.rglob("*.json")):
        rel = path.relative_to(results).as_posix()
        try:
            prov = json.loads(path.read_text()).get("provenance")
        except (json.JSONDecodeError, AttributeError):
            prov = None
        if not isinstance(prov, dict):
            out.append(f"{rel}: no provenance")
            continue
        if prov.get("recovered"):
            out.append(f"{rel}: provenance recovered from git history (commit {str(prov.get('commit'))[:7]}), not "
                       "recorded")
        if prov.get("dirty"):
            out.append(f"{rel}: made from a dirty work tree (commit {str(prov.get('commit'))[:7]})")
        if prov.get("rules_hash") and prov["rules_hash"] != current:
            out.append(f"{rel}: judged by other verdict rules ({prov['rules_hash']}, current {current})")
    return out


def provenance_block(results: Path) -> str:
    flags = provenance_flags(results)
    if not flags:
        return "Every result file records the commit, a clean work tree and the current verdict rules.\n"
    return "".join(f"* `{f.split(': ', 1)[0]}`: {f.split(': ', 1)[1]}\n" for f in flags)


BLOCKS["provenance-flags"] = provenance_block


def regenerate(text: str, results: Path) -> str:
    def sub(m: re.Match) -> str:
        name = m.group("name")
        if name not in BLOCKS:
            raise KeyError(f"unknown generated block {name!r} (no tools/gen_docs/blocks/*.py defines it)")
        return m.group(1) + BLOCKS[name](results) + m.group(4)

    return MARKER.sub(sub, text)


def stale(root: Path) -> list[str]:
    """'FILE: NAME' for every generated block whose text differs from what the JSON gives."""
    out = []
    for rel in DOC_FILES:
        text = (root / rel).read_text()
        fresh = regenerate(text, root / "docs" / "results")
        old = {m.group("name"): m.group("body") for m in MARKER.finditer(text)}
        new = {m.group("name"): m.group("body") for m in MARKER.finditer(fresh)}
        out += [f"{rel}: {name}" for name in old if old[name] != new[name]]
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[argv.index("--root") + 1]) if "--root" in argv else Path.cwd()
    for flag in provenance_flags(root / "docs" / "results"):
        print(f"flagged: {flag}")
    if "--check" in argv:
        bad = stale(root)
        for b in bad:
            print(f"out of date: {b}")
        return 1 if bad else 0
    for rel in DOC_FILES:
        path = root / rel
        path.write_text(regenerate(path.read_text(), root / "docs" / "results"))
    print("regenerated " + ", ".join(DOC_FILES))
    return 0
