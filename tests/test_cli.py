"""CLI smoke tests: every command has --help, and bad input gives a clear one-line error, not a traceback."""

import json

import pytest
from typer.testing import CliRunner

from fastslow.cli import app, main

runner = CliRunner()


@pytest.mark.parametrize("cmd", [[], ["tasks"], ["pretrain-base"], ["eval-base"], ["bench"], ["bench", "sampler"]])
def test_help(cmd):
    result = runner.invoke(app, [*cmd, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_tasks_lists_named_tasks_and_families():
    result = runner.invoke(app, ["tasks"], terminal_width=200)
    assert result.exit_code == 0 and "cipher" in result.output and "mirror" in result.output
    for family in ("reasoning_gym/<dataset>", "codeio", "math", "star_graph", "hover", "mcq"):
        assert family in result.output
    assert "fastslow[tasks]" in result.output  # the install hint survives rich's markup


def test_eval_base_writes_json(tmp_path):
    out = tmp_path / "base.json"
    result = runner.invoke(app, ["eval-base", "--n-explicit", "6", "--n-task", "2", "--task", "mirror",
                                 "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert set(report["explicit_accuracy_by_depth"]) == {"1", "2", "3"}
    mirror = report["tasks"]["mirror"]
    assert 0 <= mirror["seed_prompt_accuracy"] <= mirror["seed_prompt_pass_at_16"] <= 1


@pytest.mark.parametrize("args, message", [
    (["eval-base", "--model", "/no/such/model"], "is not a folder"),
    (["eval-base", "--task", "no-such-task"], "unknown task id 'no-such-task'"),
    (["bench", "sampler", "--backend", "hf", "--dtype", "fp16"], "--dtype 'fp16': choose fp32 or bf16"),
    (["bench", "sampler", "--backend", "sglang"], "--backend ['sglang']: choose from hf, vllm, generate"),
])
def test_bad_input_is_a_clear_error(monkeypatch, capsys, args, message):
    monkeypatch.setattr("sys.argv", ["fst", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert message in " ".join(out.split()) and "Traceback" not in out


def test_pretrain_base_cli_runs(tmp_path):
    out = tmp_path / "m"
    result = runner.invoke(app, ["pretrain-base", "--out", str(out), "--steps", "1"])
    assert result.exit_code == 0, result.output
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()


def test_run_refuses_to_overwrite_a_run_with_checkpoints(tmp_path, tiny_model_dir, monkeypatch, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(f"mode: rl\nmodel: {tiny_model_dir}\noutput_dir: {tmp_path / 'out'}\nsteps: 1\n"
                      "rollout: {problems_per_step: 2, group_size: 2, max_new_tokens: 4}\n"
                      "eval: {problems: 2, k: 1, kl_problems: 0}\n")
    assert runner.invoke(app, ["run", str(config), "--quiet"]).exit_code == 0
    before = (tmp_path / "out" / "metrics.jsonl").read_text()
    monkeypatch.setattr("sys.argv", ["fst", "run", str(config), "--quiet"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert "already holds a run" in " ".join(capsys.readouterr().out.split())
    assert (tmp_path / "out" / "metrics.jsonl").read_text() == before
    assert runner.invoke(app, ["run", str(config), "--quiet", "--resume"]).exit_code == 0
