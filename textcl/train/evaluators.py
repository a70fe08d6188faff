"""Evaluators the trainer runs every ``eval_steps``: model -> {metric: value}.

Every evaluator names the metric that selects the best checkpoint in ``primary_metric``:
``Trainer(..., evaluator=ev, metric_for_best=ev.primary_metric)``. Besides SentEval's STS dev set
(:class:`STSDevEvaluator`), the evaluators over Python lists serve: :class:`STSEvaluator`,
:class:`RetrievalEvaluator`, :class:`TripletEvaluator` (from :mod:`textcl.evaluation`).
"""

from __future__ import annotations

import os

from textcl.data.senteval import load_task
from textcl.evaluation.evaluators import STSEvaluator, TripletEvaluator
from textcl.evaluation.retrieval import RetrievalEvaluator
from textcl.evaluation.sts import evaluate_sts_data
from textcl.model import SentenceEncoder

__all__ = ["RetrievalEvaluator", "STSDevEvaluator", "STSEvaluator", "TripletEvaluator", "evaluator_config"]


def evaluator_config(evaluator: object, metric: str) -> dict[str, object]:
    """What a run record keeps of ``evaluator``: its ``get_config()`` (else its class name) and the metric kept."""
    config = getattr(evaluator, "get_config", None)
    kind = config() if config else {"class": getattr(evaluator, "__qualname__", type(evaluator).__qualname__)}
    return {**kind, "metric": metric}


class STSDevEvaluator:
    """Spearman x100 of cosine similarity on an STS dev set (SimCSE's model selection).

    The data is read once; each call encodes the dev sentences with the
    current model in eval mode.

    Args:
        data_dir: a SentEval ``data/downstream`` folder (STS-B dev is
            ``STS/STSBenchmark/sts-dev.csv``; SICK-R's dev is ``SICK_trial.txt``).
        task: ``stsb`` or ``sickr``.
        batch_size: encoding batch size.
        dtype: compute dtype of encoding (default float32: scores comparable with published figures).

    Example:
        >>> evaluator = STSDevEvaluator("../shared/data/senteval")
        >>> evaluator(model)   # {"stsb_dev_spearman": 76.3}
    """

    def __init__(self, data_dir: str, task: str = "stsb", batch_size: int = 128, dtype: str = "float32") -> None:
        if not os.path.isdir(data_dir):
            raise FileNotFoundError(f"--eval-sts {data_dir!r} is not a folder: pass SentEval's data/downstream "
                                    "folder (holding STS/STSBenchmark/sts-dev.csv)")
        self.task, self.batch_size, self.dtype = task, batch_size, dtype
        self.data = load_task(task, data_dir, ("dev",))["dev"]
        self.metric = self.primary_metric = f"{task}_dev_spearman"

    def __call__(self, model: SentenceEncoder) -> dict[str, float]:
        def encode(texts):
            return model.encode(texts, batch_size=self.batch_size, dtype=self.dtype)
        return {self.metric: float(evaluate_sts_data(encode, self.data)["spearman"])}
