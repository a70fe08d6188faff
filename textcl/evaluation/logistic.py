"""Logistic-regression probes on fixed features: SentEval's C grids and protocols (see :mod:`.probes`).

Every ``C`` search is scikit-learn's ``LogisticRegressionCV`` (one warm-started
regularisation path per fold, ``C`` ascending); :func:`select_c` takes the smallest
``C`` within :data:`C_TOLERANCE` points of the best. BLAS/OpenMP use one thread per
fit; ``n_jobs`` spreads the folds over processes instead. Inside :func:`probe_progress`
a tqdm bar on stderr counts the folds fitted.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import itertools
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import accuracy_score
from sklearn.model_selection import PredefinedSplit, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

__all__ = [
    "C_GRID",
    "C_GRID_KFOLD",
    "C_TOLERANCE",
    "SEED",
    "LogisticProbe",
    "PairMode",
    "Scaling",
    "cv_probe",
    "fold_count",
    "grid_search_c",
    "kfold_test_probe",
    "pair_features",
    "probe_progress",
    "scale_by_norm",
    "select_c",
    "split_probe",
]

C_GRID: tuple[float, ...] = tuple(2.0**t for t in range(-2, 4))
C_GRID_KFOLD: tuple[float, ...] = tuple(2.0**t for t in range(-1, 6))
C_TOLERANCE = 0.1  # accuracy points: a C this close to the best counts as tied
SEED = 1111  # SentEval's fold seed
PairMode = Literal["full", "senteval"]
Scaling = Literal["norm", "standard", "none"]


# the bar of the probe running in this context (worker threads and processes see none)
_BAR: contextvars.ContextVar[Any] = contextvars.ContextVar("textcl_probe_bar", default=None)


@contextlib.contextmanager
def probe_progress(desc: str, enabled: bool = True) -> Iterator[None]:
    """Show a tqdm bar on stderr counting the ``C``-search folds the probes in the block fit.

    Args:
        desc: the bar's label (e.g. ``probe trec``).
        enabled: False: no bar.
    """
    bar = tqdm(total=None, desc=desc, unit="fold", disable=not enabled, file=sys.stderr)
    token = _BAR.set(bar)
    try:
        yield
    finally:
        _BAR.reset(token)
        bar.close()


def _expect(folds: int) -> None:
    """Add ``folds`` to the active bar's total (each protocol says how many folds it will fit)."""
    bar = _BAR.get()
    if bar is not None:
        bar.total = (bar.total or 0) + folds
        bar.refresh()


def _map_folds(fn: Callable[[Any], Any], splits: Sequence[Any], n_jobs: int | None,
               weights: Sequence[int] | None = None) -> list[Any]:
    """``fn(split)`` for each split, in order: in this process, or over ``n_jobs`` processes.

    After the i-th result the bar stands at least ``sum(weights[:i + 1])`` folds further (default
    weight 1): folds fitted in this process advance it themselves, folds fitted in workers on return.
    """
    bar = _BAR.get()
    start = bar.n if bar is not None else 0
    if n_jobs is None or n_jobs == 1 or len(splits) < 2:
        results = map(fn, splits)  # lazy: the bar moves after each fold
    else:
        results = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(fn)(split) for split in splits)
    out = []
    for result, done in zip(results, itertools.accumulate(weights or [1] * len(splits))):
        out.append(result)
        if bar is not None and start + done > bar.n:
            bar.update(start + done - bar.n)
    return out


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


def select_c(scores: Sequence[float], tolerance: float = C_TOLERANCE) -> int:
    """Index of the smallest ``C`` whose score is within ``tolerance`` of the best.

    Args:
        scores: mean CV accuracies x100, one per ``C``, ``C`` ascending.
        tolerance: accuracy points; 0 gives the first maximum (SentEval).

    Returns:
        The chosen index: the strongest regularisation that is as good as the
        best up to ``tolerance``, so that near-ties do not flip the choice.

    Raises:
        ValueError: empty or non-finite scores, or a negative tolerance.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or scores.size == 0 or not np.all(np.isfinite(scores)):
        raise ValueError(f"scores must be a non-empty 1-d array of finite numbers, got {scores!r}")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    # 1e-9 absorbs the rounding of fold means, so an exact tie at the tolerance counts
    return int(np.flatnonzero(scores >= scores.max() - tolerance - 1e-9)[0])


def _check_grid(c_grid: Sequence[float]) -> list[float]:
    grid = [float(c) for c in c_grid]
    if not grid or any(c <= 0 for c in grid) or any(a >= b for a, b in itertools.pairwise(grid)):
        raise ValueError(f"c_grid must be positive and strictly ascending, got {tuple(c_grid)}")
    return grid


def fold_count(y: np.ndarray, wanted: int) -> int:
    """``wanted`` folds, capped by the smallest class (stratified CV needs one per fold)."""
    values, counts = np.unique(y, return_counts=True)
    if len(values) < 2:
        raise ValueError(f"a probe needs at least 2 classes, got {len(values)}")
    if counts.min() < 2:
        raise ValueError("every class needs at least 2 training examples for cross-validation; "
                         f"counts: {dict(zip(values.tolist(), counts.tolist()))}")
    return int(min(wanted, counts.min()))


# scikit-learn >= 1.8 warns unless the L2 path and the new attribute layout are asked for
_NEW_CV_API = "use_legacy_attributes" in inspect.signature(LogisticRegressionCV).parameters
_CV_KWARGS: dict[str, Any] = {"l1_ratios": (0.0,), "use_legacy_attributes": False} if _NEW_CV_API else {}


def grid_search_c(x: np.ndarray, y: np.ndarray, c_grid: Sequence[float], cv: Any,
                  max_iter: int = 1000, n_jobs: int | None = None) -> np.ndarray:
    """Mean CV accuracy x100 of each ``C`` (scikit-learn's ``LogisticRegressionCV``).

    Each fold fits one regularisation path, warm-started from ``C`` to ``C``
    in the order of ``c_grid`` (ascending: strong to weak regularisation).

    Args:
        x: features, shape ``(n, f)``.
        y: labels, shape ``(n,)``.
        c_grid: candidate ``C`` values, strictly ascending.
        cv: a scikit-learn splitter (``StratifiedKFold``, ``PredefinedSplit``...).
        max_iter: lbfgs iteration cap.
        n_jobs: processes over folds (``None``: one).

    Returns:
        Shape ``(len(c_grid),)``: accuracy x100 averaged over folds.
    """
    grid = _check_grid(c_grid)
    splits = list(cv.split(x, y))
    # one LogisticRegressionCV per fold (the same path it fits for that fold among all), so the bar can move
    scores = np.stack(_map_folds(functools.partial(_fold_scores, x, y, grid, max_iter), splits, n_jobs))
    return 100 * scores.mean(axis=0)  # (n_folds, n_cs) -> (n_cs,)


def _fold_scores(x: np.ndarray, y: np.ndarray, grid: list[float], max_iter: int,
                 split: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Accuracy of each ``C`` on one fold's held-out part, shape ``(n_cs,)``."""
    search = LogisticRegressionCV(Cs=grid, cv=[split], scoring="accuracy", solver="lbfgs",
                                  max_iter=max_iter, refit=False, **_CV_KWARGS)
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        # a not-quite-converged weakly regularised fit is still a valid probe
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(x, y)
    scores = search.scores_
    if isinstance(scores, dict):  # scikit-learn < 1.8: {class: (n_folds, n_cs)}, same for every class
        scores = next(iter(scores.values()))
    return np.asarray(scores).reshape(len(grid))


def _fit(x: np.ndarray, y: np.ndarray, c: float, max_iter: int) -> LogisticRegression:
    clf = LogisticRegression(C=c, solver="lbfgs", max_iter=max_iter)
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(x, y)


class LogisticProbe(ClassifierMixin, BaseEstimator):
    """Logistic regression whose ``C`` is picked by stratified CV, stably.

    ``fit`` scores every ``C`` by ``n_folds``-fold CV (:func:`grid_search_c`),
    takes the smallest within ``tolerance`` of the best (:func:`select_c`) and
    refits on all the data: SentEval's inner loop, as a scikit-learn estimator
    (so that ``cross_validate`` runs the outer loop).

    Args:
        c_grid: candidate ``C`` values, ascending.
        n_folds: CV folds (capped by the smallest class size).
        seed: fold shuffling seed.
        tolerance: accuracy points within which ``C`` values count as tied.
        max_iter: lbfgs iteration cap.
        n_jobs: processes over the CV folds.

    Attributes:
        C_: the chosen ``C``.
        cv_scores_: accuracy x100 of each ``C``, shape ``(len(c_grid),)``.
        cv_accuracy_: the chosen ``C``'s CV accuracy x100.
        model_: the refit ``LogisticRegression``.
    """

    def __init__(self, c_grid: Sequence[float] = C_GRID, n_folds: int = 5, seed: int = SEED,
                 tolerance: float = C_TOLERANCE, max_iter: int = 1000, n_jobs: int | None = None) -> None:
        self.c_grid = c_grid
        self.n_folds = n_folds
        self.seed = seed
        self.tolerance = tolerance
        self.max_iter = max_iter
        self.n_jobs = n_jobs

    def fit(self, x: np.ndarray, y: np.ndarray) -> LogisticProbe:
        """Pick ``C`` by CV on ``(x, y)``, then refit on all of it."""
        folds = StratifiedKFold(n_splits=fold_count(np.asarray(y), self.n_folds), shuffle=True,
                                random_state=self.seed)
        self.cv_scores_ = grid_search_c(x, y, self.c_grid, folds, self.max_iter, self.n_jobs)
        best = select_c(self.cv_scores_, self.tolerance)
        self.C_ = float(self.c_grid[best])
        self.cv_accuracy_ = float(self.cv_scores_[best])
        self.model_ = _fit(x, y, self.C_, self.max_iter)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class predictions of the refit model, shape ``(n,)``."""
        return self.model_.predict(x)


def _with_scaler(probe: LogisticProbe, standardize: bool) -> Any:
    # the scaler learns from each training part only, as SentEval's folds would
    return make_pipeline(StandardScaler(), probe) if standardize else probe


def cv_probe(features: np.ndarray, labels: np.ndarray, n_folds: int = 10, inner_folds: int = 5,
             c_grid: Sequence[float] = C_GRID, seed: int = SEED, standardize: bool = False,
             max_iter: int = 1000, tolerance: float = C_TOLERANCE, n_jobs: int | None = None
             ) -> dict[str, Any]:
    """Nested stratified CV (SentEval's ``InnerKFoldClassifier``).

    The outer loop is scikit-learn's ``cross_validate`` over a :class:`LogisticProbe`.

    Args:
        features: shape ``(n, f)``.
        labels: shape ``(n,)``.
        n_folds: outer folds (capped by the smallest class size, as are inner folds).
        inner_folds: folds of the inner ``C`` search.
        c_grid: candidate ``C`` values, ascending.
        seed: fold shuffling seed (outer and inner, as in SentEval).
        standardize: z-score features by each training part's statistics.
        max_iter: lbfgs iteration cap.
        tolerance: see :func:`select_c`.
        n_jobs: processes over the outer folds.

    Returns:
        ``{"accuracy": mean outer-fold accuracy x100, "dev_accuracy": mean inner
        accuracy x100 at the chosen C, "C": chosen C per outer fold,
        "predictions": out-of-fold predictions (n,)}``.
    """
    x, y = np.asarray(features, dtype=np.float32), np.asarray(labels)
    splits = list(StratifiedKFold(n_splits=fold_count(y, n_folds), shuffle=True, random_state=seed).split(x, y))
    inner = [fold_count(y[tr], inner_folds) for tr, _ in splits]  # C-search folds of each outer fold
    _expect(sum(inner))
    probe = LogisticProbe(c_grid, inner_folds, seed, tolerance, max_iter)
    out = _map_folds(functools.partial(_outer_fold, _with_scaler(probe, standardize), x, y), splits, n_jobs, inner)
    fitted = [est[-1] if standardize else est for est, _, _ in out]
    predictions = np.empty_like(y)
    for (_, _, pred), (_, te) in zip(out, splits):
        predictions[te] = pred
    return {"accuracy": float(100 * np.mean([acc for _, acc, _ in out])),
            "dev_accuracy": float(np.mean([p.cv_accuracy_ for p in fitted])),
            "C": [p.C_ for p in fitted], "predictions": predictions}


def _outer_fold(estimator: Any, x: np.ndarray, y: np.ndarray, split: tuple[np.ndarray, np.ndarray]
                ) -> tuple[Any, float, np.ndarray]:
    """Fit a copy of ``estimator`` on the fold's training part; it, its test accuracy and test predictions."""
    tr, te = split
    fitted = clone(estimator).fit(x[tr], y[tr])
    pred = fitted.predict(x[te])
    return fitted, float(accuracy_score(y[te], pred)), pred


def split_probe(train: tuple[np.ndarray, np.ndarray], dev: tuple[np.ndarray, np.ndarray],
                test: tuple[np.ndarray, np.ndarray], c_grid: Sequence[float] = C_GRID,
                standardize: bool = False, max_iter: int = 1000, tolerance: float = C_TOLERANCE
                ) -> dict[str, Any]:
    """Train / pick ``C`` on dev / score test (SentEval's ``SplitClassifier``).

    Args:
        train, dev, test: ``(features, labels)`` pairs.
        c_grid: candidate ``C`` values, ascending.
        standardize: scale by the training features' statistics.
        max_iter: lbfgs iteration cap.
        tolerance: see :func:`select_c`.

    Returns:
        ``{"accuracy", "dev_accuracy", "C", "predictions"}`` (accuracies x100).
    """
    (x_tr, y_tr), (x_dev, y_dev), (x_te, y_te) = train, dev, test
    if standardize:
        scaler = StandardScaler().fit(x_tr)
        x_tr, x_dev, x_te = (scaler.transform(a).astype(np.float32) for a in (x_tr, x_dev, x_te))
    # one "fold": fit on train (-1: never tested), score on dev (fold 0)
    x_all = np.concatenate([x_tr, x_dev]).astype(np.float32)  # (n_train + n_dev, f)
    y_all = np.concatenate([y_tr, y_dev])
    split = PredefinedSplit(np.r_[np.full(len(y_tr), -1), np.zeros(len(y_dev), dtype=int)])
    _expect(1)
    dev_scores = grid_search_c(x_all, y_all, c_grid, split, max_iter)
    best = select_c(dev_scores, tolerance)
    pred = _fit(x_tr, y_tr, c_grid[best], max_iter).predict(x_te)
    return {"accuracy": float(100 * np.mean(pred == y_te)), "dev_accuracy": float(dev_scores[best]),
            "C": float(c_grid[best]), "predictions": pred}


def kfold_test_probe(train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
                     n_folds: int = 10, c_grid: Sequence[float] = C_GRID_KFOLD, seed: int = SEED,
                     standardize: bool = False, max_iter: int = 1000, tolerance: float = C_TOLERANCE,
                     n_jobs: int | None = None) -> dict[str, Any]:
    """Pick ``C`` by CV on train, refit on train, score test (SentEval's ``KFoldClassifier``).

    Args:
        train, test: ``(features, labels)`` pairs.
        n_folds: CV folds on train (capped by the smallest class size).
        c_grid: candidate ``C`` values, ascending.
        seed: fold shuffling seed.
        standardize: scale by the training features' statistics.
        max_iter: lbfgs iteration cap.
        tolerance: see :func:`select_c`.
        n_jobs: processes over the CV folds.

    Returns:
        ``{"accuracy", "dev_accuracy", "C", "predictions"}`` (accuracies x100).
    """
    (x_tr, y_tr), (x_te, y_te) = train, test
    _expect(fold_count(np.asarray(y_tr), n_folds))
    probe = LogisticProbe(c_grid, n_folds, seed, tolerance, max_iter, n_jobs)
    model = _with_scaler(probe, standardize).fit(np.asarray(x_tr, dtype=np.float32), y_tr)
    pred = model.predict(np.asarray(x_te, dtype=np.float32))
    return {"accuracy": float(100 * np.mean(pred == y_te)), "dev_accuracy": probe.cv_accuracy_,
            "C": probe.C_, "predictions": pred}
