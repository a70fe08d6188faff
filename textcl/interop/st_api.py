"""sentence-transformers' model API on :class:`~textcl.model.SentenceEncoder`: its load keyword arguments,
its attributes (``tokenizer``, ``max_seq_length``, ``truncate_dim``, ``model_card_data``) and methods
(``get_embedding_dimension``, ``encode_query``, ``encode_document``, ``similarity``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from textcl.similarity import as_matrix, check_finite, similarity_matrix, similarity_pairwise

__all__ = ["LOAD_SETTINGS", "ModelCardData", "SentenceTransformerAPI", "split_load_kwargs"]

# load keywords that set the model, not the files it is read from
LOAD_SETTINGS = ("truncate_dim", "prompts", "default_prompt_name", "similarity_fn_name")
_QUERY_PROMPTS = ("query",)
_DOCUMENT_PROMPTS = ("document", "passage", "corpus")


def split_load_kwargs(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """sentence-transformers' load keywords, sorted: ``(for the files' loaders, model settings)``.

    ``model_kwargs`` go to transformers' model, ``processor_kwargs`` (or ``tokenizer_kwargs``) to its
    tokenizer, ``config_kwargs`` to its config; ``local_files_only`` reads the hub cache only.
    """
    kwargs = dict(kwargs)
    settings = {k: kwargs.pop(k) for k in LOAD_SETTINGS if k in kwargs and kwargs[k] is not None}
    for k in LOAD_SETTINGS:
        kwargs.pop(k, None)
    loaders = dict(kwargs.pop("model_kwargs", None) or {})
    loaders.update(kwargs)
    tokenizer_kwargs = loaders.pop("processor_kwargs", None) or loaders.pop("tokenizer_kwargs", None)
    loaders.pop("tokenizer_kwargs", None)
    if tokenizer_kwargs:
        loaders["tokenizer_kwargs"] = dict(tokenizer_kwargs)
    if not loaders.get("config_kwargs"):
        loaders.pop("config_kwargs", None)
    return loaders, settings


@dataclass
class ModelCardData:
    """What sentence-transformers' evaluators and trainers record on a model (``model.model_card_data``)."""

    model_name: str | None = None
    model_id: str | None = None
    language: list[str] = field(default_factory=list)
    license: str | None = None
    tags: list[str] = field(default_factory=list)
    train_datasets: list[dict[str, Any]] = field(default_factory=list)
    eval_datasets: list[dict[str, Any]] = field(default_factory=list)
    eval_results: list[dict[str, Any]] = field(default_factory=list)

    def set_evaluation_metrics(self, evaluator: Any, metrics: dict[str, Any], epoch: int = 0, step: int = 0) -> None:
        """Keep an evaluator's scores (called by sentence-transformers' evaluators)."""
        self.eval_results.append({"evaluator": type(evaluator).__name__, "metrics": dict(metrics), "epoch": epoch,
                                  "step": step})

    def __getattr__(self, name: str) -> Any:  # newer sentence-transformers hooks: accepted, nothing to record
        if name.startswith(("set_", "add_")):
            return lambda *args, **kwargs: None
        raise AttributeError(name)


class SentenceTransformerAPI:
    """Attributes and methods a sentence-transformers user reaches for (mixed into ``SentenceEncoder``)."""

    truncate_dim: int | None = None

    @property
    def tokenizer(self) -> Any:
        """The encoder's tokenizer (a transformers tokenizer, or textcl's word tokenizer)."""
        return getattr(self.encoder, "tokenizer", None)

    @property
    def max_seq_length(self) -> int:
        """Tokens kept per sentence; settable, as in sentence-transformers."""
        return self.encoder.max_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        self.encoder.max_length = value

    def get_embedding_dimension(self) -> int:
        """The size of :meth:`encode`'s vectors (``truncate_dim`` when set)."""
        return min(self.truncate_dim, self.embedding_dim) if self.truncate_dim else self.embedding_dim

    def get_sentence_embedding_dimension(self) -> int:
        """Alias of :meth:`get_embedding_dimension` (sentence-transformers' older name)."""
        return self.get_embedding_dimension()

    def _named_prompt(self, names: tuple[str, ...], prompt_name: str | None, prompt: str | None) -> str | None:
        if prompt_name is not None or prompt is not None:
            return prompt_name
        return next((n for n in names if n in self.prompts), None)

    def encode_query(self, sentences: Any, prompt_name: str | None = None, prompt: str | None = None,
                     **kwargs: Any) -> Any:
        """:meth:`encode` with the model's ``query`` prompt, when it has one."""
        name = self._named_prompt(_QUERY_PROMPTS, prompt_name, prompt)
        return self.encode(sentences, prompt_name=name, prompt=prompt, **kwargs)

    def encode_document(self, sentences: Any, prompt_name: str | None = None, prompt: str | None = None,
                        **kwargs: Any) -> Any:
        """:meth:`encode` with the model's ``document`` (or ``passage``, ``corpus``) prompt, when it has one."""
        name = self._named_prompt(_DOCUMENT_PROMPTS, prompt_name, prompt)
        return self.encode(sentences, prompt_name=name, prompt=prompt, **kwargs)

    @property
    def model_card_data(self) -> ModelCardData:
        """Scores and facts sentence-transformers' evaluators record on the model."""
        if "_model_card_data" not in self.__dict__:
            self.__dict__["_model_card_data"] = ModelCardData()
        return self.__dict__["_model_card_data"]

    def similarity(self, a: Any, b: Any, fn: str | None = None) -> np.ndarray | torch.Tensor:
        """Similarity matrix between two sets of embeddings (or sentences, encoded first).

        Args:
            a: (n, d) embeddings, or sentences.
            b: (m, d) embeddings, or sentences.
            fn: ``cosine``, ``dot``, ``euclidean`` or ``manhattan`` (negated distances); default:
                the model's ``similarity_fn_name``.

        Returns:
            (n, m) float32 similarities: a ``torch.Tensor`` (on the input's device) when an input is a
            tensor, as sentence-transformers' evaluators expect; else a NumPy array.
        """
        x, y = (self._as_matrix(v) for v in (a, b))
        if x.shape[1] != y.shape[1]:
            raise ValueError(f"embedding sizes differ: {x.shape} vs {y.shape}")
        return _like_input(similarity_matrix(x, y, fn or self.similarity_fn_name), a, b)

    def similarity_pairwise(self, a: Any, b: Any, fn: str | None = None) -> np.ndarray | torch.Tensor:
        """Row-wise similarity of aligned embeddings (or sentences): (n, d), (n, d) -> (n,); a tensor for tensors."""
        x, y = (self._as_matrix(v) for v in (a, b))
        return _like_input(similarity_pairwise(x, y, fn or self.similarity_fn_name), a, b)

    def _as_matrix(self, v: Any) -> np.ndarray:
        if isinstance(v, str) or (isinstance(v, (list, tuple)) and v and isinstance(v[0], str)):
            v = self.encode([v] if isinstance(v, str) else v)
        if isinstance(v, torch.Tensor):
            v = v.detach().float().cpu().numpy()
        v = np.asarray(v, dtype=np.float32)
        check_finite(as_matrix(v, "embeddings"), "embedding")
        return v[None, :] if v.ndim == 1 else v


def _like_input(result: np.ndarray, *inputs: Any) -> np.ndarray | torch.Tensor:
    """``result`` as a tensor on the first tensor input's device, or as it is when no input is a tensor."""
    tensor = next((v for v in inputs if isinstance(v, torch.Tensor)), None)
    return result if tensor is None else torch.from_numpy(np.ascontiguousarray(result)).to(tensor.device)
