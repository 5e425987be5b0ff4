"""``fst demo --quick`` end to end on the shipped base model: the report files exist and hold the summary."""

import json

from typer.testing import CliRunner

from fastslow.cli import app


def test_demo_quick_writes_the_report_with_figures_a_broken_loop_would_miss(tmp_path):
    """The quick profile (cipher, seed 0, two GEPA rounds) end to end. Besides the files, the figures it produces
    must fall in ranges that only a working loop reaches: the declared setting holds; GEPA writes the rule into the
    prompt (base+evolved far above base+seed); RL alone has no signal on cipher and stays at zero; FST ends well
    above RL; FST's weights moved (KL > 0) but RL's did not; the base model still follows stated instructions."""
    result = CliRunner().invoke(app, ["demo", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    summary = report["summary"]
    for key in ("speedup_to_rl_peak", "asymptote", "kl_reduction_at_matched_reward", "forgetting", "plasticity",
                "continual", "quadrant", "population", "gains", "setting", "claims", "verdicts"):
        assert key in summary, key
    assert set(summary["forgetting"]) == {"fst", "rl", "gepa"}
    assert set(summary["quadrant"]) == {"base+seed", "base+evolved", "fst+seed", "fst+evolved"}
    html = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in html and "http://" not in html and "https://" not in html
    assert "distinct prompts per" in html and "censoring" in html and "scipy check" in html
    assert list(tmp_path.glob("*.png"))
    assert [c["id"] for c in summary["claims"]] == ["data_efficiency", "asymptote", "kl", "forgetting",
                                                    "plasticity", "continual", "quadrant"]
    assert all(c["verdict"] in {"reproduced", "not reproduced", "inconclusive"} for c in summary["claims"])

    setting = summary["setting"]
    assert setting["task"] == "cipher" and setting["all_met"]
    assert 0.15 <= setting["told_the_rule_greedy"] <= 0.4 and setting["seed_prompt_pass_at_16"] <= 0.05
    q = {cell: v["mean"] for cell, v in summary["quadrant"].items()}
    assert q["base+seed"] <= 0.05 and q["fst+seed"] <= 0.05
    assert q["base+evolved"] >= 0.1 and q["fst+evolved"] >= 0.1
    curves = {m: report_curve(tmp_path, m) for m in ("fst", "rl", "gepa")}
    assert max(y for _, y in curves["rl"]) <= 0.03  # zero-reward regime: RL alone cannot start
    assert curves["fst"][-1][1] >= 0.1 and curves["gepa"][-1][1] >= 0.1
    assert summary["gains"]["fst_minus_rl"]["mean"] >= 0.1
    kl = summary["kl_reduction_at_matched_reward"]["contexts"]
    for ctx in kl.values():
        assert ctx["final_kl"]["rl"]["mean"] == 0.0  # no reward, no update: RL's weights never moved
        assert 0.0 < ctx["final_kl"]["fst"]["mean"] < 0.5
    assert set(kl) == {"seed_prompt", "deployed"}
    sp = summary["speedup_to_rl_peak"]["per_seed"][0]
    assert sp["rl_improved"] is False and sp["bound"] == "lower"  # censored, and reported as such
    before = json.loads((tmp_path / "results.json").read_text())["forgetting"]["before"]
    assert 0.6 <= before <= 0.95
    assert summary["population"]["fst"]["distinct_per_round"]["n"] == 1


def report_curve(out, method):
    results = json.loads((out / "results.json").read_text())
    return [tuple(p) for p in results["data_efficiency"]["curves"][method][0]]


def test_single_experiments_write_json_and_reuse_finished_runs(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["experiment", "quadrant", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "quadrant.json").read_text())
    assert set(record["summary"]["quadrant"]) == {"base+seed", "base+evolved", "fst+seed", "fst+evolved"}
    weights = tmp_path / "fst-s0" / "final" / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    result = runner.invoke(app, ["experiment", "forgetting", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert weights.stat().st_mtime_ns == stamp  # the data-efficiency runs were reused, not retrained
    assert set(json.loads((tmp_path / "forgetting.json").read_text())["summary"]["forgetting"]) == {
        "fst", "rl", "gepa"}


def test_unknown_experiment_is_a_clear_error():
    result = CliRunner().invoke(app, ["experiment", "nope"])
    assert result.exit_code == 2 and "unknown experiment 'nope'" in result.output
