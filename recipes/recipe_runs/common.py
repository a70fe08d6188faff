"""Shared helpers of the recipes: check sets, scores, training with dev selection, summaries and tables."""

from __future__ import annotations

import os
import statistics
from typing import Any, Callable

import numpy as np

EncodeFn = Callable[[list[str]], np.ndarray]
SEEDS = (42, 43, 44)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DATA = os.path.join(REPO, "..", "shared", "data")


def load_checks(senteval: str) -> dict[str, Any]:
    """STS-B dev (selection), STS-B test and SICK-R train+trial (checks): name -> ``PairData``."""
    from textcl.data.senteval import PairData, load_task

    stsb = load_task("stsb", senteval, ("dev", "test"))
    sick = load_task("sickr", senteval, ("train", "dev"))  # dev = SICK_trial.txt
    both = PairData(sick["train"].sentences1 + sick["dev"].sentences1,
                    sick["train"].sentences2 + sick["dev"].sentences2,
                    np.concatenate([sick["train"].scores, sick["dev"].scores]))
    return {"stsb_dev": stsb["dev"], "stsb_test": stsb["test"], "sickr": both}


def score(encode: EncodeFn, checks: dict[str, Any], fns: tuple[str, ...] = ("cosine",)) -> dict[str, float]:
    """Spearman x100 on every check set, for each similarity function (``euclidean``: minus the L2 distance).

    Keys are ``<set>`` for cosine and ``<set>_<fn>`` for the others.
    """
    from textcl.evaluation.sts import encode_pairs, sts_correlations
    from textcl.similarity import similarity_pairwise

    out: dict[str, float] = {}
    for name, data in checks.items():
        e1, e2 = encode_pairs(encode, data)  # (n, d) each
        for fn in fns:
            key = name if fn == "cosine" else f"{name}_{fn}"
            out[key] = round(sts_correlations(similarity_pairwise(e1, e2, fn), data.scores)["spearman"], 2)
    return out


def textcl_encode(model) -> EncodeFn:
    """A textcl model's float32 ``encode`` (the evaluation setting)."""
    return lambda texts: model.encode(texts, batch_size=128, dtype="float32")


def load_triplets(senteval: str, max_rows: int | None = None):
    """The 6,339 SNLI (premise, entailment, contradiction) triplets from SentEval's dev + test files."""
    from textcl.data import load_senteval_snli

    data = load_senteval_snli(os.path.join(senteval, "SNLI"), splits=("dev", "test"))
    return data.select(range(min(max_rows, len(data)))) if max_rows else data


def corpus_of(data) -> list[str]:
    """Every text of every column (the vocabulary the word vectors are cut to)."""
    return [t for c in data.column_names for t in data[c]]


def train_textcl(model, loss, view, data, senteval: str, out: str, **cfg: Any):
    """Train with STS-B dev selection; return ``(best model, info)``."""
    from textcl import SentenceEncoder, STSDevEvaluator, TrainConfig, Trainer

    dev = STSDevEvaluator(senteval)
    config = TrainConfig(output_dir=out, save_steps=10**9, log_steps=10**9, **cfg)
    res = Trainer(model, loss, view, data, config, evaluator=dev, metric_for_best=dev.metric).train(overwrite=True)
    info = {"steps": res.steps, "train_seconds": round(res.train_seconds, 1),
            "best_dev_during_training": round(res.best_metric, 2)}
    return SentenceEncoder.from_pretrained(res.model_path), info


def mean_std(values: list[float]) -> dict[str, Any]:
    """``{"mean", "std", "values"}`` (sample std; 0 for one value)."""
    return {"mean": round(statistics.fmean(values), 2),
            "std": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0, "values": values}


def summarize(runs: list[dict[str, float]], keys: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Mean +- std of each key over the runs."""
    return {k: mean_std([r[k] for r in runs]) for k in keys if all(k in r for r in runs)}


def pool_by_seed(entries: dict[str, Any], names: list[str], candidate: str
                 ) -> tuple[dict[int, dict], dict[int, dict], dict[str, dict]]:
    """Pool the runs of several results entries by seed: ``(textcl runs, sentence-transformers runs, selection)``.

    textcl runs are ``candidate``'s: a seeds-stage run (``textcl_runs``) wins over a select-stage run (``runs``)
    of the same seed. ``selection`` maps every candidate to its first seed-42 select-stage run (with the entry it
    came from). A seed twice within one kind is an error: the entries overlap.
    """
    missing = [n for n in names if n not in entries]
    if missing:
        raise ValueError(f"--inputs: no entry {', '.join(missing)} in the results file; it has {', '.join(entries)}")
    ours: dict[int, dict] = {}
    from_select: dict[int, dict] = {}
    theirs: dict[int, dict] = {}
    selection: dict[str, dict] = {}
    for name in names:
        data = entries[name]
        for r in data.get("runs", []):
            if r["seed"] == SEEDS[0]:
                selection.setdefault(r["candidate"], {**r, "entry": name})
        for kind, found in (("runs", from_select), ("textcl_runs", ours)):
            for r in data.get(kind, []):
                if r.get("candidate") == candidate:
                    if r["seed"] in found:
                        raise ValueError(f"{name}: seed {r['seed']} of {candidate} appears twice in {kind}")
                    found[r["seed"]] = r
        for r in data.get("st_runs", []):
            if r["seed"] in theirs:
                raise ValueError(f"{name}: sentence-transformers seed {r['seed']} appears twice")
            theirs[r["seed"]] = r
    return {**from_select, **ours}, theirs, selection


def verdict(a: dict[str, Any], b: dict[str, Any], keys: tuple[str, ...]) -> dict[str, str]:
    """Which side wins each key: a mean difference larger than the larger of the two stds, else a tie."""
    out = {}
    for k in keys:
        margin = max(a[k]["std"], b[k]["std"])
        out[k] = "textcl wins" if a[k]["mean"] - b[k]["mean"] > margin else (
            "sentence-transformers wins" if b[k]["mean"] - a[k]["mean"] > margin else "tie")
    return out


def fmt(s: dict[str, Any]) -> str:
    return f"{s['mean']:.2f} ± {s['std']:.2f}"


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
