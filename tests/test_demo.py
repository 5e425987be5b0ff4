"""``fst demo --quick`` end to end on the shipped base model: the report files exist and hold the summary."""

import json

from typer.testing import CliRunner

from fastslow.cli import app


def top_noise(out):
    return json.loads((out / "rl-no-signal" / "results.json").read_text())["settings"]["reflector_noise"]


def test_demo_quick_writes_both_settings_with_figures_a_broken_loop_would_miss(tmp_path):
    """The quick profile (seed 0, two GEPA rounds) end to end in both headline settings. Besides the files, the
    figures it produces must fall in ranges that only a working loop reaches. rl-no-signal (cipher): the declared
    setting holds; RL alone has no signal and stays at zero, its weights never move, so the claims that need a
    learning RL arm are "not testable here"; FST ends well above RL. rl-learns: the auxiliary experiments ran;
    GEPA writes the rule into the prompt (base+evolved far above base+seed); the base model still follows stated
    instructions; time to accuracy and functional diversity are recorded."""
    result = CliRunner().invoke(app, ["demo", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "before FST: RL improved by" in result.output  # the precondition numbers, printed per seed
    top = json.loads((tmp_path / "report.json").read_text())
    assert set(top["headlines"]) == {"rl-no-signal", "rl-learns"}
    assert top["provenance"]["rules_hash"] and top["provenance"]["command"].startswith("fst demo")
    html = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in html and "http://" not in html and "https://" not in html
    assert html.index("Findings: rl-no-signal") < html.index("Findings: rl-learns") < html.index("Details: ")
    assert html.index("Details: ") < html.index("Run settings") and "not testable here" in html

    s = top["headlines"]["rl-no-signal"]["summary"]
    assert [c["id"] for c in s["claims"]] == ["data_efficiency", "asymptote", "kl", "forgetting", "plasticity",
                                              "continual", "quadrant", "distill"]
    assert s["verdicts"]["distill"] == "not run"  # the FST-distill arm runs in rl-learns only
    setting = s["setting"]
    assert setting["task"] == "cipher" and setting["all_met"]
    rec = setting["reflector_recovery"]  # the simulated reflector's strength, measured in every run
    assert rec["calls"] == 100 and 0.0 <= rec["recovered"] <= 1.0 and rec["noise"] == top_noise(tmp_path)
    assert 0.15 <= setting["told_the_rule_greedy"] <= 0.4 and setting["seed_prompt_pass_at_16"] <= 0.05
    curves = {m: report_curve(tmp_path / "rl-no-signal", m) for m in ("fst", "rl", "gepa")}
    assert max(y for _, y in curves["rl"]) <= 0.03  # zero-reward regime: RL alone cannot start
    assert curves["fst"][-1][1] >= 0.1 and curves["gepa"][-1][1] >= 0.1
    assert s["gains"]["fst_minus_rl"]["mean"] >= 0.1
    for ctx in s["kl_reduction_at_matched_reward"]["contexts"].values():
        assert ctx["final_kl"]["rl"]["mean"] == 0.0  # no reward, no update: RL's weights never moved
        assert 0.0 < ctx["final_kl"]["fst"]["mean"] < 0.5
    assert s["preconditions"]["rl_improved"]["holds"] == [False] and s["preconditions"]["rl_moved"]["holds"] == [False]
    assert s["verdicts"]["data_efficiency"] == s["verdicts"]["kl"] == "not testable here"
    assert s["verdicts"]["forgetting"] == "not run"  # auxiliary experiments run in rl-learns only
    sp = s["speedup_to_rl_peak"]["per_seed"][0]
    assert sp["rl_improved"] is False and sp["bound"] == "lower"  # censored, and reported as such

    s = top["headlines"]["rl-learns"]["summary"]
    assert s["setting"]["partial_credit"] and set(s["setting"]["arms"]["met"]) == {"rl_improves",
                                                                                   "gepa_plateaus_below"}
    assert all(c["verdict"] in {"reproduced", "not reproduced", "inconclusive", "not testable here"}
               for c in s["claims"])
    assert set(s["forgetting"]) == {"fst", "rl", "gepa", "fst-distill"}
    assert s["verdicts"]["distill"] != "not run" and set(s["distill"]["final"]) == {"fst", "fst-distill", "gepa"}
    q = {cell: v["mean"] for cell, v in s["quadrant"].items()}
    assert q["base+evolved"] >= q["base+seed"] + 0.1  # the evolved prompt carries the instruction
    before = json.loads((tmp_path / "rl-learns" / "results.json").read_text())["forgetting"]["before"]
    assert 0.6 <= before <= 0.95
    tta = s["time_to_accuracy"]["per_seed"][0]["arms"]
    assert set(tta) == {"fst", "rl", "gepa", "fst-distill"} and all(a["reached"] is not None for a in tta.values())
    pop = s["population"]["fst"]
    assert pop["functional_per_round"]["n"] == 1 and pop["basis"].startswith("per-anchor outcomes")
    assert 1 <= pop["functional_per_round"]["mean"] <= pop["distinct_strings_per_round"]["mean"]
    costs = json.loads((tmp_path / "rl-learns" / "results.json").read_text())["data_efficiency"]["costs"]["fst"][0]
    assert costs[-1]["wall_s"] > costs[0]["wall_s"] > 0 and costs[-1]["eval_rollouts"] > costs[0]["eval_rollouts"]
    assert costs[-1]["gepa_rollouts"] > 0 and costs[-1]["reflection_calls"] > 0


def report_curve(out, method):
    results = json.loads((out / "results.json").read_text())
    return [tuple(p) for p in results["data_efficiency"]["curves"][method][0]]


def test_single_experiments_write_json_and_reuse_finished_runs(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["experiment", "quadrant", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "quadrant.json").read_text())
    assert record["provenance"]["rules_hash"]
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
