"""The docs generator (repository tooling, not part of the installed package): ``python scripts/gen-docs.py``."""
