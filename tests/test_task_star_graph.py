"""StarGraphTask: instance structure, seeded and disjoint splits, exact-path reward, and feedback that says where
a wrong path went wrong."""

import re
from collections import Counter

import pytest

from fastslow.tasks import SPLITS, load_task
from fastslow.tasks.star_graph import StarGraphConfigError, StarGraphTask


def _task(**kw):
    return StarGraphTask(**{"val_size": 20, "test_size": 20, **kw})


def _boxed(nodes):
    return "Reasoning...\n\\boxed{" + ",".join(map(str, nodes)) + "}"


def _parse(problem):
    edges = [tuple(map(int, e.split(","))) for e in re.search(r"Graph: (.*)\n", problem.text).group(1).split()]
    source = int(re.search(r"Source: (\d+)", problem.text).group(1))
    goal = int(re.search(r"Destination: (\d+)", problem.text).group(1))
    return edges, source, goal


def _decoy(problem):
    """A full decoy arm from the source: a valid path that ends at the wrong leaf."""
    edges, source, _ = _parse(problem)
    gold = problem.metadata["path"]
    adj = {}
    for a, b in edges:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    walk = [source, min(adj[source] - {gold[1]})]
    while len(walk) < len(gold):
        walk.append(next(iter(adj[walk[-1]] - {walk[-2]})))
    return walk


def test_validate_and_load_through_registry():
    task = load_task("star_graph", {"degree": 3, "path_length": 4, "nodes": 50, "val_size": 10, "test_size": 10},
                     seed=1)
    assert isinstance(task, StarGraphTask) and task.name == "star_graph" and "\\boxed" in task.seed_prompt
    assert task.seed == 1
    task.validate()
    assert StarGraphTask(seed_prompt="Find the path.").seed_prompt == "Find the path."


@pytest.mark.parametrize("degree,path_length,nodes", [(3, 4, 50), (5, 6, 40), (25, 20, 500)])
def test_instance_structure(degree, path_length, nodes):
    task = _task(degree=degree, path_length=path_length, nodes=nodes, val_size=3, test_size=3)
    orientations = Counter()
    for problem in task.problems("val", 3):
        edges, source, goal = _parse(problem)
        gold = problem.metadata["path"]
        assert gold[0] == source and gold[-1] == goal and len(gold) == path_length
        assert len(edges) == degree * (path_length - 1)
        assert len({frozenset(e) for e in edges}) == len(edges)
        degrees = Counter(n for e in edges for n in e)
        assert degrees[source] == degree and degrees[goal] == 1
        assert len(degrees) == 1 + degree * (path_length - 1) and max(degrees) < nodes
        assert sorted(d for n, d in degrees.items() if n != source) == [1] * degree + [2] * (len(degrees) - 1 - degree)
        assert all(frozenset(e) in {frozenset(x) for x in edges} for e in zip(gold, gold[1:]))
        assert problem.metadata["gold"] == ",".join(map(str, gold))
        orientations.update((a, b) in edges for a, b in zip(gold, gold[1:]))
    assert orientations[True] and orientations[False]  # edge orientation does not give the direction of travel
    with pytest.raises(StarGraphConfigError, match="use 13 distinct nodes, but nodes=12"):
        StarGraphTask(degree=4, path_length=4, nodes=12)
    with pytest.raises(StarGraphConfigError, match="degree must be at least 2"):
        load_task("star_graph", {"degree": 1})


def test_deterministic_per_seed_and_seeds_differ():
    a, b, c = _task(seed=1), _task(seed=1), _task(seed=2)
    for split in SPLITS:
        assert a.problems(split, 10) == b.problems(split, 10)
        assert [p.text for p in a.problems(split, 10)] != [p.text for p in c.problems(split, 10)]
    assert _task(seed=1, degree=4).problems("val", 5) != a.problems("val", 5)


def test_prefix_stable_and_sizes():
    task = _task(seed=3)
    long = task.problems("train", 50)
    assert _task(seed=3).problems("train", 7) == long[:7]
    assert task.problems("val", 5) == task.problems("val", 20)[:5]
    with pytest.raises(ValueError, match="21 test problems.*holds 20"):
        task.problems("test", 21)
    with pytest.raises(ValueError, match="11 train problems.*holds 10"):
        _task(train_size=10).problems("train", 11)
    assert task.size("train") is None and task.size("val") == 20


def test_splits_disjoint_with_unique_ids():
    # A tiny parameter space (24 distinct graphs: a source and two leaves out of 4 ids) makes the streams collide,
    # so only the exclusion of held-out graphs keeps the splits apart.
    task = StarGraphTask(degree=2, path_length=2, nodes=4, val_size=4, test_size=4, seed=0)
    graphs = {s: [(frozenset(map(frozenset, _parse(p)[0])), _parse(p)[1:]) for p in task.problems(s, 4)]
              for s in SPLITS}
    assert not set(graphs["val"]) & set(graphs["test"])
    assert not set(graphs["train"]) & (set(graphs["val"]) | set(graphs["test"]))
    problems = [p for s in SPLITS for p in _task().problems(s, 20)]
    assert len({p.text for p in problems}) == 60
    assert len({p.id for p in problems}) == 60 and all(p.id.startswith("star_graph/") for p in problems)


def test_exact_match_reward():
    task = _task()
    problem = task.problems("val", 1)[0]
    gold = list(problem.metadata["path"])
    spaced = "\\boxed{ " + ", ".join(map(str, gold)) + " }"
    assert task.score(problem, spaced) == (1.0, task.score(problem, spaced).feedback, True)
    assert task.score(problem, _boxed(gold[::-1]) + " wait, no: " + _boxed(gold)).reward == 1.0
    assert task.score(problem, _boxed(gold) + " wait, no: " + _boxed(gold[::-1])).reward == 0.0
    assert task.score(problem, f"<think>{_boxed(gold)}</think> I give up").reward == 0.0


def test_feedback_cases():
    task = _task(seed=7)
    problem = task.problems("val", 1)[0]
    gold = list(problem.metadata["path"])
    gold_text = ",".join(map(str, gold))
    source, goal = gold[0], gold[-1]

    def feedback(completion):
        score = task.score(problem, completion)
        assert score.reward == 0.0 and score.correct is False
        return score.feedback

    assert "no \\boxed{} answer was found" in feedback("The path is " + gold_text) and gold_text in feedback("x")
    assert "not a comma-separated list" in feedback("\\boxed{" + "->".join(map(str, gold)) + "}")
    wrong_start = [goal] + gold[1:]
    fb = feedback(_boxed(wrong_start))
    assert f"starts at {goal}, but the source is {source}" in fb and gold_text in fb
    skip = [gold[0], gold[2]] + gold[3:]  # jumps over gold[1]: (gold[0], gold[2]) is not an edge
    fb = feedback(_boxed(skip))
    assert f"Step 1 ({gold[0]},{gold[2]}) is not an edge" in fb
    assert f"expected path {gold_text}, extracted {','.join(map(str, skip))}" in fb
    decoy = _decoy(problem)
    fb = feedback(_boxed(decoy))
    assert f"at {source} the path went to {decoy[1]} instead of {gold[1]}" in fb
    assert f"ends at {decoy[-1]}, not the destination {goal}" in fb
    fb = feedback(_boxed(decoy[:2] + [goal]))  # wrong turn, then an impossible jump to the goal
    assert f"Step 2 ({decoy[1]},{goal}) is not an edge" in fb
    assert f"already left the correct branch at step 1: from {source} it went to {decoy[1]}" in fb
    fb = feedback(_boxed(gold[:-1]))
    assert f"follows the correct branch, but the path ends at {gold[-2]}, not the destination {goal}" in fb
    fb = feedback(_boxed(gold[:2] + [gold[0]] + gold[1:]))  # a valid walk that revisits the source
    assert f"visits {gold[0]} more than once" in fb
    assert "written exactly" in feedback("\\boxed{" + ",".join(["0" + str(n) for n in gold]) + "}")
    assert "never closed" in feedback("\\boxed{" + gold_text)
