"""Evaluation of sentence encoders: STS (SimCSE protocol), SentEval probes, geometry.

Every evaluator takes ``encode: Callable[[list[str]], np.ndarray]``, so textcl
models, sentence-transformers models and baselines are scored by the same code.

Example:
    >>> from textcl.evaluation import evaluate, format_markdown
    >>> results = evaluate(model.encode, "stsb,sickr,mr", "../shared/data/senteval")  # doctest: +SKIP
    >>> print(format_markdown(results))  # doctest: +SKIP
"""

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
    "Encode",
    "PairData",
    "TextData",
    "available_tasks",
    "load_task",
    "evaluate_sts",
    "sts_dev_spearman",
    "evaluate_hf_sts",
    "sts_correlations",
    "evaluate_probe",
    "probe_user_data",
    "cv_probe",
    "split_probe",
    "kfold_test_probe",
    "pair_features",
    "alignment",
    "uniformity",
    "alignment_uniformity",
    "evaluate",
    "encode_unique",
    "EmbeddingTable",
    "format_markdown",
    "write_json",
]
