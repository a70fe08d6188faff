"""What a classifier fits on: label names and ids, checked texts, metrics, early stopping and the fit's result."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, Sequence

import numpy as np

from textcl.settings import check_int

__all__ = ["Label", "label_names", "encode_labels", "check_texts", "classification_metrics", "EarlyStopping",
           "FitResult"]

Label = str | int


def _clean_label(value: Any, row: int, where: str) -> Label:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real) and math.isfinite(value) and float(value).is_integer():
        return int(value)  # csv readers turn an int column with gaps into floats
    if isinstance(value, str) and value.strip():
        return value
    raise ValueError(f"{where} row {row}: label {value!r:.60} is not a string or an integer")


def label_names(labels: Sequence[Any], where: str = "train") -> list[Label]:
    """The sorted distinct labels: the class names, whose positions are the class ids.

    Raises:
        ValueError: a missing / non-integer label (names the row), labels mixing
            strings and numbers, or fewer than two classes.
    """
    values = [_clean_label(v, i, where) for i, v in enumerate(labels)]
    kinds = {type(v) for v in values}
    if len(kinds) > 1:
        example = {k.__name__: next(v for v in values if type(v) is k) for k in kinds}
        raise ValueError(f"{where} labels mix strings and numbers ({example}): use one type")
    names = sorted(set(values))
    if len(names) < 2:
        raise ValueError(f"{where} labels have {len(names)} distinct value(s) ({names}); a classifier needs 2+")
    return names


def encode_labels(labels: Sequence[Any], names: Sequence[Label], where: str = "train") -> np.ndarray:
    """Map labels to class ids (positions in ``names``).

    Raises:
        ValueError: a label that is not one of ``names`` (names the row and the known labels).
    """
    index = {name: i for i, name in enumerate(names)}
    ids = np.empty(len(labels), dtype=np.int64)
    for i, value in enumerate(labels):
        label = _clean_label(value, i, where)
        if label not in index:
            raise ValueError(f"{where} row {i}: label {label!r} was not seen in training; "
                             f"training labels: {', '.join(map(repr, names))}")
        ids[i] = index[label]
    return ids


def check_texts(texts: Sequence[Any], where: str = "train") -> list[str]:
    """Return ``texts`` as a list, raising ``ValueError`` at the first non-string or empty row."""
    texts = list(texts)
    if not texts:
        raise ValueError(f"{where} has no rows")
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise ValueError(f"{where} row {i}: text {t!r:.60} is not a non-empty string; "
                             "drop or fill such rows first")
    return texts


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-F1, both x100."""
    from sklearn.metrics import f1_score

    return {"accuracy": float(100 * np.mean(y_true == y_pred)),
            "macro_f1": float(100 * f1_score(y_true, y_pred, average="macro", zero_division=0))}


# ----------------------------------------------------------------------------- training helpers
class EarlyStopping:
    """Tracks the best validation metric and says when to stop.

    Args:
        patience: evaluations without improvement before stopping (>= 1).
        min_delta: how much better than the best a metric must be to count.

    Example:
        >>> stop = EarlyStopping(patience=2)
        >>> [stop.update(m) for m in (50, 60, 55, 58)], stop.should_stop
        ([True, True, False, False], True)
    """

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        check_int("patience", patience)
        if min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta}")
        self.patience, self.min_delta = patience, min_delta
        self.best = -math.inf
        self.bad_evaluations = 0

    def update(self, metric: float) -> bool:
        """Record one evaluation; True if it is a new best."""
        if metric > self.best + self.min_delta:
            self.best, self.bad_evaluations = metric, 0
            return True
        self.bad_evaluations += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.bad_evaluations >= self.patience


@dataclass
class FitResult:
    """What :meth:`SentenceClassifier.fit` did.

    Attributes:
        epochs: epochs run (fewer than asked when stopped early).
        steps: optimizer steps.
        best_epoch: epoch of the kept weights (validation only).
        best_val_accuracy: their validation accuracy x100 (validation only).
        stopped_early: whether patience ran out.
        train_seconds: wall time, embedding the cache included.
        history: one dict per evaluation (``epoch``, ``step``, ``train_loss``, ``val_accuracy``).
    """

    epochs: int
    steps: int
    best_epoch: int | None
    best_val_accuracy: float | None
    stopped_early: bool
    train_seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
