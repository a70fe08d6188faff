"""Reading sentence-transformers model folders (``modules.json``) into textcl settings.

Both layouts are read: the long-standing one (``pooling_mode_mean_tokens: true``,
``max_seq_length`` in ``sentence_bert_config.json``), which hub models ship and
:mod:`textcl.st_export` writes, and the one sentence-transformers >= 5.4 writes
(``pooling_mode: "mean"``, the length limit in the tokenizer config).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

__all__ = ["STFolder", "read_st_folder", "is_st_folder", "load_st_dense"]

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


def is_st_folder(path: str) -> bool:
    """True when ``path`` is a local sentence-transformers folder."""
    return os.path.isfile(os.path.join(path, "modules.json"))


def read_st_folder(path: str) -> STFolder:
    """Map a sentence-transformers pipeline (Transformer → Pooling → [Dense] → [Normalize]) to textcl.

    Raises:
        ValueError: for modules, settings or an order textcl cannot reproduce (named in the message).
    """
    with open(os.path.join(path, "modules.json")) as f:
        modules = json.load(f)
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
    return STFolder(transformer_path, pooling, max_length, normalize, dense_path)


def _read_transformer_config(path: str, folder: str) -> int | None:
    cfg_file = os.path.join(folder, "sentence_bert_config.json")
    if not os.path.isfile(cfg_file):
        return None
    with open(cfg_file) as f:
        cfg = json.load(f)
    task = cfg.get("transformer_task", "feature-extraction")
    outputs = {m.get("method_output_name") for m in (cfg.get("modality_config") or {}).values()
               if isinstance(m, dict)}
    if task != "feature-extraction" or outputs - {"last_hidden_state"}:
        raise ValueError(f"{path}: the Transformer module reads {task!r} / {sorted(map(str, outputs))}; textcl "
                         "pools the token states of a feature-extraction model (last_hidden_state)")
    return cfg.get("max_seq_length")


def _read_pooling(path: str, folder: str) -> str:
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
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
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
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
    import torch
    from safetensors.torch import load_file

    from textcl.projection import ProjectionHead

    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    weights = os.path.join(folder, "model.safetensors")
    if os.path.isfile(weights):
        state = load_file(weights)
    elif os.path.isfile(os.path.join(folder, "pytorch_model.bin")):
        state = torch.load(os.path.join(folder, "pytorch_model.bin"), map_location="cpu", weights_only=True)
    else:
        raise ValueError(f"{folder}: no model.safetensors or pytorch_model.bin for the Dense module")
    head = ProjectionHead(int(cfg["in_features"]))
    head.load_state_dict({"dense.weight": state["linear.weight"], "dense.bias": state["linear.bias"]})
    return head
