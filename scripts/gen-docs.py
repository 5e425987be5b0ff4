"""Regenerate the figure tables of docs/BENCHMARKS.md and the README's results paragraph from docs/results/*.json.

    python scripts/gen-docs.py            # rewrite the generated blocks
    python scripts/gen-docs.py --check    # exit 1 if any block disagrees with the JSON
"""

import sys

from fastslow.experiments.docs import main

sys.exit(main())
