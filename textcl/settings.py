"""The one validation layer for user-facing numbers and choices: every config type, method and command uses it.

Each check raises ``ValueError("NAME (--FLAG) must be ..., got VALUE")``, naming the parameter and
its command-line flag; the API raises it and the CLI prints the same line (``textcl CMD: error: ...``),
so a value is refused alike everywhere.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["check_int", "check_float", "check_probability", "check_choice", "check_max_length", "SEED_MAX"]

SEED_MAX = 2**32 - 1  # NumPy's seeds are 32-bit


def _named(name: str) -> str:
    """``batch_size (--batch-size)``: a parameter with the flag that sets it."""
    return f"{name} (--{name.replace('_', '-')})" if name.isidentifier() else name


def check_int(name: str, value: Any, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` if it is an int (not a bool) in ``[minimum, maximum]``, else ``ValueError``."""
    if (not isinstance(value, int) or isinstance(value, bool) or value < minimum
            or (maximum is not None and value > maximum)):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{_named(name)} must be an int {bound}, got {value!r}")
    return value


def check_float(name: str, value: Any, minimum: float = 0.0, maximum: float | None = None,
                exclusive_minimum: bool = False, exclusive_maximum: bool = False) -> float:
    """``value`` if it is a finite number (not a bool) within the bounds, else ``ValueError``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > minimum if exclusive_minimum else value >= minimum)
    if ok and maximum is not None:
        ok = value < maximum if exclusive_maximum else value <= maximum
    if not ok:
        low = f"{'(' if exclusive_minimum else '['}{minimum}"
        high = f"{maximum}{')' if exclusive_maximum else ']'}" if maximum is not None else "inf)"
        raise ValueError(f"{_named(name)} must be a finite number in {low}, {high}, got {value!r}")
    return float(value)


def check_probability(name: str, value: Any) -> float:
    """``value`` if it is a number in ``[0, 1)``."""
    return check_float(name, value, 0.0, 1.0, exclusive_maximum=True)


def check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming the allowed values unless ``value`` is one of them."""
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(map(repr, allowed))}")


def check_max_length(value: Any, special_tokens: int = 0, positions: int | None = None) -> int:
    """Tokens kept per sentence: more than the ``special_tokens`` the tokenizer adds, at most ``positions``."""
    check_int("max_length", value, special_tokens + 1, positions)
    return value
