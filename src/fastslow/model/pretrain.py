"""``fst pretrain-base``: build the tokenizer and train the tiny base model from a seed, on the CPU.

The recipe is deterministic for a given seed and thread count: data come from a seeded generator, torch is seeded,
and nothing is downloaded.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict
from transformers import Qwen3Config, Qwen3ForCausalLM

from fastslow.model.pretrain_data import Mixture, sample_pretrain_example
from fastslow.model.tokenizer import build_tokenizer


class PretrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    steps: int = 4800
    batch_size: int = 64
    lr: float = 3e-3
    warmup_steps: int = 200
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    hidden_size: int = 192
    intermediate_size: int = 512
    num_layers: int = 4
    num_heads: int = 6
    num_kv_heads: int = 2
    head_dim: int = 32
    max_positions: int = 256
    threads: int = 1
    bucket: int = 8  # batches drawn together and sorted by length, so little compute goes to padding
    device: str = "cpu"


def build_model(cfg: PretrainConfig, tok) -> Qwen3ForCausalLM:
    config = Qwen3Config(
        vocab_size=len(tok), hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_heads, num_key_value_heads=cfg.num_kv_heads,
        head_dim=cfg.head_dim, max_position_embeddings=cfg.max_positions, tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
        rope_theta=10000.0,
    )
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(config)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.bos_token_id = tok.bos_token_id
    return model


def save_tiny_model(where: Path) -> Path:
    """A tiny randomly initialised model (2 layers, hidden 32) with the real tokenizer, saved as a model folder:
    the cheapest real Qwen3 for plumbing tests and fault benchmarks, where what the weights know does not matter."""
    from fastslow.model.tokenizer import build_tokenizer

    tok = build_tokenizer()
    model = build_model(PretrainConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2,
                                       num_kv_heads=1, head_dim=16), tok)
    model.save_pretrained(where)
    tok.save_pretrained(where)
    return where


def encode_example(tok, messages, answer: str) -> tuple[list[int], list[int]]:
    """Token ids and labels; only the answer and its end token are trained on."""
    prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tok(answer + tok.eos_token, add_special_tokens=False)["input_ids"]
    return prompt_ids + answer_ids, [-100] * len(prompt_ids) + answer_ids


def collate(tok, rows: list[tuple[list[int], list[int]]]) -> dict[str, torch.Tensor]:
    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), tok.pad_token_id)
    labels = torch.full((len(rows), width), -100)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (x, y) in enumerate(rows):
        ids[i, : len(x)] = torch.tensor(x)
        labels[i, : len(y)] = torch.tensor(y)
        mask[i, : len(x)] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def length_bucketed_batches(tok, rng: random.Random, mix: Mixture, batch_size: int, bucket: int
                            ) -> list[list[tuple[list[int], list[int]]]]:
    """``bucket`` batches of similar-length examples, in random order (popped from the end)."""
    rows = [encode_example(tok, *sample_pretrain_example(rng, mix)) for _ in range(batch_size * bucket)]
    rows.sort(key=lambda r: len(r[0]))
    batches = [rows[i : i + batch_size] for i in range(0, len(rows), batch_size)]
    rng.shuffle(batches)
    return batches


def pretrain(cfg: PretrainConfig, out_dir: Path, log: Callable[[str], None] = print) -> dict:
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = random.Random(f"pretrain|{cfg.seed}")
    tok = build_tokenizer()
    model = build_model(cfg, tok).to(cfg.device)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.98))

    def lr_at(step: int) -> float:
        if step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))

    mix = Mixture()
    start, history, ema, queue = time.time(), [], None, []
    for step in range(cfg.steps):
        if not queue:
            queue = length_bucketed_batches(tok, rng, mix, cfg.batch_size, cfg.bucket)
        batch = {k: v.to(cfg.device) for k, v in collate(tok, queue.pop()).items()}
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        loss = model(**batch).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if step % 100 == 0 or step == cfg.steps - 1:
            history.append({"step": step, "loss": round(ema, 4), "seconds": round(time.time() - start, 1)})
            log(f"step {step:5d}  loss {ema:.4f}  {time.time() - start:7.1f}s")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.to("cpu").save_pretrained(out_dir, safe_serialization=True)
    tok.save_pretrained(out_dir)
    record = {"recipe": cfg.model_dump(), "history": history, "train_seconds": round(time.time() - start, 1),
              "num_parameters": sum(p.numel() for p in model.parameters())}
    (out_dir / "pretrain_record.json").write_text(json.dumps(record, indent=1))
    return record
