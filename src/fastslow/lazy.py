"""Package names that load on first use (PEP 562 ``__getattr__``).

``fastslow.config`` imports the config sections that live with their components (``sampling/config.py``,
``integrations/trl/config.py``); importing a section imports its package's ``__init__``. Where that ``__init__``
re-exports heavy modules (samplers on torch, the TRL engine), it names them here instead, so loading a config
imports neither torch nor trl, and the names still resolve from the package as before.
"""

from __future__ import annotations

from importlib import import_module


def lazy_names(package: str, where: dict[str, str]):
    """A module ``__getattr__`` for ``package``: ``where`` maps a name to the submodule that defines it; the value
    is imported on first access and cached in the package's namespace."""

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = import_module(package)
        value = getattr(import_module(f"{package}.{where[name]}"), name)
        setattr(module, name, value)
        return value

    return __getattr__
