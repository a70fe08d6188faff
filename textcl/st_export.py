"""Writing a :class:`~textcl.model.SentenceEncoder` as a sentence-transformers folder.

The folder uses the long-standing layout every sentence-transformers release
since 2.x reads (and that hub models such as all-MiniLM-L6-v2 ship)::

    modules.json                      Transformer -> Pooling -> [Dense] -> [Normalize]
    config_sentence_transformers.json
    sentence_bert_config.json         {"max_seq_length": N, "do_lower_case": false}
    config.json, model.safetensors,   the Hugging Face model and tokenizer (root = module 0)
    tokenizer files
    1_Pooling/config.json             word_embedding_dimension + pooling_mode_* flags
    2_Dense/config.json, model.safetensors   only for an active projection head

``sentence_transformers`` itself is not needed to write the folder.

textcl -> sentence-transformers:

=====================  =============================================================
textcl                 sentence-transformers
=====================  =============================================================
transformer encoder    ``Transformer`` (the HF model and tokenizer at the root)
``mean`` / ``max``     ``Pooling`` with ``pooling_mode_mean_tokens`` / ``_max_tokens``
``cls_before_pooler``  ``Pooling`` with ``pooling_mode_cls_token`` (raw first token)
projection head        ``Dense(dim, dim, activation=Tanh)`` (same Linear + Tanh)
normalize_embeddings   ``Normalize``
=====================  =============================================================

Not expressible (a ``ValueError`` says which option would work): RNN and
word-average encoders, the ``cls`` pooling (BERT's pooler: dense + tanh over
[CLS]), and ``first_last_avg`` / ``last2_avg`` (several layers' states).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import warnings
from typing import TYPE_CHECKING, Any

import torch
import transformers
from safetensors.torch import save_file

if TYPE_CHECKING:
    from textcl.model import SentenceEncoder

__all__ = ["save_sentence_transformers", "check_st_exportable", "ST_POOLING"]

# textcl pooling -> the sentence-transformers Pooling flag that computes the same vector
ST_POOLING: dict[str, str] = {
    "mean": "pooling_mode_mean_tokens",
    "max": "pooling_mode_max_tokens",
    "cls_before_pooler": "pooling_mode_cls_token",
}
_ALL_POOLING_FLAGS = ("pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens",
                      "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                      "pooling_mode_lasttoken")
_TANH = "torch.nn.modules.activation.Tanh"  # what sentence-transformers writes for nn.Tanh()
_ALTERNATIVE = "or save with format='textcl' (SentenceEncoder.from_pretrained reads that folder)"


def check_st_exportable(model: "SentenceEncoder") -> None:
    """Raise ``ValueError`` if ``model`` has no exact sentence-transformers equivalent.

    The message names the part that cannot be expressed and what would work instead.
    """
    encoder = model.encoder
    if encoder.kind != "transformer":
        raise ValueError(
            f"a {encoder.kind!r} encoder cannot be saved in sentence-transformers format: that format "
            "holds a Hugging Face transformer followed by a Pooling module. Use a transformer encoder, "
            + _ALTERNATIVE)
    pooling = encoder.pooling
    if pooling == "cls":
        raise ValueError(
            "pooling 'cls' (the model's pooler output: dense + tanh over [CLS]) has no sentence-transformers "
            "Pooling equivalent; use pooling 'cls_before_pooler' (sentence-transformers' CLS pooling), "
            "'mean' or 'max', " + _ALTERNATIVE)
    if pooling not in ST_POOLING:
        raise ValueError(
            f"pooling {pooling!r} averages several layers' hidden states, which sentence-transformers' "
            f"Pooling module cannot read (it sees the last layer only); use one of "
            f"{', '.join(ST_POOLING)}, " + _ALTERNATIVE)


def save_sentence_transformers(model: "SentenceEncoder", path: str | os.PathLike) -> None:
    """Write ``model`` to folder ``path`` in sentence-transformers format.

    ``sentence_transformers.SentenceTransformer(path).encode(texts)`` then returns
    what ``model.encode(texts)`` returns (same pooling, projection and
    normalisation), and ``SentenceEncoder.from_pretrained(path)`` reads it back.

    A projection head used in training only (``mlp_only_train``) does not change
    the embeddings, so it is left out (with a warning).

    Args:
        model: a SentenceEncoder with a transformer encoder.
        path: output folder (created if needed).

    Raises:
        ValueError: the model cannot be expressed in this format (see
            :func:`check_st_exportable`), or ``path`` already holds a textcl model.
    """
    from textcl.model import TEXTCL_CONFIG

    check_st_exportable(model)
    path = os.fspath(path)
    if os.path.isfile(os.path.join(path, TEXTCL_CONFIG)):
        raise ValueError(f"{path} already holds a textcl model ({TEXTCL_CONFIG}), which textcl would load "
                         "instead of the sentence-transformers files: choose an empty folder")
    os.makedirs(path, exist_ok=True)
    encoder = model.encoder
    dim = encoder.embedding_dim
    encoder.model.save_pretrained(path, safe_serialization=True)
    encoder.tokenizer.save_pretrained(path)
    _write_json(os.path.join(path, "sentence_bert_config.json"),
                {"max_seq_length": encoder.max_length, "do_lower_case": False})

    modules = [_module(0, "", "Transformer")]
    pooling_dir = os.path.join(path, "1_Pooling")
    os.makedirs(pooling_dir, exist_ok=True)
    flags = {flag: flag == ST_POOLING[encoder.pooling] for flag in _ALL_POOLING_FLAGS}
    _write_json(os.path.join(pooling_dir, "config.json"),
                {"word_embedding_dimension": dim, **flags, "include_prompt": True})
    modules.append(_module(1, "1_Pooling", "Pooling"))

    head = model.projection
    if head is not None and head.mlp_only_train:
        warnings.warn("the projection head is used in training only (mlp_only_train) and does not change "
                      "the embeddings: it is not part of the sentence-transformers folder", UserWarning,
                      stacklevel=3)
    elif head is not None:
        folder = f"{len(modules)}_Dense"
        os.makedirs(os.path.join(path, folder), exist_ok=True)
        _write_json(os.path.join(path, folder, "config.json"),
                    {"in_features": head.dense.in_features, "out_features": head.dense.out_features,
                     "bias": True, "activation_function": _TANH})
        # sentence-transformers' Dense keeps its nn.Linear as ``linear``
        save_file({"linear.weight": head.dense.weight.detach().cpu().contiguous(),
                   "linear.bias": head.dense.bias.detach().cpu().contiguous()},
                  os.path.join(path, folder, "model.safetensors"))
        modules.append(_module(len(modules), folder, "Dense"))
    if model.normalize_embeddings:
        modules.append(_module(len(modules), f"{len(modules)}_Normalize", "Normalize"))
    _write_json(os.path.join(path, "modules.json"), modules)
    _write_json(os.path.join(path, "config_sentence_transformers.json"), _st_config())


def _module(idx: int, folder: str, kind: str) -> dict[str, Any]:
    return {"idx": idx, "name": str(idx), "path": folder, "type": f"sentence_transformers.models.{kind}"}


def _st_config() -> dict[str, Any]:
    versions = {"transformers": transformers.__version__, "pytorch": torch.__version__}
    try:  # only recorded when installed; sentence-transformers warns about versions newer than its own
        versions["sentence_transformers"] = importlib.metadata.version("sentence-transformers")
    except importlib.metadata.PackageNotFoundError:
        pass
    return {"__version__": versions, "prompts": {}, "default_prompt_name": None, "similarity_fn_name": "cosine"}


def _write_json(path: str, obj: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
