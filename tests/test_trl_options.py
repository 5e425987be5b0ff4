"""engine: trl on the options it honours beyond the loss (LoRA trained, checkpointed, resumed and exported merged;
a loss added through the registry in one file, trained by both engines) and a clear error for each option it
refuses."""

import json
import textwrap

import pytest
import torch

from fastslow.config import ConfigError, parse_config

trl = pytest.importorskip("trl")


def cfg_of(tmp_path, name, **over):
    data = {"mode": "rl", "engine": "trl", "model": "base", "output_dir": str(tmp_path / name), "steps": 2,
            "task": {"name": "tidy", "partial_credit": True},
            "rollout": {"problems_per_step": 2, "group_size": 4, "max_new_tokens": 8},
            "learner": {"lr": 5e-3, "warmup_steps": 1, "drop_zero_variance": False},
            "eval": {"every": 2, "problems": 2, "k": 1, "kl_problems": 2, "kl_context": "both"},
            "checkpoint": {"every": 1, "keep": 3}}
    for key, value in over.items():
        node = data
        *parents, leaf = key.split(".")
        for p in parents:
            node = node[p] if isinstance(node.get(p), dict) else node.setdefault(p, {})
        node[leaf] = value
    return parse_config(data)


# ---- refused options: each message names its field -----------------------------------------------------------
@pytest.mark.parametrize("over,message", [
    ({"learner.shared_prefix": True}, r"learner\.shared_prefix: true works with engine: native only"),
    ({"rollout.backend": "vllm"}, r"rollout\.backend: vllm works with engine: native only"),
    ({"mode": "gepa"}, r"engine: trl trains the weights with TRL, but mode: gepa never updates them"),
])
def test_options_trl_cannot_honour_are_refused_at_validation(tmp_path, over, message):
    with pytest.raises(ConfigError, match=message):
        cfg_of(tmp_path, "refused", **over)


def test_owned_trl_args_and_a_loss_trl_cannot_express_are_refused_by_name(tmp_path):
    from fastslow.integrations.trl import grpo_args

    with pytest.raises(ConfigError, match="trl.args: loss_type, max_steps are set by fastslow"):
        grpo_args(cfg_of(tmp_path, "a", **{"trl.args": {"loss_type": "dapo", "max_steps": 3}}), tmp_path / "c", 1)
    path = tmp_path / "seq_loss.py"
    path.write_text(textwrap.dedent("""
        from fastslow.rl.loss_registry import register_loss
        LOSS = register_loss("needs_sequences", lambda logp, old, adv, c: (None, None), trl=False)
    """))
    with pytest.raises(ConfigError, match=r"learner\.loss: '.*seq_loss\.py:LOSS' cannot run under engine: trl"):
        grpo_args(cfg_of(tmp_path, "b", **{"learner.loss": f"{path}:LOSS"}), tmp_path / "c", 1)
    with pytest.raises(ConfigError, match=r"learner\.loss: unknown loss 'ppo'"):
        cfg_of(tmp_path, "c", **{"learner.loss": "ppo"})


def test_dr_grpo_constant_is_max_new_tokens_not_the_longest_completion(tmp_path):
    from fastslow.rl.learner import learner_config

    assert learner_config(cfg_of(tmp_path, "d", **{"learner.loss": "drgrpo"})).max_completion_len == 8
    assert learner_config(cfg_of(tmp_path, "d", **{"learner.constant_normaliser": 5})).max_completion_len == 5


# ---- LoRA: trains, checkpoints, resumes, exports merged ------------------------------------------------------
def test_lora_under_trl_trains_checkpoints_resumes_and_exports_merged(tmp_path):
    import shutil

    from safetensors.torch import load_file

    from fastslow.integrations.trl import run_trl
    from fastslow.model.base import load_model

    lora = {"r": 4, "alpha": 8.0, "target_modules": "all-linear"}
    cfg = cfg_of(tmp_path, "lora", model={"path": "base", "lora": lora})
    history, _ = run_trl(cfg)
    out = tmp_path / "lora"
    assert (out / "checkpoints/checkpoint-1/adapter_model.safetensors").is_file()  # checkpoints hold the adapter
    final = out / "final"
    assert (final / "model.safetensors").is_file() and not (final / "adapter_config.json").exists()  # merged
    merged, _ = load_model(str(final))  # a plain model folder
    base, _ = load_model("base")
    moved = max((a - b).abs().max().item() for a, b in zip(merged.state_dict().values(), base.state_dict().values()))
    assert moved > 1e-5  # the adapter trained and was merged in
    evals = [h for h in history if h["kind"] == "eval"]
    assert {"kl_to_base_seed", "kl_to_base_lead"} <= evals[-1].keys()  # eval.kl_context: both
    first = load_file(final / "model.safetensors")

    # resume from step 1: the same final weights (same rollouts by their seeds, the optimizer state restored)
    shutil.rmtree(out / "checkpoints/checkpoint-2")
    shutil.rmtree(final)
    run_trl(cfg, resume=True)
    assert json.loads((out / "resumed.json").read_text())["step"] == 1
    second = load_file(final / "model.safetensors")
    assert max((first[k] - second[k]).abs().max().item() for k in first) < 1e-6
    with pytest.raises(ConfigError, match="already holds a run with checkpoints"):
        run_trl(cfg)


# ---- a loss added through the registry, in one file, trained by both engines -------------------------------------
TOY = '''
import torch

from fastslow.rl.loss_registry import register_loss


def toy(logp, behaviour_logp, advantages, config):
    """REINFORCE on the advantage, no importance weight: the smallest loss a user might add."""
    toy.calls += 1
    return -(advantages[:, None] * logp), torch.zeros_like(logp, dtype=torch.bool)


toy.calls = 0
LOSS = register_loss("toy", toy)
'''


@pytest.mark.parametrize("engine", ["native", "trl"])
def test_a_toy_loss_from_one_file_trains_under_both_engines(tmp_path, engine):
    from fastslow.model.base import load_model

    path = tmp_path / "toy_loss.py"
    path.write_text(TOY)
    cfg = cfg_of(tmp_path, engine, engine=engine, **{"learner.loss": f"{path}:LOSS", "eval.kl_problems": 0})
    if engine == "native":
        from fastslow.trainer import Trainer

        trainer = Trainer(cfg)
        trainer.run(progress=False)
        spec, policy = trainer.learner.loss, trainer.learner.policy
    else:
        from fastslow.integrations.trl import build_trl_trainer

        trainer, _ = build_trl_trainer(cfg)
        trainer.train()
        spec, policy = trainer.fst_loss, trainer.accelerator.unwrap_model(trainer.model)
    assert spec.name == "toy" and spec.token_loss.calls >= 2  # the toy loss computed every step's objective
    base, _ = load_model("base")
    moved = max((a - b).abs().max().item() for a, b in zip(policy.state_dict().values(), base.state_dict().values()))
    assert moved > 1e-5 and all(torch.isfinite(p).all() for p in policy.parameters())


def test_logging_sinks_receive_the_trl_engines_records(tmp_path, monkeypatch):
    """logging.tensorboard under engine: trl: rank 0 writes every record to the sink, as the native engine does
    (a recording sink stands in for TensorBoard, which is not installed here)."""
    import fastslow.metrics
    from fastslow.integrations.trl import run_trl

    written = []

    class Recorder:
        def __init__(self, log_dir):
            self.log_dir = log_dir

        def write(self, step, metrics):
            written.append((step, metrics["kind"]))

        def close(self):
            written.append(("closed", None))

    monkeypatch.setattr(fastslow.metrics, "TensorBoardSink", Recorder)
    cfg = cfg_of(tmp_path, "sinks", steps=1, **{"logging.tensorboard": True, "eval.kl_problems": 0})
    run_trl(cfg)
    assert (1, "train") in written and (0, "eval") in written and written[-1] == ("closed", None)
