"""Argument types shared by the commands: numbers checked by the config types' own rules, removed flags."""

from __future__ import annotations

import argparse
from typing import Callable

__all__ = ["removed_flag"]


def removed_flag(old: str, new: str) -> Callable[[str], str]:
    """An argparse ``type`` that refuses a flag textcl 0.3 removed, naming the one that replaced it."""

    def refuse(value: str) -> str:
        raise argparse.ArgumentTypeError(f"{old} was removed in textcl 0.3: use {new} {value}")

    return refuse
