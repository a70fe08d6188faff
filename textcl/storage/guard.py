"""The one output guard: every writer checks its output against its inputs and holds the output's lock.

:func:`guard_output` is what a command wraps its writing in. It

* refuses an output that equals, contains or lies inside one of the command's inputs (a model
  folder, a data file, a corpus, a checkpoint), compared by real path, so a link or ``..`` is no
  way around it;
* holds a lock next to the output (``.NAME.textcl.lock`` in its folder), so a second writer of
  the same output is refused, naming the first one.

Deleting only what textcl wrote is the job of :mod:`textcl.storage.folders` (folders) and
:mod:`textcl.storage.atomic` (files), which every writer uses to write.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator, Mapping

from textcl.storage.lock import OutputLock

__all__ = ["check_not_an_input", "guard_output", "output_lock"]


def check_not_an_input(output: str | os.PathLike, inputs: Mapping[str, str | os.PathLike | None],
                       flag: str = "--output") -> None:
    """Raise ``ValueError`` when ``output`` equals, contains or lies inside one of ``inputs``.

    Args:
        output: the path a command will write (a file or a folder).
        inputs: ``{what the input is (e.g. "--input"): its path}``; ``None`` entries and names that
            are not local paths (hub ids) are skipped.
        flag: how the user named the output, for the message.
    """
    out = os.path.realpath(os.path.expanduser(os.fspath(output)))
    for name, value in inputs.items():
        if value is None or not os.path.lexists(os.path.expanduser(os.fspath(value))):
            continue
        inp = os.path.realpath(os.path.expanduser(os.fspath(value)))
        if out == inp:
            problem = "is"
        elif inp.startswith(out.rstrip(os.sep) + os.sep):
            problem = "contains"
        elif out.startswith(inp.rstrip(os.sep) + os.sep):
            problem = "lies inside"
        else:
            continue
        raise ValueError(f"{flag} {os.fspath(output)} {problem} the input {name} {os.fspath(value)}: writing it "
                         f"would overwrite or delete that input; choose another {flag}")


def output_lock(output: str | os.PathLike, what: str) -> OutputLock:
    """The lock of one output path: ``.NAME.textcl.lock`` in the output's folder."""
    path = os.path.abspath(os.path.expanduser(os.fspath(output)))
    parent, name = os.path.split(path)
    return OutputLock(parent, what=what, name=f".{name}.textcl.lock")


@contextlib.contextmanager
def guard_output(output: str | os.PathLike, inputs: Mapping[str, str | os.PathLike | None] = {},
                 what: str = "textcl command", flag: str = "--output") -> Iterator[None]:
    """Check ``output`` against ``inputs``, then hold its lock while the block writes it."""
    check_not_an_input(output, inputs, flag)
    with output_lock(output, what):
        yield
