"""The live policy for sampling: the unwrapped model with full parameters (gathered under ZeRO-3 / FSDP), and the
``HFSampler`` on it, kept on the trainer so that rollouts, GEPA rounds and evaluations share one."""

from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def full_model(trainer):
    """The unwrapped policy with full parameters (gathered under ZeRO-3 / FSDP), in eval mode, no grad. Every
    process must enter it together under sharding."""
    from trl.models import unwrap_model_for_generation

    with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator,
                                     gather_deepspeed3_params=trainer.args.ds3_gather_for_generation) as model, \
            torch.no_grad(), trainer._dist.summon_full_params(trainer.model_wrapped, recurse=False):
        was_training = model.training
        model.eval()
        try:
            yield model
        finally:
            if was_training:
                model.train()


def sampler_for(model, trainer):
    from fastslow.sampling import HFSampler

    cached = getattr(trainer, "_fst_sampler", None)
    if cached is None or cached.model is not model:
        cached = HFSampler(model, trainer.processing_class,
                           chat_template_kwargs=trainer.fst.cfg.model.chat_template_kwargs)
        trainer._fst_sampler = cached
    return cached
