"""``fst demo --quick`` end to end on the shipped base model: the report files exist and hold the summary."""

import json

from typer.testing import CliRunner

from fastslow.cli import app


def test_demo_quick_writes_the_report(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    summary = report["summary"]
    for key in ("speedup_to_rl_peak", "asymptote", "kl_reduction_at_matched_reward", "forgetting", "plasticity",
                "continual", "quadrant", "claims"):
        assert key in summary, key
    assert set(summary["forgetting"]) == {"fst", "rl", "gepa"}
    assert set(summary["quadrant"]) == {"base+seed", "base+evolved", "fst+seed", "fst+evolved"}
    html = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in html and "http://" not in html and "https://" not in html
    assert list(tmp_path.glob("*.png"))
    assert all(c["verdict"] in {"yes", "no", "inconclusive", "not run"} for c in summary["claims"])


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
