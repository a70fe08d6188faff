"""Command-line options shared by the commands that read a dataset: ``--data-config`` (alias ``--dataset-config``)."""

from __future__ import annotations

import argparse

__all__ = ["add_data_config_option"]


def add_data_config_option(group: argparse._ActionsContainer) -> None:
    """Add ``--data-config NAME`` (dest ``data_config``; ``--dataset-config`` is kept as an alias) to ``group``."""
    group.add_argument("--data-config", "--dataset-config", dest="data_config", default=None, metavar="NAME",
                       help="config of a hub dataset that has several, e.g. pair, triplet, pair-class or pair-score "
                            "of sentence-transformers/all-nli")
