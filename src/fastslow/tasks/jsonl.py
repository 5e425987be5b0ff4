"""Reading task data from JSONL files, with errors that name the file and the line.

A dataset row with a missing field, or a line that is not JSON, is a user error: the message says which file,
which line and which field, so the user can fix the data without a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from fastslow.errors import FastSlowError


class DatasetError(FastSlowError, ValueError):
    """A data file is missing, unreadable, or has a bad row (the message names the file and line)."""


def read_jsonl(path: str | Path, required: Sequence[str] = (), what: str = "dataset") -> list[dict]:
    """Rows of a JSONL file (blank lines skipped). Each row must be a JSON object holding every ``required``
    field; ``_line`` is added to each row so later errors can point back at it."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetError(f"{what} file {str(path)!r} does not exist")
    rows = []
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DatasetError(f"{path}:{line_no}: not valid JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise DatasetError(f"{path}:{line_no}: expected a JSON object, got {type(row).__name__}")
            missing = [k for k in required if k not in row or row[k] is None]
            if missing:
                raise DatasetError(f"{path}:{line_no}: missing field {', '.join(map(repr, missing))} "
                                   f"(required: {', '.join(required)})")
            row["_line"] = line_no
            rows.append(row)
    if not rows:
        raise DatasetError(f"{what} file {str(path)!r} holds no rows")
    return rows
