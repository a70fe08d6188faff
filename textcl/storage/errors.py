"""Errors raised by :mod:`textcl.storage`; each message names the path and the fix."""

from __future__ import annotations

__all__ = ["CorruptFolderError", "MissingManifestError", "OutputExistsError", "LockHeldError",
           "FormatVersionError"]


class CorruptFolderError(ValueError):
    """A saved folder is incomplete or damaged: a file is missing, truncated, altered or unexpected.

    Attributes:
        folder: the folder that was checked.
        file: the offending file (a full path), or ``None`` when the folder itself is at fault.
    """

    def __init__(self, message: str, folder: str, file: str | None = None) -> None:
        super().__init__(message)
        self.folder = folder
        self.file = file


class MissingManifestError(CorruptFolderError):
    """A folder has no manifest: an interrupted save, a folder textcl did not write, or one older than manifests."""


class OutputExistsError(FileExistsError):
    """An output path holds something textcl must not replace without ``overwrite=True``."""


class LockHeldError(RuntimeError):
    """Another live process holds the lock of an output folder.

    Attributes:
        lock_path: the lock file.
        holder: what the lock file says about its holder (pid, host, started, command).
    """

    def __init__(self, message: str, lock_path: str, holder: dict) -> None:
        super().__init__(message)
        self.lock_path = lock_path
        self.holder = holder


class FormatVersionError(ValueError):
    """A folder was written by a newer textcl (or names a format version this one does not know)."""
