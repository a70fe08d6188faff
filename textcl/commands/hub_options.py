"""Command-line options for Hugging Face hub names: ``--revision``, ``--token``, ``--cache-folder``.

Every command that accepts a model or dataset name adds them with :func:`add_hub_options`
and passes :func:`hub_kwargs` to the loader. Local paths ignore them. ``--no-verify`` (added
with them) loads a saved textcl folder without checking its files against its manifest.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_hub_options", "hub_kwargs"]


def add_hub_options(p: argparse.ArgumentParser) -> None:
    """Add ``--revision``, ``--token``, ``--cache-folder`` (one "Hugging Face hub" group) and ``--no-verify`` to ``p``."""
    g = p.add_argument_group("Hugging Face hub (for hub repo ids; local paths ignore these)")
    g.add_argument("--revision", default=None,
                   help="branch, tag or commit of the --model repo (default: main)")
    g.add_argument("--token", default=None,
                   help="hub token for private or gated repos (default: $HF_TOKEN or the saved `hf auth login`)")
    g.add_argument("--cache-folder", default=None,
                   help="hub cache folder (default: $HF_HUB_CACHE, ~/.cache/huggingface/hub); "
                        "with HF_HUB_OFFLINE=1 only what is cached there loads")
    p.add_argument("--no-verify", action="store_true",
                   help="load a saved textcl model folder without checking its files' sizes and SHA-256 against "
                        "its manifest (a warning is printed; for a folder you edited by hand on purpose)")


def hub_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The ``revision``, ``token`` and ``cache_folder`` the user gave (unset ones left out), for ``from_pretrained``.

    With ``--no-verify``, also ``verify=False``.
    """
    given = {"revision": args.revision, "token": args.token, "cache_folder": args.cache_folder}
    if getattr(args, "no_verify", False):
        given["verify"] = False
    return {k: v for k, v in given.items() if v is not None}
