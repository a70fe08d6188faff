"""``textcl`` command line: a thin dispatcher over the subcommand modules."""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main", "build_parser"]

# subcommand modules, each exposing register(subparsers) and run(args)
COMMANDS = ("train", "eval", "encode", "search", "mine", "classify", "quickstart")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (every available subcommand registered)."""
    parser = argparse.ArgumentParser(prog="textcl", description="Contrastive sentence embeddings: train, "
                                     "evaluate, encode and search.")
    from textcl import __version__
    parser.add_argument("--version", action="version", version=f"textcl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"textcl.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"textcl.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``textcl`` script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        check_device(getattr(args, "device", None))
        return int(args.func(args) or 0)
    except _user_errors() as err:  # evaluated only when an error propagates: keeps `textcl --help` light
        message = " ".join(str(err).splitlines())  # one line, however the error was worded
        print(f"textcl {args.command}: error: {message}", file=sys.stderr)
        return 1


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors that describe a problem with the user's input, printed without a traceback."""
    from textcl.storage.errors import LockHeldError

    errors: list[type[BaseException]] = [FileNotFoundError, ValueError, KeyError, TypeError, ImportError, OSError,
                                         LockHeldError]
    try:
        from textcl.train.trainer import TrainingDivergedError
        errors.append(TrainingDivergedError)
    except ImportError:  # pragma: no cover - torch-less installs
        pass
    return tuple(errors)


def check_device(device: str | None) -> None:
    """Refuse a ``--device`` this machine does not have, before any model loads.

    Raises:
        ValueError: an unparsable device, CUDA without a visible GPU, or a GPU index out of range.
    """
    if device is None:
        return
    import torch

    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"--device {device!r} is not a device ({err}): use cpu, cuda or cuda:N") from err
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: no CUDA GPU is visible here (torch.cuda.is_available() is False, "
                             f"torch {torch.__version__}); use --device cpu or install a CUDA build of torch")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"--device {device}: this machine has {torch.cuda.device_count()} GPU(s) "
                             f"(cuda:0 .. cuda:{torch.cuda.device_count() - 1})")
    elif dev.type not in ("cpu", "mps", "xpu"):
        raise ValueError(f"--device {device}: unsupported device type {dev.type!r}; use cpu or cuda[:N]")



if __name__ == "__main__":
    sys.exit(main())
