"""``textcl`` command line: a thin dispatcher over the subcommand modules."""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main", "build_parser"]

# subcommand modules, each exposing register(subparsers) and run(args)
COMMANDS = ("train", "eval", "encode", "search", "classify", "quickstart")


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
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError, KeyError, TypeError) as err:
        print(f"textcl {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
