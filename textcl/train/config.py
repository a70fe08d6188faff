"""Training settings: one dataclass, readable from YAML and written beside every run."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from textcl.settings import SEED_MAX, check_choice, check_float, check_int, check_probability

MULTI_DATASET_BATCH_SAMPLERS = ("proportional", "round_robin")  # sentence-transformers' names

__all__ = ["DATASETS_SECTION", "MULTI_DATASET_BATCH_SAMPLERS", "TrainConfig", "load_config", "read_datasets_section"]

DATASETS_SECTION = "datasets"


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
        multi_dataset_batch_sampler: with several datasets, how batches are drawn (a batch never
            mixes datasets): ``proportional`` (every batch of every dataset, in a seeded random
            order) or ``round_robin`` (one batch of each in turn until the smallest runs out).
        threads: intra-op threads for the whole run; ``None`` chooses them from the free cores at the
            start (:mod:`textcl.threads`). The run records the count it used, and a resumed run uses it.
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
    multi_dataset_batch_sampler: str = "proportional"
    threads: int | None = None
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
        if self.threads is not None:
            check_int("threads", self.threads)
        check_float("lr", self.lr, exclusive_minimum=True)
        check_float("weight_decay", self.weight_decay)
        check_float("max_grad_norm", self.max_grad_norm)
        check_probability("warmup_ratio", self.warmup_ratio)
        check_probability("momentum", self.momentum)
        check_choice("multi_dataset_batch_sampler", self.multi_dataset_batch_sampler, MULTI_DATASET_BATCH_SAMPLERS)
        if not (self.no_duplicates is None or isinstance(self.no_duplicates, bool)):
            raise ValueError(f"no_duplicates must be True, False or None, got {self.no_duplicates!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (for JSON, YAML and checkpoints)."""
        return dataclasses.asdict(self)


def load_config(path: str, **overrides: Any) -> TrainConfig:
    """Read a YAML file of ``TrainConfig`` fields; unknown keys are an error naming the known ones.

    A ``datasets:`` section (several training datasets, read by ``textcl train``) is not a
    setting and is left to :func:`read_datasets_section`.
    """
    data = read_settings_file(path)
    if data.get("schema") == "textcl.train_config":  # a run's train_config.json: its "train" section
        data = {k: v for k, v in (data.get("train") or {}).items() if v is not None}
    data.pop(DATASETS_SECTION, None)
    data.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return TrainConfig(**data)


def read_settings_file(path: str) -> dict[str, Any]:
    """The YAML / JSON mapping in ``path``; any problem is a one-line error naming the file.

    JSON is tried first: YAML 1.1 reads a number written like ``3e-05`` (a run record's lr) as a string.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not UTF-8 text ({err}): pass a YAML or JSON config file") from err
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        try:
            data = yaml.safe_load(text) or {}
        except (yaml.YAMLError, RecursionError) as err:
            reason = "nested too deeply" if isinstance(err, RecursionError) else err
            raise ValueError(f"{path} is not valid YAML: {reason}".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a {type(data).__name__}, not a mapping of settings: write one "
                         "'name: value' per line")
    return data


DATASET_KEYS = ("name", "data", "config", "split", "columns", "view", "loss", "weight")
_IDENTITY_KEYS = ("sha256",)  # written into a run record beside an entry: what the data was, not a setting


def read_datasets_section(path: str) -> list[dict[str, Any]] | None:
    """The ``datasets:`` section of a YAML config (or of a run's ``train_config.json``), checked; None without one.

    The section is a list of entries, or a mapping ``name: entry``. Each entry is a mapping with
    ``data`` (required: a file, folder or hub dataset) and optionally ``name``, ``config`` (the hub
    dataset's config), ``split``, ``columns`` (a list or comma-separated string, matched to the view
    by position), ``view`` (a ``--view`` spec), ``loss`` (a ``--loss`` name, or a mapping of ``name``
    and the loss options) and ``weight`` (multiplies that dataset's loss; default 1). An entry without
    a name is named after its data (and config).

    Raises:
        ValueError: one line naming the entry and the problem (unknown key, missing data, a duplicate name...).
    """
    data = read_settings_file(path)
    if data.get("schema") == "textcl.train_config":  # a run record keeps the section with the data flags
        data = data.get("data") or {}
    section = data.get(DATASETS_SECTION)
    if section is None:
        return None
    if isinstance(section, dict):
        section = [{"name": k, **v} if isinstance(v, dict) else v for k, v in section.items()]
    if not isinstance(section, list) or not section:
        raise ValueError(f"{path}: 'datasets' must be a non-empty list of entries (or a mapping name: entry), "
                         f"each with at least 'data'; got {section!r:.80}")
    entries = [_dataset_entry(path, i, e) for i, e in enumerate(section)]
    names = [e["name"] for e in entries]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"{path}: two datasets are named {twice[0]!r}; give each entry its own 'name'")
    return entries


def _dataset_entry(path: str, i: int, entry: Any) -> dict[str, Any]:
    """One checked entry of the ``datasets`` section (see :func:`read_datasets_section`)."""
    where = f"{path}: datasets entry {i + 1}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where} is a {type(entry).__name__}; write a mapping with at least 'data: FILE_OR_NAME'")
    unknown = sorted(set(entry) - set(DATASET_KEYS) - set(_IDENTITY_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; known: {', '.join(DATASET_KEYS)}")
    if not isinstance(entry.get("data"), str) or not entry["data"].strip():
        raise ValueError(f"{where} has no 'data': name a file, folder or hub dataset (data: FILE_OR_NAME)")
    for key in ("name", "config", "split", "view"):
        if entry.get(key) is not None and (not isinstance(entry[key], str) or not entry[key].strip()):
            raise ValueError(f"{where}: {key} must be a non-empty string, got {entry[key]!r}")
    columns = entry.get("columns")
    if columns is not None and not (isinstance(columns, str) or (isinstance(columns, list) and columns and all(
            isinstance(c, str) for c in columns))):
        raise ValueError(f"{where}: columns must be a list of column names or a comma-separated string, "
                         f"got {columns!r}")
    loss = entry.get("loss")
    if loss is not None and not (isinstance(loss, str) or (isinstance(loss, dict) and isinstance(loss.get("name"),
                                                                                                  str))):
        raise ValueError(f"{where}: loss must be a loss name or a mapping with 'name' and its options, got {loss!r}")
    weight = check_float(f"{where}: weight", entry.get("weight", 1.0), exclusive_minimum=True)
    name = entry.get("name") or _default_name(entry["data"], entry.get("config"))
    return {**entry, "name": name, "weight": weight}


def _default_name(data: str, config: str | None) -> str:
    """An entry's name from its data: the file's stem or the repo's name, with the config."""
    import os

    stem = os.path.splitext(os.path.basename(data.rstrip("/\\")))[0] or data
    return f"{stem}:{config}" if config else stem
