"""SentEval-style linear probes on frozen sentence embeddings.

A logistic regression (scikit-learn, L2, lbfgs) is trained on the embeddings
and its accuracy reported x100. The protocols follow SentEval's
``tools/validation.py`` (Conneau & Kiela, 2018) with its scikit-learn ``C``
grids, seed 1111 and SimCSE's ``kfold=10``; ``docs/evaluation.md`` lists every
difference from SentEval, with figures.

* MR, CR, SUBJ, MPQA: 10-fold stratified CV; in each outer fold ``C`` is
  picked from :data:`C_GRID` (``2^-2 .. 2^3``) by an inner stratified CV on
  the outer training part, then refit on it (:func:`cv_probe`).
* SST-2: trained on train, ``C`` picked on dev, scored on test (:func:`split_probe`).
* TREC, MRPC: ``C`` picked from :data:`C_GRID_KFOLD` (``2^-1 .. 2^5``) by
  10-fold CV on train, refit on train, scored on test; MRPC also reports F1
  of the paraphrase class (:func:`kfold_test_probe`).

Every ``C`` search is scikit-learn's ``LogisticRegressionCV`` (one warm-started
regularisation path per fold, ``C`` ascending). :func:`select_c` then takes the
*smallest* ``C`` whose mean CV accuracy is within :data:`C_TOLERANCE` points of
the best, where SentEval takes the first maximum: with near-equal scores, one
changed prediction (e.g. from float32 rounding in the embeddings) flipped the
choice between neighbouring ``C`` values and moved CR by 0.1.

Deviations from SentEval (all in docs/evaluation.md):

* the inner CV of MR/CR/SUBJ/MPQA uses 5 folds, not 10 (SentEval reuses its
  outer ``kfold``): half the fits;
* ``C`` is the smallest within :data:`C_TOLERANCE` of the best, not the argmax;
* embeddings are rescaled by one scalar, the mean L2 norm of the training
  embeddings (``scaling="norm"``), so that SentEval's ``C`` grid means the
  same for encoders of any output scale; for unit-norm embeddings this is the
  identity. ``scaling="standard"`` z-scores each feature (statistics of each
  training part) instead, ``"none"`` uses raw features;
* folds are drawn over the files' order, not over SentEval's length-sorted order;
* MRPC features default to ``[u, v, |u - v|, u * v]`` (InferSent's pair
  features); ``pair_mode="senteval"`` gives SentEval's ``[|u - v|, u * v]``.

BLAS/OpenMP use one thread per fit; ``n_jobs`` spreads the folds over processes instead.
While a probe runs, a tqdm bar on stderr counts its ``C``-search folds (``show_progress=False``: none).

Example:
    >>> evaluate_probe(model.encode, "mr", "../shared/data")  # doctest: +SKIP
    {'accuracy': 76.61, 'dev_accuracy': 76.41, 'n': 10662}
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from textcl.data.senteval import TRANSFER_TASKS, PairData, TextData, check_task, load_task
from textcl.data.tables import as_dataset_dict
from textcl.evaluation.logistic import (
    C_GRID,
    C_GRID_KFOLD,
    C_TOLERANCE,
    SEED,
    LogisticProbe,
    PairMode,
    Scaling,
    cv_probe,
    fold_count,
    grid_search_c,
    kfold_test_probe,
    pair_features,
    probe_progress,
    scale_by_norm,
    select_c,
    split_probe,
)
from textcl.evaluation.sts import Encode

__all__ = [
    "C_GRID",
    "C_GRID_KFOLD",
    "C_TOLERANCE",
    "SEED",
    "LogisticProbe",
    "PairMode",
    "Scaling",
    "cv_probe",
    "evaluate_probe",
    "evaluate_probe_data",
    "grid_search_c",
    "kfold_test_probe",
    "pair_features",
    "probe_user_data",
    "scale_by_norm",
    "select_c",
    "split_probe",
]

def _embed(encode: Encode, texts: list[str]) -> np.ndarray:
    emb = np.asarray(encode(texts), dtype=np.float32)
    if emb.ndim != 2 or emb.shape[0] != len(texts):
        raise ValueError(f"encode returned shape {emb.shape} for {len(texts)} sentences; "
                         "expected (n_sentences, dim)")
    return emb


def _scaled(scaling: Scaling, train: np.ndarray, *others: np.ndarray) -> tuple[list[np.ndarray], bool]:
    """Apply ``scaling`` to embeddings; returns them and whether the probe must standardise."""
    if scaling not in ("norm", "standard", "none"):
        raise ValueError(f"scaling must be 'norm', 'standard' or 'none', got {scaling!r}")
    arrays = [train, *others]
    if scaling == "norm":
        arrays = scale_by_norm(train, *arrays)
    return arrays, scaling == "standard"


def evaluate_probe_data(encode: Encode, task: str, data: dict[str, PairData | TextData],
                        n_folds: int = 10, inner_folds: int = 5, pair_mode: PairMode = "full",
                        scaling: Scaling = "norm", seed: int = SEED, *,
                        tolerance: float = C_TOLERANCE, n_jobs: int | None = None,
                        show_progress: bool = True) -> dict[str, float]:
    """Run the probe of one transfer task on already-loaded data.

    Args:
        encode: sentences -> embeddings.
        task: one of ``mr, cr, subj, mpqa, sst2, trec, mrpc``.
        data: ``{split: data}`` as returned by :func:`~textcl.data.senteval.load_task`.
        n_folds: outer CV folds (MR/CR/SUBJ/MPQA) and C-search folds (TREC/MRPC).
        inner_folds: inner C-search folds (MR/CR/SUBJ/MPQA).
        pair_mode: MRPC features (see :func:`pair_features`).
        scaling: ``"norm"`` (embeddings / mean training norm), ``"standard"``
            (per-feature z-score) or ``"none"``; see the module docstring.
        seed: fold shuffling seed.
        tolerance: ``C`` values within this many accuracy points of the best
            count as tied; the smallest wins (see :func:`select_c`).
        n_jobs: processes over CV folds (``None``: one).
        show_progress: a bar on stderr counting the ``C``-search folds.

    Returns:
        ``{"accuracy", "dev_accuracy", "n"}`` (+ ``"f1"`` for MRPC), x100.
    """
    task = check_task(task)
    if task not in TRANSFER_TASKS:
        raise ValueError(f"{task!r} is not a transfer task; transfer tasks: {', '.join(TRANSFER_TASKS)}")
    splits = {"sst2": ("train", "dev", "test"), "trec": ("train", "test"),
              "mrpc": ("train", "test")}.get(task, ("all",))
    # the first split is the training data: its mean norm sets the scale
    embs, standardize = _scaled(scaling, *(_embed(encode, data[s].texts()) for s in splits))
    labels = [np.asarray(data[s].labels if isinstance(data[s], TextData) else data[s].scores)
              for s in splits]
    if task == "mrpc":
        for i, (emb, split) in enumerate(zip(embs, splits)):
            n = len(data[split])
            embs[i] = pair_features(emb[:n], emb[n:], pair_mode)  # u, v: (n, d) each
    sets = list(zip(embs, labels))
    with probe_progress(f"probe {task}", show_progress):
        if task == "sst2":
            out = split_probe(*sets, c_grid=C_GRID, standardize=standardize, tolerance=tolerance)
        elif task in ("trec", "mrpc"):
            out = kfold_test_probe(*sets, n_folds=n_folds, c_grid=C_GRID_KFOLD, seed=seed,
                                   standardize=standardize, tolerance=tolerance, n_jobs=n_jobs)
        else:
            out = cv_probe(*sets[0], n_folds=n_folds, inner_folds=inner_folds, c_grid=C_GRID, seed=seed,
                           standardize=standardize, tolerance=tolerance, n_jobs=n_jobs)
    result = {k: out[k] for k in ("accuracy", "dev_accuracy")}
    if task == "mrpc":
        result["f1"] = float(100 * f1_score(labels[-1], out["predictions"]))
    result["n"] = len(labels[-1])
    return result


def evaluate_probe(encode: Encode, task: str, data_dir: str | os.PathLike, **kwargs: Any
                   ) -> dict[str, float]:
    """Load a transfer task from SentEval's folder and run its probe.

    Args:
        encode: sentences -> embeddings.
        task: one of ``mr, cr, subj, mpqa, sst2, trec, mrpc``.
        data_dir: SentEval's downstream folder.
        **kwargs: passed to :func:`evaluate_probe_data`.

    Returns:
        ``{"accuracy", "dev_accuracy", "n"}`` (+ ``"f1"`` for MRPC).
    """
    task = check_task(task)
    if task not in TRANSFER_TASKS:
        raise ValueError(f"{task!r} is not a transfer task; transfer tasks: {', '.join(TRANSFER_TASKS)}")
    return evaluate_probe_data(encode, task, load_task(task, data_dir), **kwargs)


def probe_user_data(encode: Encode, data: Any, text_col: str = "text", label_col: str = "label",
                    train_split: str = "train", test_split: str = "test", name: str | None = None,
                    n_folds: int = 10, inner_folds: int = 5, scaling: Scaling = "norm",
                    seed: int = SEED, *, tolerance: float = C_TOLERANCE,
                    n_jobs: int | None = None, show_progress: bool = True) -> dict[str, float]:
    """Linear probe (e.g. sentiment) on the user's own labelled sentences.

    With a test split: ``C`` is picked by CV on the train split, then the model
    refit on train is scored on test. Without one: nested stratified CV on the
    train split (folds capped by the smallest class size).

    Args:
        encode: sentences -> embeddings.
        data: a Hugging Face dataset name, a local csv/tsv/json/jsonl/parquet
            path, an already loaded ``datasets.DatasetDict``, or Python lists: a dict of columns
            (``{"text": [...], "label": [...]}``) or of splits (``{"train": {...}, "test": {...}}``).
        text_col: column with the sentences.
        label_col: column with the labels (any hashable values).
        train_split, test_split: split names.
        name: dataset configuration (hub datasets).
        n_folds, inner_folds: CV folds.
        scaling: feature scaling (see :func:`evaluate_probe_data`).
        seed: fold shuffling seed.
        tolerance: see :func:`select_c`.
        n_jobs: processes over CV folds.
        show_progress: a bar on stderr counting the ``C``-search folds.

    Returns:
        ``{"accuracy", "macro_f1", "n_train", "n_test"}`` (x100; ``n_test`` is 0
        under cross-validation).

    Raises:
        ValueError: a missing split or column (lists what the data has), or
            fewer than two classes.
    """
    dataset = as_dataset_dict(data, name)
    if train_split not in dataset:
        raise ValueError(f"{data!s:.80} has no split {train_split!r}; splits: {', '.join(dataset)}")
    splits = [s for s in (train_split, test_split) if s in dataset]
    for s in splits:
        missing = [c for c in (text_col, label_col) if c not in dataset[s].column_names]
        if missing:
            raise ValueError(f"column(s) {', '.join(missing)} not found in split {s!r}; "
                             f"the data has columns: {', '.join(dataset[s].column_names)}")
    texts = {s: [" ".join(str(t).split()) or "." for t in dataset[s][text_col]] for s in splits}
    raw = {s: list(dataset[s][label_col]) for s in splits}
    classes = sorted({str(v) for s in splits for v in raw[s]})
    labels = {s: np.asarray([classes.index(str(v)) for v in raw[s]]) for s in splits}
    folds = fold_count(labels[train_split], n_folds)
    embs, standardize = _scaled(scaling, *(_embed(encode, texts[s]) for s in splits))
    with probe_progress("probe", show_progress):
        if test_split in splits:
            y_test = labels[test_split]
            out = kfold_test_probe((embs[0], labels[train_split]), (embs[1], y_test), folds,
                                   C_GRID_KFOLD, seed, standardize, tolerance=tolerance, n_jobs=n_jobs)
            n_test = len(y_test)
        else:
            y_test = labels[train_split]
            out = cv_probe(embs[0], y_test, folds, inner_folds, C_GRID, seed, standardize,
                           tolerance=tolerance, n_jobs=n_jobs)
            n_test = 0
    return {"accuracy": out["accuracy"],
            "macro_f1": float(100 * f1_score(y_test, out["predictions"], average="macro")),
            "n_train": len(labels[train_split]), "n_test": n_test}
