"""Per-round rollout capture: every rollout a GEPA round hands to GEPA, keyed by (problem id, prompt), each once (a
repeated evaluation is served from the adapter's store, not sampled or cached again, so a group never gets the
same sample twice).

The slow loop may claim these for the matching slots of its RL groups (rollout reuse, paper App. F). Entries carry
the cycle that produced them, and the cache is cleared when the next round starts, so a reused sample is never
older than one cycle.
"""

from __future__ import annotations

from collections import defaultdict

from fastslow.rl.rollouts import Rollout


class RolloutCache:
    def __init__(self, cycle: int = -1):
        self.cycle = cycle
        self._store: dict[tuple[str, str], list[Rollout]] = defaultdict(list)
        self.added = 0
        self.claimed = 0

    def add(self, rollout: Rollout) -> None:
        if rollout.cycle != self.cycle:
            raise ValueError(f"rollout from cycle {rollout.cycle} added to the cache of cycle {self.cycle}")
        self._store[(rollout.problem.id, rollout.prompt)].append(rollout)
        self.added += 1

    def claim(self, problem_id: str, prompt: str, n: int) -> list[Rollout]:
        """Remove and return up to ``n`` cached rollouts for this slot (each is used at most once)."""
        bucket = self._store.get((problem_id, prompt), [])
        taken, self._store[(problem_id, prompt)] = bucket[:n], bucket[n:]
        self.claimed += len(taken)
        return taken

    def clear(self, next_cycle: int) -> None:
        self._store.clear()
        self.cycle = next_cycle

    def __len__(self) -> int:
        return sum(len(v) for v in self._store.values())

    def state_dict(self) -> dict:
        return {"cycle": self.cycle, "store": dict(self._store), "added": self.added, "claimed": self.claimed}

    def load_state_dict(self, state: dict) -> None:
        self.cycle, self.added, self.claimed = state["cycle"], state["added"], state["claimed"]
        self._store = defaultdict(list, state["store"])
