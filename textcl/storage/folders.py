"""Atomic folder saves: write a temporary sibling, then swap it in; recover after a crash.

``os.replace`` cannot replace a non-empty folder, so a save installs in three steps:

1. everything is written into ``PATH.tmp-PID-RAND``, a manifest last, all fsynced;
2. entries of an existing ``PATH`` that textcl did not write and may keep (``README.md``,
   hidden entries such as ``.git``: :data:`~textcl.storage.manifest.IGNORED_EXTRAS`) move into
   the new folder; an existing ``PATH`` is renamed aside to ``PATH.old-PID-RAND``;
3. the temporary folder is renamed to ``PATH``; then the aside folder is deleted, unless it
   still holds a file textcl did not write: it is then kept as ``PATH.replaced-PID-RAND``, and said so.

Only unique names are ever deleted: a user's own ``PATH.old`` is never touched. A crash
leaves either the old folder or the new one at ``PATH``, except between steps 2 and 3,
when ``PATH`` is missing and both the aside and the temporary folder are complete;
:func:`recover_folder` renames the newer one back.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import secrets
import shutil
import warnings
from typing import Callable, Iterator

from textcl.storage.atomic import check_parent_writable, fsync_dir, fsync_file, temp_sibling
from textcl.storage.errors import CorruptFolderError, OutputExistsError
from textcl.storage.manifest import IGNORED_EXTRAS, MANIFEST_FILE, read_manifest, verify_manifest, write_manifest

LOCK_FILE = ".textcl.lock"  # the output lock of storage.lock, never carried into a new folder

__all__ = ["atomic_folder", "check_folder_target", "recover_folder", "find_siblings", "complete_sibling",
           "aside_path", "pid_alive"]

_TMP = re.compile(r"\.tmp-(\d+)-[0-9a-f]+$")
_ASIDE = re.compile(r"\.old-(\d+)-[0-9a-f]+$")


def aside_path(path: str) -> str:
    """A fresh name for the previous folder during a swap: ``PATH.old-PID-RAND``."""
    return f"{os.path.abspath(path)}.old-{os.getpid()}-{secrets.token_hex(4)}"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine."""
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _windows_pid_alive(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return ctypes.GetLastError() == 5  # access denied: it exists, owned by someone else
    try:
        code = ctypes.c_ulong()
        return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) and code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def find_siblings(path: str) -> list[str]:
    """Leftovers of interrupted saves of ``path``: ``PATH.old-*`` and ``PATH.tmp-*`` folders, newest first."""
    parent, name = os.path.split(os.path.abspath(path))
    if not os.path.isdir(parent):
        return []
    found = [os.path.join(parent, n) for n in os.listdir(parent)
             if ((n.startswith(name + ".old-") and _ASIDE.search(n)) or (n.startswith(name + ".tmp-")
                                                                          and _TMP.search(n)))
             and os.path.isdir(os.path.join(parent, n))]
    return sorted(found, key=lambda p: (os.path.getmtime(p), p), reverse=True)


def _fsync_tree(folder: str) -> None:
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fsync_file(os.path.join(root, name))
        fsync_dir(root)


def check_folder_target(path: str, overwrite: bool = False,
                        kind_check: Callable[[str], bool] | None = None) -> None:
    """Raise unless :func:`atomic_folder` may write ``path``; call it up front, before any compute.

    Args:
        path: the folder a command will write.
        overwrite: a non-empty folder of another kind may be replaced.
        kind_check: returns True for an existing folder of the kind being saved.

    Raises:
        OutputExistsError: ``path`` is a file, or a non-empty folder that
            ``kind_check`` rejects and ``overwrite`` is False.
        NotADirectoryError / PermissionError: ``path`` cannot be created (an ancestor
            is a file, or not writable).
    """
    if os.path.lexists(path) and not os.path.isdir(path):
        raise OutputExistsError(f"{path} is a file, not a folder: choose another output path or remove the file")
    check_parent_writable(path)
    if overwrite or not os.path.isdir(path) or not os.listdir(path):
        return
    reason = "it is not a textcl folder of the same kind"
    if kind_check is not None:
        try:
            if kind_check(path) is True:
                return
        except Exception as err:  # a damaged folder cannot be identified: do not replace it silently
            reason = f"it could not be identified ({err})"
    raise OutputExistsError(f"{path} already holds files and {reason}: pass overwrite=True (--overwrite) to "
                            "replace it, or choose another path")


def _remove_stale_temps(path: str) -> None:
    """Delete temporary and aside siblings of ``path`` left by processes that no longer run.

    An aside folder is deleted only when it holds nothing textcl did not write.
    """
    for sibling in find_siblings(path):
        match = _TMP.search(sibling) or _ASIDE.search(sibling)
        if not match or int(match.group(1)) == os.getpid() or pid_alive(int(match.group(1))):
            continue
        if _TMP.search(sibling) or not _foreign_entries(sibling):
            shutil.rmtree(sibling, ignore_errors=True)


def _foreign_entries(path: str) -> list[str]:
    """Top-level entries of ``path`` that its manifest does not list (all of them without a manifest)."""
    manifest = read_manifest(path) if os.path.isfile(os.path.join(path, MANIFEST_FILE)) else None
    written = {MANIFEST_FILE} | {rel.split("/")[0] for rel in (manifest or {}).get("files", {})}
    return [e for e in sorted(os.listdir(path)) if e not in written]


def _keepable(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in IGNORED_EXTRAS)


def _install(tmp: str, path: str) -> None:
    """Steps 2 and 3 of the swap (``tmp`` is complete and fsynced)."""
    parent = os.path.dirname(path)
    old = aside_path(path)
    kept: list[str] = []
    if os.path.isdir(path):
        for entry in _foreign_entries(path):
            if _keepable(entry) and not os.path.lexists(os.path.join(tmp, entry)):
                os.rename(os.path.join(path, entry), os.path.join(tmp, entry))  # the user's README.md, .git/
            elif entry != LOCK_FILE:
                kept.append(entry)
        os.rename(path, old)
        fsync_dir(parent)
    try:
        os.replace(tmp, path)
    except OSError as err:
        if not os.path.lexists(path) and os.path.isdir(old):
            os.rename(old, path)  # put the previous folder back
        raise OutputExistsError(f"could not move the new folder {tmp} to {path} ({err}): another process "
                                f"saved to {path} at the same time; save again") from err
    fsync_dir(parent)
    if kept:
        keep = old.replace(".old-", ".replaced-", 1)  # a name textcl never deletes or recovers from
        os.rename(old, keep)
        fsync_dir(parent)
        warnings.warn(f"{path} held {', '.join(kept[:5])}{' ...' if len(kept) > 5 else ''}, which textcl did not "
                      f"write: the previous folder is kept as {keep}", UserWarning, stacklevel=4)
        return
    shutil.rmtree(old, ignore_errors=True)
    fsync_dir(parent)


@contextlib.contextmanager
def atomic_folder(path: str, overwrite: bool = False, kind_check: Callable[[str], bool] | None = None,
                  kind: str | None = None, manifest: bool = True) -> Iterator[str]:
    """Yield a fresh temporary folder; on success it replaces ``path`` whole, with a manifest.

    Stale files of an earlier save never mix in: the new folder holds only what
    the block wrote. On an exception the temporary folder is deleted and
    ``path`` is untouched.

    Args:
        path: the folder to (re)place.
        overwrite: replace a non-empty ``path`` even when ``kind_check`` does not accept it.
        kind_check: returns True when the existing ``path`` is a textcl folder of the
            kind being saved (so replacing it is a normal re-save).
        kind: stored in the manifest (``"checkpoint"``, ``"model"``, ...).
        manifest: write ``textcl_manifest.json`` (listing every file) before installing.

    Raises:
        OutputExistsError: ``path`` is a file, or a non-empty folder that ``kind_check``
            rejects and ``overwrite`` is False (checked before the block runs).
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.islink(path):
        path = os.path.realpath(path)  # swap the target, keep the user's link
    check_folder_target(path, overwrite, kind_check)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = temp_sibling(path, hidden=False)
    os.makedirs(tmp)
    try:
        yield tmp
        if manifest:
            write_manifest(tmp, kind=kind)
        _fsync_tree(tmp)
        fsync_dir(os.path.dirname(path))
        _install(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _remove_stale_temps(path)


def complete_sibling(path: str, verify: bool = True, accept: Callable[[str], bool] | None = None
                     ) -> tuple[str | None, dict[str, str]]:
    """The newest leftover of ``path`` with a valid manifest, and why each other leftover was refused.

    Temporary folders come before ``PATH.old``: a temporary folder with a manifest
    is a save that finished writing but was not renamed in yet, so it is newer.

    Args:
        path: the folder whose leftovers to search.
        verify: hash the files against the manifest (sizes are always checked).
        accept: also require ``accept(sibling)`` (e.g. the manifest's kind).

    Returns:
        ``(sibling or None, {refused sibling: reason})``.
    """
    refused: dict[str, str] = {}
    siblings = find_siblings(path)
    ordered = [s for s in siblings if _TMP.search(s)] + [s for s in siblings if not _TMP.search(s)]
    for sibling in ordered:
        match = _TMP.search(sibling)
        if match and int(match.group(1)) != os.getpid() and pid_alive(int(match.group(1))):
            refused[sibling] = f"process {match.group(1)} is still writing it"
            continue
        try:
            verify_manifest(sibling, verify=verify)
        except (CorruptFolderError, FileNotFoundError) as err:
            refused[sibling] = str(err)
            continue
        if accept is not None and not accept(sibling):
            refused[sibling] = "complete, but not a folder of the expected kind"
            continue
        return sibling, refused
    return None, refused


def recover_folder(path: str, verify: bool = True, accept: Callable[[str], bool] | None = None) -> str | None:
    """Rename a complete leftover back to a missing ``path``; say what was done.

    Args:
        path: a folder that should exist.
        verify: hash the candidate's files against its manifest (sizes are always checked).
        accept: also require ``accept(candidate)`` (e.g. the manifest's kind is a model's).

    Returns:
        A message naming the folder that was restored, or ``None`` when ``path``
        exists or no complete leftover exists (callers name :func:`find_siblings`
        in their error then).
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.lexists(path):
        return None
    sibling, _ = complete_sibling(path, verify, accept)
    if sibling is None:
        return None
    os.rename(sibling, path)
    fsync_dir(os.path.dirname(path))
    return (f"{path} was missing after an interrupted save; restored it from the complete "
            f"{os.path.basename(sibling)}")
