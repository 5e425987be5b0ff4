"""The docs state what the artefacts say: every generated block of docs/BENCHMARKS.md and README.md equals what
``scripts/gen-docs.py`` produces from docs/results/*.json, and a change on either side is caught."""

import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))  # the generator is repository tooling, not part of the package

from gen_docs.blocks.demo import headlines
from gen_docs.core import BLOCKS, DOC_FILES, MARKER, provenance_flags, regenerate, stale

VERDICT_WORDS = {"reproduced", "not reproduced", "inconclusive", "not testable here"}


def test_generated_docs_match_the_json():
    bad = stale(ROOT)
    assert not bad, f"docs disagree with docs/results (run `python scripts/gen-docs.py`): {bad}"


def test_every_block_is_known_and_every_verdict_is_stated():
    names = [m.group("name") for rel in DOC_FILES for m in MARKER.finditer((ROOT / rel).read_text())]
    assert set(names) <= set(BLOCKS) and "demo-claims" in names and "readme-findings" in names
    heads, _ = headlines(ROOT / "docs/results")
    readme = (ROOT / "README.md").read_text()
    for h in heads.values():
        claims = [c for c in h["summary"]["claims"] if c["verdict"] != "not run"]  # run in the other setting
        assert len(h["summary"]["claims"]) >= 7 and claims and all(c["verdict"] in VERDICT_WORDS for c in claims)
        for verdict in {c["verdict"] for c in claims}:
            assert f"**{verdict}**" in readme


@pytest.fixture
def copy_of_docs(tmp_path):
    for rel in (*DOC_FILES, "docs/results", "src/fastslow/assets/base-model"):
        src, dst = ROOT / rel, tmp_path / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dst)
    return tmp_path


def test_a_changed_number_in_the_json_is_caught(copy_of_docs):
    path = copy_of_docs / "docs/results/demo/report.json"
    report = json.loads(path.read_text())
    head = next(iter(report["headlines"].values())) if "headlines" in report else report  # either layout
    head["summary"]["claims"][0]["verdict"] = {"reproduced": "inconclusive"}.get(
        head["summary"]["claims"][0]["verdict"], "reproduced")
    (report if "headlines" in report else report["settings"])["wall_seconds"] += 60
    path.write_text(json.dumps(report))
    assert {"docs/BENCHMARKS.md: demo-claims", "docs/BENCHMARKS.md: demo-setting",
            "README.md: readme-findings"} <= set(stale(copy_of_docs))


def test_a_hand_edited_table_is_caught(copy_of_docs):
    path = copy_of_docs / "docs/BENCHMARKS.md"
    text = path.read_text()
    body = next(m for m in MARKER.finditer(text) if m.group("name") == "sampler").group("body")
    path.write_text(text.replace(body, body.replace("|", "| 1", 1)))
    assert stale(copy_of_docs) == ["docs/BENCHMARKS.md: sampler"]
    path.write_text(regenerate(path.read_text(), copy_of_docs / "docs/results"))
    assert stale(copy_of_docs) == []


def test_every_table_in_benchmarks_is_generated():
    """A hand-written table of figures would escape the check above: BENCHMARKS.md may only hold generated ones."""
    text = (ROOT / "docs/BENCHMARKS.md").read_text()
    outside = MARKER.sub("", text)
    rows = [line for line in outside.splitlines() if line.lstrip().startswith("|")]
    assert not rows, f"tables outside generated blocks (add a block in tools/gen_docs/blocks/): {rows[:3]}"


def test_the_shipped_demo_verdicts_are_recomputed_from_its_raw_results():
    """report.json's summary is what the current rules compute from the run's raw results.json: no hand-edited
    verdict or number survives. A demo judged by other rules (its rules_hash differs, or it predates the hash) is
    not recomputed (the rules changed on purpose) but must be flagged as such by the docs generator."""
    from fastslow.experiments.report import jsonable, summarise
    from fastslow.experiments.summary import rules_hash

    folder = ROOT / "docs/results/demo"
    report = json.loads((folder / "report.json").read_text())
    shipped = ({n: (folder / h["folder"], h["summary"]) for n, h in report["headlines"].items()}
               if "headlines" in report else {"demo": (folder, report["summary"])})
    for name, (where, summary) in shipped.items():
        if summary.get("rules_hash") != rules_hash():
            assert any(f.startswith("demo/") and ("other verdict rules" in f or "recovered" in f)
                       for f in provenance_flags(ROOT / "docs/results")), name
            continue
        results = json.loads((where / "results.json").read_text())
        assert_same_summary(jsonable(summarise(results)), summary, name)


def test_provenance_flags_name_dirty_recovered_and_other_rules(tmp_path):
    from fastslow.experiments.summary import rules_hash

    good = {"commit": "a" * 40, "dirty": False, "rules_hash": rules_hash()}
    files = {"ok.json": {"provenance": good}, "none.json": {"x": 1},
             "dirty.json": {"provenance": {**good, "dirty": True}},
             "old.json": {"provenance": {"recovered": True, "commit": "b" * 40}},
             "rules.json": {"provenance": {**good, "rules_hash": "0" * 16}}}
    for name, data in files.items():
        (tmp_path / name).write_text(json.dumps(data))
    flags = {f.split(": ")[0]: f for f in provenance_flags(tmp_path)}
    assert set(flags) == {"none.json", "dirty.json", "old.json", "rules.json"}
    assert "dirty work tree" in flags["dirty.json"] and "recovered" in flags["old.json"]
    assert "other verdict rules" in flags["rules.json"] and "no provenance" in flags["none.json"]


def test_every_result_file_carries_provenance():
    for path in (ROOT / "docs/results").rglob("*.json"):
        assert isinstance(json.loads(path.read_text()).get("provenance"), dict), path


# Figures re-derived on another CPU (curve fits through BLAS/LAPACK) agree to about 1e-8, not bitwise (Intel vs AMD
# gave A = 0.6581844556 vs 0.6581844612): floats are compared within this relative/absolute tolerance, every
# string (verdicts, reasons, notes), bool and int exactly.
REL_TOL, ABS_TOL = 1e-6, 1e-9


def assert_same_summary(got, want, path="summary"):
    """Recursive equality with floats compared within REL_TOL/ABS_TOL and everything else exactly. A verdict's
    reason string quotes numbers at 3 significant digits, so it too must match exactly."""
    if isinstance(want, float) or isinstance(got, float):
        assert isinstance(got, (int, float)) and isinstance(want, (int, float)), f"{path}: {got!r} vs {want!r}"
        assert got == pytest.approx(want, rel=REL_TOL, abs=ABS_TOL), f"{path}: {got!r} vs {want!r}"
    elif isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{path}: keys {sorted(got)} vs {sorted(want)}"
        for k in want:
            assert_same_summary(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{path}: {got!r} vs {want!r}"
        for i, (a, b) in enumerate(zip(got, want)):
            assert_same_summary(a, b, f"{path}[{i}]")
    else:
        assert got == want, f"{path}: {got!r} vs {want!r}"


def test_summary_comparison_tolerates_last_bits_but_not_verdicts():
    a = {"A": 0.6581844556, "verdict": "reproduced", "n": 3, "xs": [1.0, None]}
    assert_same_summary({"A": 0.6581844612, "verdict": "reproduced", "n": 3, "xs": [1.0 + 1e-12, None]}, a)
    for bad in ({**a, "verdict": "inconclusive"}, {**a, "A": 0.6582}, {**a, "n": 2}, {**a, "xs": [1.0]}):
        with pytest.raises(AssertionError):
            assert_same_summary(bad, a)


def test_step_time_targets_are_judged_on_the_mean_over_seeds():
    from gen_docs.blocks.step_time import _step_time

    d = json.loads((ROOT / "docs/results/bench-step-time.json").read_text())
    r = d["same_work_seeds"]["ratios"]["fst_reuse"]["per_token_amortised"]
    r.update(mean=0.9, std=0.01)
    assert "0.90 ± 0.01x per trained token (met)" in _step_time(d)
    r.update(mean=1.05, std=0.01)
    assert "1.05 ± 0.01x per trained token (not met)" in _step_time(d)
    r.update(mean=1.05, std=0.2)
    assert "1.05 ± 0.20x per trained token (not met; within one standard deviation of the target)" in _step_time(d)


def test_demo_blocks_read_the_two_setting_layout(tmp_path):
    """The docs blocks render a demo in the current layout (one folder per setting, ``headlines`` on top) as well
    as the older single-headline report shipped in docs/results: built here from the report tests' results."""
    from test_report import _results

    from fastslow.experiments.report import build

    demo = tmp_path / "demo"
    heads = {}
    for name, task in (("rl-no-signal", "cipher"), ("rl-learns", "stutter")):
        results = _results()
        results["settings"].update(steps=60, rl_steps=90, reflector_noise=0.5, lr=2e-4, partial_credit=False)
        results["setting"] = {"name": name, "task": task, "program": "x|y", "told_the_rule_greedy": 0.3,
                              "seed_prompt_pass_at_16": 0.0, "criteria": {"told_the_rule_greedy_max": 0.5},
                              "met": {"told_the_rule_greedy": True}, "all_met": True}
        report = build(results, demo / name)
        heads[name] = {"folder": name, "summary": report["summary"], "settings": report["settings"]}
    (demo / "report.json").write_text(json.dumps({"headlines": heads, "wall_seconds": 600.0, "cpu_seconds": 550.0,
                                                  "load_average_1min_at_end": 1.5}))
    claims = BLOCKS["demo-claims"](tmp_path)
    assert "**rl-no-signal**" in claims and "**rl-learns**" in claims and "precondition" in claims
    assert "an RL arm that improved" in claims and claims.count("**reproduced**") == 14
    assert "rl-learns" in BLOCKS["readme-findings"](tmp_path) and "10.0 min" in BLOCKS["demo-setting"](tmp_path)
    assert "**rl-learns**" in BLOCKS["demo-details"](tmp_path)
