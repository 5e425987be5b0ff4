"""The setting benchmarks' judging pieces: the recovery classifier, the reframe decision rule, the docs blocks,
and the "RL learns" profile as a valid demo config."""

import importlib
import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import pytest

from fastslow.config import parse_config
from fastslow.experiments.suite import Profile, run_config
from fastslow.rulebook import get_task
from fastslow.rulebook.setting import RL_LEARNS_PROFILE

ROOT = Path(__file__).resolve().parents[1]


def load(name: str):
    """A benchmark module (``fastslow.bench.NAME``) or a file of the repository's tooling (a path)."""
    if "/" not in name:
        return importlib.import_module(f"fastslow.bench.{name}")
    spec = importlib.util.spec_from_file_location(Path(name).stem, ROOT / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recovery_counts_the_exact_rule_an_equivalent_one_and_wrong_ones():
    recovery = load("reflector_recovery")
    task = get_task("stutter")  # double|keep_last:4 == keep_last:2|double
    inputs = [p.text for p in task.problems("val", 64)]
    assert recovery.classify("Transform the input. Write each letter twice, then keep only the last 4 letters.",
                             task, inputs) == "exact"
    assert recovery.classify("Keep only the last 2 letters, then write each letter twice.", task, inputs) \
        == "equivalent"
    assert recovery.classify("Transform the input. Write each letter twice.", task, inputs) == "wrong"
    assert recovery.classify("Transform the input.", task, inputs) == "no_rule"
    assert recovery.classify(None, task, inputs) == "no_proposal"


def test_reframe_is_kept_only_beyond_the_seed_spread():
    decide = load("reframe_comparison").decide
    runs = lambda *f: [{"final": x} for x in f]  # noqa: E731
    close = decide({"on": runs(0.70, 0.80, 0.75), "off": runs(0.72, 0.78, 0.74)})
    assert not close["changes_fst"] and "default it off" in close["decision"]
    far = decide({"on": runs(0.90, 0.92, 0.91), "off": runs(0.70, 0.72, 0.71)})
    assert far["changes_fst"] and far["difference"] == pytest.approx(0.20)


def test_the_rl_learns_profile_is_a_valid_demo_config(tmp_path):
    fields = {k: v for k, v in RL_LEARNS_PROFILE.items() if k in Profile.__dataclass_fields__}
    assert set(RL_LEARNS_PROFILE) == set(fields)  # every field of the setting is a demo profile field
    p = replace(Profile(), **fields)
    assert p.rl_steps == pytest.approx(1.5 * p.steps)
    cfg = parse_config(run_config(p, "fst", 0, tmp_path, p.steps, task={"name": p.task, "partial_credit": True}))
    assert cfg.task.name == "tail" and cfg.task.partial_credit
    assert get_task("tail").program.spec == "dedupe|keep_last:3"


def test_docs_blocks_render_from_the_json(tmp_path):
    blocks = load("tools/gen_docs/blocks/setting.py").BLOCKS
    (tmp_path / "reframe-comparison.json").write_text(json.dumps({
        "task": "tail", "steps": 60, "noise": 0.5, "difference": 0.02, "spread": 0.05,
        "decision": "within the seed spread",
        "arms": {"on": [{"final": 0.7, "distinct_per_round": [3, 2]}, {"final": 0.8, "distinct_per_round": [1]}],
                 "off": [{"final": 0.6, "distinct_per_round": [1, 1]}, {"final": 0.7, "distinct_per_round": [1]}]}}))
    table = blocks["reframe-comparison"](tmp_path)
    assert "| reframe on | 70.0 / 80.0 | 75.0 ± 7.1 | 2.00 |" in table
    assert "| reframe off | 60.0 / 70.0 | 65.0 ± 7.1 | 1.00 |" in table
    (tmp_path / "reflector-recovery.json").write_text(json.dumps({
        "minibatch_size": 3, "source": "base model", "tasks": {"cipher": {"program": "p", "calls": 4, "rows": [
            {"noise": 0.5, "recovered": 0.75, "exact": 0.5, "equivalent": 0.25}]}}}))
    assert "| 0.5 (0.5) | 75.0 (50.0 / 25.0) |" in blocks["reflector-recovery"](tmp_path)
    assert "no setting search" in blocks["setting-search"](tmp_path)
