"""fastslow: Fast-Slow Training (FST) of LLMs."""

__version__ = "0.1.0"
