"""MTEB: a textcl model as an mteb 2 encoder (``mteb.evaluate(MTEBEncoder(model), tasks)``).

:class:`MTEBEncoder` satisfies mteb's ``EncoderProtocol``: ``encode`` takes
mteb's ``DataLoader`` of ``{"text": [...]}`` batches with the task's metadata,
split, subset and prompt type; ``similarity`` / ``similarity_pairwise`` use the
model's saved similarity function; ``mteb_model_meta`` describes the model.

Prompts are chosen the way mteb chooses them for sentence-transformers models,
from the model's saved prompts (``SentenceEncoder.prompts``) merged with any
given here, keyed by ``{task name}-{prompt type}``, task name,
``{task type}-{prompt type}``, task type (``STS``, ``Retrieval``, ...) or
prompt type (``query``, ``document``), in that order of priority.

``mteb`` is an optional extra (``pip install mteb``); it is imported on use.

Example:
    >>> import mteb
    >>> from textcl import SentenceEncoder
    >>> from textcl.evaluation.mteb import MTEBEncoder
    >>> model = MTEBEncoder(SentenceEncoder.from_pretrained("out/run/model"))  # doctest: +SKIP
    >>> mteb.evaluate(model, mteb.get_tasks(tasks=["STSBenchmark"]), cache=None)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, get_args

import numpy as np
import torch

from textcl.settings import check_int

if TYPE_CHECKING:
    from torch.utils.data import DataLoader

    from textcl.model import SentenceEncoder

__all__ = ["MTEBEncoder", "model_meta"]

_DTYPES = ("auto", "float32", "bfloat16", "float16")


def _require_mteb() -> Any:
    try:
        import mteb
    except ImportError as err:
        raise ImportError("textcl.evaluation.mteb needs mteb 2: pip install 'mteb>=2'") from err
    if int(mteb.__version__.split(".")[0]) < 2:
        raise ImportError(f"textcl.evaluation.mteb needs mteb 2 (found {mteb.__version__}): pip install -U 'mteb>=2'")
    return mteb


def model_meta(model: "SentenceEncoder", name: str, revision: str | None = None, license: str | None = None,
               prompts: dict[str, str] | None = None) -> Any:
    """An ``mteb.models.ModelMeta`` describing ``model`` (size, dimension, similarity, prompts).

    Args:
        model: the textcl model.
        name: ``organization/model_name`` (mteb's naming rule).
        revision: the model's revision, if known.
        license: a licence id mteb knows (others are recorded as None).
        prompts: the prompts the adapter uses (``use_instructions`` is True when there are any).
    """
    _require_mteb()
    from mteb.models.model_meta import ModelMeta
    from mteb.types._metadata import Licenses

    known = set(get_args(Licenses))
    return ModelMeta(
        loader=None, name=name, revision=revision, release_date=None, languages=None,
        n_parameters=sum(p.numel() for p in model.parameters()), memory_usage_mb=None,
        max_tokens=float(model.encoder.max_length) if getattr(model.encoder, "max_length", None) else None,
        embed_dim=model.embedding_dim, license=license if license in known else None, open_weights=True,
        public_training_code="https://github.com/textcl/textcl", public_training_data=None, framework=["PyTorch"],
        similarity_fn_name=model.similarity_fn_name, use_instructions=bool(prompts), training_datasets=None)


class MTEBEncoder:
    """A :class:`textcl.SentenceEncoder` behind mteb 2's encoder protocol.

    Args:
        model: a SentenceEncoder, or a name / folder for ``SentenceEncoder.from_pretrained``.
        name: the model's name in mteb results, ``organization/model_name`` (default:
            ``textcl/<folder or model name>``).
        revision: the model's revision, recorded in the results.
        prompts: extra prompts by task name / task type / prompt type (merged over the model's own).
        batch_size: sentences per forward pass (mteb's ``encode_kwargs["batch_size"]`` wins).
        dtype: compute dtype for ``encode`` (``float32`` by default, so scores repeat exactly).
        license: licence id for the model metadata.
        **load_kwargs: passed to ``SentenceEncoder.from_pretrained`` when ``model`` is a name.

    Raises:
        ValueError: a bad ``dtype`` or ``batch_size``, or a ``name`` without ``/``.
    """

    def __init__(self, model: "SentenceEncoder | str | os.PathLike", name: str | None = None,
                 revision: str | None = None, prompts: dict[str, str] | None = None, batch_size: int = 64,
                 dtype: str = "float32", license: str | None = None, **load_kwargs: Any) -> None:
        _require_mteb()
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
        check_int("batch_size", batch_size)
        if isinstance(model, (str, os.PathLike)):  # a name (str has .encode too: test the type)
            from textcl.model import SentenceEncoder

            source = os.fspath(model)
            model = SentenceEncoder.from_pretrained(source, **load_kwargs)
            name = name or f"textcl/{os.path.basename(os.path.normpath(source))}"
        name = name or "textcl/model"
        if "/" not in name:
            raise ValueError(f"name {name!r} must read 'organization/model_name' (mteb's rule), e.g. 'textcl/{name}'")
        self.model = model
        self.batch_size, self.dtype = batch_size, dtype
        self.model_prompts: dict[str, str] = {**dict(getattr(model, "prompts", {}) or {}), **(prompts or {})}
        self.mteb_model_meta = model_meta(model, name, revision, license, self.model_prompts)

    def get_prompt(self, task_metadata: Any, prompt_type: Any | None) -> str | None:
        """The prompt text for this task and prompt type (None: no prompt applies)."""
        from mteb.models.abs_encoder import get_prompt_name

        key = get_prompt_name(self.model_prompts, task_metadata, prompt_type)
        return self.model_prompts[key] if key else None

    def encode(self, inputs: "DataLoader", *, task_metadata: Any, hf_split: str, hf_subset: str,
               prompt_type: Any | None = None, **kwargs: Any) -> np.ndarray:
        """Embed every text mteb's ``DataLoader`` yields.

        Args:
            inputs: batches of ``{"text": list[str], ...}``.
            task_metadata: the task's ``TaskMetadata`` (name and type choose the prompt).
            hf_split: the split being scored (not used to encode).
            hf_subset: the subset being scored (not used to encode).
            prompt_type: ``PromptType.query`` / ``PromptType.document`` or None.
            **kwargs: mteb's ``encode_kwargs``; ``batch_size`` and ``show_progress_bar`` are used.

        Returns:
            float32 embeddings, shape ``(n_texts, dim)``.
        """
        texts: list[str] = []
        for batch in inputs:
            if "text" not in batch:
                raise ValueError(f"MTEBEncoder encodes text only; the batch has {', '.join(batch)} "
                                 f"(task {task_metadata.name}, modalities {task_metadata.modalities})")
            texts.extend(batch["text"])
        prompt = self.get_prompt(task_metadata, prompt_type)
        if not texts:
            return np.zeros((0, self.model.embedding_dim), dtype=np.float32)
        emb = self.model.encode(texts, prompt=prompt, batch_size=int(kwargs.get("batch_size") or self.batch_size),
                                show_progress_bar=bool(kwargs.get("show_progress_bar", False)), dtype=self.dtype,
                                convert_to_numpy=True)
        return np.asarray(emb, dtype=np.float32).reshape(len(texts), -1)  # (n_texts, dim)

    def similarity(self, embeddings1: Any, embeddings2: Any) -> torch.Tensor:
        """All-pairs similarity with the model's function: (n, d), (m, d) -> (n, m)."""
        return torch.as_tensor(np.asarray(self.model.similarity(_numpy(embeddings1), _numpy(embeddings2))))

    def similarity_pairwise(self, embeddings1: Any, embeddings2: Any) -> torch.Tensor:
        """Row-wise similarity with the model's function: (n, d), (n, d) -> (n,)."""
        return torch.as_tensor(np.asarray(self.model.similarity_pairwise(_numpy(embeddings1), _numpy(embeddings2))))

    def __repr__(self) -> str:
        return f"MTEBEncoder({self.mteb_model_meta.name!r}, dtype={self.dtype!r}, prompts={len(self.model_prompts)})"


def _numpy(x: Any) -> np.ndarray:
    """float32 numpy from a tensor (any dtype or device) or array; mteb passes either."""
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)
