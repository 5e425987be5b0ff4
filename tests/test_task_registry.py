"""The one task resolver: every accepted id form, plug-ins by module:attr, file path and entry point, task streams,
and the errors a plug-in author meets (each naming the culprit)."""

import textwrap
import uuid

import pytest
from typer.testing import CliRunner

from fastslow.cli import app, main
from fastslow.config import ConfigError, parse_config
from fastslow.errors import UnknownTaskError
from fastslow.rulebook import RulebookTask
from fastslow.tasks import Problem, Score, TaskLoadError, load_task
from fastslow.trainer import build_tasks, check_reflector_fits
from helpers import user_module

PLUGIN = '''
from fastslow.tasks.base import Problem, Score, TaskBase


class Echo(TaskBase):
    """Repeat the input: a minimal plug-in that follows the Task contract."""

    name = "echo"
    seed_prompt = "Repeat the input."
    description = "repeat the input"

    def __init__(self, length=3, seed=0):
        self.length, self.seed = length, seed

    def problems(self, split, n):
        offset = {"train": 0, "val": 1000, "test": 2000}[split]
        return [Problem(f"echo/{split}/{i}", "ab"[(self.seed + i) % 2] * self.length + str(offset + i),
                        {"target": "ab"[(self.seed + i) % 2] * self.length + str(offset + i)}) for i in range(n)]

    def score(self, problem, completion):
        got, want = completion.strip(), problem.metadata["target"]
        return Score(float(got == want), f"expected {want!r}, got {got!r}")

    def gold_completion(self, problem):
        return problem.metadata["target"]


def make(length=3, seed=0):
    return Echo(length, seed)


def make_unseeded(length):
    task = Echo(length)
    task.seed = -1
    return task


class NoScore:
    name = "noscore"
    seed_prompt = "p"

    def problems(self, split, n):
        return []

    def render(self, problem, system_prompt):
        return []


def make_noscore():
    return NoScore()


def make_nameless():
    task = Echo()
    task.name = None
    return task


def make_broken(path="missing.jsonl"):
    raise ValueError(f"cannot open {path}")
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A plug-in module (unique name) on sys.path; returns its module name."""
    return user_module(tmp_path, monkeypatch, "plug", PLUGIN, "plugins")


def write_module(tmp_path, monkeypatch, source: str) -> str:
    name = f"mod_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


# -- built-in ids ------------------------------------------------------------------------------------------------

def test_rulebook_id_and_short_form():
    full, short = load_task("rulebook/mirror", seed=3), load_task("mirror", seed=3)
    assert isinstance(full, RulebookTask) and full.name == short.name == "mirror"
    assert full.program == short.program and full.seed == 3
    assert [p.text for p in full.problems("val", 5)] == [p.text for p in short.problems("val", 5)]


def test_task_name_config_keeps_working():
    cfg = parse_config({"task": {"name": "tidy"}, "seed": 2})
    (task,) = build_tasks(cfg)
    assert isinstance(task, RulebookTask) and task.name == "tidy" and task.seed == 2
    (task,) = build_tasks(parse_config({"task": {"id": "rulebook/tidy", "name": "tidy"}}))
    assert task.name == "tidy"
    (task,) = build_tasks(parse_config({}))  # default
    assert task.name == "tidy"


@pytest.mark.parametrize("task_id", ["no-such-task", "nosuchfamily/thing"])
def test_unknown_id_lists_the_families(task_id):
    with pytest.raises(UnknownTaskError) as info:
        load_task(task_id)
    message = str(info.value)
    assert repr(task_id) in message
    for pattern in ("rulebook/<name>", "reasoning_gym/<dataset>", "codeio", "math", "star_graph", "hover", "mcq",
                    "package.module:attr"):
        assert pattern in message


def test_unknown_rulebook_name():
    with pytest.raises(UnknownTaskError, match="mirror"):
        load_task("rulebook/nope")


# -- module:attr -------------------------------------------------------------------------------------------------

def test_task_class_with_args_and_run_seed(plugin):
    task = load_task(f"{plugin}:Echo", {"length": 5}, seed=7)
    assert type(task).__name__ == "Echo" and task.length == 5 and task.seed == 7
    task.validate(n=4)
    assert task.problems("train", 3) == task.problems("train", 3)


def test_factory_called_with_task_args(plugin):
    task = load_task(f"{plugin}:make", {"length": 2}, seed=4)
    assert (task.length, task.seed) == (2, 4)
    assert load_task(f"{plugin}:make", {"length": 2, "seed": 9}, seed=4).seed == 9  # args win over the run seed
    assert load_task(f"{plugin}:make_unseeded", {"length": 1}, seed=4).seed == -1  # no seed parameter: not passed
    # the seed prompt can be replaced from the config
    assert load_task(f"{plugin}:make", seed_prompt="Copy it.").seed_prompt == "Copy it."


def test_plugin_task_scores_through_the_contract(plugin):
    task = load_task(f"{plugin}:make")
    problem = task.problems("val", 1)[0]
    assert isinstance(problem, Problem)
    messages = task.render(problem, "Repeat the input.")
    assert messages == [{"role": "system", "content": "Repeat the input."}, {"role": "user", "content": problem.text}]
    assert task.score(problem, problem.metadata["target"]) == Score(1.0, f"expected {problem.text!r}, "
                                                                         f"got {problem.text!r}")


def test_file_path_target(tmp_path):
    path = tmp_path / "nested" / "my_task_file.py"
    path.parent.mkdir()
    path.write_text(PLUGIN)
    task = load_task(f"{path}:make", {"length": 4}, seed=1)
    assert (task.name, task.length, task.seed) == ("echo", 4, 1)
    with pytest.raises(TaskLoadError, match="does not exist"):
        load_task(f"{tmp_path / 'missing.py'}:make")


def test_module_that_fails_to_import_is_named_with_its_error(tmp_path, monkeypatch):
    broken = write_module(tmp_path, monkeypatch, "import no_such_dependency_xyz\n")
    with pytest.raises(TaskLoadError) as info:
        load_task(f"{broken}:make")
    message = str(info.value)
    assert repr(broken) in message and "ModuleNotFoundError" in message and "no_such_dependency_xyz" in message

    raising = write_module(tmp_path, monkeypatch, "raise RuntimeError('bad global state')\n")
    with pytest.raises(TaskLoadError, match=rf"{raising}.*RuntimeError: bad global state"):
        load_task(f"{raising}:make")

    with pytest.raises(TaskLoadError, match="could not import module 'not_a_module_at_all'"):
        load_task("not_a_module_at_all:make")


def test_missing_attribute_is_named(plugin):
    with pytest.raises(TaskLoadError, match=rf"module '{plugin}' has no attribute 'nothing_here'"):
        load_task(f"{plugin}:nothing_here")


def test_object_without_the_contract_names_the_missing_method(plugin):
    with pytest.raises(TaskLoadError) as info:
        load_task(f"{plugin}:make_noscore")
    message = str(info.value)
    assert "NoScore" in message and "score" in message and "problems, render, score" in message
    with pytest.raises(TaskLoadError, match="'name'"):
        load_task(f"{plugin}:make_nameless")


def test_bad_task_args_are_named(plugin):
    with pytest.raises(TaskLoadError) as info:
        load_task(f"{plugin}:make", {"bogus": 1})
    message = str(info.value)
    assert f"{plugin}:make" in message and "task.args" in message and "bogus" in message


def test_a_factory_that_fails_is_named_with_its_error(plugin):
    with pytest.raises(TaskLoadError) as info:
        load_task(f"{plugin}:make_broken", {"path": "data.jsonl"})
    message = str(info.value)
    assert f"{plugin}:make_broken" in message and "ValueError: cannot open data.jsonl" in message


def test_bad_plugin_is_a_clean_cli_error(plugin, monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["fst", "eval-base", "--task", f"{plugin}:make_noscore"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    out = " ".join(capsys.readouterr().out.split())
    assert "lacks the method(s) score" in out and "Traceback" not in out


# -- entry points ------------------------------------------------------------------------------------------------

def test_entry_point_plugin_resolved_and_listed(plugin, tmp_path, monkeypatch):
    site = tmp_path / "site"
    dist = site / "fastslow_echo_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fastslow-echo-plugin\nVersion: 0.1\n")
    ep_name = f"echo_{plugin}"
    (dist / "entry_points.txt").write_text(f"[fastslow.tasks]\n{ep_name} = {plugin}:make\n")
    monkeypatch.syspath_prepend(str(site))

    task = load_task(ep_name, {"length": 6}, seed=2)
    assert (task.name, task.length, task.seed) == ("echo", 6, 2)
    (task,) = build_tasks(parse_config({"mode": "rl", "task": {"id": ep_name}}))
    assert task.name == "echo"

    result = CliRunner().invoke(app, ["tasks"])
    assert result.exit_code == 0, result.output
    assert ep_name in result.output and f"{plugin}:make" in " ".join(result.output.split())
    with pytest.raises(UnknownTaskError, match=f"plug-ins: .*{ep_name}"):
        load_task("still-unknown")


# -- task streams ------------------------------------------------------------------------------------------------

def test_task_stream_takes_the_same_ids(plugin):
    cfg = parse_config({"mode": "rl", "seed": 5, "task": {"stream": [
        "rulebook/mirror", {"id": f"{plugin}:make", "args": {"length": 2}}, "caesar", f"{plugin}:Echo"]}})
    tasks = build_tasks(cfg)
    assert [t.name for t in tasks] == ["mirror", "echo", "caesar", "echo"]
    assert (tasks[1].length, tasks[1].seed) == (2, 5)
    assert tasks[3].length == 3


def test_task_stream_with_a_bad_id_is_named(plugin):
    cfg = parse_config({"mode": "rl", "task": {"stream": ["rulebook/mirror", {"id": f"{plugin}:make",
                                                                              "args": {"nope": 1}}]}})
    with pytest.raises(TaskLoadError, match="nope"):
        build_tasks(cfg)


# -- the reflector choice ----------------------------------------------------------------------------------------

def test_rulebook_reflector_on_a_plugin_task_is_a_config_error(plugin, tmp_path, monkeypatch, capsys):
    for mode in ("fst", "gepa"):
        cfg = parse_config({"mode": mode, "task": {"id": f"{plugin}:make"}, "rollout": {"group_size": 4}})
        with pytest.raises(ConfigError) as info:
            check_reflector_fits(cfg, build_tasks(cfg))
        message = str(info.value)
        assert "population.reflector.kind" in message and "'echo'" in message
        assert "kind: llm" in message and "kind: python" in message
    # fine: rl mode (no reflector), a Rulebook task, or another reflector kind
    cfg = parse_config({"mode": "rl", "task": {"id": f"{plugin}:make"}})
    check_reflector_fits(cfg, build_tasks(cfg))
    cfg = parse_config({"mode": "fst", "task": {"id": "rulebook/mirror"}, "rollout": {"group_size": 4}})
    check_reflector_fits(cfg, build_tasks(cfg))
    cfg = parse_config({"mode": "fst", "task": {"id": f"{plugin}:make"}, "rollout": {"group_size": 4},
                        "population": {"reflector": {"kind": "llm"}}})
    check_reflector_fits(cfg, build_tasks(cfg))
    # and through the CLI: a one-line error before any model is loaded
    config = tmp_path / "c.yaml"
    config.write_text(f"mode: gepa\nmodel: /no/such/model\noutput_dir: {tmp_path / 'out'}\n"
                      f"task: {{id: '{plugin}:make'}}\nrollout: {{group_size: 4}}\n")
    monkeypatch.setattr("sys.argv", ["fst", "run", str(config), "--quiet"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    out = " ".join(capsys.readouterr().out.split())
    assert "only works on Rulebook tasks" in out and "Traceback" not in out
