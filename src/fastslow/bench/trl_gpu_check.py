"""GPU check of engine: trl (issue 10): step times of the TRL engine next to the native engine's on a randomly
initialised ~0.5B Qwen3 (Qwen3-0.6B's shape, the fastslow tokenizer's small vocabulary: ~0.44B parameters).

No network, no weights, no vLLM: the model is built from a ``Qwen3Config``. One process, one GPU, fp32 (as the
native engine's default), the same batch (8 problems x 8 rollouts x 32 new tokens, Rulebook tidy), learning rate
and zero-variance handling for both engines; the first step of each is a warm-up. Then a few fst-mode steps of the
TRL engine (a GEPA round on the GPU). Writes OUT_DIR/trl_gpu_check.json.

    python -m fastslow.bench.trl_gpu_check OUT_DIR [--steps 5]
    python -m fastslow.bench.trl_gpu_check OUT_DIR --smoke     # CPU, a tiny model: checks the script itself
"""

import argparse
import copy
import json
import statistics
import time
from pathlib import Path

import torch
from transformers import Qwen3Config, Qwen3ForCausalLM, TrainerCallback

from fastslow.config import parse_config
from fastslow.model.tokenizer import build_tokenizer

B, G, NEW_TOKENS, LR = 8, 8, 32, 1e-5


SHAPES = {"0.5b": dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
                       num_key_value_heads=8, head_dim=128),  # Qwen3-0.6B's shape
          "smoke": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                        num_key_value_heads=1, head_dim=32)}
CUDA = torch.cuda.is_available()


def sync() -> None:
    if CUDA:
        torch.cuda.synchronize()


def random_qwen3(tok, shape: str = "0.5b") -> Qwen3ForCausalLM:
    config = Qwen3Config(vocab_size=len(tok), **SHAPES[shape], max_position_embeddings=4096,
                         tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(config)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    return model


def prepare(out: Path, smoke: bool):
    """(tokenizer, random model) for a device check writing to ``out``: on the GPU with TF32 matmuls, or with
    ``smoke`` the tiny shape on whatever is there (to check the script itself)."""
    if not smoke:
        assert CUDA, "this check needs a GPU (or --smoke)"
        torch.backends.cuda.matmul.allow_tf32 = True
    out.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer()
    return tok, random_qwen3(tok, "smoke" if smoke else "0.5b")


def config(out: Path, mode: str, engine: str, steps: int):
    return parse_config({
        "mode": mode, "engine": engine, "output_dir": str(out), "steps": steps, "task": {"name": "tidy"},
        "model": {"path": "base", "reference": "none"},
        "rollout": {"problems_per_step": B, "group_size": G, "max_new_tokens": NEW_TOKENS},
        "learner": {"lr": LR, "drop_zero_variance": False, "log_kl": False, "warmup_steps": 0},
        "population": {"size": 4, "cycle_steps": 2, "anchor_size": 8, "budget": 16},
        "eval": {"every": steps + 1, "problems": 2, "k": 1, "kl_problems": 0},
        "checkpoint": {"every": steps + 1},
    })


class Clock(TrainerCallback):
    """Stops first at the end of a step (before the engine's eval and metric gathering)."""

    def __init__(self):
        self.times, self.start = [], 0.0

    def on_step_end(self, *a, **k):
        sync()
        self.times.append(time.perf_counter() - self.start)


class ClockStart(TrainerCallback):
    """Starts last at the beginning of a step (after the engine's GEPA round)."""

    def __init__(self, clock: Clock):
        self.clock = clock

    def on_step_begin(self, *a, **k):
        sync()
        self.clock.start = time.perf_counter()


def native_times(model, tok, out: Path, steps: int) -> list[float]:
    from fastslow.trainer import Trainer

    trainer = Trainer(config(out, "rl", "native", steps), policy=model, tokenizer=tok)
    assert next(trainer.learner.policy.parameters()).is_cuda == CUDA
    times = []
    for _ in range(steps):
        sync()
        start = time.perf_counter()
        trainer.rl_step()
        trainer.step += 1
        sync()
        times.append(time.perf_counter() - start)
    return times


def trl_times(model, tok, out: Path, steps: int, mode: str = "rl") -> tuple[list[float], list[dict]]:
    from fastslow.integrations.trl import build_trl_trainer

    cfg = config(out, mode, "trl", steps)
    trainer, engine = build_trl_trainer(cfg, policy=model, tokenizer=tok)
    clock = Clock()
    trainer.callback_handler.callbacks.insert(0, clock)  # RL step only: GEPA and eval run outside the clock
    trainer.add_callback(ClockStart(clock))
    trainer.train()
    assert next(trainer.model.parameters()).is_cuda == CUDA
    if engine.sink is not None:
        engine.sink.close()
    return clock.times, [h for h in engine.history if h["kind"] == "gepa"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="a tiny model on the CPU (checks the script)")
    args = parser.parse_args()
    tok, base = prepare(args.out, args.smoke)
    n_params = sum(p.numel() for p in base.parameters())
    import trl
    import transformers

    report = {"device": torch.cuda.get_device_name(0) if CUDA else "cpu", "torch": torch.__version__,
              "transformers": transformers.__version__, "trl": trl.__version__, "parameters": n_params,
              "batch": {"problems": B, "rollouts_per_problem": G, "new_tokens": NEW_TOKENS}, "steps": args.steps}
    med = lambda xs: statistics.median(xs[1:]) if len(xs) > 1 else xs[0]  # noqa: E731

    def save():
        from fastslow.provenance import provenance

        (args.out / "trl_gpu_check.json").write_text(json.dumps({**report, "provenance": provenance()}, indent=1))

    start = time.perf_counter()
    native = native_times(copy.deepcopy(base).to("cuda" if CUDA else "cpu"), tok, args.out / "native", args.steps)
    report["native_rl"] = {"step_s": native, "median_s": med(native), "wall_s": time.perf_counter() - start}
    save()
    start = time.perf_counter()
    trl, _ = trl_times(copy.deepcopy(base), tok, args.out / "trl-rl", args.steps)
    report["trl_engine_rl"] = {"step_s": trl, "median_s": med(trl), "wall_s": time.perf_counter() - start}
    report["trl_engine_over_native"] = med(trl) / med(native)
    save()
    start = time.perf_counter()
    fst, rounds = trl_times(copy.deepcopy(base), tok, args.out / "trl-fst", 4, mode="fst")
    report["trl_engine_fst"] = {"step_s": fst, "median_s": med(fst), "wall_s": time.perf_counter() - start,
                                "gepa_rounds": [{k: r[k] for k in ("step", "time_gepa", "metric_calls", "population")}
                                                for r in rounds]}
    if CUDA:
        report["max_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    save()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
