"""``textcl classify``: train a classification head on a sentence encoder, or label new text.

Training (the default action)::

    textcl classify --model M --train FILE_OR_HF_NAME [--validation ...] [--test ...] \\
        --text-col text --label-col label [--freeze] [--head linear|mlp] --output DIR

writes the classifier folder to DIR and ``DIR/metrics.json`` (accuracy and
macro-F1 x100 on --test, or by k-fold cross-validation on --train without one).

Prediction::

    textcl classify predict --model DIR --input FILE [--output FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from typing import Any

from textcl.commands.flags import add_threads_option
from textcl.commands.hub_options import add_hub_options, hub_kwargs
from textcl.data.files import count_text_rows, iter_chunks, iter_text_rows
from textcl.settings import SEED_MAX, check_float, check_int
from textcl.storage import (
    atomic_output_file,
    atomic_write_json,
    check_folder_target,
    check_not_an_input,
    check_output_file,
    guard_output,
    output_lock,
)

__all__ = ["register", "run", "load_labelled"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``classify`` subcommand (actions ``train`` and ``predict``)."""
    p = subparsers.add_parser(
        "classify", help="train a classifier on sentence embeddings, or label text with one",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="textcl classify [train] --model M --train DATA --output DIR [...]\n"
                    "textcl classify predict --model DIR --input FILE [--output FILE]\n\n"
                    "Train a linear or MLP head on a sentence encoder, frozen (--freeze: a probe over cached "
                    "embeddings) or fine-tuned end to end, with early stopping on --validation accuracy.")
    p.add_argument("action", nargs="?", choices=("train", "predict"), default="train",
                   help="train (default) or predict")
    p.add_argument("--model", required=True,
                   help="train: encoder (textcl / sentence-transformers folder or HF name); "
                        "predict: a classifier folder written by training")
    p.add_argument("--text-col", default="text", help="text column (default: text)")
    t = p.add_argument_group("training")
    t.add_argument("--train", help="training data: csv/tsv/json/jsonl/parquet file or folder, or a HF dataset name")
    t.add_argument("--validation", help="validation data for early stopping (a HF name reads split 'validation')")
    t.add_argument("--test", help="test data for metrics.json (a HF name reads split 'test'); without it, "
                                  "metrics are cross-validated on --train")
    t.add_argument("--label-col", default="label", help="label column: strings or integers (default: label)")
    t.add_argument("--freeze", action="store_true", help="freeze the encoder and train the head only (fast)")
    t.add_argument("--head", choices=("linear", "mlp"), default="linear")
    t.add_argument("--hidden-dim", type=int, default=None, help="MLP hidden size (default: embedding size)")
    t.add_argument("--dropout", type=float, default=None, help="head dropout (default: 0 linear, 0.1 mlp)")
    t.add_argument("--epochs", type=int, default=None, help="default: 20 with --freeze, else 3")
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=None, help="default: 1e-3 with --freeze, else 2e-5")
    t.add_argument("--weight-decay", type=float, default=0.01)
    t.add_argument("--patience", type=int, default=3, help="evaluations without improvement before stopping")
    t.add_argument("--eval-steps", type=int, default=None, help="also validate every N steps")
    t.add_argument("--cv-folds", type=int, default=5, help="folds when there is no --test (default: 5)")
    t.add_argument("--max-length", type=int, default=None, help="tokens kept per sentence")
    t.add_argument("--pooling", default=None, help="encoder pooling (default: the saved one, else mean)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--dtype", choices=("float32", "bfloat16", "float16", "auto"), default="float32",
                   help="compute dtype of fine-tuning (default float32)")
    t.add_argument("--grad-accum-steps", type=int, default=1, help="fine-tuning: micro-batches per optimizer step")
    t.add_argument("--output", help="train: output folder; predict: output file (.txt labels, .jsonl or .csv)")
    t.add_argument("--overwrite", action="store_true",
                   help="train: replace an --output folder that holds something other than a classifier")
    r = p.add_argument_group("prediction")
    r.add_argument("--input", help="text to label: .txt (one per line), .jsonl, .csv or .tsv")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    add_hub_options(p)
    add_threads_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Dispatch to training or prediction."""
    if args.action == "predict":
        return _predict(args)
    if args.output:
        check_not_an_input(args.output, {"--model": args.model, "--train": args.train,
                                         "--validation": args.validation, "--test": args.test})
        with output_lock(args.output, "classify"):
            return _train(args)
    return _train(args)


def load_labelled(source: str, split: str, text_col: str, label_col: str, where: str,
                  **hub: Any) -> tuple[list[str], list[Any]]:
    """Texts and labels of one split; a missing column is an error listing the columns present.

    ``hub`` (``token``, ``cache_folder``) is passed to :func:`textcl.data.load_data` for a dataset repo id.
    """
    from textcl.data import load_data

    ds = load_data(source, split=split, **hub)
    missing = [c for c in (text_col, label_col) if c not in ds.column_names]
    if missing:
        raise ValueError(f"{where} data {source}: column(s) {', '.join(map(repr, missing))} not found; it has: "
                         f"{', '.join(ds.column_names)}. Pick them with --text-col / --label-col")
    return list(ds[text_col]), list(ds[label_col])


def _train(args: argparse.Namespace) -> int:
    from textcl.classify.classifier import (
        CLASSIFIER_CONFIG,
        SentenceClassifier,
        check_texts,
        encode_labels,
        label_names,
    )
    from textcl.model import SentenceEncoder
    from textcl.seeding import seed_everything

    for flag in ("train", "output"):
        if not getattr(args, flag):
            raise ValueError(f"training needs --{flag} (or use `textcl classify predict --model DIR --input FILE`)")
    _check_train_flags(args)
    # the output is checked before the data, the model and the cross-validation: not after them
    check_folder_target(args.output, overwrite=args.overwrite,
                        kind_check=lambda p: os.path.isfile(os.path.join(p, CLASSIFIER_CONFIG)))
    start = time.perf_counter()
    hub = {"token": args.token, "cache_folder": args.cache_folder}  # --revision names the model's commit
    train = load_labelled(args.train, "train", args.text_col, args.label_col, "train", **hub)
    check_texts(train[0], "train")
    val = load_labelled(args.validation, "validation", args.text_col, args.label_col, "validation", **hub) \
        if args.validation else (None, None)
    test = load_labelled(args.test, "test", args.text_col, args.label_col, "test", **hub) if args.test else None
    labels = label_names(train[1], "train")
    for name, split in (("validation", val), ("test", test)):  # fail before training, not after it
        if split is not None and split[0] is not None:
            check_texts(split[0], name)
            encode_labels(split[1], labels, name)
    encoder = SentenceEncoder.from_pretrained(args.model, pooling=args.pooling, max_length=args.max_length,
                                              device=args.device, **hub_kwargs(args))
    seed_everything(args.seed)  # the head's initial weights come from the run's seed too
    clf = SentenceClassifier(encoder, labels, head=args.head, freeze=args.freeze, hidden_dim=args.hidden_dim,
                             dropout=args.dropout)
    fit_kwargs = dict(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                      seed=args.seed, dtype=args.dtype, grad_accum_steps=args.grad_accum_steps)
    metrics: dict[str, Any] = {}
    if test is None:
        metrics.update(clf.cross_validate(*train, n_folds=args.cv_folds, **fit_kwargs))
        metrics["evaluation"] = f"{metrics['n_folds']}-fold cross-validation on train"
    result = clf.fit(*train, *val, patience=args.patience, eval_steps=args.eval_steps, **fit_kwargs)
    if test is not None:
        scores = clf.evaluate(*test, where="test")
        metrics.update(accuracy=scores["accuracy"], macro_f1=scores["macro_f1"], n_test=scores["n"],
                       evaluation="test")
    clf.save(args.output, overwrite=args.overwrite)
    metrics.update(n_train=len(train[0]), labels=clf.labels, head=args.head, freeze=args.freeze,
                   epochs=result.epochs, steps=result.steps, best_val_accuracy=result.best_val_accuracy,
                   best_epoch=result.best_epoch, stopped_early=result.stopped_early,
                   train_seconds=round(result.train_seconds, 1), total_seconds=round(time.perf_counter() - start, 1))
    atomic_write_json(os.path.join(args.output, "metrics.json"), metrics)
    print(json.dumps({k: metrics[k] for k in ("accuracy", "macro_f1", "evaluation")} | {"model": args.output}))
    return 0


def _check_train_flags(args: argparse.Namespace) -> None:
    """Flag values that cannot train, refused before anything loads."""
    for flag in ("batch_size", "epochs", "patience", "eval_steps", "hidden_dim", "max_length", "grad_accum_steps"):
        if getattr(args, flag) is not None:
            check_int(flag, getattr(args, flag))
    check_int("seed", args.seed, 0, SEED_MAX)
    if not args.test:  # the metrics are cross-validated on --train (or pass --test FILE)
        check_int("cv_folds", args.cv_folds, 2)
    for flag in ("lr", "dropout", "weight_decay"):
        if getattr(args, flag) is not None:
            check_float(flag, getattr(args, flag))


PREDICTION_FILES = {".txt": "one label per line", ".jsonl": "line, text, label, probability",
                    ".csv": "line, text, label, probability"}


def _predict(args: argparse.Namespace) -> int:
    from textcl.classify.classifier import SentenceClassifier

    if not args.input:
        raise ValueError("predict needs --input FILE (.txt one text per line, .jsonl, .csv or .tsv)")
    out_ext = os.path.splitext(args.output)[1].lower() if args.output else ""
    if args.output:
        if out_ext not in PREDICTION_FILES:
            raise ValueError(f"--output {args.output}: unsupported type {out_ext or '(no extension)'!r}; use "
                             + ", ".join(f"{e} ({d})" for e, d in PREDICTION_FILES.items()))
        check_not_an_input(args.output, {"--input": args.input, "--model": args.model})
        check_output_file(args.output)
    count_text_rows(args.input, args.text_col)  # an empty or bad row fails before any output is written
    clf = SentenceClassifier.from_pretrained(args.model, device=args.device, verify=not args.no_verify)
    rows = iter_text_rows(args.input, args.text_col)
    if args.output:
        with guard_output(args.output, {"--input": args.input, "--model": args.model}, "classify predict"), \
                atomic_output_file(args.output) as tmp:  # a crash leaves the old file (or none), never half of one
            with open(tmp, "w", encoding="utf-8", newline="") as sink:
                _write_predictions(clf, rows, sink, out_ext)
    else:
        _write_predictions(clf, rows, None, out_ext)
    return 0


def _write_predictions(clf, rows, sink, out_ext: str) -> None:
    """Label ``rows`` chunk by chunk; print the labels (``sink`` None) or write them in ``out_ext``'s format."""
    writer = csv.writer(sink) if out_ext == ".csv" else None
    if writer:
        writer.writerow(["line", "text", "label", "probability"])
    for chunk in iter_chunks(rows, 4096):
        probs = clf.predict_proba([t for _, t in chunk])
        for (line, text), p in zip(chunk, probs):
            label, prob = clf.labels[int(p.argmax())], round(float(p.max()), 6)
            if sink is None:
                print(label)
            elif writer:
                writer.writerow([line, text, label, prob])
            elif out_ext == ".jsonl":
                sink.write(json.dumps({"line": line, "text": text, "label": label, "probability": prob},
                                      ensure_ascii=False) + "\n")
            else:
                sink.write(f"{label}\n")
