"""The datasets of a training run, each with its view, loss and weight; several at once, never mixed in a batch.

:class:`~textcl.train.trainer.Trainer` takes one dataset, view and loss, or (as
sentence-transformers' trainer takes a dict of datasets and a dict of losses) a dict or
``DatasetDict`` of datasets with a view and a loss that are either shared or a dict by the
same names. :func:`training_parts` checks them and gives one :class:`TrainingPart` per
dataset; :func:`part_batches` builds the run's :class:`~textcl.train.sampler.EpochBatches`.
Columns are matched to a view's columns by position, in every dataset alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import datasets
import torch

from textcl.data import check_text_columns
from textcl.losses import InfoNCE
from textcl.settings import check_float
from textcl.train.config import TrainConfig
from textcl.train.sampler import EpochBatches, dataset_seed
from textcl.views import View

__all__ = ["DatasetLosses", "DatasetViews", "TrainingPart", "data_record", "part_batches", "training_parts"]


@dataclass
class TrainingPart:
    """One dataset of a run: its rows, the view that reads them, the loss of its batches and that loss's weight.

    ``name`` is None for a run on one dataset (its record and batches are then those of a one-dataset run).
    """

    name: str | None
    data: datasets.Dataset
    view: View
    loss: torch.nn.Module
    weight: float = 1.0
    column_map: dict[str, str] = field(default_factory=dict)  # view column -> data column, by position
    no_duplicates: bool = False

    @property
    def where(self) -> str:
        """How errors name this dataset."""
        return "the data" if self.name is None else f"dataset {self.name!r}"


def training_parts(data: Any, view: Any, loss: Any, config: TrainConfig, world_size: int = 1,
                   loss_weights: Mapping[str, float] | None = None) -> dict[str | None, TrainingPart]:
    """Check the run's datasets, views and losses; one :class:`TrainingPart` per dataset, in the data's order.

    Raises:
        ValueError: names that differ between data, views, losses and weights; a dataset whose columns
            do not fit its view; a text that is missing or empty; an InfoNCE batch of one row; a momentum
            queue with several datasets.
    """
    if not isinstance(data, Mapping):
        if isinstance(view, Mapping) or isinstance(loss, Mapping) or loss_weights:
            raise ValueError("a dict of views, losses or loss weights needs a dict of datasets by the same names: "
                             "pass data={'name': dataset, ...}")
        parts: dict[str | None, TrainingPart] = {None: TrainingPart(None, data, view, loss)}
    else:
        names = list(data)
        if not names:
            raise ValueError("data is an empty dict: give at least one dataset")
        if any(not isinstance(n, str) or not n for n in names):
            raise ValueError(f"dataset names must be non-empty strings, got {names!r}")
        if config.queue_size:
            raise ValueError(f"queue_size={config.queue_size} keeps one queue of negatives; with several datasets "
                             "it would mix them: set queue_size=0")
        views, losses = _by_name("view", view, names), _by_name("loss", loss, names)
        weights = _by_name("loss weight", dict(loss_weights or {}), names, default=1.0)
        parts = {n: TrainingPart(n, data[n], views[n], losses[n],
                                 check_float(f"loss weight of {n!r}", weights[n], exclusive_minimum=True))
                 for n in names}
    for part in parts.values():
        _check_part(part, config, world_size)
    return parts


def _by_name(what: str, value: Any, names: list[str], default: Any = None) -> dict[str, Any]:
    """``value`` for every dataset: a dict by the data's names (``default`` for missing ones), or one shared value."""
    if not isinstance(value, Mapping):
        return dict.fromkeys(names, value)
    unknown = [k for k in value if k not in names]
    missing = [n for n in names if n not in value]
    if unknown or (missing and default is None):
        problem = f"names {unknown[0]!r}, which is not a dataset" if unknown else f"has none for {missing[0]!r}"
        raise ValueError(f"the dict of each dataset's {what} {problem}; the datasets are: {', '.join(names)}")
    return {n: value.get(n, default) for n in names}


def _check_part(part: TrainingPart, config: TrainConfig, world_size: int) -> None:
    """Columns by position, texts present, enough rows for in-batch negatives; set the part's column map."""
    data, view = part.data, part.view
    if not isinstance(data, datasets.Dataset):
        raise TypeError(f"{part.where} is a {type(data).__name__}, not a datasets.Dataset: load it with load_data()")
    if len(data.column_names) != len(view.columns):
        raise ValueError(f"{view!r} reads {len(view.columns)} column(s) ({', '.join(view.columns)}) but "
                         f"{part.where} has {len(data.column_names)}: {', '.join(data.column_names)}; select "
                         "columns with --columns / load_data(columns=...)")
    part.column_map = dict(zip(view.columns, data.column_names))
    check_text_columns(data, [part.column_map[c] for c in view.text_columns])
    if (isinstance(part.loss, InfoNCE) and "negative" not in view.columns and not config.queue_size
            and min(len(data), config.batch_size * world_size) < 2):
        raise ValueError(f"InfoNCE needs at least 2 rows per batch for in-batch negatives; {part.where} has "
                         f"{len(data)} row(s) and the batch size is {config.batch_size}: with one row the loss is 0 "
                         "at every step and nothing is learned. Add rows, raise batch_size, or use hard negatives "
                         "or a queue")
    part.no_duplicates = view.no_duplicates_by_default if config.no_duplicates is None else config.no_duplicates


def part_batches(parts: Mapping[str | None, TrainingPart], config: TrainConfig, rank: int,
                 world_size: int) -> EpochBatches:
    """Each epoch's batches: one dataset's as always; several datasets' interleaved by the config's sampler."""

    def one(part: TrainingPart, seed: int) -> EpochBatches:
        texts = [part.column_map[c] for c in part.view.text_columns]
        return EpochBatches(len(part.data), config.batch_size, seed, rank, world_size, part.no_duplicates,
                            lambda: list(zip(*[part.data[c] for c in texts])))

    if None in parts:
        return one(parts[None], config.seed)
    own = {name: one(part, dataset_seed(config.seed, name)) for name, part in parts.items()}
    return EpochBatches.of_datasets(own, config.seed, config.multi_dataset_batch_sampler)


def data_record(parts: Mapping[str | None, TrainingPart]) -> dict[str, Any]:
    """The ``data`` section of ``train_config.json`` when the caller gave none: rows, columns, fingerprint."""

    def one(part: TrainingPart) -> dict[str, Any]:
        return {"rows": len(part.data), "columns": list(part.data.column_names),
                "fingerprint": getattr(part.data, "_fingerprint", None)}

    if None in parts:
        return one(parts[None])
    return {"datasets": {name: {**one(p), "weight": p.weight} for name, p in parts.items()}}


def _config(obj: Any) -> dict[str, Any]:
    return obj.get_config() if hasattr(obj, "get_config") else {"repr": repr(obj)}


class DatasetLosses(torch.nn.ModuleList):
    """Every dataset's loss as one module: its parameters, state and record span them all (a shared loss once).

    Called, it is the loss of the dataset chosen by :meth:`use` (the dataset of the batch in hand) times
    that dataset's weight; the attributes the trainer reads of a loss (``mask_duplicates``, ...) are
    that loss's too, so one training step serves one dataset and several alike.
    """

    def __init__(self, parts: Mapping[str, TrainingPart]) -> None:
        super().__init__([p.loss for p in parts.values()])
        self.names = list(parts)
        self.weights = [p.weight for p in parts.values()]
        self.current = 0

    def use(self, name: str) -> None:
        """Make the loss of dataset ``name`` the one called."""
        self.current = self.names.index(name)

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """The current dataset's loss, times its weight."""
        return self[self.current](*args, **kwargs) * self.weights[self.current]

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name.startswith("_") or name in ("names", "weights", "current"):
                raise
            return getattr(self[self.current], name)

    def get_config(self) -> dict[str, Any]:
        """Each dataset's loss config and weight, by name."""
        return {name: {**_config(loss), "weight": w} for name, loss, w in zip(self.names, self, self.weights)}

    def __repr__(self) -> str:
        return "; ".join(f"{name}: {loss!r}" for name, loss in zip(self.names, self))


class DatasetViews:
    """Every dataset's view as one: random state, record and embedding-level augmentations span them all."""

    def __init__(self, parts: Mapping[str, TrainingPart]) -> None:
        self.views = {name: p.view for name, p in parts.items()}

    @property
    def acts_on_embeddings(self) -> bool:
        """Whether any dataset's view augments input embeddings."""
        return any(v.acts_on_embeddings for v in self.views.values())

    def state_dict(self) -> dict[str, Any]:
        """Each view's random state, by dataset name."""
        return {name: v.state_dict() for name, v in self.views.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` gave."""
        for name, v in self.views.items():
            v.load_state_dict(state.get(name, {}))

    def get_config(self) -> dict[str, Any]:
        """Each dataset's view config, by name."""
        return {name: _config(v) for name, v in self.views.items()}

    def __repr__(self) -> str:
        return "; ".join(f"{name}: {v!r}" for name, v in self.views.items())
