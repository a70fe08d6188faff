"""The ``format_version`` rule shared by every folder kind (see ``docs/format.md``)."""

from __future__ import annotations

from typing import Any

from textcl.storage.errors import FormatVersionError

__all__ = ["check_format_version"]


def check_format_version(found: Any, supported: int, where: str) -> int:
    """Return ``found`` if this textcl reads that version, else raise a clear error.

    Args:
        found: the ``format_version`` read from a folder's config (``None`` if absent).
        supported: the newest version this textcl writes and reads.
        where: the config file it came from, for the message.

    Raises:
        FormatVersionError: ``found`` is missing, not a positive integer, or newer than ``supported``.
    """
    if isinstance(found, bool) or not isinstance(found, int) or found < 1:
        raise FormatVersionError(f"{where} has format_version {found!r}, not a positive integer: the file is "
                                 "damaged or was not written by textcl; re-save the model")
    if found > supported:
        raise FormatVersionError(f"{where} has format_version {found}, but this textcl reads versions up to "
                                 f"{supported}: upgrade textcl (pip install -U textcl) to load it")
    return found
