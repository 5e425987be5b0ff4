"""Test doubles shared by several test files (pytest puts this folder on sys.path)."""

from fastslow.fastweights.reflectors.base import ReflectorStats, check_examples


class HintReflector:
    """A reflector that always proposes a new prompt: the current one plus a numbered hint. Deterministic and
    cheap, so a test of the loop's plumbing does not depend on what a real reflector would find."""

    name = "hint"

    def __init__(self):
        self.stats = ReflectorStats()

    def propose(self, current, examples):
        check_examples(current, examples)
        self.stats.calls += 1
        return f"{current} Hint {self.stats.calls}."
