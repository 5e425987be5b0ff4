"""The policy's weights as an inference engine needs them: Hugging Face parameter names, LoRA merged in.

An engine that serves the policy (``VLLMSampler``) loads checkpoints written by ``save_pretrained``, so the weights
it is sent after every optimizer step must carry the same names: ``model.layers.0.self_attn.q_proj.weight``, not
peft's ``base_model.model.model.layers.0.self_attn.q_proj.base_layer.weight``. Under LoRA the engine gets the merged
weight ``W + scale * B @ A`` of every adapted layer, computed by peft's own ``get_delta_weight`` (the same math as
``merge_and_unload``) *without* touching the training model: merging in place and unmerging afterwards would
round the base weights (in bf16 visibly), while this only reads them.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from fastslow.model.lora import is_peft


def _unwrap(model):
    """The module itself, not an ``accelerate``/DDP wrapper around it."""
    return getattr(model, "module", model)


@torch.no_grad()
def policy_weights(policy) -> Iterator[tuple[str, torch.Tensor]]:
    """(Hugging Face parameter name, tensor) for every parameter, LoRA merged in; shared (tied) tensors once."""
    policy = _unwrap(policy)
    if not is_peft(policy):
        for name, param in policy.named_parameters():
            yield name, param.detach()
        return
    base = policy.get_base_model()
    deltas: dict[str, torch.Tensor] = {}
    for mod_name, module in base.named_modules():
        lora_a = getattr(module, "lora_A", None)
        if lora_a is None or not hasattr(module, "get_delta_weight") or getattr(module, "merged", False):
            continue
        if getattr(module, "disable_adapters", False):
            continue
        active = [a for a in getattr(module, "active_adapters", []) if a in lora_a]
        if active:
            deltas[f"{mod_name}.base_layer.weight"] = sum(module.get_delta_weight(a) for a in active)
    for name, param in base.named_parameters():
        if ".lora_" in name or "modules_to_save" in name:
            continue
        tensor = param.detach()
        if name in deltas:
            tensor = tensor + deltas.pop(name).to(tensor.dtype)
        yield name.replace(".base_layer.", "."), tensor
    if deltas:  # an adapted layer whose base weight was not found: a peft layout this code does not know
        raise RuntimeError(f"LoRA layers without a base weight: {sorted(deltas)[:3]}")
