"""Run a whole evaluation: every task, each distinct sentence of a task encoded once.

:func:`evaluate` loads the requested tasks and, task by task, encodes that
task's distinct sentences (length-sorted chunks, with a progress bar) and
scores it from that table (a probe with a bar of its folds). Each task is encoded on its own, so its embeddings
(and score) do not depend on which other tasks run with it: a table shared
across tasks puts a sentence into different length-sorted batches, and float32
sums then differ in the last bits. Results are a plain dict
``{task: {metric: value}}`` with the summary entries ``sts_avg`` and
``transfer_avg``, and ``meta["time_split"]`` (seconds spent encoding and
scoring each task); :func:`format_markdown`, :func:`format_time_split` and
:func:`write_json` present it.

Example:
    >>> results = evaluate(model.encode, "stsb,mr", "../shared/data")  # doctest: +SKIP
    >>> print(format_markdown(results))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from textcl.data.senteval import STS_TASKS, TRANSFER_TASKS, load_task, parse_tasks, resolve_data_dir
from textcl.evaluation.geometry import alignment_uniformity_data
from textcl.evaluation.probes import C_TOLERANCE, SEED, PairMode, Scaling, evaluate_probe_data
from textcl.evaluation.sts import Encode, evaluate_sts_data

__all__ = [
    "EmbeddingTable",
    "default_data_dir",
    "encode_unique",
    "evaluate",
    "format_markdown",
    "format_time_split",
    "task_texts",
    "write_json",
]

_NAMES = {"sts12": "STS12", "sts13": "STS13", "sts14": "STS14", "sts15": "STS15",
          "sts16": "STS16", "stsb": "STS-B", "sickr": "SICK-R", "mr": "MR", "cr": "CR",
          "subj": "SUBJ", "mpqa": "MPQA", "sst2": "SST-2", "trec": "TREC", "mrpc": "MRPC"}


class EmbeddingTable:
    """A lookup that behaves like ``encode`` for sentences encoded beforehand.

    Args:
        sentences: distinct sentences.
        embeddings: their embeddings, shape ``(len(sentences), d)``.
    """

    def __init__(self, sentences: Sequence[str], embeddings: np.ndarray) -> None:
        if len(sentences) != len(embeddings):
            raise ValueError(f"{len(sentences)} sentences but {len(embeddings)} embeddings")
        self.index = {s: i for i, s in enumerate(sentences)}
        self.embeddings = embeddings

    def __len__(self) -> int:
        return len(self.index)

    def __call__(self, texts: list[str]) -> np.ndarray:
        """Embeddings of ``texts`` (each must be in the table), shape ``(len(texts), d)``."""
        try:
            rows = [self.index[t] for t in texts]
        except KeyError as err:
            raise KeyError(f"sentence {err.args[0]!r:.80} was not encoded beforehand") from None
        return self.embeddings[rows]


def encode_unique(encode: Encode, sentences: Iterable[str], chunk_size: int = 512,
                  show_progress: bool = True) -> EmbeddingTable:
    """Encode each distinct sentence once.

    Sentences are sorted by length before chunking, so a model that batches
    its input in order pads little.

    Args:
        encode: sentences -> embeddings, shape ``(n, d)``.
        sentences: sentences, repeats allowed.
        chunk_size: sentences per ``encode`` call (the progress bar's step).
        show_progress: draw a tqdm bar.

    Returns:
        An :class:`EmbeddingTable` usable wherever ``encode`` is.
    """
    unique = sorted(set(sentences), key=lambda s: (len(s), s))
    chunks = []
    with tqdm(total=len(unique), desc="encoding", unit="sent", disable=not show_progress) as bar:
        for start in range(0, len(unique), chunk_size):
            batch = unique[start:start + chunk_size]
            emb = np.asarray(encode(batch), dtype=np.float32)
            if emb.ndim != 2 or emb.shape[0] != len(batch):
                raise ValueError(f"encode returned shape {emb.shape} for {len(batch)} sentences; "
                                 "expected (n_sentences, dim)")
            chunks.append(emb)
            bar.update(len(batch))
    embeddings = np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)
    return EmbeddingTable(unique, embeddings)


def task_texts(task: str, data: dict[str, Any]) -> list[str]:
    """The sentences a task's score needs (repeats kept).

    STS tasks are scored on their test split only (train/dev are not
    encoded); a probe needs every split.

    Args:
        task: a task name.
        data: ``{split: data}`` as returned by :func:`~textcl.data.senteval.load_task`.
    """
    splits = [data["test"]] if task in STS_TASKS else list(data.values())
    return [s for d in splits for s in d.texts()]


def default_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """``data_dir``, else the ``TEXTCL_DATA`` environment variable, resolved.

    Raises:
        ValueError: neither is set.
        FileNotFoundError: the folder does not exist.
    """
    data_dir = data_dir or os.environ.get("TEXTCL_DATA")
    if not data_dir:
        raise ValueError("no data directory: pass data_dir (--data-dir) or set TEXTCL_DATA "
                         "to SentEval's data/downstream folder")
    return resolve_data_dir(data_dir)


def _mean_over(results: dict[str, Any], tasks: Sequence[str], metric: str) -> dict[str, Any] | None:
    present = [t for t in tasks if t in results]
    if not present:
        return None
    return {metric: float(np.mean([results[t][metric] for t in present])), "tasks": present}


def evaluate(encode: Encode, tasks: str | Sequence[str] = "all",
             data_dir: str | os.PathLike | None = None, *, n_folds: int = 10,
             inner_folds: int = 5, pair_mode: PairMode = "full", scaling: Scaling = "norm",
             geometry: bool = True,
             plots_dir: str | os.PathLike | None = None, chunk_size: int = 512,
             show_progress: bool = True, seed: int = SEED, tolerance: float = C_TOLERANCE,
             n_jobs: int | None = None) -> dict[str, Any]:
    """Evaluate an encoder on STS and transfer tasks.

    Args:
        encode: sentences -> float array ``(n, d)``.
        tasks: ``"all"`` (every task whose data is present), comma-separated
            names, or a list (see :data:`~textcl.data.senteval.ALL_TASKS`).
        data_dir: SentEval's downstream folder; default ``$TEXTCL_DATA``.
        n_folds, inner_folds: probe CV folds (see :mod:`textcl.evaluation.probes`).
        pair_mode: MRPC pair features.
        scaling: probe feature scaling.
        geometry: add alignment/uniformity on STS-B test when ``stsb`` is run.
        plots_dir: if given, write PNGs there (STS scatter plots, alignment-uniformity).
        chunk_size: sentences per ``encode`` call.
        show_progress: draw progress bars on stderr: encoding, and each probe's ``C``-search folds.
        seed: probe fold seed.
        tolerance: probe ``C`` values within this many accuracy points of the
            best count as tied (see :func:`~textcl.evaluation.probes.select_c`).
        n_jobs: processes over the probes' CV folds (``None``: one).

    Returns:
        ``{task: {metric: value}}`` (correlations and accuracies x100), plus
        ``sts_avg`` ``{"spearman", "tasks"}`` over the STS tasks present,
        ``transfer_avg`` ``{"accuracy", "tasks"}``, ``alignment_uniformity``,
        and ``meta``: sentence counts, ``time_split`` ``{task: {"encode": s,
        "probe": s}}`` (``probe``: everything but encoding: probes, metrics),
        ``encode_seconds`` / ``probe_seconds`` (their sums), total seconds, plot paths.
    """
    start = time.perf_counter()
    root = default_data_dir(data_dir)
    names = parse_tasks(tasks, root)
    if not names:
        raise FileNotFoundError(f"no task data found under {root}")
    data = {t: load_task(t, root) for t in names}

    results: dict[str, Any] = {}
    predictions: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    time_split: dict[str, dict[str, float]] = {}
    n_sentences = n_unique = 0
    stsb_table = None
    for task in names:
        texts = task_texts(task, data[task])
        t_enc = time.perf_counter()
        table = encode_unique(encode, texts, chunk_size, show_progress)  # this task's sentences only
        t_task = time.perf_counter()
        if task in STS_TASKS:
            out = evaluate_sts_data(table, data[task]["test"], return_predictions=True)
            predictions[task] = (out.pop("predictions"), data[task]["test"].scores)
            results[task] = out
        else:
            results[task] = evaluate_probe_data(table, task, data[task], n_folds, inner_folds,
                                                pair_mode, scaling, seed, tolerance=tolerance,
                                                n_jobs=n_jobs, show_progress=show_progress)
        time_split[task] = {"encode": round(t_task - t_enc, 2),
                            "probe": round(time.perf_counter() - t_task, 2)}
        n_sentences, n_unique = n_sentences + len(texts), n_unique + len(table)
        stsb_table = table if task == "stsb" else stsb_table
    for key, group, metric in (("sts_avg", STS_TASKS, "spearman"),
                               ("transfer_avg", TRANSFER_TASKS, "accuracy")):
        summary = _mean_over(results, group, metric)
        if summary is not None:
            results[key] = summary
    if geometry and stsb_table is not None:
        t_geo = time.perf_counter()
        results["alignment_uniformity"] = alignment_uniformity_data(stsb_table, data["stsb"]["test"])
        time_split["stsb"]["probe"] = round(time_split["stsb"]["probe"] + time.perf_counter() - t_geo, 2)

    plots: list[str] = []
    if plots_dir is not None:
        from textcl.evaluation.plots import save_plots  # matplotlib only when plotting

        spearman = {t: results[t]["spearman"] for t in predictions}
        plots = [str(p) for p in save_plots(predictions, results.get("alignment_uniformity"), plots_dir,
                                            spearman, titles=_NAMES)]
    results["meta"] = {"data_dir": str(root), "tasks": names, "n_sentences": n_sentences,
                       "n_unique_sentences": n_unique, "time_split": time_split,
                       "encode_seconds": round(sum(t["encode"] for t in time_split.values()), 2),
                       "probe_seconds": round(sum(t["probe"] for t in time_split.values()), 2),
                       "total_seconds": round(time.perf_counter() - start, 2), "plots": plots}
    return results


def _fmt(values: Sequence[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def format_markdown(results: dict[str, Any]) -> str:
    """A markdown table of :func:`evaluate`'s results (x100 scores, 2 decimals).

    STS rows show Spearman / Pearson, probe rows accuracy (/ F1 for MRPC);
    the averages name the tasks they cover.
    """
    lines = ["| Task | Metric | Score | n |", "|---|---|---:|---:|"]
    for task, row in results.items():
        if task not in _NAMES:
            continue
        if "spearman" in row:
            metric, values = "Spearman / Pearson", [row["spearman"], row["pearson"]]
        elif "f1" in row:
            metric, values = "Acc / F1", [row["accuracy"], row["f1"]]
        else:
            metric, values = "Acc", [row["accuracy"]]
        lines.append(f"| {_NAMES[task]} | {metric} | {_fmt(values)} | {row.get('n', '')} |")
    for key, label, metric, shown in (("sts_avg", "STS avg", "spearman", "Spearman"),
                                      ("transfer_avg", "Transfer avg", "accuracy", "Acc")):
        if key in results:
            covered = ", ".join(_NAMES[t] for t in results[key]["tasks"])
            lines.append(f"| **{label}** ({covered}) | {shown} | **{results[key][metric]:.2f}** | |")
    geo = results.get("alignment_uniformity")
    if geo:
        lines.append(f"| Alignment / uniformity (STS-B) | lower is better | "
                     f"{geo['alignment']:.3f} / {geo['uniformity']:.3f} | {geo['n_pairs']} pairs |")
    return "\n".join(lines)


def format_time_split(results: dict[str, Any]) -> str:
    """A markdown table of where :func:`evaluate`'s time went, task by task.

    ``encode s``: encoding the task's sentences; ``probe s``: everything else
    (classifiers, correlations, geometry); the last column is their ratio.
    """
    split = results["meta"]["time_split"]
    lines = ["| Task | encode s | probe s | probe / encode |", "|---|---:|---:|---:|"]
    rows = [(_NAMES.get(t, t), v["encode"], v["probe"]) for t, v in split.items()]
    rows.append(("**total**", results["meta"]["encode_seconds"], results["meta"]["probe_seconds"]))
    for name, enc, probe in rows:
        ratio = f"{probe / enc:.2f}" if enc > 0 else "-"
        lines.append(f"| {name} | {enc:.1f} | {probe:.1f} | {ratio} |")
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_json(results: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write results as indented JSON (parent folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_jsonable(results), indent=2) + "\n", encoding="utf-8")
    return path
