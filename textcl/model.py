"""``SentenceEncoder``: the object users encode, compare, train and save."""

from __future__ import annotations

import json
import os
from typing import Any, Iterable, Iterator

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm.auto import tqdm

from textcl.encoders.base import Encoder, validate_texts
from textcl.encoders.registry import encoder_class
from textcl.precision import autocast, resolve_precision
from textcl.projection import ProjectionHead
from textcl.folder_kinds import TEXTCL_CONFIG
from textcl.interop.hub import local_or_hub_st_folder
from textcl.interop.sentence_transformers import load_st_dense, read_st_folder

__all__ = ["SentenceEncoder", "TEXTCL_CONFIG"]

PROJECTION_WEIGHTS = "projection.safetensors"
FORMAT_VERSION = 1


class SentenceEncoder(nn.Module):
    """An encoder (transformer or RNN), an optional projection head, and a normalisation flag.

    Everything that changes the output vectors is part of the saved folder, so
    ``SentenceEncoder.from_pretrained(folder)`` encodes exactly like the model
    that wrote it.

    Args:
        encoder: a :class:`textcl.encoders.Encoder`.
        projection: an optional :class:`ProjectionHead` (SimCSE's MLP).
        normalize_embeddings: L2-normalise outputs of :meth:`encode` by default.

    Example:
        >>> model = SentenceEncoder.from_pretrained("sentence-transformers/all-MiniLM-L6-v2", pooling="mean")
        >>> emb = model.encode(["A man plays a guitar.", "Someone is playing music."], normalize=True)
        >>> model.similarity(emb[:1], emb[1:])
    """

    def __init__(self, encoder: Encoder, projection: ProjectionHead | None = None,
                 normalize_embeddings: bool = False) -> None:
        super().__init__()
        self.encoder = encoder
        self.projection = projection
        self.normalize_embeddings = normalize_embeddings

    # ------------------------------------------------------------------ building
    @classmethod
    def from_pretrained(cls, name_or_path: str, pooling: str | None = None, max_length: int | None = None,
                        projection: bool = False, mlp_only_train: bool = False,
                        trust_remote_code: bool = False, device: str | torch.device | None = None,
                        **model_kwargs: Any) -> "SentenceEncoder":
        """Load a textcl folder, a sentence-transformers folder, or any Hugging Face model.

        Args:
            name_or_path: a local folder or a Hugging Face hub name.
            pooling: pooling mode; for a saved folder it overrides the saved one,
                for a plain Hugging Face model it defaults to ``mean``.
            max_length: tokens kept per sentence (overrides the saved value).
            projection: add a fresh SimCSE projection head (new models only).
            mlp_only_train: with ``projection``, use the head in training only.
            trust_remote_code: let transformers run code shipped with the model.
            device: where to put the model (default: CUDA if available, else CPU).
        """
        name_or_path = os.fspath(name_or_path)
        kwargs = dict(trust_remote_code=trust_remote_code, **model_kwargs)
        if os.path.isfile(os.path.join(name_or_path, TEXTCL_CONFIG)):
            model = cls._load_textcl(name_or_path, pooling, max_length, kwargs)
        else:
            st_path = local_or_hub_st_folder(name_or_path)
            if st_path is not None:
                st = read_st_folder(st_path)
                encoder = encoder_class("transformer").from_pretrained(
                    st.transformer_path, pooling=pooling or st.pooling,
                    max_length=max_length or st.max_length, **kwargs)
                head = load_st_dense(st.dense_path) if st.dense_path else None
                model = cls(encoder, head, normalize_embeddings=st.normalize)
            else:
                encoder = encoder_class("transformer").from_pretrained(
                    name_or_path, pooling=pooling or "mean", max_length=max_length, **kwargs)
                model = cls(encoder)
            if projection:
                model.projection = ProjectionHead(encoder.embedding_dim, mlp_only_train)
        return model.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))

    @classmethod
    def _load_textcl(cls, path: str, pooling: str | None, max_length: int | None,
                     kwargs: dict[str, Any]) -> "SentenceEncoder":
        try:
            with open(os.path.join(path, TEXTCL_CONFIG)) as f:
                cfg = json.load(f)
            kind = cfg["encoder_kind"]
        except (json.JSONDecodeError, KeyError) as err:
            raise ValueError(f"{path}/{TEXTCL_CONFIG} is corrupt ({err}): re-save the model") from err
        overrides = {k: v for k, v in (("pooling", pooling), ("max_length", max_length)) if v is not None}
        if kind == "transformer":
            encoder = encoder_class(kind).load(path, **overrides, **kwargs)
        else:
            encoder = encoder_class(kind).load(path, **overrides)
        head = None
        if cfg.get("projection"):
            head = ProjectionHead(**cfg["projection"])
            weights = os.path.join(path, PROJECTION_WEIGHTS)
            try:
                head.load_state_dict(load_file(weights))
            except Exception as err:  # safetensors raises several types for a bad file
                raise ValueError(f"could not read projection weights {weights}: {err}") from err
        return cls(encoder, head, bool(cfg.get("normalize_embeddings", False)))

    # ------------------------------------------------------------------ forward
    @property
    def embedding_dim(self) -> int:
        """Size of the vectors :meth:`encode` returns."""
        return self.encoder.embedding_dim

    @property
    def device(self) -> torch.device:
        """The device of the model's parameters."""
        return next(self.parameters()).device

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Tokenize with the encoder's tokenizer and move tensors to the model's device."""
        return {k: v.to(self.device) for k, v in self.encoder.tokenize(texts).items()}

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """Embed a tokenized batch (no normalisation: losses normalise themselves).

        Shape:
            features["input_ids"]: (batch, seq) -> (batch, embedding_dim)
        """
        emb = self.encoder(features)
        if self.projection is not None:
            emb = self.projection(emb)
        return emb

    # ------------------------------------------------------------------ inference
    def encode(self, texts: str | Iterable[str], batch_size: int = 64, normalize: bool | None = None,
               show_progress_bar: bool = False, precision: str = "auto",
               convert_to_numpy: bool = True) -> np.ndarray | torch.Tensor:
        """Embed sentences.

        Batches are formed from sentences sorted by token length (less
        padding), each sentence is tokenized once, and the results are
        returned in the input order.

        Args:
            texts: a sentence or a list of sentences (non-empty strings).
            batch_size: sentences per forward pass.
            normalize: L2-normalise; defaults to the model's saved setting.
            show_progress_bar: show a tqdm bar.
            precision: ``auto`` (default: bf16 autocast on a CUDA GPU or a CPU with
                AVX512-BF16 / AMX, else float32), ``float32``, ``bfloat16`` or
                ``float16`` (CUDA). Autocast keeps LayerNorm, softmax and pooling in
                float32; on all-MiniLM-L6-v2 / STS-B every bf16 embedding has cosine
                > 0.9999 to the float32 one. Pass ``float32`` for bit-stable results.
            convert_to_numpy: return ``np.ndarray`` (float32) rather than a CPU tensor.

        Returns:
            (n, embedding_dim) float32 embeddings.
        """
        texts = validate_texts(texts)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        normalize = self.normalize_embeddings if normalize is None else normalize
        device = self.device
        precision = resolve_precision(precision, device)
        out = torch.empty(len(texts), self.embedding_dim, dtype=torch.float32)
        was_training = self.training
        self.eval()
        try:
            # no_grad rather than inference_mode: autocast caches the bf16 copy of each
            # weight across batches only outside inference mode (else it re-casts every
            # weight on every batch, twice the copies).
            with torch.no_grad(), autocast(precision, device):
                batches = tqdm(self._length_sorted_batches(texts, batch_size), disable=not show_progress_bar,
                               total=-(-len(texts) // batch_size), desc="Encoding", unit="batch")
                for idx, features in batches:
                    emb = self({k: v.to(device) for k, v in features.items()}).float()  # (batch, dim)
                    if normalize:
                        emb = torch.nn.functional.normalize(emb, dim=-1)
                    out[torch.from_numpy(idx)] = emb.cpu()
        finally:
            self.train(was_training)
        return out.numpy() if convert_to_numpy else out

    def _length_sorted_batches(self, texts: list[str], batch_size: int
                               ) -> Iterator[tuple[np.ndarray, dict[str, torch.Tensor]]]:
        """``(indices, features)`` batches, longest sentences first.

        Transformer encoders tokenize once and sort by real token count; other
        encoders sort by their :meth:`Encoder.token_lengths` estimate and
        tokenize batch by batch.
        """
        batches = getattr(self.encoder, "length_sorted_batches", None)
        if batches is not None:
            yield from batches(texts, batch_size)
            return
        order = np.argsort([-n for n in self.encoder.token_lengths(texts)], kind="stable")
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            yield idx, self.encoder.tokenize([texts[i] for i in idx])

    def similarity(self, a: Any, b: Any) -> np.ndarray:
        """Cosine-similarity matrix between two sets of embeddings (or sentences).

        Args:
            a: (n, d) embeddings, or sentences to encode.
            b: (m, d) embeddings, or sentences to encode.

        Returns:
            (n, m) float32 cosine similarities.
        """
        x, y = (self._as_matrix(v) for v in (a, b))
        if x.shape[1] != y.shape[1]:
            raise ValueError(f"embedding sizes differ: {x.shape} vs {y.shape}")
        x = x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)
        y = y / np.clip(np.linalg.norm(y, axis=1, keepdims=True), 1e-12, None)
        return (x @ y.T).astype(np.float32)

    def _as_matrix(self, v: Any) -> np.ndarray:
        if isinstance(v, str) or (isinstance(v, (list, tuple)) and v and isinstance(v[0], str)):
            return self.encode(v)
        if isinstance(v, torch.Tensor):
            v = v.detach().float().cpu().numpy()
        v = np.asarray(v, dtype=np.float32)
        return v[None, :] if v.ndim == 1 else v

    # ------------------------------------------------------------------ saving
    def get_config(self) -> dict[str, Any]:
        """The folder-level settings written to ``textcl_config.json``."""
        return {
            "format_version": FORMAT_VERSION,
            "encoder_kind": self.encoder.kind,
            "encoder": self.encoder.get_config(),
            "projection": self.projection.get_config() if self.projection is not None else None,
            "normalize_embeddings": self.normalize_embeddings,
        }

    def save(self, path: str, format: str = "textcl") -> None:
        """Write the model to folder ``path``.

        Args:
            path: output folder.
            format: ``"textcl"`` (config, safetensors weights, tokenizer; any
                encoder) or ``"sentence-transformers"`` (a folder that
                ``sentence_transformers.SentenceTransformer(path)`` loads and
                encodes identically with; transformer encoders with mean, max or
                cls_before_pooler pooling, see :mod:`textcl.interop.sentence_transformers`).

        Raises:
            ValueError: an unknown ``format``, or a model the format cannot express.
        """
        if format == "sentence-transformers":
            from textcl.interop.sentence_transformers import save_sentence_transformers

            save_sentence_transformers(self, path)
            return
        if format != "textcl":
            raise ValueError(f"unknown save format {format!r}: choose 'textcl' or 'sentence-transformers'")
        os.makedirs(path, exist_ok=True)
        self.encoder.save(path)
        if self.projection is not None:
            state = {k: v.detach().cpu().contiguous() for k, v in self.projection.state_dict().items()}
            save_file(state, os.path.join(path, PROJECTION_WEIGHTS))
        with open(os.path.join(path, TEXTCL_CONFIG), "w") as f:
            json.dump(self.get_config(), f, indent=2)

