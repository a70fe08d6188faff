"""Model cards: a README.md with Hugging Face YAML front matter for every trained model."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import torch
import yaml

__all__ = ["ModelCard", "write_model_card", "hardware_description"]

_ST_USAGE = """With sentence-transformers (after `model.save(path, format="sentence-transformers")`):

```python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer("{path}")
embeddings = model.encode(["A man is playing a guitar.", "Someone plays music."])
```"""

_NO_ST = ("This encoder ({kind}) has no sentence-transformers equivalent; use it through textcl.")


def hardware_description() -> str:
    """A short description of where training ran (GPU name, or CPU and core count)."""
    if torch.cuda.is_available():
        return f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


@dataclass
class ModelCard:
    """What a model card says.

    Attributes:
        name: the model's name (title of the card).
        base_model: the starting checkpoint (hub name or description such as "GloVe 6B 50d").
        datasets: training data names.
        loss: the objective, e.g. ``InfoNCE(temperature=0.05)``.
        view: the positive view (``dropout``, ``pair``, ``triplet``, ``labeled_pair``).
        hyperparameters: training settings shown in the card.
        train_seconds: wall time of training.
        results: ``{task: {metric: value}}`` (values x100), shown and put in ``model-index``.
        extra_rows: further (setting, value) rows for the training table.
    """

    name: str
    base_model: str
    datasets: list[str]
    loss: str
    view: str
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    train_seconds: float | None = None
    results: dict[str, dict[str, float]] = field(default_factory=dict)
    extra_rows: list[tuple[str, str]] = field(default_factory=list)


def _front_matter(card: ModelCard) -> str:
    meta: dict[str, Any] = {
        "language": ["en"], "library_name": "textcl", "pipeline_tag": "sentence-similarity",
        "tags": ["textcl", "sentence-embeddings", "contrastive-learning", "sentence-similarity"],
        "base_model": card.base_model, "datasets": card.datasets,
    }
    results = [{"task": {"type": "sentence-similarity" if "spearman" in m else "text-classification"},
                "dataset": {"name": task, "type": task},
                "metrics": [{"type": k, "value": round(float(v), 2)} for k, v in m.items()
                            if isinstance(v, (int, float))]}
               for task, m in card.results.items()]
    if results:
        meta["model-index"] = [{"name": card.name, "results": results}]
    return yaml.safe_dump(meta, sort_keys=False).strip()


def write_model_card(path: str, card: ModelCard, model: Any | None = None) -> str:
    """Write ``README.md`` into model folder ``path``; returns the file's path.

    Args:
        path: the saved model folder.
        card: what to say.
        model: the :class:`textcl.SentenceEncoder`, to describe its encoder and size.
    """
    kind, dim, desc = "unknown", "?", "a sentence encoder"
    if model is not None:
        kind, dim = model.encoder.kind, model.embedding_dim
        desc = {"transformer": f"a transformer with {getattr(model.encoder, 'pooling', '?')} pooling",
                "rnn": "a recurrent network over word vectors",
                "word_average": "averaged word vectors"}.get(kind, kind)
    rows = [("base model", card.base_model), ("training data", ", ".join(card.datasets)),
            ("positive view", card.view), ("loss", card.loss)]
    rows += [(k, str(v)) for k, v in card.hyperparameters.items()]
    if card.train_seconds is not None:
        rows.append(("training time", f"{card.train_seconds / 60:.1f} min"))
    rows.append(("hardware", hardware_description()))
    rows += card.extra_rows
    if card.results:
        metrics = sorted({k for m in card.results.values() for k in m})
        lines = ["| task | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
        for task, m in card.results.items():
            lines.append(f"| {task} | " + " | ".join(f"{m[k]:.2f}" if k in m else "" for k in metrics) + " |")
        evaluation = "\n".join(lines) + "\n\nSpearman / accuracy x100 (STS: cosine similarity, SimCSE protocol)."
    else:
        evaluation = "Not evaluated yet: run `textcl eval --model PATH --tasks ...`."
    template = files("textcl.model_cards").joinpath("template.md").read_text()
    text = template.format(
        front_matter=_front_matter(card), name=card.name, encoder_description=desc, dim=dim,
        training_rows="\n".join(f"| {k} | {v} |" for k, v in rows), evaluation=evaluation, path=path,
        st_usage=(_ST_USAGE if kind == "transformer" else _NO_ST).format(path=path, kind=kind))
    out = os.path.join(path, "README.md")
    with open(out, "w") as f:
        f.write(text)
    return out
