"""Training: trainer, schedules, checkpoints and multi-process helpers."""

__all__: list[str] = []
