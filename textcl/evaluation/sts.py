"""Semantic textual similarity, scored the SimCSE way.

The cosine similarity of the two sentence embeddings is compared with the
gold score by Spearman's and Pearson's correlation (x100); no regressor is
trained. STS12-16 use the "all" setting (the year's subsets pooled before
the correlation), STS-B and SICK-R their test split (dev: STS-B dev, SICK trial).

Reference: Gao, Yao & Chen, "SimCSE: Simple Contrastive Learning of Sentence
Embeddings", EMNLP 2021 (evaluation protocol of its Appendix B).

Example:
    >>> evaluate_sts(model.encode, "stsb", "../shared/data")  # doctest: +SKIP
    {'spearman': 82.03, 'pearson': 82.74, 'n': 1379}
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.stats import pearsonr, spearmanr

from textcl.data.senteval import STS_TASKS, PairData, check_task, load_task
from textcl.data.tables import as_dataset_dict

__all__ = [
    "Encode",
    "cosine_similarity_rows",
    "sts_correlations",
    "encode_pairs",
    "evaluate_sts_data",
    "evaluate_sts",
    "sts_dev_spearman",
    "evaluate_hf_sts",
]

#: What every evaluator takes: a list of sentences -> float array ``(n, d)``.
Encode = Callable[[list[str]], np.ndarray]


def cosine_similarity_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of matching rows, in float64.

    A zero vector has similarity 0 with everything (SentEval's ``nan_to_num``).

    Args:
        a: embeddings, shape ``(n, d)``.
        b: embeddings, shape ``(n, d)``.

    Returns:
        Similarities, shape ``(n,)``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"expected two (n, d) arrays of the same shape, got {a.shape} and {b.shape}")
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    dots = np.einsum("nd,nd->n", a, b)
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


def sts_correlations(predicted: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    """Spearman and Pearson correlation x100 between predicted and gold scores.

    Args:
        predicted: system similarities, shape ``(n,)``.
        gold: gold scores, shape ``(n,)``; ``n >= 2``.

    Returns:
        ``{"spearman": float, "pearson": float, "n": int}``.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    gold = np.asarray(gold, dtype=np.float64)
    if predicted.shape != gold.shape or predicted.ndim != 1 or len(gold) < 2:
        raise ValueError(f"need two 1-d arrays of equal length >= 2, got {predicted.shape} "
                         f"and {gold.shape}")
    return {"spearman": float(spearmanr(predicted, gold)[0] * 100),
            "pearson": float(pearsonr(predicted, gold)[0] * 100),
            "n": int(len(gold))}


def encode_pairs(encode: Encode, data: PairData) -> tuple[np.ndarray, np.ndarray]:
    """Embed both sides of every pair with a single ``encode`` call.

    Returns:
        ``(emb1, emb2)``, each of shape ``(n_pairs, d)``.
    """
    emb = np.asarray(encode(data.texts()))
    n = len(data)
    if emb.ndim != 2 or emb.shape[0] != 2 * n:
        raise ValueError(f"encode returned shape {emb.shape} for {2 * n} sentences; "
                         "expected (n_sentences, dim)")
    return emb[:n], emb[n:]  # (n, d) each


def evaluate_sts_data(encode: Encode, data: PairData, return_predictions: bool = False
                      ) -> dict[str, Any]:
    """Score already-loaded STS pairs.

    Args:
        encode: sentences -> embeddings.
        data: the pairs and gold scores.
        return_predictions: add the cosine similarities under ``"predictions"``
            (for plots).

    Returns:
        ``{"spearman", "pearson", "n"}`` (+ ``"predictions"``).
    """
    emb1, emb2 = encode_pairs(encode, data)
    predicted = cosine_similarity_rows(emb1, emb2)
    result: dict[str, Any] = sts_correlations(predicted, data.scores)
    if return_predictions:
        result["predictions"] = predicted
    return result


def evaluate_sts(encode: Encode, task: str, data_dir: str | os.PathLike, split: str = "test"
                 ) -> dict[str, float]:
    """Evaluate one STS task from SentEval's folder.

    Args:
        encode: sentences -> embeddings.
        task: one of ``sts12 .. sts16, stsb, sickr``.
        data_dir: SentEval's downstream folder.
        split: ``"test"`` (default), or ``"dev"`` for STS-B / SICK-R model
            selection (STS12-16 have only ``"test"``).

    Returns:
        ``{"spearman": float, "pearson": float, "n": int}`` (correlations x100).

    Raises:
        ValueError: not an STS task, or a split the task lacks.
        FileNotFoundError: missing data.
    """
    task = check_task(task)
    if task not in STS_TASKS:
        raise ValueError(f"{task!r} is not an STS task; STS tasks: {', '.join(STS_TASKS)}")
    if task.startswith("sts1") and split != "test":
        raise ValueError(f"{task} has only a 'test' split, got {split!r}")
    data = load_task(task, data_dir, (split,))[split]
    return evaluate_sts_data(encode, data)


def sts_dev_spearman(encode: Encode, data_dir: str | os.PathLike, task: str = "stsb") -> float:
    """STS-B (or SICK-R trial) dev Spearman x100, the SimCSE model-selection metric."""
    return evaluate_sts(encode, task, data_dir, split="dev")["spearman"]


def evaluate_hf_sts(encode: Encode, source: Any, split: str = "test",
                    name: str | None = None, sentence1: str = "sentence1",
                    sentence2: str = "sentence2", score: str = "score") -> dict[str, float]:
    """Evaluate on a Hugging Face STS dataset or a local table with pair columns.

    Args:
        encode: sentences -> embeddings.
        source: hub name (e.g. ``"sentence-transformers/stsb"``, needs network
            or cache), a local csv/tsv/json/jsonl/parquet file, a ``datasets`` object, or
            Python lists as a dict of columns (``{"sentence1": [...], "sentence2": [...], "score": [...]}``).
        split: split to score (a local file has only ``"train"``, used whatever
            is asked when it is the only split).
        name: dataset configuration.
        sentence1, sentence2, score: column names.

    Returns:
        ``{"spearman", "pearson", "n"}``.

    Raises:
        ValueError: missing split or column (the message lists what exists).
    """
    dataset = as_dataset_dict(source, name)
    where = f"{source!s:.80}" if isinstance(source, (str, os.PathLike)) else "the data"
    if split not in dataset:
        if len(dataset) != 1:
            raise ValueError(f"{where} has no split {split!r}; splits: {', '.join(dataset)}")
        split = next(iter(dataset))
    table = dataset[split]
    missing = [c for c in (sentence1, sentence2, score) if c not in table.column_names]
    if missing:
        raise ValueError(f"{where} lacks column(s) {', '.join(missing)}; "
                         f"columns: {', '.join(table.column_names)}")
    data = PairData([str(s) for s in table[sentence1]], [str(s) for s in table[sentence2]],
                    np.asarray(table[score], dtype=np.float64))
    return evaluate_sts_data(encode, data)
