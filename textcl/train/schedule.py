"""Learning-rate schedules as pure functions of the step."""

from __future__ import annotations

__all__ = ["linear_warmup_decay"]


def linear_warmup_decay(step: int, total_steps: int, warmup_steps: int) -> float:
    """Multiplier of the peak learning rate at optimizer step ``step`` (0-based).

    Rises linearly from 0 to 1 over ``warmup_steps``, then falls linearly to 0
    at ``total_steps``. This is the transformers ``linear`` schedule except that
    warm-up starts at ``1 / (warmup_steps + 1)``, so no step is spent at lr 0.
    """
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1) if warmup_steps else 1.0
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))
