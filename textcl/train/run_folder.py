"""A training run's output folder: one writer, no silent mixing, ``train_config.json`` in one schema.

Rules (``docs/format.md``, "training run"):

- A run holds ``OUTPUT/.textcl.lock`` while it writes (rank 0 under torchrun); a second
  run on the same folder is refused.
- A folder that already holds a run is refused unless the new run resumes it
  (``resume_from``) or replaces it (``overwrite=True``, which deletes the old run's files first).
- On resume: the last complete checkpoint is used (a crash's leftovers are recovered, and
  said so), ``metrics.jsonl`` is cut back to the resumed step, and the run's settings must
  equal the stored ones (the differing keys are listed) unless ``allow_changed_settings``.

``train_config.json``::

    {"schema": "textcl.train_config", "format_version": 1,
     "train": {TrainConfig fields},
     "model": {...}, "data": {...}, "view": {...}, "loss": {...},   # what the run was built from
     "versions": {"textcl": ..., "torch": ..., "transformers": ...}}

The ``model`` / ``data`` / ``view`` / ``loss`` sections hold the command-line settings when
the CLI started the run, so ``textcl train --config OUTPUT/train_config.json`` repeats it.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from textcl.interop.model_card import versions
from textcl.storage import OutputExistsError, OutputLock, atomic_write_json
from textcl.storage.read import read_json, read_torch
from textcl.train.checkpoint import compare_settings, resolve_checkpoint, setting, trim_metrics

__all__ = ["TRAIN_CONFIG", "SCHEMA", "RUN_FILES", "RESUME_KEYS", "RunFolder", "read_train_config", "recorded_threads", "versions",
           "run_path", "MODEL_DIR", "CHECKPOINT_DIR", "METRICS_FILE", "check_run_output", "existing_run_files"]

TRAIN_CONFIG = "train_config.json"
SCHEMA = "textcl.train_config"
FORMAT_VERSION = 1
# what a run writes into its output folder; a folder holding any of them holds a run
MODEL_DIR, CHECKPOINT_DIR, METRICS_FILE = "model", "checkpoint", "metrics.jsonl"
RUN_FILES = (METRICS_FILE, TRAIN_CONFIG, CHECKPOINT_DIR, MODEL_DIR, "runs")
# settings a resumed run must not change
RESUME_KEYS = ("train.lr", "train.batch_size", "train.seed", "train.grad_accum_steps", "train.dtype",
               "model", "data", "view", "loss")


def read_train_config(path: str) -> dict[str, Any]:
    """Read a ``train_config.json`` (this schema), naming the file on any error."""
    try:
        cfg = read_json(path)
    except (OSError, ValueError) as err:
        raise ValueError(f"{path} is not a readable train_config.json ({err}): restore it from the run or "
                         "start without --resume") from err
    if not isinstance(cfg, dict) or cfg.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a textcl train_config.json (no \"schema\": \"{SCHEMA}\")")
    if int(cfg.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(f"{path} has format_version {cfg['format_version']}, newer than this textcl reads "
                         f"({FORMAT_VERSION}): upgrade textcl")
    return cfg


def recorded_threads(output_dir: str, resume_from: str | None) -> int | None:
    """The thread count a resumed run recorded in its ``train_config.json`` (None for a fresh run)."""
    path = run_path(output_dir, TRAIN_CONFIG)
    if not resume_from or not os.path.isfile(path):
        return None
    return (read_train_config(path).get("train") or {}).get("threads")


def run_path(output_dir: str, part: str) -> str:
    """The path of one part of a run's folder: :data:`MODEL_DIR`, :data:`CHECKPOINT_DIR` or :data:`METRICS_FILE`."""
    if part not in (MODEL_DIR, CHECKPOINT_DIR, METRICS_FILE, TRAIN_CONFIG):
        raise ValueError(f"{part!r} is not part of a run folder")
    return os.path.join(output_dir, part)


def existing_run_files(output_dir: str) -> list[str]:
    """The files and folders of an earlier training run that ``output_dir`` holds (empty: none)."""
    return [f for f in RUN_FILES if os.path.exists(os.path.join(output_dir, f))]


def check_run_output(output_dir: str, resume: bool, overwrite: bool) -> None:
    """Refuse an output folder a run could not write; callers check early, :class:`RunFolder` again under its lock.

    Raises:
        LockHeldError: a live run on this machine holds the folder's lock.
        NotADirectoryError: ``output_dir`` is a file, or cannot be created.
        PermissionError: it cannot be written.
        OutputExistsError: it holds an earlier run and neither ``resume`` nor ``overwrite`` is set.
    """
    import socket

    from textcl.storage import LOCK_FILE, LockHeldError, check_parent_writable, read_lock
    from textcl.storage.folders import pid_alive

    if os.path.lexists(output_dir) and not os.path.isdir(output_dir):
        raise NotADirectoryError(f"--output {output_dir} is a file: choose a folder for the run")
    holder = read_lock(output_dir) if os.path.isdir(output_dir) else None
    if (holder and holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int)
            and holder["pid"] != os.getpid() and pid_alive(holder["pid"])):  # the real reason: say it first
        raise LockHeldError(f"another {holder.get('what', 'training run')} (pid {holder['pid']}, started "
                            f"{holder.get('started', '?')}) writes to {os.path.abspath(output_dir)}: wait for it to "
                            "finish or choose another --output", os.path.join(output_dir, LOCK_FILE), holder)
    check_parent_writable(os.path.join(output_dir, "x"))
    existing = existing_run_files(output_dir)
    if existing and not resume and not overwrite:
        raise OutputExistsError(
            f"{os.path.abspath(output_dir)} already holds a training run ({', '.join(existing)}): pass --resume "
            f"{os.path.join(output_dir, CHECKPOINT_DIR)} to continue it, --overwrite to replace it, or choose "
            "another --output")


class RunFolder:
    """Claim, check and prepare ``output_dir`` for a training run (a context manager: holds the lock).

    Args:
        output_dir: the run's folder.
        settings: the run's ``train_config.json`` content without ``schema`` / ``versions``.
        resume_from: the checkpoint folder to resume, if any.
        overwrite: replace an earlier run in ``output_dir``.
        allow_changed_settings: resume even if settings differ from the stored run's.
        is_main: only the main process touches the folder.

    Attributes:
        checkpoint: after ``__enter__``, the checkpoint folder to load (None for a fresh run).
        messages: what the set-up did that the user should know (recoveries, trimmed records).
    """

    def __init__(self, output_dir: str, settings: dict[str, Any], resume_from: str | None = None,
                 overwrite: bool = False, allow_changed_settings: bool = False, is_main: bool = True) -> None:
        self.output_dir = os.path.abspath(output_dir)
        self.settings = settings
        self.resume_from = resume_from
        self.overwrite = overwrite
        self.allow_changed_settings = allow_changed_settings
        self.is_main = is_main
        self.checkpoint: str | None = None
        self.messages: list[str] = []
        self._lock: OutputLock | None = None

    def __enter__(self) -> "RunFolder":
        if os.path.exists(self.output_dir) and not os.path.isdir(self.output_dir):
            check_run_output(self.output_dir, bool(self.resume_from), self.overwrite)
        if self.resume_from:
            self.checkpoint, note = resolve_checkpoint(self.resume_from)
            if note:
                self.messages.append(note)
        if not self.is_main:
            return self
        self._lock = OutputLock(self.output_dir, what="training run").acquire()
        try:
            self._prepare()
        except BaseException:
            self._lock.release()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._lock is not None:
            self._lock.release()

    def _prepare(self) -> None:
        existing = existing_run_files(self.output_dir)
        if self.resume_from:
            self._check_resume()
        elif existing and not self.overwrite:
            check_run_output(self.output_dir, False, False)  # the one refusal, now under the lock
        elif existing:
            for name in existing:
                target = os.path.join(self.output_dir, name)
                shutil.rmtree(target) if os.path.isdir(target) else os.remove(target)
            self.messages.append(f"--overwrite: removed the earlier run's {', '.join(existing)}")
        atomic_write_json(os.path.join(self.output_dir, TRAIN_CONFIG),
                          {"schema": SCHEMA, "format_version": FORMAT_VERSION, **self.settings,
                           "versions": versions()})

    def _check_resume(self) -> None:

        stored_path = os.path.join(self.output_dir, TRAIN_CONFIG)
        state_path = os.path.join(self.checkpoint, "trainer_state.pt")
        state = read_torch(state_path, fix="resume from an undamaged checkpoint, or start again without --resume")
        stored = None
        if isinstance(state.get("record"), str):  # the checkpoint's own record decides, whatever OUTPUT holds
            stored_path = f"the checkpoint {self.checkpoint}"
            stored = json.loads(state["record"])
        elif os.path.isfile(stored_path):
            stored = read_train_config(stored_path)
        if stored is not None:
            differing = compare_settings(stored, self.settings, RESUME_KEYS)
            if differing and not self.allow_changed_settings:
                detail = "; ".join(f"{k}: {setting(stored, k)!r} -> {setting(self.settings, k)!r}" for k in differing)
                raise ValueError(f"the resumed run's settings differ from {stored_path}: {detail}. Resume with the "
                                 "same settings, or pass --allow-changed-settings to continue anyway")
            if differing:
                self.messages.append(f"--allow-changed-settings: continuing with changed {', '.join(differing)}")
        dropped = trim_metrics(run_path(self.output_dir, METRICS_FILE), int(state["step"]))
        if dropped:
            self.messages.append(f"metrics.jsonl: dropped {dropped} record(s) written after step {state['step']}, "
                                 "which the resumed run repeats")

