"""``SentenceEncoder``: the object users encode, compare, train and save."""

from __future__ import annotations

import os
import warnings
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from textcl.dtype import autocast, check_not_legacy_precision, resolve_dtype
from textcl.encoders.base import Encoder, validate_texts
from textcl.encoders.registry import encoder_class
from textcl.hub import TEXTCL_CONFIG, is_local_path, resolve_model
from textcl.interop.sentence_transformers import load_st_dense, read_st_folder, write_st_modules
from textcl.interop.st_api import SentenceTransformerAPI, split_load_kwargs
from textcl.model_folder import FORMAT_VERSION, check_local_folder, read_textcl_folder, write_textcl_folder
from textcl.projection import ProjectionHead
from textcl.quantization import calibration_ranges, quantize, validate_output_precision
from textcl.settings import check_int
from textcl.similarity import check_finite, validate_similarity_fn
from textcl.storage import recover_folder
from textcl.threads import ThreadPlan

__all__ = ["SentenceEncoder", "TEXTCL_CONFIG"]



class SentenceEncoder(SentenceTransformerAPI, nn.Module):
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

    def __init__(self, encoder: Encoder | str | os.PathLike, projection: ProjectionHead | None = None,
                 normalize_embeddings: bool = False, prompts: dict[str, str] | None = None,
                 default_prompt_name: str | None = None, similarity_fn_name: str | None = None,
                 quantization_ranges: np.ndarray | None = None, default_backend: str | None = None,
                 truncate_dim: int | None = None, **load_kwargs: Any) -> None:
        if isinstance(encoder, (str, os.PathLike)):  # SentenceEncoder("org/name", ...), as SentenceTransformer(...)
            loaded = type(self).from_pretrained(
                encoder, prompts=prompts, default_prompt_name=default_prompt_name,
                similarity_fn_name=similarity_fn_name, truncate_dim=truncate_dim, **load_kwargs)
            nn.Module.__init__(self)
            for name, value in vars(loaded).items():
                if not name.startswith("_"):
                    setattr(self, name, value)
            self.encoder, self.projection = loaded.encoder, loaded.projection
            return
        if load_kwargs:
            raise TypeError(f"{', '.join(sorted(load_kwargs))}: load keywords need a model name or path, "
                            "e.g. SentenceEncoder('org/name', model_kwargs={...}); got an encoder object")
        super().__init__()
        similarity_fn_name = similarity_fn_name or "cosine"
        self.encoder = encoder
        self.projection = projection
        self.normalize_embeddings = normalize_embeddings
        self.prompts: dict[str, str] = dict(prompts or {})
        if default_prompt_name is not None and default_prompt_name not in self.prompts:
            raise ValueError(f"default_prompt_name {default_prompt_name!r} is not one of the prompts "
                             f"({', '.join(self.prompts) or 'none'})")
        self.default_prompt_name = default_prompt_name
        self.similarity_fn_name = validate_similarity_fn(similarity_fn_name)
        self.quantization_ranges = (None if quantization_ranges is None
                                    else np.asarray(quantization_ranges, dtype=np.float32))
        self.default_backend = default_backend
        self.truncate_dim = None if truncate_dim is None else check_int("truncate_dim", truncate_dim)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_pretrained(cls, name_or_path: str, pooling: str | None = None, max_length: int | None = None,
                        projection: bool = False, mlp_only_train: bool = False,
                        trust_remote_code: bool = False, device: str | torch.device | None = None,
                        revision: str | None = None, token: str | bool | None = None,
                        cache_folder: str | None = None, **model_kwargs: Any) -> "SentenceEncoder":
        """Load a textcl folder, a sentence-transformers folder, or any Hugging Face model.

        Local path or hub repo id is decided by :func:`textcl.hub.is_local_path`; a
        repo id is resolved through the hub cache (``HF_HUB_OFFLINE`` honoured), in any of
        the three layouts.

        Args:
            name_or_path: a local folder or a Hugging Face hub repo id.
            pooling: pooling mode; for a saved folder it overrides the saved one,
                for a plain Hugging Face model it defaults to ``mean``.
            max_length: tokens kept per sentence (overrides the saved value).
            projection: add a fresh SimCSE projection head (new models only).
            mlp_only_train: with ``projection``, use the head in training only.
            trust_remote_code: let transformers run code shipped with the model.
            device: where to put the model (default: CUDA if available, else CPU).
            revision: branch, tag or commit of a repo id (ignored for a local folder).
            token: hub token for private or gated repos (default: saved login / ``HF_TOKEN``).
            cache_folder: hub cache folder (default: ``HF_HUB_CACHE``).
            **model_kwargs: passed to transformers' ``from_pretrained``; ``verify=False`` skips
                checking a textcl folder's files' sizes and hashes against its manifest (with a warning);
                ``backend="onnx"`` sets :meth:`encode`'s default inference engine (saved with the model).
                sentence-transformers' load keywords mean what they mean there: ``model_kwargs``,
                ``processor_kwargs`` (alias ``tokenizer_kwargs``), ``config_kwargs``, ``local_files_only``,
                and ``truncate_dim``, ``prompts``, ``default_prompt_name``, ``similarity_fn_name``, which
                override the saved settings (:func:`textcl.interop.st_api.split_load_kwargs`).

        Raises:
            FileNotFoundError: a local path that does not exist (no hub lookup is made).
            OSError: a repo id neither the hub nor the cache has; the message names both readings.
        """
        model_kwargs, settings = split_load_kwargs(model_kwargs)
        local_only = bool(model_kwargs.pop("local_files_only", False))
        hub = dict(revision=revision, token=token, cache_folder=cache_folder)
        name_or_path = os.fspath(name_or_path)
        if is_local_path(name_or_path) and not os.path.lexists(name_or_path):
            # a crash between the two renames of a save leaves only complete siblings: put the newest back
            note = recover_folder(name_or_path)
            if note:
                warnings.warn(note, UserWarning, stacklevel=2)
        check_local_folder(name_or_path, verify=model_kwargs.get("verify", True))
        resolved = resolve_model(name_or_path, **hub, local_files_only=local_only)
        backend = model_kwargs.pop("backend", None)
        kwargs = dict(trust_remote_code=trust_remote_code, **model_kwargs,
                      **({"local_files_only": True} if local_only else {}))
        if resolved.layout == "textcl":
            model = cls._load_textcl(resolved.path, pooling, max_length, kwargs)
        elif resolved.layout == "sentence-transformers":
            kwargs.pop("verify", None)
            st = read_st_folder(resolved.path)
            encoder = encoder_class("transformer").from_pretrained(
                st.transformer_path, pooling=pooling or st.pooling,
                max_length=st.max_length if max_length is None else max_length,
                **kwargs)
            head = load_st_dense(st.dense_path) if st.dense_path else None
            model = cls(encoder, head, normalize_embeddings=st.normalize, prompts=st.prompts,
                        default_prompt_name=st.default_prompt_name, similarity_fn_name=st.similarity_fn_name)
        else:
            kwargs.pop("verify", None)
            encoder = encoder_class("transformer").from_pretrained(
                resolved.path, pooling=pooling or "mean", max_length=max_length, **hub, **kwargs)
            model = cls(encoder)
        if projection:
            if model.projection is not None:
                raise ValueError(f"{name_or_path} already has a trained projection head; projection=True "
                                 "(--projection) adds a fresh, random head to a model without one. Drop it to "
                                 "keep the trained head")
            model.projection = ProjectionHead(model.encoder.embedding_dim, mlp_only_train)
        if backend is not None:  # encode()'s default engine, saved with the model
            from textcl.backends import validate_backend

            model.default_backend = validate_backend(backend)
        model.apply_load_settings(**settings)
        return model.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))

    def apply_load_settings(self, truncate_dim: int | None = None, prompts: dict[str, str] | None = None,
                            default_prompt_name: str | None = None, similarity_fn_name: str | None = None) -> None:
        """Override the saved settings with the ones given at load time (sentence-transformers' meaning)."""
        if prompts is not None:
            self.prompts = dict(prompts)
        if default_prompt_name is not None:
            if default_prompt_name not in self.prompts:
                raise ValueError(f"default_prompt_name {default_prompt_name!r} is not one of the prompts "
                                 f"({', '.join(self.prompts) or 'none'})")
            self.default_prompt_name = default_prompt_name
        if similarity_fn_name is not None:
            self.similarity_fn_name = validate_similarity_fn(similarity_fn_name)
        if truncate_dim is not None:
            self.truncate_dim = check_int("truncate_dim", truncate_dim)

    @classmethod
    def _load_textcl(cls, path: str, pooling: str | None, max_length: int | None,
                     kwargs: dict[str, Any]) -> "SentenceEncoder":
        """Read a textcl folder after checking it against its manifest (``docs/format.md``)."""
        encoder, head, cfg = read_textcl_folder(path, pooling, max_length, kwargs)
        return cls(encoder, head, bool(cfg.get("normalize_embeddings", False)), prompts=cfg.get("prompts"),
                   default_prompt_name=cfg.get("default_prompt_name"),
                   similarity_fn_name=cfg.get("similarity_fn_name", "cosine"),
                   quantization_ranges=cfg.get("quantization_ranges"), default_backend=cfg.get("default_backend"))

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
    def encode(self, sentences: str | Iterable[str], prompt_name: str | None = None, prompt: str | None = None,
               batch_size: int = 64, show_progress_bar: bool = False, precision: str = "float32",
               convert_to_numpy: bool = True, convert_to_tensor: bool = False,
               device: str | torch.device | list[str | torch.device] | None = None,
               normalize_embeddings: bool | None = None, truncate_dim: int | None = None,
               dtype: str = "auto", backend: str | None = None, quantization_ranges: np.ndarray | None = None,
               normalize: bool | None = None, texts: Any = None, threads: int | None = None
               ) -> np.ndarray | torch.Tensor:
        """Embed sentences; the arguments follow ``sentence_transformers.SentenceTransformer.encode``.

        Sentences are batched by token length (less padding), each tokenized once,
        and returned in the input order. The pipeline, for every sentence:
        ``prompt + sentence`` → encoder → projection head → the model's own
        normalisation (``normalize_embeddings`` saved with it) → ``truncate_dim`` →
        ``normalize_embeddings`` argument → output ``precision``.

        Args:
            sentences: a sentence or a list of sentences (non-empty strings).
            prompt_name: key of a prompt saved with the model (``model.prompts``).
            prompt: a prompt string prepended to every sentence (overrides ``prompt_name``).
            batch_size: sentences per forward pass.
            show_progress_bar: show a tqdm bar.
            precision: output quantisation: ``float32`` (default), ``int8``, ``uint8`` (both
                need calibration ranges: ``quantization_ranges`` or ranges saved with the
                model), ``binary`` or ``ubinary`` (sign bits packed 8 a byte).
            convert_to_numpy: return a ``np.ndarray`` (default).
            convert_to_tensor: return a ``torch.Tensor`` instead (on the compute device).
            device: compute device (the model moves there, as in sentence-transformers), or a
                list of devices to encode on in parallel worker processes.
            normalize_embeddings: L2-normalise after truncation (default False). The model's saved
                normalisation applies either way.
            truncate_dim: keep the first ``truncate_dim`` dimensions (Matryoshka-style).
            dtype: compute dtype: ``auto`` (default: bf16 autocast on a CUDA GPU or a CPU with
                AVX512-BF16 / AMX, else float32), ``float32``, ``bfloat16``, ``float16`` (CUDA).
                Autocast keeps LayerNorm, softmax and pooling in float32; on all-MiniLM-L6-v2 /
                STS-B every bf16 embedding has cosine > 0.9999 to float32. Pass ``float32`` for
                bit-stable results.
            backend: inference engine (``torch``, or one of :func:`textcl.backends.available_backends`);
                default: the model's saved ``default_backend``, else ``torch``.
            quantization_ranges: (2, dim) per-dimension min/max for int8/uint8.
            normalize: deprecated alias of ``normalize_embeddings``.
            texts: deprecated alias of ``sentences``.
            threads: intra-op threads (torch and ONNX Runtime), restored afterwards; default: chosen from
                the cores other processes leave free (:mod:`textcl.threads`; results may then differ in the
                last bit between calls). With a list of devices: each CPU worker's threads.

        Returns:
            ``(n, dim)`` embeddings (``(dim,)`` for a single string); dim is ``truncate_dim``
            if set, ``ceil(dim / 8)`` for binary precisions.

        Raises:
            ValueError: empty or non-string sentences, unknown prompt name, bad option values, or
                non-finite embeddings (names the first bad sentence).
        """
        if texts is not None:
            sentences = texts
        single = isinstance(sentences, str)
        sentences = validate_texts(sentences)
        check_int("batch_size", batch_size)
        if normalize is not None:
            normalize_embeddings = normalize if normalize_embeddings is None else normalize_embeddings
        precision = "float32" if precision is None else precision  # sentence-transformers passes None too
        validate_output_precision(check_not_legacy_precision(precision))
        truncate_dim = self.truncate_dim if truncate_dim is None else truncate_dim  # the load-time default
        if truncate_dim is not None:
            truncate_dim = min(check_int("truncate_dim", truncate_dim), self.embedding_dim)
        prefix = self._prompt(prompt_name, prompt)
        if prefix:
            sentences = [prefix + s for s in sentences]
        if isinstance(device, (list, tuple)):
            from textcl.backends.multiprocess import encode_multi_process

            emb = torch.from_numpy(encode_multi_process(
                self, sentences, list(device), batch_size=batch_size, dtype=dtype, backend=backend,
                threads_per_worker=threads))
        else:
            if device is not None:
                self.to(device)
            with ThreadPlan(threads, rows=len(sentences)) as plan:  # (n, dim) float32, CPU
                emb = self._embed(sentences, batch_size, dtype, backend, show_progress_bar, plan.advance)
        check_finite(emb, "embedding of sentence", texts=sentences)
        if truncate_dim is not None:
            emb = emb[:, :truncate_dim]
        if normalize_embeddings:
            emb = torch.nn.functional.normalize(emb, dim=-1)
        if precision != "float32":
            ranges = quantization_ranges if quantization_ranges is not None else self.quantization_ranges
            if ranges is not None and truncate_dim is not None and np.shape(ranges)[-1] != truncate_dim:
                ranges = np.asarray(ranges)[:, :truncate_dim]
            out = quantize(emb.numpy(), precision, ranges)
            out = out[0] if single else out
            return torch.from_numpy(out).to(self.device) if convert_to_tensor else out
        emb = emb[0] if single else emb
        if convert_to_tensor:
            return emb.to(self.device)
        return emb.numpy() if convert_to_numpy else emb

    def _prompt(self, prompt_name: str | None, prompt: str | None) -> str:
        if prompt is not None:
            return prompt
        name = prompt_name if prompt_name is not None else self.default_prompt_name
        if name is None:
            return ""
        if name not in self.prompts:
            known = ", ".join(self.prompts) or "none saved"
            raise ValueError(f"unknown prompt_name {name!r}: the model's prompts are {known} "
                             "(set model.prompts = {{name: text}} and save the model)")
        return self.prompts[name]

    def _embed(self, sentences: list[str], batch_size: int, dtype: str, backend: str | None,
               show_progress_bar: bool, advance: Callable[[int], None]) -> torch.Tensor:
        """Float32 embeddings after the model's own normalisation, in input order, on the CPU.

        Shape: (n, embedding_dim)
        """
        device = self.device
        dtype = resolve_dtype(dtype, device)
        forward = self._backend_forward(backend or self.default_backend or "torch")
        out = torch.empty(len(sentences), self.embedding_dim, dtype=torch.float32)
        was_training = self.training
        self.eval()
        try:
            # no_grad rather than inference_mode: autocast caches the bf16 copy of each
            # weight across batches only outside inference mode (else it re-casts every
            # weight on every batch, twice the copies).
            with torch.no_grad(), autocast(dtype, device):
                batches = tqdm(self.encoder.length_sorted_batches(sentences, batch_size), disable=not show_progress_bar,
                               total=-(-len(sentences) // batch_size), desc="Encoding", unit="batch")
                for idx, features in batches:
                    emb = forward({k: v.to(device) for k, v in features.items()}).float()  # (batch, dim)
                    if self.normalize_embeddings:
                        emb = torch.nn.functional.normalize(emb, dim=-1)
                    out[torch.from_numpy(idx)] = emb.cpu()
                    advance(len(idx))  # the rows counter (progress, thread re-decisions)
        finally:
            self.train(was_training)
        return out

    def _backend_forward(self, backend: str):
        """The forward function of inference engine ``backend`` (``torch``: this module itself)."""
        from textcl.backends import cached_backend, validate_backend

        if validate_backend(backend) == "torch":
            return self
        return cached_backend(self, backend)  # prepared once, rebuilt when the weights change

    def calibrate_quantization(self, sentences: Iterable[str], **encode_kwargs: Any) -> np.ndarray:
        """Set (and return) the int8/uint8 ranges from a sample of sentences; saved with the model.

        Shape: returns (2, embedding_dim): per-dimension min and max of the sample's embeddings.
        """
        self.quantization_ranges = calibration_ranges(self.encode(list(sentences), **encode_kwargs))
        return self.quantization_ranges

    # ------------------------------------------------------------------ saving
    def get_config(self) -> dict[str, Any]:
        """The folder-level settings written to ``textcl_config.json``."""
        return {
            "format_version": FORMAT_VERSION,
            "encoder_kind": self.encoder.kind,  # the encoder's own settings: encoder_config.json
            "projection": self.projection.get_config() if self.projection is not None else None,
            "normalize_embeddings": self.normalize_embeddings,
            "prompts": self.prompts,
            "default_prompt_name": self.default_prompt_name,
            "similarity_fn_name": self.similarity_fn_name,
            "quantization_ranges": (None if self.quantization_ranges is None
                                    else self.quantization_ranges.tolist()),
            "default_backend": self.default_backend,
        }

    def save(self, path: str, format: str = "textcl", overwrite: bool = False) -> None:
        """Write the model to folder ``path``, atomically (``docs/format.md``).

        The folder is written under a temporary sibling name, given a manifest of its
        files (sizes and SHA-256), fsynced and swapped in whole: a crash leaves the
        previous folder or the new one, never a mix, and no stale file of an earlier
        save survives.

        Args:
            path: output folder.
            format: ``"textcl"`` (config, safetensors weights, tokenizer; any
                encoder) or ``"sentence-transformers"`` (a folder that
                ``sentence_transformers.SentenceTransformer(path)`` loads and
                encodes identically with; transformer encoders with mean, max or
                cls_before_pooler pooling, see :mod:`textcl.interop.sentence_transformers`).
            overwrite: replace a non-empty ``path`` that is not a textcl model of the
                same encoder kind (refused otherwise).

        Raises:
            ValueError: an unknown ``format``, or a model the format cannot express.
            OutputExistsError: ``path`` is a file, or holds something else and not ``overwrite``.
        """
        if format == "sentence-transformers":
            from textcl.interop.sentence_transformers import save_sentence_transformers

            save_sentence_transformers(self, path, overwrite=overwrite)
            return
        if format != "textcl":
            raise ValueError(f"unknown save format {format!r}: choose 'textcl' or 'sentence-transformers'")
        # sentence-transformers' pipeline files too: SentenceTransformer(path) loads the folder (docs/format.md)
        write_textcl_folder(path, self.encoder, self.projection, self.get_config(), overwrite,
                            extra_files=lambda tmp: write_st_modules(self, tmp))

    # ------------------------------------------------------------------ publishing
    def push_to_hub(self, repo_id: str, token: str | bool | None = None, private: bool | None = None,
                    revision: str | None = None, commit_message: str = "Upload textcl model",
                    folder: str | None = None) -> str:
        """Upload the model and its card to hub repo ``repo_id`` (created if missing).

        Args:
            repo_id: ``org/name``.
            token: hub token (default: ``HF_TOKEN`` or the saved login).
            private: create the repo as private (None: the hub's default).
            revision: branch to commit to (default ``main``).
            commit_message: the commit's summary line.
            folder: the folder this model was saved to (its card goes up too); without
                it the model is saved to a temporary folder first.

        Returns:
            The commit URL. See :func:`textcl.interop.push.push_to_hub`.
        """
        from textcl.interop.push import push_to_hub

        return push_to_hub(folder if folder is not None else self, repo_id, token=token, private=private,
                           revision=revision, commit_message=commit_message)
