"""Reading sentence-transformers model folders (``modules.json``) into textcl settings."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

__all__ = ["STFolder", "read_st_folder", "is_st_folder"]

_POOLING_FROM_ST = {
    "pooling_mode_cls_token": "cls_before_pooler",  # ST's CLS pooling takes the raw first-token state
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
}


@dataclass
class STFolder:
    """What textcl needs from a sentence-transformers folder.

    Attributes:
        transformer_path: folder holding the Hugging Face model.
        pooling: textcl pooling mode equivalent to the folder's Pooling module.
        max_length: the folder's ``max_seq_length``, if set.
        normalize: whether the pipeline ends with a Normalize module.
    """

    transformer_path: str
    pooling: str
    max_length: int | None
    normalize: bool


def is_st_folder(path: str) -> bool:
    """True when ``path`` is a local sentence-transformers folder."""
    return os.path.isfile(os.path.join(path, "modules.json"))


def read_st_folder(path: str) -> STFolder:
    """Map a sentence-transformers pipeline (Transformer → Pooling → [Normalize]) to textcl.

    Raises:
        ValueError: for modules textcl cannot reproduce (named in the message).
    """
    with open(os.path.join(path, "modules.json")) as f:
        modules = json.load(f)
    transformer_path, pooling, max_length, normalize = None, "mean", None, False
    for module in modules:
        kind = module["type"].rsplit(".", 1)[-1]
        folder = os.path.join(path, module.get("path", ""))
        if kind == "Transformer":
            transformer_path = folder
            cfg_file = os.path.join(folder, "sentence_bert_config.json")
            if os.path.isfile(cfg_file):
                with open(cfg_file) as f:
                    max_length = json.load(f).get("max_seq_length")
        elif kind == "Pooling":
            with open(os.path.join(folder, "config.json")) as f:
                cfg = json.load(f)
            modes = [mode for key, mode in _POOLING_FROM_ST.items() if cfg.get(key)]
            others = [k for k, v in cfg.items() if k.startswith("pooling_mode") and v and k not in _POOLING_FROM_ST]
            if others or len(modes) != 1:
                raise ValueError(f"{path}: sentence-transformers pooling {cfg} has no textcl equivalent; "
                                 "textcl reads exactly one of CLS, mean or max pooling")
            pooling = modes[0]
        elif kind == "Normalize":
            normalize = True
        else:
            raise ValueError(f"{path}: sentence-transformers module {module['type']!r} is not supported by "
                             "textcl; supported: Transformer, Pooling (cls/mean/max), Normalize")
    if transformer_path is None:
        raise ValueError(f"{path}/modules.json has no Transformer module")
    return STFolder(transformer_path, pooling, max_length, normalize)
