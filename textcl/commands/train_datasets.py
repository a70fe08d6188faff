"""``textcl train`` on several datasets: the ``datasets:`` entries of ``--config`` loaded, each with its view and loss.

Each entry (read and checked by :func:`textcl.train.config.read_datasets_section`) names its
``data`` and optionally ``config``, ``split``, ``columns``, ``view``, ``loss`` and ``weight``; what
an entry leaves out comes from the command line (``--split``, ``--view``, ``--loss`` and the loss
options). The run record keeps the entries (with a local file's SHA-256) in ``data.datasets``, so
``textcl train --config OUTPUT/train_config.json`` repeats the run.
"""

from __future__ import annotations

import argparse
import copy
import os
from collections.abc import Callable
from typing import Any

import datasets

from textcl.data import load_data, load_senteval_snli
from textcl.views import View, make_view

__all__ = ["corpus_texts", "entries_record", "entry_inputs", "load_datasets", "load_one"]

_NOT_LOSS_OPTIONS = ("loss", "queue_size", "momentum", "view")  # objective flags that are run settings


def load_one(args: argparse.Namespace, source: str, split: str, columns: Any, config_name: str | None,
             where: str = "--data") -> datasets.Dataset:
    """One dataset: ``senteval-snli:FOLDER`` (NLI triplets of SentEval's SNLI files) or anything :func:`load_data` reads."""
    if source.startswith("senteval-snli:"):
        if config_name:
            raise ValueError(f"{where}: senteval-snli data has no configs; leave out the config")
        return load_senteval_snli(source.split(":", 1)[1], splits=split.split(","))
    return load_data(source, split=split, columns=columns, revision=args.data_revision, token=args.token,
                     cache_folder=args.cache_folder, name=config_name)


def load_datasets(args: argparse.Namespace, entries: list[dict[str, Any]], seed: int,
                  build_loss: Callable[[argparse.Namespace], Any]
                  ) -> tuple[dict[str, datasets.Dataset], dict[str, View], dict[str, Any], dict[str, float]]:
    """Every entry's dataset, view, loss and weight, by the entry's name.

    Raises:
        ValueError: one line naming the entry: data that cannot be read, columns that do not fit the
            view, an unknown view, loss or loss option.
    """
    data, views, losses, weights = {}, {}, {}, {}
    for entry in entries:
        name = entry["name"]
        where = f"datasets entry {name!r}"
        try:
            views[name] = make_view(entry.get("view") or args.view, seed=seed)
            losses[name] = build_loss(_loss_args(args, entry.get("loss"), where))
        except (ValueError, TypeError) as err:
            raise ValueError(f"{where}: {err}") from err
        try:
            data[name] = load_one(args, entry["data"], entry.get("split") or args.split, entry.get("columns"),
                                  entry.get("config"), where)
        except (ValueError, FileNotFoundError) as err:
            raise type(err)(f"{where}: {err}") from err
        width = len(views[name].columns)
        if entry.get("columns") is None and len(data[name].column_names) != width:
            raise ValueError(f"{where}: the {entry.get('view') or args.view} view reads {width} column(s) "
                             f"({', '.join(views[name].columns)}); the data has {', '.join(data[name].column_names)}. "
                             "Pick them with the entry's columns: [...]")
        weights[name] = entry["weight"]
    return data, views, losses, weights


def _loss_args(args: argparse.Namespace, loss: Any, where: str) -> argparse.Namespace:
    """The command's arguments with an entry's loss (a name, or a mapping of name and options) in place."""
    ns = copy.copy(args)
    if loss is None:
        return ns
    spec = {"name": loss} if isinstance(loss, str) else dict(loss)
    choices = getattr(args, "_loss_choices", None) or ()
    if choices and spec["name"] not in choices:
        raise ValueError(f"unknown loss {spec['name']!r}; choose one of {', '.join(choices)}")
    options = [d for d, s in getattr(args, "_sections", {}).items() if s == "command" and d not in _NOT_LOSS_OPTIONS]
    ns.loss = spec.pop("name")
    for key, value in spec.items():
        if key not in options:
            raise ValueError(f"unknown loss option {key!r}; the loss options are: {', '.join(sorted(options))}")
        setattr(ns, key, value)
    return ns


def entries_record(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries as the run record keeps them: each local file or folder identified by its SHA-256."""
    from textcl.data.files import content_sha256
    from textcl.hub import is_local_path

    out = []
    for entry in entries:
        entry = {k: v for k, v in entry.items() if k != "sha256"}
        source = entry["data"].split(":", 1)[1] if entry["data"].startswith("senteval-snli:") else entry["data"]
        if is_local_path(source) and os.path.exists(source):
            entry["sha256"] = content_sha256(source)
        out.append(entry)
    return out


def entry_inputs(entries: list[dict[str, Any]] | None) -> dict[str, str]:
    """Each entry's data by a name for the output guard's message (an output must not be an input)."""
    return {f"datasets entry {e['name']!r}": e["data"] for e in entries or []}


def corpus_texts(data: datasets.Dataset | dict[str, datasets.Dataset], view: View | dict[str, View]) -> list[str]:
    """The texts a view reads, of every dataset (the vocabulary of a word-vector encoder)."""
    if not isinstance(data, dict):
        data, view = {"": data}, {"": view}
    return [t for name, ds in data.items() for c in ds.column_names[:len(view[name].columns)] for t in ds[c]
            if isinstance(t, str)]
