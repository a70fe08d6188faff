"""sentence-transformers folders: reading them into textcl, and writing textcl models as them.

**Reading.** Both layouts are read: the long-standing one (``pooling_mode_mean_tokens: true``,
``max_seq_length`` in ``sentence_bert_config.json``), which hub models ship and
:func:`save_sentence_transformers` writes, and the one sentence-transformers >= 5.4 writes
(``pooling_mode: "mean"``, the length limit in the tokenizer config).

**Writing.** :func:`save_sentence_transformers` writes a :class:`~textcl.model.SentenceEncoder` in the
long-standing layout every sentence-transformers release since 2.x reads (and that hub models such as all-MiniLM-L6-v2 ship)::

    modules.json                      Transformer -> Pooling -> [Dense] -> [Normalize]
    config_sentence_transformers.json
    sentence_bert_config.json         {"max_seq_length": N, "do_lower_case": false}
    config.json, model.safetensors,   the Hugging Face model and tokenizer (root = module 0)
    tokenizer files
    1_Pooling/config.json             word_embedding_dimension + pooling_mode_* flags
    2_Dense/config.json, model.safetensors   only for an active projection head

``sentence_transformers`` itself is not needed to write the folder. The pipeline files are written by
:func:`write_st_modules`, which also writes them into every textcl model folder (``docs/format.md``):
``SentenceTransformer(textcl_folder)`` then loads that folder too, while ``textcl_config.json`` still
decides how textcl loads it.

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

Not expressible (a ``ValueError`` says which option would work): RNN, CNN and
word-average encoders, the ``cls`` pooling (BERT's pooler: dense + tanh over
[CLS]), and ``first_last_avg`` / ``last2_avg`` (several layers' states). In a textcl
folder such models get a ``modules.json`` naming textcl's own module class
(:data:`~textcl.interop.st_compat.TEXTCL_ST_MODULE`), which sentence-transformers imports only
with ``trust_remote_code=True``.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
import transformers
from safetensors.torch import save_file

from textcl.hub import ST_MODULES, TEXTCL_CONFIG
from textcl.interop.st_compat import ST_POOLING, TEXTCL_ST_MODULE, check_st_exportable, st_exportable
from textcl.storage import atomic_folder
from textcl.storage.read import read_json, read_safetensors, read_torch

__all__ = [
    "ST_POOLING",
    "STFolder",
    "check_st_exportable",
    "is_st_folder",
    "load_st_dense",
    "read_st_folder",
    "save_sentence_transformers",
    "write_st_modules",
]

# ---------------------------------------------------------------- reading

_POOLING_FROM_ST = {
    "pooling_mode_cls_token": "cls_before_pooler",  # ST's CLS pooling takes the raw first-token state
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
}
# sentence-transformers >= 5.4 writes one ``pooling_mode`` value instead of the flags above
_POOLING_MODE_FROM_ST = {"cls": "cls_before_pooler", "mean": "mean", "max": "max"}
_TANH_NAMES = ("torch.nn.modules.activation.Tanh", "torch.nn.Tanh")
_ORDER = {"Transformer": 0, "Pooling": 1, "Dense": 2, "Normalize": 3}


@dataclass
class STFolder:
    """What textcl needs from a sentence-transformers folder.

    Attributes:
        transformer_path: folder holding the Hugging Face model.
        pooling: textcl pooling mode equivalent to the folder's Pooling module.
        max_length: the folder's ``max_seq_length``, if set.
        normalize: whether the pipeline ends with a Normalize module.
        dense_path: folder of a ``Dense(dim, dim, Tanh)`` module after the
            pooling (textcl's projection head; read with :func:`load_st_dense`), if any.
    """

    transformer_path: str
    pooling: str
    max_length: int | None
    normalize: bool
    dense_path: str | None = None
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None
    similarity_fn_name: str = "cosine"


def is_st_folder(path: str) -> bool:
    """True when ``path`` is a local sentence-transformers folder."""
    return os.path.isfile(os.path.join(path, ST_MODULES))


def read_st_folder(path: str) -> STFolder:
    """Map a sentence-transformers pipeline (Transformer → Pooling → [Dense] → [Normalize]) to textcl.

    Raises:
        ValueError: for modules, settings or an order textcl cannot reproduce (named in the message).
    """
    modules = read_json(os.path.join(path, "modules.json"))
    transformer_path, pooling, max_length, normalize, dense_path = None, "mean", None, False, None
    last = -1
    for module in modules:
        kind = module["type"].rsplit(".", 1)[-1]
        folder = os.path.join(path, module.get("path", ""))
        if kind not in _ORDER:
            raise ValueError(f"{path}: sentence-transformers module {module['type']!r} is not supported by "
                             "textcl; supported: Transformer, Pooling (cls/mean/max), Dense (Tanh, same size "
                             "in and out), Normalize")
        if _ORDER[kind] <= last:
            raise ValueError(f"{path}: module {kind} comes after a module textcl applies later (or twice); "
                             "textcl reads Transformer -> Pooling -> [Dense] -> [Normalize]")
        last = _ORDER[kind]
        if kind == "Transformer":
            transformer_path = folder
            max_length = _read_transformer_config(path, folder)
        elif kind == "Pooling":
            pooling = _read_pooling(path, folder)
        elif kind == "Dense":
            _check_dense(path, folder)
            dense_path = folder
        else:
            normalize = True
    if transformer_path is None:
        raise ValueError(f"{path}/modules.json has no Transformer module")
    st_cfg: dict[str, Any] = {}
    if os.path.isfile(os.path.join(path, "config_sentence_transformers.json")):
        st_cfg = read_json(os.path.join(path, "config_sentence_transformers.json"))
    return STFolder(transformer_path, pooling, max_length, normalize, dense_path,
                    prompts=dict(st_cfg.get("prompts") or {}), default_prompt_name=st_cfg.get("default_prompt_name"),
                    similarity_fn_name=st_cfg.get("similarity_fn_name") or "cosine")


def _read_transformer_config(path: str, folder: str) -> int | None:
    cfg_file = os.path.join(folder, "sentence_bert_config.json")
    if not os.path.isfile(cfg_file):
        return None
    cfg = read_json(cfg_file)
    task = cfg.get("transformer_task", "feature-extraction")
    outputs = {m.get("method_output_name") for m in (cfg.get("modality_config") or {}).values()
               if isinstance(m, dict)}
    if task != "feature-extraction" or outputs - {"last_hidden_state"}:
        raise ValueError(f"{path}: the Transformer module reads {task!r} / {sorted(map(str, outputs))}; textcl "
                         "pools the token states of a feature-extraction model (last_hidden_state)")
    return cfg.get("max_seq_length")


def _read_pooling(path: str, folder: str) -> str:
    cfg = read_json(os.path.join(folder, "config.json"))
    if "pooling_mode" in cfg:
        mode = cfg["pooling_mode"]
        modes = [mode] if isinstance(mode, str) else list(mode)
        if len(modes) == 1 and modes[0] in _POOLING_MODE_FROM_ST:
            return _POOLING_MODE_FROM_ST[modes[0]]
    else:
        modes = [mode for key, mode in _POOLING_FROM_ST.items() if cfg.get(key)]
        others = [k for k, v in cfg.items() if k.startswith("pooling_mode") and v and k not in _POOLING_FROM_ST]
        if not others and len(modes) == 1:
            return modes[0]
    raise ValueError(f"{path}: sentence-transformers pooling {cfg} has no textcl equivalent; "
                     "textcl reads exactly one of CLS, mean or max pooling")


def _check_dense(path: str, folder: str) -> None:
    cfg = read_json(os.path.join(folder, "config.json"))
    ok = (cfg.get("in_features") == cfg.get("out_features") and cfg.get("bias", True)
          and cfg.get("activation_function", _TANH_NAMES[0]) in _TANH_NAMES and not cfg.get("use_residual")
          and cfg.get("module_input_name", "sentence_embedding") == "sentence_embedding"
          and cfg.get("module_output_name", "sentence_embedding") == "sentence_embedding")
    if not ok:
        raise ValueError(f"{path}: Dense module {cfg} has no textcl equivalent; textcl reads a Dense with "
                         "bias, Tanh activation and equal in/out sizes (its projection head)")


def load_st_dense(folder: str):
    """Read a ``Dense(dim, dim, Tanh)`` module folder into a :class:`textcl.projection.ProjectionHead`.

    Weights come from ``model.safetensors`` (or ``pytorch_model.bin`` of older releases).
    """

    from textcl.projection import ProjectionHead

    cfg = read_json(os.path.join(folder, "config.json"))
    weights = os.path.join(folder, "model.safetensors")
    if os.path.isfile(weights):
        state = read_safetensors(weights)
    elif os.path.isfile(os.path.join(folder, "pytorch_model.bin")):
        state = read_torch(os.path.join(folder, "pytorch_model.bin"))
    else:
        raise ValueError(f"{folder}: no model.safetensors or pytorch_model.bin for the Dense module")
    head = ProjectionHead(int(cfg["in_features"]))
    head.load_state_dict({"dense.weight": state["linear.weight"], "dense.bias": state["linear.bias"]})
    return head


# ---------------------------------------------------------------- writing
# textcl pooling -> the sentence-transformers Pooling flag that computes the same vector
_ALL_POOLING_FLAGS = ("pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens",
                      "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                      "pooling_mode_lasttoken")
_TANH = "torch.nn.modules.activation.Tanh"  # what sentence-transformers writes for nn.Tanh()


def save_sentence_transformers(model: Any, path: str | os.PathLike, overwrite: bool = False) -> None:
    """Write ``model`` to folder ``path`` in sentence-transformers format.

    ``sentence_transformers.SentenceTransformer(path).encode(texts)`` then returns
    what ``model.encode(texts)`` returns (same pooling, projection and
    normalisation), and ``SentenceEncoder.from_pretrained(path)`` reads it back.

    A projection head used in training only (``mlp_only_train``) does not change
    the embeddings, so it is left out (with a warning).

    Args:
        model: a SentenceEncoder with a transformer encoder.
        path: output folder (created if needed; written atomically, with a manifest).
        overwrite: replace a non-empty ``path`` that is not a sentence-transformers folder.

    Raises:
        ValueError: the model cannot be expressed in this format (see
            :func:`check_st_exportable`), or ``path`` already holds a textcl model.
    """
    check_st_exportable(model)
    path = os.fspath(path)
    if os.path.isfile(os.path.join(path, TEXTCL_CONFIG)) and not overwrite:
        raise ValueError(f"{path} already holds a textcl model ({TEXTCL_CONFIG}), which SentenceTransformer(path) "
                         "loads as it is: choose an empty folder for the export (or overwrite=True)")
    with atomic_folder(path, overwrite=overwrite, kind_check=_is_st_export, kind="sentence-transformers") as tmp:
        _write_st_folder(model, tmp, card_path=path)


def _is_st_export(path: str) -> bool:
    return is_st_folder(path) and not os.path.isfile(os.path.join(path, TEXTCL_CONFIG))


def _write_st_folder(model: Any, path: str, card_path: str | None = None) -> None:
    """Write the folder's files into ``path``; its card's snippets name ``card_path`` (default ``path``)."""
    encoder = model.encoder
    encoder.model.save_pretrained(path, safe_serialization=True)
    encoder.tokenizer.save_pretrained(path)
    write_st_modules(model, path, warn=True)
    from textcl.interop.model_card import resave_card, write_model_card

    shown = card_path or path
    write_model_card(path, resave_card(os.path.basename(os.path.abspath(shown)), model), model,
                     folder_format="sentence-transformers", usage_path=shown)


def write_st_modules(model: Any, path: str, warn: bool = False) -> list[str]:
    """Write sentence-transformers' pipeline files into ``path``, which already holds the model's own files.

    A transformer model that sentence-transformers can express (:func:`check_st_exportable`) gets
    its modules: ``Transformer`` (the Hugging Face model and tokenizer at the root of ``path``),
    ``Pooling``, an optional ``Dense`` (the projection head) and ``Normalize``. Any other model gets a
    ``modules.json`` whose one module is :data:`TEXTCL_ST_MODULE`, a textcl class that loads the
    textcl folder itself (``SentenceTransformer(path, trust_remote_code=True)`` where textcl is
    installed). Both get ``config_sentence_transformers.json`` (prompts, similarity function).

    Args:
        model: the :class:`~textcl.model.SentenceEncoder` the folder holds.
        path: the folder being written (before its manifest).
        warn: warn when a training-only projection head is left out (an explicit export).

    Returns:
        The module types written, in order (``["Transformer", "Pooling", ...]`` or the textcl class).
    """
    if not st_exportable(model):
        modules = [{"idx": 0, "name": "0", "path": "", "type": TEXTCL_ST_MODULE}]
        _write_json(os.path.join(path, "modules.json"), modules)
        _write_json(os.path.join(path, "config_sentence_transformers.json"), _st_config(model))
        return [TEXTCL_ST_MODULE]
    encoder = model.encoder
    _write_json(os.path.join(path, "sentence_bert_config.json"),
                {"max_seq_length": encoder.max_length, "do_lower_case": False})
    modules = [_module(0, "", "Transformer")]
    pooling_dir = os.path.join(path, "1_Pooling")
    os.makedirs(pooling_dir, exist_ok=True)
    flags = {flag: flag == ST_POOLING[encoder.pooling] for flag in _ALL_POOLING_FLAGS}
    _write_json(os.path.join(pooling_dir, "config.json"),
                {"word_embedding_dimension": encoder.embedding_dim, **flags, "include_prompt": True})
    modules.append(_module(1, "1_Pooling", "Pooling"))

    head = model.projection
    if head is not None and head.mlp_only_train:
        if warn:
            warnings.warn("the projection head is used in training only (mlp_only_train) and does not change "
                          "the embeddings: it is not part of the sentence-transformers folder", UserWarning,
                          stacklevel=4)
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
    _write_json(os.path.join(path, "config_sentence_transformers.json"), _st_config(model))
    return [m["type"].rsplit(".", 1)[-1] for m in modules]


def _module(idx: int, folder: str, kind: str) -> dict[str, Any]:
    return {"idx": idx, "name": str(idx), "path": folder, "type": f"sentence_transformers.models.{kind}"}


def _st_config(model: Any) -> dict[str, Any]:
    versions = {"transformers": transformers.__version__, "pytorch": torch.__version__}
    try:  # only recorded when installed; sentence-transformers warns about versions newer than its own
        versions["sentence_transformers"] = importlib.metadata.version("sentence-transformers")
    except importlib.metadata.PackageNotFoundError:
        pass
    return {"__version__": versions, "prompts": dict(model.prompts), "default_prompt_name": model.default_prompt_name,
            "similarity_fn_name": model.similarity_fn_name}


def _write_json(path: str, obj: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
