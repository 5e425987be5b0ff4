"""Star-graph path finding (paper App. C, §4.5; Prakash & Buvanesh, after Bachmann & Nagarajan).

An instance is a star: a source node s with ``degree`` arms. One arm is the gold path s -> ... -> g of
``path_length`` nodes (s and g included); the other ``degree - 1`` arms are decoy chains of the same shape
(``path_length - 1`` nodes beyond s each), so neither arm length nor degree gives the answer away. All node ids are
drawn from ``range(nodes)`` without reuse. The edges are shuffled, each one written in a random orientation (the
graph is undirected, so "a,b" and "b,a" are the same edge and orientation must not leak the direction of travel),
and serialised as space-separated ``a,b`` pairs.

The paper's headline setting is (degree, path_length, nodes) = (25, 20, 500), with 10,000 train and 200 test
instances; a random first hop is right 4% of the time and a 4B model starts at 0/50 pass@16. The defaults here are
small (3, 4, 50) so that tiny models see some reward.

Reward (paper): the last ``\\boxed{...}`` (after any ``</think>``), with all whitespace removed, must equal the gold
path ``"s,v1,...,g"`` exactly: 1 or 0. The feedback says exactly where a wrong path went wrong.

Splits: val and test are fixed pools (``val_size``, ``test_size``) drawn from their own seeded streams; test
excludes val's graphs and train excludes both, so the same graph (same edges, source and goal) is never in two
splits. Train is unlimited unless ``train_size`` is set. Each split is generated sequentially, so
``problems(split, n)`` is a prefix of ``problems(split, m)`` for n < m.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from fastslow.errors import FastSlowError
from fastslow.tasks.answers import after_thinking, boxed_missing_reason, last_boxed, shorten
from fastslow.tasks.base import Problem, Score, TaskBase, check_split

SEED_PROMPT = (
    "You find paths in graphs. You are given an undirected graph as a list of edges, a source node and a "
    "destination node, and you must output one valid path from the source to the destination. Look at the "
    "neighbours of the source first: each one starts a separate branch. Follow the branches to find the one that "
    "leads to the destination, then commit to it. Every two consecutive nodes in your path must be joined by an "
    "edge of the graph. Give the final path as comma-separated node numbers, from the source to the destination, "
    "inside \\boxed{}."
)
USER_TEMPLATE = (
    "The graph below is undirected (bi-directional). Its edges are separated by spaces, and each edge is written as "
    "two node numbers joined by a comma. Find a path from the source node to the destination node and write it as "
    "a comma-separated list of node numbers.\n\n"
    "Graph: {edges}\n"
    "Source: {source}\n"
    "Destination: {destination}\n\n"
    "Reason step by step, then put the path on the last line inside \\boxed{{}}."
)
_INT = re.compile(r"-?[0-9]+")
MAX_TRIES = 1000  # fresh graphs to try per problem before concluding that the parameter space is exhausted


class StarGraphConfigError(FastSlowError, ValueError):
    """Star-graph parameters that cannot make a graph (too few node ids, degree below 2, ...)."""


@dataclass
class _Stream:
    rng: random.Random
    exclude: frozenset
    problems: list = field(default_factory=list)
    seen: set = field(default_factory=set)


class StarGraphTask(TaskBase):
    """Procedural star-graph instances; see the module docstring for generation, splits and scoring."""

    def __init__(self, degree: int = 3, path_length: int = 4, nodes: int = 50, *, val_size: int = 100,
                 test_size: int = 200, train_size: int | None = None, seed: int = 0, seed_prompt: str | None = None,
                 name: str = "star_graph"):
        if degree < 2:
            raise StarGraphConfigError(f"star_graph: degree must be at least 2 (the gold arm and a decoy), "
                                       f"got {degree}")
        if path_length < 2:
            raise StarGraphConfigError(f"star_graph: path_length must be at least 2 (source and destination), "
                                       f"got {path_length}")
        needed = 1 + degree * (path_length - 1)
        if nodes < needed:
            raise StarGraphConfigError(f"star_graph: degree {degree} and path_length {path_length} use {needed} "
                                       f"distinct nodes, but nodes={nodes}")
        if min(val_size, test_size) < 0 or (train_size is not None and train_size < 0):
            raise StarGraphConfigError("star_graph: split sizes must be >= 0")
        self.degree, self.path_length, self.nodes = degree, path_length, nodes
        self.sizes = {"train": train_size, "val": val_size, "test": test_size}
        self.seed, self.name = seed, name
        self.seed_prompt = SEED_PROMPT if seed_prompt is None else seed_prompt
        self.description = (f"star-graph path finding: degree {degree}, path length {path_length}, "
                            f"{nodes} node ids; exact path in \\boxed{{}}")
        self._streams: dict[str, _Stream] = {}

    # ---- generation -------------------------------------------------------------------------------------------

    def _graph(self, rng: random.Random) -> tuple[list[int], list[tuple[int, int]]]:
        """(gold path, shuffled edges in random orientation)."""
        p = self.path_length
        ids = rng.sample(range(self.nodes), 1 + self.degree * (p - 1))
        source, arms = ids[0], [ids[1 + a * (p - 1): 1 + (a + 1) * (p - 1)] for a in range(self.degree)]
        edges = []
        for arm in arms:
            chain = [source] + arm
            edges += [(a, b) if rng.random() < 0.5 else (b, a) for a, b in zip(chain, chain[1:])]
        rng.shuffle(edges)
        return [source] + arms[0], edges

    def _stream(self, split: str) -> _Stream:
        if split not in self._streams:
            held_out = {"val": (), "test": ("val",), "train": ("val", "test")}[split]
            exclude = frozenset().union(*(self._fill(h, self.sizes[h]).seen for h in held_out))
            rng = random.Random(f"star_graph|{self.degree}|{self.path_length}|{self.nodes}|{split}|{self.seed}")
            self._streams[split] = _Stream(rng, exclude)
        return self._streams[split]

    def _fill(self, split: str, n: int) -> _Stream:
        stream = self._stream(split)
        while len(stream.problems) < n:
            for _ in range(MAX_TRIES):
                path, edges = self._graph(stream.rng)
                key = (frozenset(frozenset(e) for e in edges), path[0], path[-1])
                if key not in stream.seen and key not in stream.exclude:
                    break
            else:
                raise StarGraphConfigError(f"star_graph: no new graph for {split} problem {len(stream.problems)} in "
                                           f"{MAX_TRIES} tries; use more nodes or fewer problems")
            stream.seen.add(key)
            text = USER_TEMPLATE.format(edges=" ".join(f"{a},{b}" for a, b in edges), source=path[0],
                                        destination=path[-1])
            stream.problems.append(Problem(
                id=f"{self.name}/{split}/{len(stream.problems)}", text=text,
                metadata={"path": tuple(path), "edges": tuple(edges), "gold": ",".join(map(str, path))}))
        return stream

    def size(self, split: str) -> int | None:
        """How many problems ``split`` holds (None: unlimited)."""
        check_split(split)
        return self.sizes[split]

    def problems(self, split: str, n: int) -> list[Problem]:
        limit = self.size(split)
        if limit is not None and n > limit:
            raise ValueError(f"task {self.name}: asked for {n} {split} problems, the {split} split holds {limit}")
        return list(self._fill(split, n).problems[:n])

    # ---- scoring ----------------------------------------------------------------------------------------------

    def score(self, problem: Problem, completion: str) -> Score:
        gold = problem.metadata["gold"]
        text = after_thinking(str(completion))
        boxed = last_boxed(text)
        if boxed is None:
            return Score(0.0, f"Incorrect: {boxed_missing_reason(text)}. Expected path: {gold}.", False)
        got = "".join(boxed.split())
        if got == gold:
            return Score(1.0, f"Correct: the path {got} is the path from the source to the destination.", True)
        return Score(0.0, f"Incorrect: expected path {gold}, extracted {shorten(got)}. "
                          f"{diagnose(problem.metadata['path'], problem.metadata['edges'], got)}", False)

    def gold_completion(self, problem: Problem) -> str:
        return f"\\boxed{{{problem.metadata['gold']}}}"


def diagnose(path: tuple[int, ...], edges: tuple[tuple[int, int], ...], got: str) -> str:
    """Where the answer ``got`` (whitespace removed, not equal to the gold ``path``) went wrong, in one sentence."""
    parts = got.split(",")
    if not all(_INT.fullmatch(part) for part in parts):
        return "The answer is not a comma-separated list of node numbers."
    nodes = [int(part) for part in parts]
    if nodes == list(path):
        return "The nodes are right but not written exactly as comma-separated integers."
    source, goal = path[0], path[-1]
    if nodes[0] != source:
        return f"The path starts at {nodes[0]}, but the source is {source}."
    if len(nodes) == 1:
        return f"The path stops at the source {source}; it must continue to the destination {goal}."
    edge_set = {frozenset(e) for e in edges}
    left = _left_gold(nodes, path)
    for i, (a, b) in enumerate(zip(nodes, nodes[1:]), 1):
        if frozenset((a, b)) not in edge_set:
            where = (f" It had already left the correct branch at step {left}: from {nodes[left - 1]} it went to "
                     f"{nodes[left]} instead of {path[left]}." if left < i and left < len(path) else "")
            return f"Step {i} ({a},{b}) is not an edge of the graph.{where}"
    if nodes[-1] == goal:  # a tree has one simple path, so a different valid walk to the goal repeats a node
        repeated = next(n for i, n in enumerate(nodes) if n in nodes[:i])
        return (f"Every step is an edge and the path reaches the destination, but it visits {repeated} more than "
                "once; give the simple path, each node once.")
    if left < len(nodes) and left < len(path):
        return (f"Every step is an edge, but at {nodes[left - 1]} the path went to {nodes[left]} instead of "
                f"{path[left]}, leaving the branch that leads to the destination; it ends at {nodes[-1]}, not the "
                f"destination {goal}.")
    return (f"Every step is an edge and follows the correct branch, but the path ends at {nodes[-1]}, "
            f"not the destination {goal}.")


def _left_gold(nodes: list[int], path: tuple[int, ...]) -> int:
    """Index of the first node of ``nodes`` that differs from the gold path (len of the shorter when one is a
    prefix of the other)."""
    for i, (a, b) in enumerate(zip(nodes, path)):
        if a != b:
            return i
    return min(len(nodes), len(path))
