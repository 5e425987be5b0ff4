"""User-facing errors.

Everything a user can get wrong (a config field, a task name, a program spec, a model path, a dataset row)
raises a ``FastSlowError`` subclass whose message names the culprit. The CLI prints these without a traceback.
"""


class FastSlowError(Exception):
    """Base class for errors caused by user input rather than by a bug."""


class ProgramSpecError(FastSlowError, ValueError):
    """A Rulebook program spec such as ``"reverse|shift:2"`` could not be parsed."""


class UnknownTaskError(FastSlowError, KeyError):
    """A task name is not registered."""

    def __str__(self) -> str:  # KeyError would print the repr with quotes
        return str(self.args[0]) if self.args else "unknown task"


class ModelPathError(FastSlowError, FileNotFoundError):
    """A model folder is missing or is not a usable transformers model folder."""
