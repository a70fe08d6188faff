"""``textcl train`` settings as a run record: what ``train_config.json`` keeps, and how ``--config`` reads it back.

The parser's option groups decide the sections of the flags: ``model`` (the model, rnn and cnn
groups), ``data`` (the data group but ``--view``) and ``command`` (``--view`` and the objective
group). The ``view`` and ``loss`` sections are the objects' own ``get_config()`` (written by the
trainer); the ``train`` section is :class:`~textcl.train.config.TrainConfig`. ``--config FILE`` reads either
a YAML / JSON file of ``TrainConfig`` fields or a whole ``train_config.json``; flags given on the
command line win over the file, and the file wins over the parser's defaults.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["record_sections", "spec_from_args", "apply_run_record", "read_run_record"]

_SECRET = {"token"}  # never written to disk
_MODEL_GROUPS = ("model", "word-vector encoders", "rnn encoder", "cnn encoder", "hugging face hub")


IDENTITY_KEYS = ("sha256", "manifest_sha256")  # content hashes of the inputs, compared on resume


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
            if dest not in sections:
                raise ValueError(f"the run record's {section} section names {dest!r}, which `textcl train` does "
                                 "not take: was it written by a newer textcl?")
            if getattr(args, dest, None) == defaults.get(dest):
                setattr(args, dest, value)


def read_run_record(path: str) -> dict[str, Any] | None:
    """The content of ``path`` if it is a run's ``train_config.json`` (any other file: None)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return None  # load_config names the problem
    return data if isinstance(data, dict) and data.get("schema") == "textcl.train_config" else None
