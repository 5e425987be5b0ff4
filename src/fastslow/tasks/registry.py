"""One task resolver for the whole package: ``load_task(id, args)``.

Every place that needs a task (the trainer, the experiments, ``fst eval-base``, the benchmarks, the reflector
choice) goes through here, so an id that works in one place works in all of them. Accepted ids:

* ``rulebook/<name>`` - the embedded Rulebook world's named tasks; a bare ``<name>`` (``tidy``) is a short form;
* built-in families: ``reasoning_gym/<dataset>``, ``codeio``, ``math``, ``star_graph``, ``hover``, ``mcq``;
* ``package.module:attr`` or ``path/to/file.py:attr`` - ``attr`` is a Task class or a factory returning a Task,
  called with ``task.args`` (and ``seed=`` the run seed when it accepts a ``seed`` argument not given in args);
* ids that installed packages register under the entry-point group ``fastslow.tasks``
  (``[project.entry-points."fastslow.tasks"] my_task = "my_pkg.tasks:make_task"``).

The object returned is checked against the contract (``fastslow.tasks.base``): a missing method or attribute is
named in the error, as is a module that fails to import (with its own error).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata

from fastslow.errors import FastSlowError, UnknownTaskError
from fastslow.plugins import call_factory, import_target
from fastslow.tasks.base import REQUIRED_METHODS, Task

ENTRY_POINT_GROUP = "fastslow.tasks"


class TaskLoadError(FastSlowError, ValueError):
    """A task id resolved to something that cannot be loaded or does not follow the Task contract."""


@dataclass(frozen=True)
class Family:
    pattern: str  # how the id is written
    target: str  # "module:attr" of the factory
    about: str
    extra: str = ""  # the pip extra it needs, if any


FAMILIES: dict[str, Family] = {
    "rulebook": Family("rulebook/<name>", "fastslow.rulebook:get_task",
                       "the embedded Rulebook world (hidden string programs): the named tasks below"),
    "reasoning_gym": Family("reasoning_gym/<dataset>", "fastslow.tasks.reasoning_gym:ReasoningGymTask",
                            "any reasoning-gym dataset; task.args is its config", "tasks"),
    "codeio": Family("codeio", "fastslow.tasks.codeio:CodeIOTask",
                     "CodeIO output prediction over reasoning-gym's bundled programs (JSON answer)", "tasks"),
    "math": Family("math", "fastslow.tasks.math:MathTask",
                   "math word problems from JSONL or a datasets name, graded by math-verify on \\boxed{}", "tasks"),
    "star_graph": Family("star_graph", "fastslow.tasks.star_graph:StarGraphTask",
                         "star-graph path finding (degree, path length, node count)"),
    "hover": Family("hover", "fastslow.tasks.hover:HoverTask",
                    "multi-hop claim verification: one follow-up BM25 query over a local corpus", "tasks"),
    "mcq": Family("mcq", "fastslow.tasks.mcq:MCQTask", "multiple choice from JSONL, option-letter match"),
}


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _import_target(target: str, task_id: str) -> Callable:
    family = FAMILIES.get(task_id.split("/")[0])
    extra = family.extra if family is not None else ""
    hint = f'; install the extra: pip install "fastslow[{extra}]"' if extra else ""
    return import_target(target, f"task id {task_id!r}", TaskLoadError, import_hint=hint)


def _call(factory: Callable, args: Mapping, seed: int, task_id: str):
    """``factory(**task.args)`` (+ ``seed=`` the run seed when it takes one); a failure names the task id."""
    return call_factory(factory, args, f"task id {task_id!r} (with task.args)", TaskLoadError, {"seed": seed})


def check_task_object(task, task_id: str) -> Task:
    """The contract's required methods and attributes, named when missing."""
    missing = [m for m in REQUIRED_METHODS if not callable(getattr(task, m, None))]
    if missing:
        raise TaskLoadError(f"task id {task_id!r} resolved to {type(task).__name__}, which lacks the method(s) "
                            f"{', '.join(missing)} of the Task contract (problems, render, score)")
    for attr in ("name", "seed_prompt"):
        if not isinstance(getattr(task, attr, None), str):
            raise TaskLoadError(f"task id {task_id!r} resolved to {type(task).__name__}, which has no string "
                                f"attribute {attr!r} (required by the Task contract)")
    return task


def load_task(task_id: str, args: Mapping | None = None, seed: int = 0, seed_prompt: str | None = None) -> Task:
    """Resolve ``task_id`` (see the module docstring) and build the task with ``args``.

    ``seed_prompt`` (if given) replaces the task's own seed prompt."""
    if isinstance(task_id, Task) or all(callable(getattr(task_id, m, None)) for m in REQUIRED_METHODS):
        task = task_id  # a ready object
    else:
        task = _build(str(task_id), dict(args or {}), seed)
    task = check_task_object(task, str(getattr(task, "name", task_id)))
    if seed_prompt is not None:
        task.seed_prompt = seed_prompt
    return task


def _build(task_id: str, args: dict, seed: int):
    from fastslow.rulebook import NAMED_TASKS

    family, _, rest = task_id.partition("/")
    if ":" in task_id:
        return _call(_import_target(task_id, task_id), args, seed, task_id)
    entry_points = _entry_points()
    if task_id in entry_points:
        try:
            factory = entry_points[task_id].load()
        except Exception as err:  # noqa: BLE001
            raise TaskLoadError(f"task id {task_id!r}: the entry point {entry_points[task_id].value!r} failed to "
                                f"load: {type(err).__name__}: {err}") from err
        return _call(factory, args, seed, task_id)
    if task_id in NAMED_TASKS:  # short form of rulebook/<name>
        family, rest = "rulebook", task_id
    if family in FAMILIES:
        factory = _import_target(FAMILIES[family].target, task_id)
        if family == "rulebook":
            if not rest:
                raise UnknownTaskError(f"task id {task_id!r}: name a Rulebook task, e.g. rulebook/tidy "
                                       f"(known: {', '.join(NAMED_TASKS)})")
            return _call(factory, {"name": rest, **args}, seed, task_id)
        if family == "reasoning_gym":
            if not rest:
                raise UnknownTaskError(f"task id {task_id!r}: name a reasoning-gym dataset, e.g. "
                                       "reasoning_gym/chain_sum")
            return _call(factory, {"dataset": rest, **args}, seed, task_id)
        if rest:
            raise UnknownTaskError(f"task id {task_id!r}: family {family!r} takes no '/<name>' suffix; "
                                   f"write {FAMILIES[family].pattern} and pass options in task.args")
        return _call(factory, args, seed, task_id)
    raise UnknownTaskError(f"unknown task id {task_id!r}. Known: " + "; ".join(
        f.pattern for f in FAMILIES.values()) + (f"; plug-ins: {', '.join(entry_points)}" if entry_points else "")
        + "; or 'package.module:attr' for your own task")


def listing() -> list[tuple[str, str]]:
    """(id pattern, description) for every family, every Rulebook task and every registered plug-in."""
    from fastslow.rulebook import NAMED_TASKS

    rows = [(f.pattern, f.about + (f' (extra: fastslow[{f.extra}])' if f.extra else "")) for f in FAMILIES.values()]
    rows += [(f"rulebook/{name}", f"{spec}: {about}") for name, (spec, about) in NAMED_TASKS.items()]
    rows += [(name, f"plug-in: {ep.value}") for name, ep in _entry_points().items()]
    return rows
