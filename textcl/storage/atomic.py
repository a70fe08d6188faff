"""Atomic file writes: a temporary sibling, flushed and fsynced, then renamed into place.

A reader sees either the old file or the complete new one, never a half-written
file, and a crash at any point leaves the old file (or nothing) plus at most a
hidden ``.NAME.tmp-PID-RAND`` sibling. ``os.replace`` is atomic only within one
file system, so the temporary file always lives in the target's own folder.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
from typing import Any, Iterator

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json", "atomic_output_file",
           "fsync_file", "fsync_dir", "replace_into_place", "temp_sibling", "check_parent_writable",
           "check_output_file"]


def temp_sibling(path: str, hidden: bool = True) -> str:
    """A fresh, unused name next to ``path`` for writing it under.

    Args:
        path: the final path.
        hidden: ``.NAME.tmp-PID-RAND.EXT`` (files; the extension is kept so that
            writers such as ``np.save`` that add one do not rename it) instead of
            ``NAME.tmp-PID-RAND`` (folders, see :func:`textcl.storage.atomic_folder`).
    """
    parent, name = os.path.split(os.path.abspath(path))
    tag = f"tmp-{os.getpid()}-{secrets.token_hex(4)}"
    if hidden:
        ext = os.path.splitext(name)[1]
        return os.path.join(parent, f".{name}.{tag}{ext}")
    return os.path.join(parent, f"{name}.{tag}")


def fsync_file(path: str) -> None:
    """Flush ``path``'s data to the disk (a file written by any writer, e.g. a memmap)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str) -> None:
    """Flush folder ``path``'s entries (new, renamed, removed names) to the disk.

    File systems that cannot fsync a folder (some network mounts) are skipped
    silently: there is nothing more a program can do on them.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as err:
        if err.errno in (errno.EACCES, errno.EINVAL):
            return
        raise
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def _refuse_folder(path: str) -> None:
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a folder, not a file: choose a file name for this output "
                                "(or remove the folder)")


def check_parent_writable(path: str) -> None:
    """Raise unless the folder that will hold ``path`` exists or can be created, and is writable.

    Checked up front, before any compute, so that a bad output path fails in a
    second and not after the work: the nearest existing ancestor must be a folder
    (not a file) that this process may write into.

    Raises:
        NotADirectoryError: an ancestor of ``path`` is a file.
        PermissionError: the nearest existing ancestor is not writable.
    """
    parent = os.path.dirname(os.path.abspath(os.fspath(path)))
    ancestor = parent
    while not os.path.lexists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise NotADirectoryError(f"cannot write {path}: {ancestor} is a file, not a folder; choose another "
                                 "output path")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {path}: the folder {ancestor} is not writable; choose another "
                              "output path")


def check_output_file(path: str, overwrite: bool = True) -> None:
    """Raise unless ``path`` can be written as a file; call it before any compute.

    Args:
        path: the output file.
        overwrite: an existing file may be replaced (else it is refused).

    Raises:
        IsADirectoryError: ``path`` is a folder.
        FileExistsError: ``path`` exists and ``overwrite`` is False.
        NotADirectoryError / PermissionError: see :func:`check_parent_writable`.
    """
    path = os.fspath(path)
    _refuse_folder(path)
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(f"{path} already exists: pass --overwrite to replace it, or choose another path")
    check_parent_writable(path)


def replace_into_place(src: str, dst: str) -> None:
    """Rename the finished file ``src`` onto ``dst`` and make the rename durable.

    ``src`` must already be fsynced (:func:`fsync_file`) and live in ``dst``'s folder.

    Raises:
        IsADirectoryError: ``dst`` is a folder.
    """
    _refuse_folder(dst)
    os.replace(src, dst)
    fsync_dir(os.path.dirname(os.path.abspath(dst)))


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to file ``path`` atomically (readers see the old or the new file, never a mix).

    Raises:
        IsADirectoryError: ``path`` is a folder.
    """
    path = os.fspath(path)
    _refuse_folder(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = temp_sibling(path)
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        replace_into_place(tmp, path)
    except BaseException:
        _remove_quietly(tmp)
        raise


def atomic_write_text(path: str, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to file ``path`` atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str, obj: Any, indent: int | None = 2) -> None:
    """Write ``obj`` as JSON (UTF-8, ending in a newline) to file ``path`` atomically.

    Raises:
        TypeError: ``obj`` is not JSON-serialisable; nothing is written.
        ValueError: ``obj`` holds NaN or infinity, which strict JSON readers reject.
    """
    text = json.dumps(obj, indent=indent, ensure_ascii=False, allow_nan=False)
    atomic_write_text(path, text + "\n")


@contextlib.contextmanager
def atomic_output_file(path: str) -> Iterator[str]:
    """Yield a temporary path to write a large output to; on success it becomes ``path``.

    For outputs written by other libraries (``np.save``, ``np.lib.format.open_memmap``,
    ``torch.save``): write to the yielded path, close the file, leave the block.
    The temporary name keeps ``path``'s extension, so ``np.save`` adds none.
    On an exception the temporary file is removed and ``path`` is untouched.

    Example:
        >>> with atomic_output_file("emb.npy") as tmp:
        ...     np.save(tmp, embeddings)

    Raises:
        IsADirectoryError: ``path`` is a folder (checked before anything is written).
        FileNotFoundError: the block left without writing the temporary file.
    """
    path = os.fspath(path)
    _refuse_folder(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = temp_sibling(path)
    try:
        yield tmp
        if not os.path.isfile(tmp):
            raise FileNotFoundError(f"nothing was written to the temporary file {tmp} for {path}: write the "
                                    "output to the path atomic_output_file yields")
        fsync_file(tmp)
        replace_into_place(tmp, path)
    except BaseException:
        _remove_quietly(tmp)
        raise
