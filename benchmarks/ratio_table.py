"""The table every benchmark ends with: each contender's figure and its ratio to a baseline, side by side.

On a shared machine absolute figures drift between minutes; a ratio of neighbouring runs much less, so the
ratio column is the one to compare across machines and releases.
"""

from __future__ import annotations

from typing import Mapping


def ratio_table(values: Mapping[str, float], baseline: str, what: str, *, fmt: str = ",.1f",
                ratios: Mapping[str, float] | None = None, notes: Mapping[str, str] | None = None) -> str:
    """A markdown table ``| contender | <what> | / <baseline> | [note] |``, in the order of ``values``.

    Args:
        values: contender -> its figure (sentences/s, MiB, ...).
        baseline: the contender every ratio is taken against (must be in ``values``).
        what: the figure's column header, with its unit.
        fmt: format spec of the figures.
        ratios: contender -> ratio to show instead of ``value / baseline value`` (e.g. the median of per-round
            ratios, which a benchmark that alternates contenders measures more robustly).
        notes: contender -> text for a last ``note`` column (e.g. the range over rounds).

    Returns:
        The table, one line per contender; the baseline's ratio is 1.00x.

    Raises:
        ValueError: ``baseline`` is not a contender, or its figure is zero.

    Example:
        >>> print(ratio_table({"plain": 2.0, "fast": 5.0}, "plain", "sentences/s"))
        | contender | sentences/s | / plain |
        |---|---:|---:|
        | plain | 2.0 | 1.00x |
        | fast | 5.0 | 2.50x |
    """
    if baseline not in values:
        raise ValueError(f"baseline {baseline!r} is not one of the contenders: {', '.join(values)}")
    if values[baseline] == 0:
        raise ValueError(f"baseline {baseline!r} has a figure of 0: no ratio can be taken")
    header = ["contender", what, f"/ {baseline}"] + (["note"] if notes else [])
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * 2 + ("---|" if notes else "")]
    for name, value in values.items():
        ratio = (ratios or {}).get(name, value / values[baseline])
        cells = [name, format(value, fmt), f"{ratio:.2f}x"] + ([(notes or {}).get(name, "")] if notes else [])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
