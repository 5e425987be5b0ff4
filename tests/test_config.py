"""Run configs: YAML in, validated object out, clear errors that name the field."""

import pytest

from fastslow.config import ConfigError, load_config, parse_config


def test_defaults_and_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("mode: rl\nsteps: 7\nlearner:\n  lr: 1.0e-3\ntask:\n  name: mirror\n")
    cfg = load_config(path, {"rollout.group_size": 4})
    assert cfg.steps == 7 and cfg.learner.lr == 1e-3 and cfg.task.name == "mirror" and cfg.rollout.group_size == 4
    assert cfg.learner.loss == "cispo" and cfg.learner.tau == 4.0 and cfg.eval.k == 4


@pytest.mark.parametrize("data, message", [
    ({"learner": {"lrr": 1}}, "learner.lrr: Extra inputs are not permitted"),
    ({"learner": {"lr": "fast"}}, "learner.lr: Input should be a valid number"),
    ({"learner": {"loss": "ppo"}}, "learner.loss: unknown loss 'ppo'; expected cispo, grpo or drgrpo"),
    ({"rollout": {"group_size": 0}}, "rollout.group_size: Input should be greater than or equal to 1"),
    ({"mode": "fst", "population": {"size": 3}}, "must be a multiple of population.size (3)"),
    ({"steps": -1}, "steps: Input should be greater than or equal to 1"),
])
def test_errors_name_the_field(data, message):
    with pytest.raises(ConfigError, match="c.yaml") as err:
        parse_config(data, "c.yaml")
    assert message in str(err.value)


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("mode: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("- a list")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)


def test_shipped_configs_are_valid():
    from pathlib import Path

    configs = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))
    assert len(configs) >= 4
    for path in configs:
        load_config(path)


def test_python_reflector_config():
    cfg = parse_config({"mode": "fst", "population": {"reflector": {
        "kind": "python", "id": "my_pkg.reflect:MyReflector", "args": {"temperature": 0.5}}}})
    r = cfg.population.reflector
    assert (r.kind, r.id, r.args) == ("python", "my_pkg.reflect:MyReflector", {"temperature": 0.5})
    assert parse_config({}).population.reflector.args == {}


@pytest.mark.parametrize("reflector, message", [
    ({"kind": "python"}, "population.reflector.id"),
    ({"kind": "python", "id": ""}, "population.reflector.id"),
    ({"kind": "gpt"}, "population.reflector.kind: Input should be 'rulebook', 'llm' or 'python'"),
    ({"kind": "python", "id": "m:a", "args": [1]}, "population.reflector.args: Input should be a valid dictionary"),
])
def test_python_reflector_config_errors(reflector, message):
    with pytest.raises(ConfigError) as err:
        parse_config({"mode": "fst", "population": {"reflector": reflector}}, "c.yaml")
    assert message in str(err.value)
