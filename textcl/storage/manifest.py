"""Folder manifests: every file of a saved folder with its size and SHA-256.

``textcl_manifest.json`` is the last file written into a folder before it is
renamed into place, so its presence means the save completed. Loading checks it:
a missing, truncated, altered or unexpected file is an error naming the file and
the fixes (``verify=False`` skips the size and hash checks, with a warning).

The name carries the ``textcl_`` prefix so that it never collides with another
tool's ``manifest.json`` in folders shared with other ecosystems (sentence-
transformers exports, hub clones).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import warnings
from collections.abc import Iterable
from typing import Any

from textcl.storage.atomic import atomic_write_json
from textcl.storage.errors import CorruptFolderError, FormatVersionError, MissingManifestError
from textcl.storage.read import read_json

__all__ = [
    "IGNORED_EXTRAS",
    "MANIFEST_FILE",
    "MANIFEST_VERSION",
    "SELF_CHECKSUM",
    "list_files",
    "manifest_checksum",
    "read_manifest",
    "sha256_file",
    "verify_manifest",
    "write_manifest",
]

MANIFEST_FILE = "textcl_manifest.json"
MANIFEST_VERSION = 1
# Files a folder may gain after its save that cannot change what loads from it: a model card
# written after the weights, and hidden files (a hub clone's .git/ and .gitattributes, lock files).
# metrics.json: the scores `textcl classify` writes beside the classifier it saved (never read by a loader).
IGNORED_EXTRAS: tuple[str, ...] = ("README.md", "metrics.json", ".*", "*/.*")
# The manifest's checksum of itself: a damaged manifest is then named as the damaged file,
# instead of blaming an intact file whose recorded size or hash it garbled.
SELF_CHECKSUM = "manifest_sha256"
_CHUNK = 1 << 20


def manifest_checksum(manifest: dict[str, Any]) -> str:
    """SHA-256 of ``manifest`` without its :data:`SELF_CHECKSUM` key (canonical JSON: sorted keys, no spaces)."""
    body = {k: v for k, v in manifest.items() if k != SELF_CHECKSUM}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path: str) -> str:
    """SHA-256 of a file, read in 1 MiB chunks (weights can be larger than memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def list_files(folder: str) -> list[str]:
    """Every regular file under ``folder`` as a sorted ``/``-separated relative path, minus the manifest."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/")
            if rel != MANIFEST_FILE:
                found.append(rel)
    return sorted(found)


def write_manifest(folder: str, kind: str | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Record every file of ``folder`` (size, SHA-256) in ``folder/textcl_manifest.json``.

    Args:
        folder: a finished folder; call this after its last file is written.
        kind: what the folder holds (``"checkpoint"``, ``"model"``, ...), read back by loaders.
        extra: more top-level keys to store (must not clash with the manifest's own).

    Returns:
        The manifest that was written.
    """
    files = {rel: {"size": os.path.getsize(os.path.join(folder, rel)),
                   "sha256": sha256_file(os.path.join(folder, rel))} for rel in list_files(folder)}
    manifest: dict[str, Any] = {"manifest_version": MANIFEST_VERSION, "kind": kind, **(extra or {}),
                                "files": files}
    manifest[SELF_CHECKSUM] = manifest_checksum(manifest)
    atomic_write_json(os.path.join(folder, MANIFEST_FILE), manifest)
    return manifest


def read_manifest(folder: str) -> dict[str, Any] | None:
    """The manifest of ``folder``, or ``None`` when it has none.

    Raises:
        CorruptFolderError: the manifest exists but is not a valid one.
        FormatVersionError: it was written by a newer textcl.
    """
    path = os.path.join(folder, MANIFEST_FILE)
    if not os.path.isfile(path):
        return None
    fix = "re-save the folder, or restore it from a copy"
    try:
        manifest = read_json(path)
    except ValueError as err:  # read_json names the file and the reason
        raise CorruptFolderError(f"{path} is corrupt ({str(err).split(' (', 1)[-1].rsplit('):', 1)[0]}): {fix}",
                                 folder, path) from err
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise CorruptFolderError(f"{path} is corrupt (no 'files' table): {fix}", folder, path)
    # optional: manifests written before the checksum existed have none
    if SELF_CHECKSUM in manifest and manifest[SELF_CHECKSUM] != manifest_checksum(manifest):
        raise CorruptFolderError(f"{path} is corrupt: its {SELF_CHECKSUM} does not match its content (the manifest "
                                 f"was altered or damaged): {fix}", folder, path)
    version = manifest.get("manifest_version")
    if not isinstance(version, int) or version < 1:
        raise CorruptFolderError(f"{path} is corrupt (manifest_version {version!r}): {fix}", folder, path)
    if version > MANIFEST_VERSION:
        raise FormatVersionError(f"{path} has manifest_version {version}; this textcl reads up to "
                                 f"{MANIFEST_VERSION}: upgrade textcl to load {folder}")
    for rel, entry in manifest["files"].items():
        if (not isinstance(entry, dict) or not isinstance(entry.get("size"), int)
                or not isinstance(entry.get("sha256"), str)):
            raise CorruptFolderError(f"{path} is corrupt (bad entry for {rel!r}): {fix}", folder, path)
        parts = rel.split("/")
        if rel.startswith("/") or os.path.isabs(rel) or ".." in parts or "" in parts:
            # nothing is ever read from outside the folder
            raise CorruptFolderError(f"{path} lists {rel!r}, a path outside the folder: {fix}", folder, path)
    return manifest


def verify_manifest(folder: str, verify: bool = True, allow_missing: bool = False,
                    ignore: Iterable[str] = ()) -> dict[str, Any] | None:
    """Check that ``folder`` holds exactly the files its manifest lists, unaltered.

    A file whose size or SHA-256 differs from the manifest's (hand-edited, truncated, damaged) is
    refused with one line naming it and the two ways on: re-save the folder, or load it with
    ``verify=False`` (``--no-verify``), which skips the size and hash checks with a warning. A
    missing file is refused either way. A file the manifest does not list is an error unless it
    matches :data:`IGNORED_EXTRAS` or ``ignore``: an unexpected ``tokenizer.json`` or
    ``config.json`` can change how a folder loads, so it never mixes in silently.

    Args:
        folder: the saved folder.
        verify: compare each file's size and SHA-256 with the manifest's (``False``: warn instead).
        allow_missing: return ``None`` for a folder without a manifest (one written
            before manifests existed) instead of raising.
        ignore: more ``fnmatch`` patterns of relative paths allowed besides the listed
            files (added to :data:`IGNORED_EXTRAS`: ``README.md`` and hidden files).

    Returns:
        The manifest, or ``None`` (no manifest and ``allow_missing``).

    Raises:
        FileNotFoundError: ``folder`` is not a folder.
        MissingManifestError: no manifest and not ``allow_missing``.
        CorruptFolderError: a file is missing, has the wrong size or hash, or is unexpected.
    """
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder} is not a folder: pass the path of a saved textcl folder")
    manifest = read_manifest(folder)
    if manifest is None:
        if allow_missing:
            return None
        raise MissingManifestError(
            f"{folder} has no {MANIFEST_FILE}: its save was interrupted, or textcl did not write it. "
            "Re-save it (or pass the folder of a complete save)", folder)
    resave = "re-save the model or restore the file from a copy"
    fixes = ("re-save the folder (or restore the file from a copy), or load it with verify=False (--no-verify) "
             "to skip the size and hash checks")
    real_folder = os.path.realpath(folder)
    for rel, entry in manifest["files"].items():
        path = os.path.join(folder, *rel.split("/"))
        if not os.path.realpath(path).startswith(real_folder + os.sep):
            raise CorruptFolderError(f"{path} links outside {folder}: replace the link with the file itself",
                                     folder, path)
        if not os.path.isfile(path):
            raise CorruptFolderError(f"{path} is missing (the folder is incomplete): {resave}", folder, path)
        size = os.path.getsize(path)
        if verify and size != entry["size"]:
            raise CorruptFolderError(
                f"{path} is corrupt or was edited since the save: {size} bytes, {MANIFEST_FILE} records "
                f"{entry['size']}: {fixes}", folder, path)
    patterns = IGNORED_EXTRAS + tuple(ignore)
    for rel in list_files(folder):
        if rel not in manifest["files"] and not any(fnmatch.fnmatchcase(rel, p) for p in patterns):
            path = os.path.join(folder, *rel.split("/"))
            raise CorruptFolderError(
                f"{path} is not part of the saved folder (not in its {MANIFEST_FILE}) and could change how "
                "it loads: remove it, or re-save the model", folder, path)
    if not verify:
        warnings.warn(f"{folder} is loaded without checking its files' sizes and SHA-256 against {MANIFEST_FILE} "
                      "(verify=False / --no-verify): an edited or damaged file loads as it is", UserWarning,
                      stacklevel=3)
        return manifest
    for rel, entry in manifest["files"].items():
        path = os.path.join(folder, *rel.split("/"))
        if sha256_file(path) != entry["sha256"]:
            raise CorruptFolderError(f"{path} is corrupt or was edited since the save: its SHA-256 differs from "
                                     f"the one {MANIFEST_FILE} records: {fixes}", folder, path)
    return manifest
