"""Options shared by the commands: numbers checked by the config types' own rules, removed flags, ``--threads``."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import Any

__all__ = ["add_threads_option", "removed_flag"]


def removed_flag(old: str, new: str) -> Callable[[str], str]:
    """An argparse ``type`` that refuses a flag textcl 0.3 removed, naming the one that replaced it."""

    def refuse(value: str) -> str:
        raise argparse.ArgumentTypeError(f"{old} was removed in textcl 0.3: use {new} {value}")

    return refuse


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """``--threads N``: the command's intra-op threads (torch and ONNX Runtime), pinned for its whole run.

    Without it, each encode and training run chooses its threads from the cores other processes leave
    free (:mod:`textcl.threads`).
    """
    parser.add_argument("--threads", type=_threads, default=None, action=_PinThreads, metavar="N",
                        help="intra-op threads, pinned for the whole command (default: chosen from the cores "
                             "other processes leave free, at each encode and training run)")


def _threads(value: str) -> int:
    """argparse type: a whole number >= 1, checked by :func:`textcl.threads.check_threads`."""
    from textcl.threads import check_threads

    try:
        return check_threads(int(value))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--threads must be a whole number >= 1, got {value!r}") from err


class _PinThreads(argparse.Action):
    """Store ``--threads`` and run the command's ``func`` inside a plan pinned to it.

    The subcommand's defaults (its ``func``) are on the namespace before its options are parsed.
    """

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        func = getattr(namespace, "func", None)
        if func is not None and not getattr(func, "_threads_pinned", False):
            namespace.func = _pinned(func, values)


def _pinned(func: Callable[[argparse.Namespace], Any], threads: int) -> Callable[[argparse.Namespace], Any]:
    @functools.wraps(func)
    def run(args: argparse.Namespace) -> Any:
        from textcl.threads import ThreadPlan

        with ThreadPlan(threads, adapt=False):
            return func(args)

    run._threads_pinned = True  # type: ignore[attr-defined]
    return run
