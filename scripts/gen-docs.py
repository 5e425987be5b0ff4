"""Regenerate the figure tables of docs/BENCHMARKS.md and the README's results paragraph from docs/results/*.json.

    python scripts/gen-docs.py            # rewrite the generated blocks
    python scripts/gen-docs.py --check    # exit 1 if any block disagrees with the JSON

The generator is repository tooling in tools/gen_docs/ (one topic per file in tools/gen_docs/blocks/).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

from gen_docs.core import main

sys.exit(main())
