"""Training settings: one dataclass, readable from YAML and written beside every run."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import yaml

from textcl.settings import SEED_MAX, check_float, check_int, check_probability

__all__ = ["TrainConfig", "load_config"]


@dataclass
class TrainConfig:
    """Hyper-parameters of a training run (defaults: unsupervised SimCSE).

    Attributes:
        epochs: passes over the data.
        max_steps: stop after this many optimizer steps (overrides epochs when > 0).
        batch_size: rows per micro-batch (per process); in-batch negatives come from it.
        grad_accum_steps: micro-batches per optimizer step.
        lr: peak learning rate of AdamW.
        weight_decay: AdamW weight decay.
        warmup_ratio: fraction of steps with linear warm-up (then linear decay to 0).
        max_grad_norm: clip the gradient norm to this (0 disables clipping).
        dtype: compute dtype: ``float32``, ``bfloat16``, ``float16`` (CUDA) or ``auto``.
        precision: deprecated alias of ``dtype`` (warns).
        seed: seeds Python, NumPy and torch.
        eval_steps: evaluate every N optimizer steps (and at the end) when an evaluator is set.
        save_steps: write a resumable checkpoint every N optimizer steps (and at the end).
        log_steps: append a metrics line every N optimizer steps.
        output_dir: where models, checkpoints and metrics go.
        gradcache_chunk: if > 0, encode each batch in chunks of this size with
            gradient caching (large batches in little memory).
        no_duplicates: build batches in which no text appears twice (in any text
            column, across all processes): ``True``, ``False``, or ``None`` for
            the view's default (on for pair and triplet views).
        queue_size: if > 0, keep a FIFO queue of this many momentum-encoder
            embeddings of earlier positives as extra InfoNCE negatives (ESimCSE / MoCo).
        momentum: with ``queue_size``, the momentum encoder's EMA factor ``m``
            (``θ_m ← m θ_m + (1 - m) θ`` after every optimizer step); ESimCSE uses 0.995.
    """

    epochs: int = 1
    max_steps: int = 0
    batch_size: int = 64
    grad_accum_steps: int = 1
    lr: float = 3e-5
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    max_grad_norm: float = 1.0
    dtype: str = "float32"
    precision: str | None = None
    seed: int = 42
    eval_steps: int = 125
    save_steps: int = 500
    log_steps: int = 10
    output_dir: str = "out/run"
    gradcache_chunk: int = 0
    report_to: str = "none"
    no_duplicates: bool | None = None
    queue_size: int = 0
    momentum: float = 0.995
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.precision is not None:
            raise ValueError(f"TrainConfig(precision={self.precision!r}) is textcl 0.2's spelling: the compute dtype "
                             f"is dtype={self.precision!r}")
        from textcl.dtype import DTYPES

        if self.dtype not in DTYPES and self.dtype not in ("fp32", "bf16", "fp16"):
            raise ValueError(f"invalid training setting dtype={self.dtype!r}: choose one of {', '.join(DTYPES)}")
        trackers = [t.strip() for t in str(self.report_to).split(",") if t.strip()]
        unknown = [t for t in trackers if t not in ("none", "tensorboard", "wandb")]
        if unknown:
            raise ValueError(f"invalid training setting report_to={self.report_to!r}: choose none, tensorboard or "
                             "wandb (comma-separated for several)")
        for name in ("epochs", "batch_size", "grad_accum_steps", "eval_steps", "save_steps", "log_steps"):
            check_int(name, getattr(self, name))
        for name in ("max_steps", "gradcache_chunk", "queue_size"):
            check_int(name, getattr(self, name), 0)
        check_int("seed", self.seed, 0, SEED_MAX)
        check_float("lr", self.lr, exclusive_minimum=True)
        check_float("weight_decay", self.weight_decay)
        check_float("max_grad_norm", self.max_grad_norm)
        check_probability("warmup_ratio", self.warmup_ratio)
        check_probability("momentum", self.momentum)
        if not (self.no_duplicates is None or isinstance(self.no_duplicates, bool)):
            raise ValueError(f"no_duplicates must be True, False or None, got {self.no_duplicates!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (for JSON, YAML and checkpoints)."""
        return dataclasses.asdict(self)


def load_config(path: str, **overrides: Any) -> TrainConfig:
    """Read a YAML file of ``TrainConfig`` fields; unknown keys are an error naming the known ones."""
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except (yaml.YAMLError, RecursionError) as err:
        reason = "nested too deeply" if isinstance(err, RecursionError) else err
        raise ValueError(f"{path} is not valid YAML: {reason}".replace("\n", " ")) from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not UTF-8 text ({err}): pass a YAML or JSON config file") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a {type(data).__name__}, not a mapping of settings: write one "
                         "'name: value' per line")
    if data.get("schema") == "textcl.train_config":  # a run's train_config.json: its "train" section
        data = {k: v for k, v in (data.get("train") or {}).items() if v is not None}
    data.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return TrainConfig(**data)
