"""Errors of the generation backends: a missing extra, an engine that cannot start, an engine that died mid-run."""

from __future__ import annotations

from fastslow.errors import FastSlowError


class SamplerError(FastSlowError, RuntimeError):
    """A generation backend failed (engine start, a generation call, a weight sync or a server request)."""


class BackendUnavailable(SamplerError, ImportError):
    """The package a backend needs is not installed; the message names the extra to install."""
