"""Evaluation of sentence encoders: STS (SimCSE protocol), SentEval probes, geometry.

The task evaluators take ``encode: Callable[[list[str]], np.ndarray]``, so textcl
models, sentence-transformers models and baselines are scored by the same code. The
evaluators over Python lists (``STSEvaluator``, ``RetrievalEvaluator``, ``TripletEvaluator``)
are ``model -> {metric: value}`` callables with a ``primary_metric``, which the Trainer runs.

Example:
    >>> from textcl.evaluation import evaluate, format_markdown
    >>> results = evaluate(model.encode, "stsb,sickr,mr", "../shared/data/senteval")  # doctest: +SKIP
    >>> print(format_markdown(results))  # doctest: +SKIP
"""

import importlib
from typing import Any

from textcl.data.senteval import ALL_TASKS, STS_TASKS, TRANSFER_TASKS, PairData, TextData, available_tasks, load_task
from textcl.evaluation.geometry import alignment, alignment_uniformity, uniformity
from textcl.evaluation.probes import (
    cv_probe,
    evaluate_probe,
    kfold_test_probe,
    pair_features,
    probe_user_data,
    split_probe,
)
from textcl.evaluation.report import EmbeddingTable, encode_unique, evaluate, format_markdown, write_json
from textcl.evaluation.sts import Encode, evaluate_hf_sts, evaluate_sts, sts_correlations, sts_dev_spearman

__all__ = [
    "ALL_TASKS",
    "STS_TASKS",
    "TRANSFER_TASKS",
    "EmbeddingTable",
    "Encode",
    "PairData",
    "RetrievalEvaluator",
    "STSEvaluator",
    "TextData",
    "TripletEvaluator",
    "alignment",
    "alignment_uniformity",
    "available_tasks",
    "cv_probe",
    "encode_unique",
    "evaluate",
    "evaluate_hf_sts",
    "evaluate_probe",
    "evaluate_sts",
    "format_markdown",
    "kfold_test_probe",
    "load_task",
    "pair_features",
    "probe_user_data",
    "split_probe",
    "sts_correlations",
    "sts_dev_spearman",
    "uniformity",
    "write_json",
]

# evaluators over lists import torch: loaded on first use, so that importing this package stays light
_LAZY = {"STSEvaluator": "textcl.evaluation.evaluators", "TripletEvaluator": "textcl.evaluation.evaluators",
         "RetrievalEvaluator": "textcl.evaluation.retrieval"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'textcl.evaluation' has no attribute {name!r}")
