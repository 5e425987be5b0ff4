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
