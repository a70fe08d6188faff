"""``textcl train`` settings as a run record: what ``train_config.json`` keeps, and how ``--config`` reads it back.

The parser's option groups decide the sections of the flags: ``model`` (the model, rnn and cnn
groups), ``data`` (the data group but ``--view``) and ``command`` (``--view`` and the objective
group). The ``view`` and ``loss`` sections are the objects' own ``get_config()`` (written by the
trainer); the ``train`` section is :class:`~textcl.train.config.TrainConfig`. ``--config FILE`` reads either
a YAML / JSON file of ``TrainConfig`` fields or a whole ``train_config.json``; flags given on the
command line win over the file, and the file wins over the parser's defaults. A run on several
datasets keeps its ``datasets:`` entries in ``data.datasets`` (see :mod:`textcl.commands.train_datasets`).
The ``evaluator`` section records the dev evaluator (``--eval-sts``: its kind, data folder, task, batch
size and dtype; its steps are ``train.eval_steps``), so a repeated run evaluates and selects as the first did.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["EVALUATOR_SECTION", "apply_run_record", "evaluator_record", "read_run_record", "record_sections",
           "spec_from_args"]

_SECRET = {"token"}  # never written to disk
_MODEL_GROUPS = ("model", "word-vector encoders", "rnn encoder", "cnn encoder", "hugging face hub")


IDENTITY_KEYS = ("sha256", "manifest_sha256")  # content hashes of the inputs, compared on resume
EVALUATOR_SECTION = "evaluator"
STS_DEV_KIND = "sts_dev"  # --eval-sts: textcl.train.evaluators.STSDevEvaluator


def record_sections(parser: argparse.ArgumentParser) -> None:
    """Remember which option belongs to which section, and every option's default."""
    sections: dict[str, str] = {}
    for group in parser._action_groups:  # argparse keeps groups in this (private but stable) list
        title = (group.title or "").lower()
        section = ("model" if title.startswith(_MODEL_GROUPS) else "data" if title == "data"
                   else "loss" if title == "objective" else None)
        if section is None:
            continue
        for action in group._group_actions:
            if action.dest in _SECRET or action.dest == argparse.SUPPRESS:
                continue
            sections[action.dest] = "command" if action.dest == "view" or section == "loss" else section
    defaults = {a.dest: a.default for a in parser._actions if a.dest != argparse.SUPPRESS}
    parser.set_defaults(_sections=sections, _defaults=defaults)


def spec_from_args(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The ``model`` / ``data`` / ``view`` / ``loss`` sections of a run, from parsed arguments."""
    spec: dict[str, dict[str, Any]] = {"model": {}, "data": {}, "command": {}}
    for dest, section in getattr(args, "_sections", {}).items():
        spec[section][dest] = getattr(args, dest, None)
    return spec


def apply_run_record(args: argparse.Namespace, record: dict[str, Any]) -> None:
    """Fill options the user did not pass from a ``train_config.json`` record (in place).

    Raises:
        ValueError: the record names an option this textcl does not have.
    """
    defaults = getattr(args, "_defaults", {})
    sections = getattr(args, "_sections", {})
    # view and loss hold the objects' configs; the flags that built them are in "command"
    # (records of textcl 0.2 kept the flags in "view" and "loss")
    flag_sections = ("model", "data", "command") if "command" in record else ("model", "data", "view", "loss")
    for section in flag_sections:
        for dest, value in (record.get(section) or {}).items():
            if dest in IDENTITY_KEYS:
                continue  # what the inputs were (content hashes), not a setting
            if dest == "datasets":
                continue  # several datasets: read by textcl.train.config.read_datasets_section
            if dest not in sections:
                raise ValueError(f"the run record's {section} section names {dest!r}, which `textcl train` does "
                                 "not take: was it written by a newer textcl?")
            if getattr(args, dest, None) == defaults.get(dest):
                setattr(args, dest, value)
    _apply_evaluator(args, record.get(EVALUATOR_SECTION))


def evaluator_record(data_dir: str, evaluator: Any) -> dict[str, Any]:
    """The ``evaluator`` section of ``--eval-sts DATA_DIR``'s evaluator (an ``STSDevEvaluator``)."""
    return {"kind": STS_DEV_KIND, "data_dir": data_dir, "task": evaluator.task, "batch_size": evaluator.batch_size,
            "dtype": evaluator.dtype, "metric": evaluator.metric}


def _apply_evaluator(args: argparse.Namespace, section: dict[str, Any] | None) -> None:
    """Set ``args.eval_sts`` and ``args.eval_settings`` from a record's ``evaluator`` section (``--eval-sts`` wins)."""
    if not section or getattr(args, "eval_sts", None) is not None:
        return
    if section.get("kind") != STS_DEV_KIND:
        raise ValueError(f"the run record's evaluator ({section.get('kind') or section.get('class')!r}) was not "
                         "built by `textcl train`, which cannot repeat it: pass --eval-sts FOLDER for STS-B dev "
                         "selection, or delete the evaluator section to train without one")
    args.eval_sts = section["data_dir"]
    args.eval_settings = {k: section[k] for k in ("task", "batch_size", "dtype") if k in section}


def read_run_record(path: str) -> dict[str, Any] | None:
    """The content of ``path`` if it is a run's ``train_config.json`` (any other file: None)."""
    from textcl.train.config import read_settings_file

    try:
        data = read_settings_file(path)
    except (OSError, ValueError):
        return None  # load_config names the problem
    return data if data.get("schema") == "textcl.train_config" else None
