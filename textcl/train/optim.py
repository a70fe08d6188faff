"""The optimizer and its learning-rate schedule, built in one place for every training loop."""

from __future__ import annotations

import torch

__all__ = ["linear_warmup_decay", "build_optimizer"]


def build_optimizer(params, lr: float, weight_decay: float, device: torch.device, total_steps: int,
                    warmup_steps: int) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """AdamW and its linear warm-up/decay schedule over ``total_steps`` optimizer steps.

    ``fused`` AdamW runs one kernel per parameter instead of ~10 (transformers' ``adamw_torch_fused``).
    """
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=device.type in ("cpu", "cuda"))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: linear_warmup_decay(s, total_steps, warmup_steps))
    return optimizer, scheduler


def linear_warmup_decay(step: int, total_steps: int, warmup_steps: int) -> float:
    """Multiplier of the peak learning rate at optimizer step ``step`` (0-based).

    Rises linearly from 0 to 1 over ``warmup_steps``, then falls linearly to 0
    at ``total_steps``. This is the transformers ``linear`` schedule except that
    warm-up starts at ``1 / (warmup_steps + 1)``, so no step is spent at lr 0.
    """
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1) if warmup_steps else 1.0
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))
