"""CLI subcommands; each module exposes ``register(subparsers)`` and ``run(args) -> int``."""

__all__: list[str] = []
