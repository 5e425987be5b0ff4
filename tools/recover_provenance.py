"""Add a provenance record recovered from git history to every results JSON under docs/results/ that has none.

Files written before results recorded their provenance cannot say which code made them. What git still knows is
when each file was added and last changed: the record holds those commits and says plainly that it was recovered,
not recorded (``"recovered": true``; CPU, dirty flag and command unknown). The docs generator flags such files.

    python tools/recover_provenance.py [docs/results]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()


def recovered(path: Path) -> dict:
    added = _git("log", "--diff-filter=A", "--format=%H %cI", "--", str(path)).splitlines()
    changed = _git("log", "-1", "--format=%H %cI", "--", str(path))
    first = added[-1].split() if added else [None, None]
    last = changed.split() if changed else [None, None]
    return {"recovered": True, "commit": last[0], "committed_at": last[1], "added_in": first[0],
            "added_at": first[1], "dirty": None, "cpu": None, "versions": None, "command": None,
            "how": "recovered from git history after the fact: 'commit' last changed this file, 'added_in' added it; "
                   "the code that produced it is the work tree just before that commit, which was not recorded"}


def main(folder: Path) -> int:
    for path in sorted(folder.rglob("*.json")):
        text = path.read_text()
        data = json.loads(text)
        if not isinstance(data, dict) or "provenance" in data:
            continue
        indent = len(text.splitlines()[1]) - len(text.splitlines()[1].lstrip()) if "\n" in text else None
        data["provenance"] = recovered(path)
        path.write_text(json.dumps(data, indent=indent or None) + ("\n" if text.endswith("\n") else ""))
        print(f"{path}: recovered from {data['provenance']['commit'][:7]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/results")))
