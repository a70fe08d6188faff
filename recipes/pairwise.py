"""The seed's recipe, end to end: labelled pairs, a CNN or BiLSTM encoder, Euclidean or cosine distance, a margin loss.

Data: SNLI (SentEval's dev + test files). Every (premise, hypothesis) row labelled entailment is a similar pair
(label 1), every contradiction a dissimilar pair (label 0); neutral rows are dropped. The InfoNCE recipe it is
compared with reads the same rows as (premise, entailment, contradiction) triplets (``TripletView``, in-batch
and hard negatives), as the quickstart does.

Each encoder (Kim CNN, BiLSTM-max; both over frozen GloVe-50d) is trained three ways:

* ``LabeledPairView`` + ``PairwiseContrastiveLoss(distance="euclidean")``; the model's ``similarity_fn_name``
  is ``"euclidean"``, saved with it, so its own score is minus the L2 distance;
* ``LabeledPairView`` + ``PairwiseContrastiveLoss(distance="cosine")``; scored with cosine;
* ``TripletView`` + ``InfoNCE`` on the same rows.

The checkpoint kept is the best on STS-B dev, scored with the model's own similarity. Every model is then scored
on STS-B dev, STS-B test and SICK-R (train + trial, never seen) with cosine and with its own similarity, and the
2 x 2 table (encoder x training distance) is printed next to the InfoNCE rows. Figures go to the entry
``<tag>`` (without its leading underscore; ``default`` without a tag) of ``results/pairwise.json``.

Usage::

    python recipes/pairwise.py --data ../shared/data --max-rows 6000 --eval-steps 25 --tag _6000rows
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from recipe_runs.common import DEFAULT_DATA, load_checks, markdown_table, score  # noqa: E402
from recipe_runs.results_file import RESULTS_DIR, ResultsEntry  # noqa: E402

RESULTS = os.path.join(RESULTS_DIR, "pairwise.json")

ENCODERS = ("cnn", "bilstm")
OBJECTIVES = ("euclidean", "cosine", "infonce")


def read_snli_rows(folder: str, splits: tuple[str, ...] = ("dev", "test"), max_rows: int | None = None
                   ) -> tuple[list[str], list[str], list[str]]:
    """SentEval's SNLI rows ``(premises, hypotheses, labels)`` of ``splits``, in file order (textcl's reader)."""
    from textcl.data import read_senteval_snli

    premises, hypotheses, labels = read_senteval_snli(folder, splits)
    if max_rows:
        premises, hypotheses, labels = premises[:max_rows], hypotheses[:max_rows], labels[:max_rows]
    return premises, hypotheses, labels


def labelled_pairs(premises: list[str], hypotheses: list[str], labels: list[str]):
    """``text1, text2, label`` rows: entailment -> 1, contradiction -> 0, neutral dropped."""
    import datasets

    keep = {"entailment": 1, "contradiction": 0}
    rows = [(p, h, keep[lab.lower()]) for p, h, lab in zip(premises, hypotheses, labels) if lab.lower() in keep]
    return datasets.Dataset.from_dict({"text1": [r[0] for r in rows], "text2": [r[1] for r in rows],
                                       "label": [r[2] for r in rows]})


def build_encoder(kind: str, corpus: list[str], vocab_size: int | None, hidden: int, filters: int,
                  kernel_sizes: tuple[int, ...] = (3, 4, 5)):
    """A CNN or BiLSTM-max over frozen GloVe-50d (the vectors the quickstart uses)."""
    from textcl import CNNEncoder, RNNEncoder, SentenceEncoder

    if kind == "cnn":
        enc = CNNEncoder.from_glove(vocab_size=vocab_size, corpus=corpus, kernel_sizes=kernel_sizes,
                                    num_filters=filters, pooling="max", max_length=64, freeze_embeddings=True)
    else:
        enc = RNNEncoder.from_glove(vocab_size=vocab_size, corpus=corpus, cell="lstm", bidirectional=True,
                                    hidden_size=hidden, pooling="max", max_length=64, freeze_embeddings=True)
    return SentenceEncoder(enc)


class OwnSimilarityDevEvaluator:
    """STS-B dev Spearman x100 with the model's own ``similarity_fn_name`` (selects the checkpoint)."""

    metric = "stsb_dev_own_spearman"

    def __init__(self, dev_pairs) -> None:
        self.data = dev_pairs

    def __call__(self, model) -> dict[str, float]:
        from textcl.evaluation.sts import encode_pairs, sts_correlations

        e1, e2 = encode_pairs(lambda t: model.encode(t, batch_size=128, dtype="float32"), self.data)
        return {self.metric: sts_correlations(model.similarity_pairwise(e1, e2), self.data.scores)["spearman"]}


def train_one(kind: str, objective: str, pairs, triplets, checks, args, out: str) -> dict[str, Any]:
    """Train one (encoder, objective) cell and score it with cosine and with its own similarity."""
    import torch

    from textcl import (InfoNCE, LabeledPairView, PairwiseContrastiveLoss, SentenceEncoder, TrainConfig, Trainer,
                        TripletView)

    torch.manual_seed(args.seed)
    corpus = list(pairs["text1"]) + list(pairs["text2"])
    model = build_encoder(kind, corpus, args.vocab_size, args.hidden, args.filters,
                          tuple(int(k) for k in args.kernel_sizes.split(",")))
    if objective == "infonce":
        loss, view, data = InfoNCE(temperature=args.temperature), TripletView(), triplets
    else:
        margin = args.margin_euclidean if objective == "euclidean" else args.margin_cosine
        loss, view, data = PairwiseContrastiveLoss(margin=margin, distance=objective), LabeledPairView(), pairs
        model.similarity_fn_name = objective  # saved with the model: its own score is this distance
    dev = OwnSimilarityDevEvaluator(checks["stsb_dev"])
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                         eval_steps=args.eval_steps, save_steps=10**9, log_steps=10**9,
                         output_dir=os.path.join(out, f"{kind}_{objective}"))
    t0 = time.perf_counter()
    res = Trainer(model, loss, view, data, config, evaluator=dev, metric_for_best=dev.metric).train(overwrite=True)
    best = SentenceEncoder.from_pretrained(res.model_path)
    own = best.similarity_fn_name
    if own != model.similarity_fn_name:
        raise RuntimeError(f"the saved model lost its similarity function: {own!r} != {model.similarity_fn_name!r}")
    fns = ("cosine",) if own == "cosine" else ("cosine", own)
    encode = lambda t: best.encode(t, batch_size=128, dtype="float32")  # noqa: E731
    scores = score(encode, checks, fns)
    for name in checks:  # the model's own similarity, under one key whatever it is
        scores[f"{name}_own"] = scores[name if own == "cosine" else f"{name}_{own}"]
    return {"encoder": kind, "objective": objective, "loss": repr(loss), "view": repr(view), "rows": len(data),
            "similarity_fn_name": own, "steps": res.steps, "train_seconds": round(res.train_seconds, 1),
            "wall_seconds": round(time.perf_counter() - t0, 1), **scores}


def table(runs: list[dict[str, Any]]) -> str:
    """Encoder x training objective; STS-B and SICK-R scored with cosine and with the model's own similarity."""
    name = {"euclidean": "pairwise margin, Euclidean", "cosine": "pairwise margin, cosine",
            "infonce": "InfoNCE triplets (reference)"}
    rows = [[r["encoder"].upper() if r["encoder"] == "cnn" else "BiLSTM", name[r["objective"]],
             r["similarity_fn_name"], r["stsb_dev_own"], r["stsb_test"], r["stsb_test_own"], r["sickr"],
             r["sickr_own"], r["train_seconds"]] for r in runs]
    return markdown_table(["encoder", "training objective", "own similarity", "STS-B dev (own)",
                           "STS-B test (cos)", "STS-B test (own)", "SICK-R (cos)", "SICK-R (own)", "train s"], rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=DEFAULT_DATA, help="folder holding senteval/ (STS-B, SICK, SNLI)")
    p.add_argument("--output", default=os.path.join(tempfile.gettempdir(), "textcl_pairwise_recipe"))
    p.add_argument("--results", default=RESULTS, help="results file (default results/pairwise.json; entry <tag>)")
    p.add_argument("--tag", default="")
    p.add_argument("--encoders", default=",".join(ENCODERS))
    p.add_argument("--objectives", default=",".join(OBJECTIVES))
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--margin-euclidean", type=float, default=1.0)
    p.add_argument("--margin-cosine", type=float, default=0.5)
    p.add_argument("--temperature", type=float, default=0.1, help="InfoNCE temperature (the quickstart's)")
    p.add_argument("--hidden", type=int, default=256, help="BiLSTM hidden size per direction")
    p.add_argument("--filters", type=int, default=100, help="CNN filters per width (Kim: 100)")
    p.add_argument("--kernel-sizes", default="3,4,5", help="CNN convolution widths (Kim: 3,4,5)")
    p.add_argument("--vocab-size", type=int, default=20_000, help="most frequent GloVe words kept (+ corpus words)")
    p.add_argument("--eval-steps", type=int, default=100)
    p.add_argument("--max-rows", type=int, default=None, help="first N SNLI rows only (smoke runs)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    encoders, objectives = args.encoders.split(","), args.objectives.split(",")
    for value, allowed, flag in ((encoders, ENCODERS, "--encoders"), (objectives, OBJECTIVES, "--objectives")):
        bad = [v for v in value if v not in allowed]
        if bad:
            p.error(f"{flag}: unknown {', '.join(bad)}; choose from {', '.join(allowed)}")
    import torch

    from textcl import nli_to_triplets

    torch.set_num_threads(args.threads)
    senteval = os.path.join(args.data, "senteval")
    rows = read_snli_rows(os.path.join(senteval, "SNLI"), max_rows=args.max_rows)
    pairs, triplets = labelled_pairs(*rows), nli_to_triplets(*rows)
    checks = load_checks(senteval)
    res = ResultsEntry(args.results, args.tag.lstrip("_") or "default")
    res.add("settings", {k: v for k, v in vars(args).items() if k not in ("output", "results")})
    res.add("data", {"snli_rows": len(rows[0]), "labelled_pairs": len(pairs),
                     "positives": int(sum(pairs["label"])), "triplets": len(triplets)})
    print(f"{len(pairs)} labelled pairs ({int(sum(pairs['label']))} positive), {len(triplets)} triplets", flush=True)
    runs = []
    for kind in encoders:
        for objective in objectives:
            runs.append(train_one(kind, objective, pairs, triplets, checks, args, args.output))
            res.add("runs", runs)
            print(runs[-1], flush=True)
    text = table(runs)
    res.add("table", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
