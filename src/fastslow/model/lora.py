"""LoRA through peft, gradient checkpointing, and the adapter-disabled reference policy.

With LoRA only the adapter (A, B matrices) is trained; B starts at zero, so the initial policy equals the base.
The reference policy is then the *same* model with its adapter switched off (``disable_adapter``), not a copy:
no parameters are duplicated, and its logits are the base model's exactly.
"""

from __future__ import annotations

import torch


def is_peft(model) -> bool:
    """A peft-wrapped model (its linear layers carry adapters)."""
    return hasattr(model, "peft_config") and hasattr(model, "get_base_model")


def apply_lora(model, lora):
    """``model`` wrapped by ``get_peft_model`` with ``LoraConfig(task_type="CAUSAL_LM", ...)``."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(task_type="CAUSAL_LM", r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                        target_modules=lora.target_modules)
    try:
        return get_peft_model(model, config)
    except ValueError as err:  # e.g. target modules not found in the model
        from fastslow.config import ConfigError

        raise ConfigError(f"model.lora: {err}") from err


def prepare_policy(model, model_cfg):
    """Apply ``model.lora`` (unless the model already carries an adapter) and ``model.gradient_checkpointing``."""
    if model_cfg.lora is not None and not is_peft(model):
        model = apply_lora(model, model_cfg.lora)
    if model_cfg.gradient_checkpointing:
        # transformers 5.x renamed it activation checkpointing; older versions only have the first name
        if hasattr(model, "activation_checkpointing_enable"):
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if is_peft(model):  # frozen embeddings: the checkpointed blocks still need an input that requires grad
            model.enable_input_require_grads()
    return model


class AdapterDisabledReference(torch.nn.Module):
    """The reference policy of a LoRA run: the policy itself, called with its adapter disabled (and in eval mode,
    without gradients). The policy is held outside the module tree, so this module has no parameters of its own
    and nothing is duplicated; ``forward`` takes whatever the policy's forward takes."""

    def __init__(self, peft_model):
        super().__init__()
        object.__setattr__(self, "_policy", peft_model)  # not a submodule: no parameter sharing or duplication

    @property
    def policy(self):
        return self._policy

    @torch.no_grad()
    def forward(self, *args, **kwargs):
        policy = self._policy
        was_training = policy.training
        policy.eval()
        try:
            with policy.disable_adapter():
                return policy(*args, **kwargs)
        finally:
            policy.train(was_training)


def build_reference(policy, reference: str):
    """The frozen reference policy: ``copy`` (a deepcopy, or the adapter-disabled model under LoRA) or ``none``."""
    import copy

    if reference == "none":
        return None
    if reference != "copy":
        raise ValueError(f"model.reference must be 'copy' or 'none', got {reference!r}")
    if is_peft(policy):
        return AdapterDisabledReference(policy)
    return copy.deepcopy(policy).eval().requires_grad_(False)
