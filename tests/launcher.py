"""Launching real multi-process runs from tests: a free local port and which failures to retry."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def transient_failure(output: str) -> bool:
    """A launch failure not caused by the code under test: port taken, or gloo aborting at teardown."""
    out = output.lower()
    return "address already in use" in out or "terminate called without an active exception" in out
