"""Resolving Hugging Face hub names: which repositories hold a sentence-transformers pipeline."""

from __future__ import annotations

import os

from textcl.interop.sentence_transformers import is_st_folder

__all__ = ["local_or_hub_st_folder"]


def local_or_hub_st_folder(name_or_path: str) -> str | None:
    """Return a local folder holding a sentence-transformers pipeline, or None."""
    if os.path.isdir(name_or_path):
        return name_or_path if is_st_folder(name_or_path) else None
    try:  # a hub name: fetch only when the repository is a sentence-transformers one
        from huggingface_hub import hf_hub_download, snapshot_download
        hf_hub_download(name_or_path, "modules.json")
        return snapshot_download(name_or_path, allow_patterns=[
            "*.json", "*.txt", "*.safetensors", "*.model", "1_Pooling/*", "2_Dense/*", "2_Normalize/*"])
    except Exception:  # not on the hub, not an ST repo, or offline: load as a plain model
        return None
