"""Loading user code named as ``package.module:attr`` or ``path/to/file.py:attr``.

Shared by the task resolver (``task.id``, ``fastslow.tasks.registry``) and the reflector factory
(``population.reflector.id``), so a plug-in is named, imported and reported the same way everywhere: a module that
fails to import is named with its own error, a missing attribute is named with its module.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from fastslow.errors import FastSlowError


class PluginLoadError(FastSlowError, ValueError):
    """User code named by ``module:attr`` cannot be imported, or what it names does not fit."""


def import_target(target: str, what: str, error: type[Exception] = PluginLoadError, import_hint: str = ""):
    """The object ``target`` (``package.module:attr`` or ``path/to/file.py:attr``) names.

    ``what`` starts every error message (e.g. ``"task id 'x:y'"``); errors are raised as ``error``.
    ``import_hint`` is appended to the message of an ``ImportError`` (e.g. which pip extra to install).
    A ``.py`` file is imported as a module named ``fastslow_user_<stem>`` (relative paths resolve against the
    working directory)."""
    module_name, _, attr = target.rpartition(":")
    if not module_name or not attr:
        raise error(f"{what}: expected 'package.module:attr' or 'path/to/file.py:attr'")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name).expanduser().resolve()
            if not path.is_file():
                raise error(f"{what}: file {str(path)!r} does not exist")
            spec = importlib.util.spec_from_file_location(f"fastslow_user_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(spec.name, None)
                raise
        else:
            module = importlib.import_module(module_name)
    except error:
        raise
    except ImportError as err:
        raise error(f"{what}: could not import module {module_name!r}: {type(err).__name__}: {err}"
                    f"{import_hint}") from err
    except Exception as err:  # noqa: BLE001 - a user's module can fail in any way on import
        raise error(f"{what}: importing module {module_name!r} failed with {type(err).__name__}: {err}") from err
    try:
        return getattr(module, attr)
    except AttributeError:
        raise error(f"{what}: module {module_name!r} has no attribute {attr!r}") from None


def accepts(factory: Callable, name: str) -> bool:
    """Whether ``factory`` takes a keyword argument ``name`` (by name, or through ``**kwargs``)."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def call_factory(factory: Callable, args: Mapping, what: str, error: type[Exception] = PluginLoadError,
                 extras: Mapping | None = None):
    """``factory(**args)``, plus each of ``extras`` (e.g. ``seed``) that ``args`` does not give and the factory
    accepts. A ``TypeError`` (wrong or missing arguments) is reported naming ``what`` and the arguments."""
    kwargs = dict(args)
    for name, value in (extras or {}).items():
        if name not in kwargs and accepts(factory, name):
            kwargs[name] = value
    name = getattr(factory, "__name__", factory)
    try:
        return factory(**kwargs)
    except FastSlowError:
        raise  # already names the culprit
    except TypeError as err:
        raise error(f"{what}: {name} rejected the arguments {dict(args)!r}: {err}") from err
    except Exception as err:  # noqa: BLE001 - a plug-in's constructor can fail in any way; name it, no traceback
        raise error(f"{what}: {name}(**{dict(args)!r}) failed with {type(err).__name__}: {err}") from err
