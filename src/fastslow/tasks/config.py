"""The ``task`` section of a run config: which task(s) to train on, by id, and a continual-learning stream.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from fastslow.config_base import Section


class TaskRef(Section):
    """One task: an id (see ``fastslow.tasks.registry``) and the arguments passed to its factory."""

    id: str
    args: dict = Field(default_factory=dict, description="passed to the task's factory (family options)")


class TaskConfig(Section):
    id: str | None = Field(None, description="task id: rulebook/<name>, reasoning_gym/<dataset>, codeio, math, "
                           "star_graph, hover, mcq, package.module:attr, or a registered plug-in")
    name: str | None = Field(None, description="short form of id for Rulebook tasks (name: tidy)")
    args: dict = Field(default_factory=dict, description="passed to the task's factory (family options)")
    seed_prompt: str | None = Field(None, description="replaces the task's own seed prompt (the population seed)")
    partial_credit: bool = Field(False, description="Rulebook only: edit-distance partial-credit reward")
    stream: list[str | TaskRef] = Field(default_factory=list, description="continual learning: task ids (or "
                                        "{id, args}) in sequence (overrides id)")
    steps_per_stage: int = Field(100, ge=1, description="RL steps per task of the stream")

    @model_validator(mode="after")
    def _one_id(self) -> TaskConfig:
        if self.id is not None and self.name is not None and self.id not in (self.name, f"rulebook/{self.name}"):
            raise ValueError(f"give task.id or its short form task.name, not both (id {self.id!r}, name "
                             f"{self.name!r})")
        if self.id is None and self.name is None and not self.stream:
            self.id = "rulebook/tidy"
        return self

    @property
    def refs(self) -> list[TaskRef]:
        """The tasks to build, in order (one unless there is a stream)."""
        if self.stream:
            return [TaskRef(id=t) if isinstance(t, str) else t for t in self.stream]
        return [TaskRef(id=self.id or self.name, args=self.args)]

    @property
    def names(self) -> list[str]:
        return [r.id for r in self.refs]
