"""PNG figures of an evaluation: STS scatter plots and the alignment-uniformity point.

Figures are drawn on matplotlib's Agg canvas, created inside each function:
nothing is configured at import and pyplot's global backend is never touched,
so plotting works headless and leaves a notebook's backend alone.

Example:
    >>> plot_sts_scatter(cosines, gold, "stsb.png", title="STS-B")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_sts_scatter", "plot_alignment_uniformity", "save_plots"]


def _figure(width: float = 5.0, height: float = 4.0) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def plot_sts_scatter(predicted: np.ndarray, gold: np.ndarray, path: str | os.PathLike,
                     title: str = "", spearman: float | None = None) -> Path:
    """Scatter predicted cosine similarity against the gold score.

    Args:
        predicted: cosine similarities, shape ``(n,)``.
        gold: gold scores, shape ``(n,)``.
        path: PNG file to write.
        title: plot title (e.g. the task name).
        spearman: Spearman x100 to show in the title.

    Returns:
        The written path.
    """
    fig = _figure()
    ax = fig.add_subplot()
    ax.scatter(np.asarray(gold), np.asarray(predicted), s=4, alpha=0.3, linewidths=0)
    ax.set_xlabel("gold score")
    ax.set_ylabel("cosine similarity")
    if spearman is not None:
        title = f"{title} (Spearman {spearman:.2f})".strip()
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_alignment_uniformity(points: Mapping[str, tuple[float, float]],
                              path: str | os.PathLike) -> Path:
    """Plot models as points in the (uniformity, alignment) plane, lower-left is better.

    Args:
        points: ``{label: (alignment, uniformity)}``.
        path: PNG file to write.

    Returns:
        The written path.
    """
    fig = _figure()
    ax = fig.add_subplot()
    for label, (align, unif) in points.items():
        ax.scatter([unif], [align], s=40)
        ax.annotate(label, (unif, align), textcoords="offset points", xytext=(5, 5))
    # a fixed frame, so that figures of different models compare at a glance
    aligns = [a for a, _ in points.values()]
    unifs = [u for _, u in points.values()]
    ax.set_xlim(min(-4.2, min(unifs, default=0) - 0.2), 0.0)
    ax.set_ylim(0.0, max(0.6, 1.2 * max(aligns, default=0)))
    ax.set_xlabel("uniformity (lower is better)")
    ax.set_ylabel("alignment (lower is better)")
    ax.set_title("alignment vs uniformity (STS-B)")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def save_plots(predictions: Mapping[str, tuple[np.ndarray, np.ndarray]],
               geometry: Mapping[str, float] | None, out_dir: str | os.PathLike,
               spearman: Mapping[str, float] | None = None, label: str = "model",
               titles: Mapping[str, str] | None = None) -> list[Path]:
    """Write ``sts_<task>.png`` per STS task and ``alignment_uniformity.png``.

    Args:
        predictions: ``{task: (cosine similarities, gold scores)}``.
        geometry: ``{"alignment", "uniformity"}`` or None to skip that figure.
        out_dir: folder to write into (created).
        spearman: ``{task: Spearman x100}`` for the titles.
        label: name of the model's point.
        titles: display name per task (default: the task key).

    Returns:
        The written paths.
    """
    out = Path(out_dir)
    spearman, titles = spearman or {}, titles or {}
    paths = [plot_sts_scatter(pred, gold, out / f"sts_{task}.png", titles.get(task, task), spearman.get(task))
             for task, (pred, gold) in predictions.items()]
    if geometry:
        paths.append(plot_alignment_uniformity(
            {label: (geometry["alignment"], geometry["uniformity"])}, out / "alignment_uniformity.png"))
    return paths
