"""What every config section shares: the error type the CLI prints without a traceback, and the base model
that forbids unknown fields (a typo is an error naming the field, never a silently ignored knob). Each section lives
with its component (``tasks/config.py``, ``model/config.py``, ``sampling/config.py``, ``rl/config.py``,
``fastweights/config.py``, ``evaluation/config.py``, ``integrations/trl/config.py``); ``fastslow.config`` composes
them into the run's one validated object.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from fastslow.errors import FastSlowError


class ConfigError(FastSlowError, ValueError):
    """A run configuration is invalid."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())
