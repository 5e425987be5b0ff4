"""A lean decode step for Llama-family models (Llama, Mistral, Qwen2, Qwen3).

``model.generate`` and even a bare ``model(...)`` call spend most of a small model's decode step in Python
bookkeeping: mask construction, cache objects, attention dispatch, output dataclasses. This module reuses the
model's own submodules (projections, norms, rotary embedding, MLP) and only replaces that bookkeeping with a
preallocated KV cache and a boolean padding mask, so the numbers are the model's, just computed with less
overhead. Prefill still goes through the model's own forward. Tests check the log-probs against a plain
teacher-forced forward.
"""

from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F
from transformers import DynamicCache

SUPPORTED = {"llama", "mistral", "qwen2", "qwen3"}


def cache_kwarg(model) -> str:
    """transformers renamed ``past_key_values`` to ``cache``; use whichever this version takes (a peft wrapper
    forwards its keyword arguments, so look at the model it wraps)."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(inner.forward).parameters else "past_key_values"


_PROJECTIONS = (("self_attn", ("q_proj", "k_proj", "v_proj", "o_proj")),
                ("mlp", ("gate_proj", "up_proj", "down_proj")))


def supports(model) -> bool:
    """Llama-family models whose projections are plain ``nn.Linear`` layers. A peft model (LoRA) or any other
    wrapped linear layer is refused: fusing the raw ``.weight`` tensors would silently drop the adapter's delta."""
    if hasattr(model, "peft_config") or hasattr(model, "get_base_model"):
        return False
    cfg = model.config
    if not (
        getattr(cfg, "model_type", None) in SUPPORTED
        and not getattr(cfg, "sliding_window", None)
        and getattr(cfg, "hidden_act", "silu") == "silu"
    ):
        return False
    layers = getattr(getattr(model, "model", None), "layers", None)
    if layers is None:
        return False
    for layer in layers:
        for block, names in _PROJECTIONS:
            for name in names:
                if type(getattr(getattr(layer, block, None), name, None)) is not torch.nn.Linear:
                    return False
    return True


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class FastDecoder:
    """Prefill with the model's forward, then decode one token per call against a preallocated KV cache."""

    def __init__(self, model):
        self.model = model
        self.core = model.model
        self.cache_kwarg = cache_kwarg(model)
        # Fused q|k|v and gate|up weights: fewer, larger matmuls. Built per decoder, so they follow the live
        # weights of a model that is being trained.
        self.qkv, self.gate_up = [], []
        with torch.no_grad():
            for layer in self.core.layers:
                a, m = layer.self_attn, layer.mlp
                w = torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight])
                b = None
                if a.q_proj.bias is not None:
                    b = torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias])
                sizes = (a.q_proj.out_features, a.k_proj.out_features, a.v_proj.out_features)
                self.qkv.append((w, b, sizes))
                self.gate_up.append((torch.cat([m.gate_proj.weight, m.up_proj.weight]), m.gate_proj.out_features))

    @torch.no_grad()
    def prefill(self, input_ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, max_new: int
                ) -> torch.Tensor:
        cache = DynamicCache()
        out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True,
                         logits_to_keep=1, **{self.cache_kwarg: cache})
        batch, width = input_ids.shape
        self.length = width
        self.keys, self.values = [], []
        for layer in cache.layers:
            k, v = layer.keys, layer.values  # [batch, kv_heads, width, head_dim]
            kbuf = k.new_zeros((batch, k.shape[1], width + max_new, k.shape[3]))
            vbuf = v.new_zeros((batch, v.shape[1], width + max_new, v.shape[3]))
            kbuf[:, :, :width] = k
            vbuf[:, :, :width] = v
            self.keys.append(kbuf)
            self.values.append(vbuf)
        self.valid = torch.zeros((batch, width + max_new), dtype=torch.bool, device=input_ids.device)
        self.valid[:, :width] = mask.bool()
        return out.logits[:, -1]

    def select(self, rows: torch.Tensor) -> None:
        """Keep only ``rows`` (drop finished sequences from the cache)."""
        self.keys = [k[rows] for k in self.keys]
        self.values = [v[rows] for v in self.values]
        self.valid = self.valid[rows]

    @torch.no_grad()
    def step(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Logits of the next token after appending ``tokens`` ([batch]) at ``positions`` ([batch])."""
        t = self.length
        self.valid[:, t] = True
        attn_mask = self.valid[:, None, None, : t + 1]
        h = self.core.embed_tokens(tokens[:, None])
        cos, sin = self.core.rotary_emb(h, positions[:, None])
        cos, sin = cos[:, None], sin[:, None]  # broadcast over heads
        n = h.shape[0]
        for layer, kbuf, vbuf, (w, b, sizes), (gu, inter) in zip(self.core.layers, self.keys, self.values,
                                                                  self.qkv, self.gate_up):
            attn = layer.self_attn
            x = layer.input_layernorm(h)
            q, k, v = (t.view(n, 1, -1, attn.head_dim) for t in F.linear(x, w, b).split(sizes, dim=-1))
            if hasattr(attn, "q_norm"):  # Qwen3
                q, k = attn.q_norm(q), attn.k_norm(k)
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            q = q * cos + _rotate_half(q) * sin
            k = k * cos + _rotate_half(k) * sin
            kbuf[:, :, t : t + 1] = k
            vbuf[:, :, t : t + 1] = v
            o = F.scaled_dot_product_attention(q, kbuf[:, :, : t + 1], vbuf[:, :, : t + 1], attn_mask=attn_mask,
                                               scale=attn.scaling, enable_gqa=True)
            h = h + attn.o_proj(o.transpose(1, 2).reshape(n, 1, -1))
            gate, up = F.linear(layer.post_attention_layernorm(h), gu).split(inter, dim=-1)
            h = h + layer.mlp.down_proj(F.silu(gate) * up)
        self.length = t + 1
        return self.model.lm_head(self.core.norm(h))[:, -1]
