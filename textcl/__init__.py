"""textcl: contrastive sentence embeddings.

Example:
    >>> from textcl import SentenceEncoder
    >>> model = SentenceEncoder.from_pretrained("sentence-transformers/all-MiniLM-L6-v2", pooling="mean")
    >>> emb = model.encode(["A man plays a guitar.", "Someone is playing music."], normalize=True)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.3.0"

# public name -> module; imported on first use so that `import textcl` stays light.
_EXPORTS = {
    "SentenceEncoder": "textcl.model",
    "TransformerEncoder": "textcl.encoders.transformer",
    "RNNEncoder": "textcl.encoders.rnn",
    "WordAverageEncoder": "textcl.encoders.word_average",
    "CNNEncoder": "textcl.encoders.cnn",
    "ProjectionHead": "textcl.projection",
    "DropoutView": "textcl.views",
    "PairView": "textcl.views",
    "TripletView": "textcl.views",
    "LabeledPairView": "textcl.views",
    "ScoredPairView": "textcl.views",
    "DistillationView": "textcl.views",
    **{name: "textcl.losses" for name in ("InfoNCE", "PairwiseContrastiveLoss", "TripletLoss", "CoSENTLoss",
                                          "AnglELoss", "CosineSimilarityLoss", "OnlineContrastiveLoss",
                                          "MatryoshkaLoss", "MSELoss", "GISTEmbedLoss", "SoftmaxLoss")},
    "load_data": "textcl.data",
    "nli_to_triplets": "textcl.data.snli",
    "Trainer": "textcl.train.trainer",
    "TrainConfig": "textcl.train.config",
    "STSDevEvaluator": "textcl.train.evaluators",
    "STSEvaluator": "textcl.evaluation.evaluators",
    "TripletEvaluator": "textcl.evaluation.evaluators",
    "RetrievalEvaluator": "textcl.evaluation.retrieval",
    "mine_hard_negatives": "textcl.search.mining",
    "add_teacher_embeddings": "textcl.data.teacher",
    "SentenceClassifier": "textcl.classify.classifier",
    "semantic_search": "textcl.search",
    "cosine_top_k": "textcl.search",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'textcl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
