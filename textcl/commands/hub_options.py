"""Command-line options for Hugging Face hub names: ``--revision``, ``--token``, ``--cache-folder``.

Every command that accepts a model or dataset name adds them with :func:`add_hub_options`
and passes :func:`hub_kwargs` to the loader. Local paths ignore them.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_hub_options", "hub_kwargs"]


def add_hub_options(p: argparse.ArgumentParser) -> None:
    """Add ``--revision``, ``--token`` and ``--cache-folder`` to ``p`` (one "Hugging Face hub" group)."""
    g = p.add_argument_group("Hugging Face hub (for hub repo ids; local paths ignore these)")
    g.add_argument("--revision", default=None,
                   help="branch, tag or commit of the --model repo (default: main)")
    g.add_argument("--token", default=None,
                   help="hub token for private or gated repos (default: $HF_TOKEN or the saved `hf auth login`)")
    g.add_argument("--cache-folder", default=None,
                   help="hub cache folder (default: $HF_HUB_CACHE, ~/.cache/huggingface/hub); "
                        "with HF_HUB_OFFLINE=1 only what is cached there loads")


def hub_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The ``revision``, ``token`` and ``cache_folder`` the user gave (unset ones left out), for ``from_pretrained``."""
    given = {"revision": args.revision, "token": args.token, "cache_folder": args.cache_folder}
    return {k: v for k, v in given.items() if v is not None}
