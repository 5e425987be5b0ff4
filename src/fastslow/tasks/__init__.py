"""Tasks: the contract (``base``), the one resolver (``registry.load_task``) and the built-in families."""

from fastslow.tasks.base import (SPLITS, Messages, Problem, Score, Task, TaskBase, TaskValidationError,
                                 render_messages, safe_score)
from fastslow.tasks.registry import TaskLoadError, load_task

__all__ = ["SPLITS", "Messages", "Problem", "Score", "Task", "TaskBase", "TaskLoadError", "TaskValidationError",
           "load_task", "render_messages", "safe_score"]
