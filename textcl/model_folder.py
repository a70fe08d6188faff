"""The textcl model folder (``docs/format.md``): its files, read and written, checked against the manifest."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from typing import Any

from safetensors.torch import save_file

from textcl.encoders.base import Encoder
from textcl.encoders.registry import encoder_class
from textcl.hub import TEXTCL_CONFIG
from textcl.projection import ProjectionHead
from textcl.storage import atomic_folder, check_format_version, read_manifest, verify_manifest
from textcl.storage.read import read_json, read_safetensors

__all__ = ["FORMAT_VERSION", "PROJECTION_WEIGHTS", "check_local_folder", "read_textcl_folder", "write_textcl_folder"]

PROJECTION_WEIGHTS = "projection.safetensors"
FORMAT_VERSION = 2  # 2: every folder has a manifest (docs/format.md); 1: none, loaded with a warning


def read_textcl_folder(path: str, pooling: str | None, max_length: int | None, kwargs: dict[str, Any]
                       ) -> tuple[Encoder, ProjectionHead | None, dict[str, Any]]:
    """The encoder, projection head and ``textcl_config.json`` of a textcl folder, checked against its manifest.

    ``pooling`` / ``max_length`` override the saved values; ``kwargs`` go to the encoder's ``load``
    (``verify=False`` skips the files' size and hash checks, with a warning).
    """
    verify = kwargs.pop("verify", True)
    cfg_path = os.path.join(path, TEXTCL_CONFIG)
    try:
        cfg = read_json(cfg_path)
        kind = cfg["encoder_kind"]
    except (KeyError, TypeError) as err:
        raise ValueError(f"{cfg_path} is corrupt ({type(err).__name__}: {err}): re-save the model or restore "
                         "the file") from err
    version = check_format_version(cfg.get("format_version"), FORMAT_VERSION, cfg_path)
    if version == 1:
        warnings.warn(f"{path} was saved by textcl 0.1 without a manifest, so damaged files cannot be "
                      "detected: re-save it to add one", UserWarning, stacklevel=5)
    verify_manifest(path, verify=verify, allow_missing=version == 1)
    overrides = {k: v for k, v in (("pooling", pooling), ("max_length", max_length)) if v is not None}
    encoder = encoder_class(kind).load(path, **overrides, **kwargs)
    head = None
    if cfg.get("projection"):
        head = ProjectionHead(**cfg["projection"])
        weights = os.path.join(path, PROJECTION_WEIGHTS)
        try:
            head.load_state_dict(read_safetensors(weights))
        except Exception as err:  # safetensors raises several types for a bad file
            raise ValueError(f"could not read projection weights {weights}: {err}") from err
    return encoder, head, cfg


def write_textcl_folder(path: str, encoder: Encoder, projection: ProjectionHead | None, config: dict[str, Any],
                        overwrite: bool, extra_files: Callable[[str], None] | None = None) -> None:
    """Write a textcl folder atomically: the encoder's files, the projection weights and ``textcl_config.json``.

    ``extra_files(tmp)`` then adds more files (sentence-transformers' pipeline files, the model card)
    before the manifest is written, so that they are checked like the rest.
    """

    def same_kind(existing: str) -> bool:  # a re-save of a model with this encoder kind
        return read_json(os.path.join(existing, TEXTCL_CONFIG)).get("encoder_kind") == encoder.kind

    with atomic_folder(os.fspath(path), overwrite=overwrite, kind_check=same_kind, kind="model") as tmp:
        encoder.save(tmp)
        if projection is not None:
            state = {k: v.detach().cpu().contiguous() for k, v in projection.state_dict().items()}
            save_file(state, os.path.join(tmp, PROJECTION_WEIGHTS))
        with open(os.path.join(tmp, TEXTCL_CONFIG), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
        if extra_files is not None:
            extra_files(tmp)


def check_local_folder(path: str, verify: bool) -> None:
    """Refuse a folder textcl wrote that is damaged or not a model, before its layout is guessed.

    A textcl model folder that lost ``textcl_config.json`` would otherwise read as a plain
    transformers folder, and a damaged sentence-transformers export as a working one: the
    manifest decides instead (``docs/format.md``).
    """
    if not os.path.isdir(path):
        return
    manifest = read_manifest(path)
    if manifest is None:
        return
    kind = manifest.get("kind")
    if kind in ("checkpoint", "classifier"):
        fix = ("load it with SentenceClassifier.from_pretrained" if kind == "classifier"
               else "pass OUTPUT/model, or resume training from it with --resume")
        raise ValueError(f"{path} is a textcl {kind} folder, not a model: {fix}")
    if kind == "sentence-transformers" or not os.path.isfile(os.path.join(path, TEXTCL_CONFIG)):
        verify_manifest(path, verify=verify)  # names the missing or damaged file
