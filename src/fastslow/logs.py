"""Logging for ``fst run`` (``--log-level``): fastslow's own loggers at the chosen level, third-party chatter not.

Why: a reflector's rejected proposals, retries and failed rounds are logged on ``fastslow.*`` loggers (WARNING for
what a user must see, INFO for retries, DEBUG for GEPA's own log). Without a handler Python prints only WARNING and
above, with no names or times. litellm prints "Provider List: ..." banners and INFO/DEBUG lines on every call to a
local model; those say nothing our own messages do not, so its loggers stay at WARNING whatever the level.
"""

from __future__ import annotations

import logging

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
THIRD_PARTY = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm", "httpx", "httpcore", "openai")


def setup_logging(level: str = "WARNING") -> None:
    """Send ``fastslow.*`` records at ``level`` and above to stderr, with time and logger name; keep litellm,
    httpx and openai at WARNING."""
    name = level.upper()
    if name not in LEVELS:
        from fastslow.errors import FastSlowError

        raise FastSlowError(f"--log-level must be one of {', '.join(LEVELS)}, got {level!r}")
    root = logging.getLogger("fastslow")
    root.setLevel(name)
    if not any(getattr(h, "_fastslow", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        handler._fastslow = True
        root.addHandler(handler)
    # records still propagate to the root logger (pytest's caplog, an application's own logging setup); the CLI
    # configures no root handler, so nothing is printed twice there
    for other in THIRD_PARTY:
        logging.getLogger(other).setLevel(max(logging.WARNING, logging.getLevelName(name)))
