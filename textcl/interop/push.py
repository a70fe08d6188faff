"""Publishing a model to the Hugging Face hub: its saved folder and its card, in one commit.

``push_to_hub(model_or_folder, "org/name")`` creates the repo if needed
(``HfApi.create_repo(exist_ok=True)``) and uploads the folder with ``HfApi.upload_folder``.
The card (``README.md``) that goes up names the repo, not the local folder: its usage
snippet reads ``from_pretrained("org/name")``. The folder itself is left untouched; the
upload is staged in a temporary folder of links to its files plus the rewritten card.

Hidden files (``.git/``, lock files) are never sent. The repo then loads back with
``SentenceEncoder.from_pretrained("org/name")`` (:func:`textcl.hub.resolve_model`).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from textcl.hub import folder_kind

__all__ = ["push_to_hub", "CARD_FILE", "DEFAULT_COMMIT_MESSAGE", "UPLOAD_IGNORE"]

CARD_FILE = "README.md"
DEFAULT_COMMIT_MESSAGE = "Upload textcl model"
UPLOAD_IGNORE = [".*", "**/.*", "__pycache__", "**/__pycache__/*"]


def push_to_hub(model_or_folder: "Any", repo_id: str, *,
                token: str | bool | None = None, private: bool | None = None, revision: str | None = None,
                commit_message: str = DEFAULT_COMMIT_MESSAGE, card: Any = None) -> str:
    """Upload a saved model folder (or a model, saved first) and its card to hub repo ``repo_id``.

    Args:
        model_or_folder: a saved model folder (textcl, sentence-transformers or
            transformers layout), or a :class:`~textcl.SentenceEncoder`, which is saved
            to a temporary folder first.
        repo_id: ``org/name`` (or ``name`` under your account); created if missing.
        token: hub token (default: ``HF_TOKEN`` or the saved ``hf auth login``).
        private: create the repo as private (None: the hub's default); an existing
            repo keeps its visibility.
        revision: branch to commit to (created from ``main`` if missing; default ``main``).
        commit_message: the commit's summary line.
        card: what the card says when one has to be written (a model with no card yet);
            default: the model's name and encoder only.

    Returns:
        The URL of the commit (or of the repo when the hub gives no commit URL).

    Raises:
        ValueError: a folder no textcl loader reads, or a malformed ``repo_id``.
        FileNotFoundError: a folder that does not exist.
    """
    from huggingface_hub.utils import validate_repo_id

    validate_repo_id(repo_id)
    with tempfile.TemporaryDirectory(prefix="textcl-push-") as tmp:
        if isinstance(model_or_folder, (str, os.PathLike)):
            folder = _check_folder(os.fspath(model_or_folder))
            model = None
        else:
            model, folder = model_or_folder, os.path.join(tmp, "model")
            model.save(folder)
        staged = os.path.join(tmp, "staged")
        _stage(folder, staged)
        _write_card(staged, folder, repo_id, model, card)
        return _upload(staged, repo_id, token=token, private=private, revision=revision,
                       commit_message=commit_message)


def _check_folder(folder: str) -> str:
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"model folder {folder!r} does not exist: save the model first "
                                "(model.save(folder)) or pass the SentenceEncoder itself")
    if folder_kind(folder) is None:
        raise ValueError(f"{folder!r} is not a model folder (no textcl_config.json, modules.json or "
                         "config.json): pass the folder model.save() wrote")
    return folder


def _stage(folder: str, staged: str) -> None:
    """Mirror ``folder`` into ``staged``: real sub-folders, symbolic links to the files (no copies)."""
    folder = os.path.abspath(folder)
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
        out = os.path.join(staged, os.path.relpath(root, folder))
        os.makedirs(out, exist_ok=True)
        for name in names:
            if name.startswith(".") or (root == folder and name == CARD_FILE):
                continue  # the card is rewritten below
            os.symlink(os.path.join(root, name), os.path.join(out, name))


def _write_card(staged: str, folder: str, repo_id: str, model: Any,
                card: Any) -> None:
    """The folder's card with its local path replaced by ``repo_id``, or a new card if it has none."""
    existing = os.path.join(folder, CARD_FILE)
    out = os.path.join(staged, CARD_FILE)
    if os.path.isfile(existing) and card is None:
        with open(existing, encoding="utf-8") as f:
            text = f.read()
        for spelling in {folder, os.path.normpath(folder), os.path.abspath(folder)}:
            text = text.replace(f'"{spelling}"', f'"{repo_id}"')
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
        return
    from textcl.interop.model_card import resave_card, write_model_card

    if model is None:
        raise ValueError(f"{folder} has no {CARD_FILE} model card and no model was given to write one: push the "
                         "model itself (model.push_to_hub(repo_id)) or pass card= with the model")
    card = card or resave_card(repo_id.rsplit("/", 1)[-1], model)
    write_model_card(staged, card, model)
    with open(out, encoding="utf-8") as f:
        text = f.read().replace(f'"{staged}"', f'"{repo_id}"')
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)


def _upload(staged: str, repo_id: str, *, token: str | bool | None, private: bool | None,
            revision: str | None, commit_message: str) -> str:
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    repo_url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    if revision not in (None, "main"):
        api.create_branch(repo_id, branch=revision, exist_ok=True, repo_type="model")
    info = api.upload_folder(repo_id=repo_id, folder_path=staged, repo_type="model", revision=revision,
                             commit_message=commit_message, ignore_patterns=UPLOAD_IGNORE)
    return str(getattr(info, "commit_url", None) or repo_url)
