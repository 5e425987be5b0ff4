"""HTML building blocks of the report page (inline CSS, figures embedded as data URIs). Imports nothing from the
report, so sections and the page can both use it."""

from __future__ import annotations

import base64
import html
from pathlib import Path

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.4}
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:0.8em 0;font-size:0.9em}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f0f0f0}
img{max-width:100%;border:1px solid #ddd;margin:0.5em 0}
.pair img{max-width:49%}
.reproduced{background:#d9f2d9}.notreproduced{background:#f8d7d7}.inconclusive{background:#fff3cd}
.nottestablehere{background:#e4e4f4}
.notrun{color:#888}
.small{font-size:0.85em;color:#555}
"""

esc = html.escape


def table(header: list[str], rows: list[list], classes: list[str] | None = None) -> str:
    h = "".join(f"<th>{esc(str(c))}</th>" for c in header)
    body = []
    for i, r in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{esc(str(c))}</td>" for c in r) + "</tr>")
    return f"<table><tr>{h}</tr>{''.join(body)}</table>"


def img(out_dir: Path, figs: dict, key: str) -> str:
    if key not in figs:
        return ""
    data = base64.b64encode((Path(out_dir) / figs[key]).read_bytes()).decode("ascii")
    return f'<img alt="{esc(key)}" src="data:image/png;base64,{data}">'


def verdict_class(word: str) -> str:
    return word.replace(" ", "")
