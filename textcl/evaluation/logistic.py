"""Logistic-regression probes on fixed features: SentEval's C grids and protocols (see :mod:`.probes`).

Every ``C`` search is scikit-learn's ``LogisticRegressionCV`` (one warm-started
regularisation path per fold, ``C`` ascending); :func:`select_c` takes the smallest
``C`` within :data:`C_TOLERANCE` points of the best. BLAS/OpenMP use one thread per
fit; ``n_jobs`` spreads the folds over processes instead.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import PredefinedSplit, StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

__all__ = ["C_GRID", "C_GRID_KFOLD", "C_TOLERANCE", "SEED", "PairMode", "Scaling", "LogisticProbe", "select_c",
           "grid_search_c", "scale_by_norm", "pair_features", "cv_probe", "split_probe", "kfold_test_probe", "fold_count"]

C_GRID: tuple[float, ...] = tuple(2.0**t for t in range(-2, 4))
C_GRID_KFOLD: tuple[float, ...] = tuple(2.0**t for t in range(-1, 6))
C_TOLERANCE = 0.1  # accuracy points: a C this close to the best counts as tied
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
    if not grid or any(c <= 0 for c in grid) or any(a >= b for a, b in zip(grid, grid[1:])):
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
    search = LogisticRegressionCV(Cs=_check_grid(c_grid), cv=cv, scoring="accuracy", solver="lbfgs",
                                  max_iter=max_iter, refit=False, n_jobs=n_jobs, **_CV_KWARGS)
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        # a not-quite-converged weakly regularised fit is still a valid probe
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(x, y)
    scores = search.scores_
    if isinstance(scores, dict):  # scikit-learn < 1.8: {class: (n_folds, n_cs)}, same for every class
        scores = next(iter(scores.values()))
    scores = np.asarray(scores).reshape(-1, len(c_grid))  # (n_folds, n_cs)
    return 100 * scores.mean(axis=0)


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
    folds = StratifiedKFold(n_splits=fold_count(y, n_folds), shuffle=True, random_state=seed)
    probe = LogisticProbe(c_grid, inner_folds, seed, tolerance, max_iter)
    out = cross_validate(_with_scaler(probe, standardize), x, y, cv=folds, n_jobs=n_jobs,
                         return_estimator=True, return_indices=True, error_score="raise")
    fitted = [est[-1] if standardize else est for est in out["estimator"]]
    predictions = np.empty_like(y)
    for est, te in zip(out["estimator"], out["indices"]["test"]):
        predictions[te] = est.predict(x[te])
    return {"accuracy": float(100 * np.mean(out["test_score"])),
            "dev_accuracy": float(np.mean([p.cv_accuracy_ for p in fitted])),
            "C": [p.C_ for p in fitted], "predictions": predictions}


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
    probe = LogisticProbe(c_grid, n_folds, seed, tolerance, max_iter, n_jobs)
    model = _with_scaler(probe, standardize).fit(np.asarray(x_tr, dtype=np.float32), y_tr)
    pred = model.predict(np.asarray(x_te, dtype=np.float32))
    return {"accuracy": float(100 * np.mean(pred == y_te)), "dev_accuracy": probe.cv_accuracy_,
            "C": probe.C_, "predictions": pred}
