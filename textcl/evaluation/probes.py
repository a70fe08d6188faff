"""SentEval-style linear probes on frozen sentence embeddings.

A logistic regression (scikit-learn, L2, lbfgs) is trained on the embeddings
and its accuracy reported x100. The protocols follow SentEval's
``tools/validation.py`` (Conneau & Kiela, 2018), with the SimCSE settings
(``kfold=10``):

* MR, CR, SUBJ, MPQA: 10-fold stratified CV; in each outer fold the L2
  strength ``C`` is picked from :data:`C_GRID` (``2^-2 .. 2^3``, SentEval's
  scikit-learn grid) by an inner stratified CV, then refit on the outer
  training part.
* SST-2: trained on train, ``C`` picked on dev, scored on test.
* TREC, MRPC: ``C`` picked from :data:`C_GRID_KFOLD` (``2^-1 .. 2^5``) by
  10-fold CV on train, refit on train, scored on test; MRPC also reports F1
  of the paraphrase class.

Deviations from SentEval (speed on CPUs, comparability across encoders):

* the inner CV of MR/CR/SUBJ/MPQA uses 5 folds, not 10 (SentEval reuses its
  outer ``kfold``): half the fits; on all-MiniLM-L6-v2 / MR, 76.80 vs 76.51,
  a difference of the size that a flip of the chosen ``C`` between
  neighbouring grid values in one outer fold makes (even 1e-7 changes in the
  embeddings move MR by 0.2 that way);
* embeddings are rescaled by one scalar, the mean L2 norm of the training
  embeddings (``scaling="norm"``), so that SentEval's ``C`` grid means the
  same for encoders of any output scale; for unit-norm embeddings this is the
  identity and the protocol is SentEval's. ``scaling="standard"`` z-scores
  each feature instead (on all-MiniLM-L6-v2: MR 76.26 instead of 76.80, MRPC
  65.7 instead of 72.8, as SentEval's grid then regularises far too little),
  ``"none"`` uses raw features;
* the ``C`` grid is scanned from small to large with warm starts;
* BLAS/OpenMP use one thread while fitting (``n_jobs=1`` throughout): on a
  shared 2-core machine two threads made the MR probe 9x slower (215 s vs
  24 s) through contention, and one thread gives reproducible numbers;
* MRPC features default to ``[u, v, |u - v|, u * v]`` (InferSent's pair
  features, as asked for textcl); ``pair_mode="senteval"`` gives SentEval's
  ``[|u - v|, u * v]``.

Example:
    >>> evaluate_probe(model.encode, "mr", "../shared/data")  # doctest: +SKIP
    {'accuracy': 76.61, 'dev_accuracy': 76.41, 'n': 10662}
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from textcl.evaluation.senteval import (
    TRANSFER_TASKS,
    PairData,
    TextData,
    check_task,
    load_task,
)
from textcl.evaluation.sts import Encode
from textcl.evaluation.user_data import load_table

__all__ = [
    "C_GRID",
    "C_GRID_KFOLD",
    "SEED",
    "PairMode",
    "Scaling",
    "scale_by_norm",
    "pair_features",
    "grid_scores",
    "cv_probe",
    "split_probe",
    "kfold_test_probe",
    "evaluate_probe_data",
    "evaluate_probe",
    "probe_user_data",
]

C_GRID: tuple[float, ...] = tuple(2.0**t for t in range(-2, 4))
C_GRID_KFOLD: tuple[float, ...] = tuple(2.0**t for t in range(-1, 6))
SEED = 1111  # SentEval's fold seed
PairMode = Literal["full", "senteval"]
Scaling = Literal["norm", "standard", "none"]


def pair_features(u: np.ndarray, v: np.ndarray, mode: PairMode = "full") -> np.ndarray:
    """Features of a sentence pair for a classifier.

    Args:
        u: first sentences' embeddings, shape ``(n, d)``.
        v: second sentences' embeddings, shape ``(n, d)``.
        mode: ``"full"``: ``[u, v, |u - v|, u * v]`` -> ``(n, 4d)``;
            ``"senteval"``: ``[|u - v|, u * v]`` -> ``(n, 2d)``.

    Returns:
        The feature matrix (float32).
    """
    if mode == "full":
        return np.concatenate([u, v, np.abs(u - v), u * v], axis=1).astype(np.float32)
    if mode == "senteval":
        return np.concatenate([np.abs(u - v), u * v], axis=1).astype(np.float32)
    raise ValueError(f"pair mode must be 'full' or 'senteval', got {mode!r}")


def scale_by_norm(reference: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
    """Divide arrays by the mean L2 row norm of ``reference`` (one scalar for all).

    Args:
        reference: embeddings whose mean norm sets the scale, shape ``(n, d)``.
        *arrays: embeddings to rescale.

    Returns:
        The rescaled arrays (float32), in order.
    """
    scale = float(np.mean(np.linalg.norm(reference, axis=1)))
    scale = scale if scale > 0 else 1.0
    return [(np.asarray(a, dtype=np.float32) / scale).astype(np.float32) for a in arrays]


def _standardize(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Scale every array by the training part's mean and standard deviation."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std < 1e-12] = 1.0  # constant features stay constant instead of dividing by 0
    return [((x - mean) / std).astype(np.float32) for x in (train, *others)]


def _classifier(max_iter: int) -> LogisticRegression:
    return LogisticRegression(solver="lbfgs", max_iter=max_iter, warm_start=True)


def grid_scores(x_train: np.ndarray, y_train: np.ndarray, evals: Sequence[np.ndarray],
                c_grid: Sequence[float] = C_GRID, max_iter: int = 1000) -> list[list[np.ndarray]]:
    """Fit one classifier per ``C`` (warm-started, ascending) and predict each eval set.

    Args:
        x_train: features, shape ``(n, f)``.
        y_train: labels, shape ``(n,)``.
        evals: feature matrices to predict.
        c_grid: the ``C`` values, scanned in the given order.
        max_iter: lbfgs iteration cap.

    Returns:
        ``out[i][j]``: predictions of the model with ``c_grid[i]`` on ``evals[j]``.
    """
    clf = _classifier(max_iter)
    out = []
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        # a not-quite-converged weakly regularised fit is still a valid probe
        warnings.simplefilter("ignore", ConvergenceWarning)
        for c in c_grid:
            clf.set_params(C=c)
            clf.fit(x_train, y_train)
            out.append([clf.predict(x) for x in evals])
    return out


def _n_folds(y: np.ndarray, wanted: int) -> int:
    """``wanted`` folds, capped by the smallest class (stratified CV needs one per fold)."""
    values, counts = np.unique(y, return_counts=True)
    if len(values) < 2:
        raise ValueError(f"a probe needs at least 2 classes, got {len(values)}")
    if counts.min() < 2:
        raise ValueError("every class needs at least 2 training examples for cross-validation; "
                         f"counts: {dict(zip(values.tolist(), counts.tolist()))}")
    return int(min(wanted, counts.min()))


def _cv_grid(x: np.ndarray, y: np.ndarray, c_grid: Sequence[float], n_folds: int, seed: int,
             max_iter: int) -> np.ndarray:
    """Mean CV accuracy of each ``C`` (ties are broken by the first, i.e. strongest, C)."""
    n_folds = _n_folds(y, n_folds)
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    acc = np.zeros(len(c_grid))
    for tr, te in folds.split(x, y):
        for i, (pred,) in enumerate(grid_scores(x[tr], y[tr], [x[te]], c_grid, max_iter)):
            acc[i] += np.mean(pred == y[te]) / n_folds
    return acc


def cv_probe(features: np.ndarray, labels: np.ndarray, n_folds: int = 10, inner_folds: int = 5,
             c_grid: Sequence[float] = C_GRID, seed: int = SEED, standardize: bool = False,
             max_iter: int = 1000) -> dict[str, Any]:
    """Nested stratified CV (SentEval's ``InnerKFoldClassifier``).

    Args:
        features: shape ``(n, f)``.
        labels: shape ``(n,)``.
        n_folds: outer folds (capped by the smallest class size, as are inner folds).
        inner_folds: folds of the inner ``C`` search.
        c_grid: candidate ``C`` values.
        seed: fold shuffling seed.
        standardize: scale features by each outer training part's statistics.
        max_iter: lbfgs iteration cap.

    Returns:
        ``{"accuracy": mean outer-fold accuracy x100, "dev_accuracy": mean best
        inner accuracy x100, "predictions": out-of-fold predictions (n,)}``.
    """
    x, y = np.asarray(features, dtype=np.float32), np.asarray(labels)
    folds = StratifiedKFold(n_splits=_n_folds(y, n_folds), shuffle=True, random_state=seed)
    test_acc, dev_acc = [], []
    predictions = np.empty_like(y)
    for tr, te in folds.split(x, y):
        x_tr, x_te = _standardize(x[tr], x[te]) if standardize else (x[tr], x[te])
        inner = _cv_grid(x_tr, y[tr], c_grid, inner_folds, seed, max_iter)
        best = int(np.argmax(inner))
        ((pred,),) = grid_scores(x_tr, y[tr], [x_te], [c_grid[best]], max_iter)
        predictions[te] = pred
        test_acc.append(np.mean(pred == y[te]))
        dev_acc.append(inner[best])
    return {"accuracy": float(100 * np.mean(test_acc)), "dev_accuracy": float(100 * np.mean(dev_acc)),
            "predictions": predictions}


def split_probe(train: tuple[np.ndarray, np.ndarray], dev: tuple[np.ndarray, np.ndarray],
                test: tuple[np.ndarray, np.ndarray], c_grid: Sequence[float] = C_GRID,
                standardize: bool = False, max_iter: int = 1000) -> dict[str, Any]:
    """Train / pick ``C`` on dev / score test (SentEval's ``SplitClassifier``).

    Args:
        train, dev, test: ``(features, labels)`` pairs.
        c_grid: candidate ``C`` values.
        standardize: scale by the training features' statistics.
        max_iter: lbfgs iteration cap.

    Returns:
        ``{"accuracy", "dev_accuracy", "C", "predictions"}`` (accuracies x100).
    """
    (x_tr, y_tr), (x_dev, y_dev), (x_te, y_te) = train, dev, test
    if standardize:
        x_tr, x_dev, x_te = _standardize(x_tr, x_dev, x_te)
    # the fit at the chosen C is the refit SentEval does: same data, same convex optimum
    preds = grid_scores(x_tr, y_tr, [x_dev, x_te], c_grid, max_iter)
    dev_acc = [np.mean(p_dev == y_dev) for p_dev, _ in preds]
    best = int(np.argmax(dev_acc))
    pred = preds[best][1]
    return {"accuracy": float(100 * np.mean(pred == y_te)), "dev_accuracy": float(100 * dev_acc[best]),
            "C": float(c_grid[best]), "predictions": pred}


def kfold_test_probe(train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
                     n_folds: int = 10, c_grid: Sequence[float] = C_GRID_KFOLD, seed: int = SEED,
                     standardize: bool = False, max_iter: int = 1000) -> dict[str, Any]:
    """Pick ``C`` by CV on train, refit on train, score test (SentEval's ``KFoldClassifier``).

    Args:
        train, test: ``(features, labels)`` pairs.
        n_folds: CV folds on train (capped by the smallest class size).
        c_grid: candidate ``C`` values.
        seed: fold shuffling seed.
        standardize: scale by the training features' statistics.
        max_iter: lbfgs iteration cap.

    Returns:
        ``{"accuracy", "dev_accuracy", "C", "predictions"}`` (accuracies x100).
    """
    (x_tr, y_tr), (x_te, y_te) = train, test
    if standardize:
        x_tr, x_te = _standardize(x_tr, x_te)
    cv = _cv_grid(x_tr, y_tr, c_grid, n_folds, seed, max_iter)
    best = int(np.argmax(cv))
    ((pred,),) = grid_scores(x_tr, y_tr, [x_te], [c_grid[best]], max_iter)
    return {"accuracy": float(100 * np.mean(pred == y_te)), "dev_accuracy": float(100 * cv[best]),
            "C": float(c_grid[best]), "predictions": pred}


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
                        scaling: Scaling = "norm", seed: int = SEED) -> dict[str, float]:
    """Run the probe of one transfer task on already-loaded data.

    Args:
        encode: sentences -> embeddings.
        task: one of ``mr, cr, subj, mpqa, sst2, trec, mrpc``.
        data: ``{split: data}`` as returned by :func:`~textcl.evaluation.senteval.load_task`.
        n_folds: outer CV folds (MR/CR/SUBJ/MPQA) and C-search folds (TREC/MRPC).
        inner_folds: inner C-search folds (MR/CR/SUBJ/MPQA).
        pair_mode: MRPC features (see :func:`pair_features`).
        scaling: ``"norm"`` (embeddings / mean training norm), ``"standard"``
            (per-feature z-score) or ``"none"``; see the module docstring.
        seed: fold shuffling seed.

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
    if task == "sst2":
        out = split_probe(*sets, c_grid=C_GRID, standardize=standardize)
    elif task in ("trec", "mrpc"):
        out = kfold_test_probe(*sets, n_folds=n_folds, c_grid=C_GRID_KFOLD, seed=seed,
                               standardize=standardize)
    else:
        out = cv_probe(*sets[0], n_folds=n_folds, inner_folds=inner_folds, c_grid=C_GRID, seed=seed,
                       standardize=standardize)
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
                    seed: int = SEED) -> dict[str, float]:
    """Linear probe (e.g. sentiment) on the user's own labelled sentences.

    With a test split: ``C`` is picked by CV on the train split, then the model
    refit on train is scored on test. Without one: nested stratified CV on the
    train split (folds capped by the smallest class size).

    Args:
        encode: sentences -> embeddings.
        data: a Hugging Face dataset name, a local csv/tsv/json/jsonl/parquet
            path, or an already loaded ``datasets.DatasetDict``.
        text_col: column with the sentences.
        label_col: column with the labels (any hashable values).
        train_split, test_split: split names.
        name: dataset configuration (hub datasets).
        n_folds, inner_folds: CV folds.
        scaling: feature scaling (see :func:`evaluate_probe_data`).
        seed: fold shuffling seed.

    Returns:
        ``{"accuracy", "macro_f1", "n_train", "n_test"}`` (x100; ``n_test`` is 0
        under cross-validation).

    Raises:
        ValueError: a missing split or column (lists what the data has), or
            fewer than two classes.
    """
    dataset = data if hasattr(data, "keys") and hasattr(data, "values") else load_table(data, name)
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
    folds = _n_folds(labels[train_split], n_folds)
    embs, standardize = _scaled(scaling, *(_embed(encode, texts[s]) for s in splits))
    if test_split in splits:
        y_test = labels[test_split]
        out = kfold_test_probe((embs[0], labels[train_split]), (embs[1], y_test), folds,
                               C_GRID_KFOLD, seed, standardize)
        n_test = len(y_test)
    else:
        y_test = labels[train_split]
        out = cv_probe(embs[0], y_test, folds, inner_folds, C_GRID, seed, standardize)
        n_test = 0
    return {"accuracy": out["accuracy"],
            "macro_f1": float(100 * f1_score(y_test, out["predictions"], average="macro")),
            "n_train": len(labels[train_split]), "n_test": n_test}
