"""``textcl mine``: add hard negatives to (anchor, positive) pairs and write the triplets.

Argument parsing and writing only: the mining is :func:`textcl.search.mining.mine_hard_negatives`.

    textcl mine MODEL --data pairs.jsonl --output triplets.jsonl
    textcl mine MODEL --data sentence-transformers/all-nli --data-config pair --output nli-hard \\
        --num-negatives 5 --range-min 10 --relative-margin 0.05 --sampling-strategy random
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from textcl.commands.flags import add_threads_option
from textcl.commands.hub_options import add_hub_options, hub_kwargs
from textcl.search.mining import OUTPUT_FORMATS, SAMPLING_STRATEGIES, check_mining_options, pair_columns

__all__ = ["OUTPUT_FILES", "register", "run"]

OUTPUT_FILES = (".jsonl", ".csv", ".parquet")  # anything else without an extension is a save_to_disk folder


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``mine`` subcommand."""
    p = subparsers.add_parser(
        "mine", help="add hard negatives to (anchor, positive) pairs: triplets or n-tuples for training",
        description="Encode the anchors and the candidate corpus (the positives, plus --corpus), rank the corpus "
                    "by cosine similarity to each anchor, and keep the most similar texts that are neither the "
                    "anchor nor one of its positives, within the rank window and the score filters. The result "
                    "is written to a .jsonl, .csv or .parquet file, or a save_to_disk folder (a name without "
                    "extension), readable by `textcl train --data`. Options follow sentence-transformers' "
                    "mine_hard_negatives.")
    p.add_argument("model", nargs="?", default=None,
                   help="textcl or sentence-transformers folder, or a Hugging Face name (or pass --model)")
    p.add_argument("--model", dest="model_flag", default=None, help=argparse.SUPPRESS)
    d = p.add_argument_group("data")
    d.add_argument("--data", required=True,
                   help="the pairs: csv/tsv/json/jsonl/parquet/txt file or folder, save_to_disk folder, or a "
                        "Hugging Face dataset name")
    d.add_argument("--split", default="train", help="dataset split (default: train)")
    d.add_argument("--data-config", default=None, help="dataset configuration name (e.g. pair for all-nli)")
    d.add_argument("--anchor-column", default=None, help="anchor column (default: the first)")
    d.add_argument("--positive-column", default=None, help="positive column (default: the second)")
    d.add_argument("--corpus", default=None,
                   help="more candidate texts: .txt (one per line), .jsonl, .csv or .tsv (column --corpus-col)")
    d.add_argument("--corpus-col", default="text", help="text column of a --corpus table (default: text)")
    m = p.add_argument_group("mining")
    m.add_argument("--num-negatives", type=int, default=3, help="negatives per anchor (default: 3)")
    m.add_argument("--range-min", type=int, default=0,
                   help="skip the candidates ranked above this (0 = start at the most similar; default: 0)")
    m.add_argument("--range-max", type=int, default=None,
                   help="consider ranks below this (default: range-min + num-negatives, times 10 with a margin "
                        "or --max-score, + the most positives an anchor has)")
    m.add_argument("--max-score", type=float, default=None, help="drop candidates with a higher cosine")
    m.add_argument("--min-score", type=float, default=None, help="drop candidates with a lower cosine")
    m.add_argument("--absolute-margin", type=float, default=None,
                   help="drop candidates with cosine + margin > the positive's cosine")
    m.add_argument("--relative-margin", type=float, default=None,
                   help="drop candidates with cosine > positive - |positive| * margin (0.05: 5%% below)")
    m.add_argument("--sampling-strategy", choices=SAMPLING_STRATEGIES, default="top",
                   help="top: the most similar kept candidates; random: a seeded draw among them (default: top)")
    m.add_argument("--output-format", choices=OUTPUT_FORMATS, default="triplet",
                   help="triplet: one row per negative; n-tuple: negative_1..N on one row (anchors with all N); "
                        "labeled-pair / labeled-list: texts with 1/0 labels (default: triplet)")
    m.add_argument("--output-scores", action="store_true", help="add the cosine scores to the output")
    m.add_argument("--include-positives", action="store_true",
                   help="keep positives among the candidates (reranking sets; needs --output-format n-tuple)")
    m.add_argument("--use-faiss", action="store_true",
                   help='approximate search with a faiss IVF-Flat index (pip install "textcl-toolkit[faiss]")')
    m.add_argument("--seed", type=int, default=0, help="seed of the random draw and the faiss index (default: 0)")
    p.add_argument("--output", required=True,
                   help="output: .jsonl, .csv or .parquet file, or a folder (save_to_disk; no extension)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    p.add_argument("--batch-size", type=int, default=32, help="sentences per forward pass (default: 32)")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_hub_options(p)
    add_threads_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check options and output, read the data, load the model, mine, write, print one summary line."""
    from textcl.data.files import read_text_rows
    from textcl.data.load import load_data
    from textcl.storage import check_folder_target, check_not_an_input, check_output_file

    model_name = _model_name(args)
    options = _options(args)
    check_mining_options(options["num_negatives"], options["range_min"], options["range_max"],
                         {k: options[k] for k in ("absolute_margin", "relative_margin", "max_score", "min_score")},
                         options["sampling_strategy"], options["output_format"], options["include_positives"],
                         options["batch_size"], options["seed"], options["use_faiss"])
    inputs = {"--data": args.data, "MODEL": model_name, "--corpus": args.corpus}
    check_not_an_input(args.output, inputs)
    kind = _output_kind(args.output)
    if kind == ".csv" and (args.output_scores or args.output_format == "labeled-list"):
        raise ValueError(f"--output {args.output}: a .csv cannot hold the list columns of "
                         f"{'--output-scores' if args.output_scores else '--output-format labeled-list'}; "
                         "write .jsonl, .parquet or a folder")
    if kind == "folder":
        check_folder_target(args.output, overwrite=args.overwrite)
    else:
        check_output_file(args.output, overwrite=args.overwrite)

    say = (lambda msg: None) if args.quiet else (lambda msg: print(f"textcl mine: {msg}", file=sys.stderr))
    load_kwargs = {"name": args.data_config} if args.data_config is not None else {}
    dataset = load_data(args.data, split=args.split, **load_kwargs)
    pair_columns(dataset, args.anchor_column, args.positive_column)  # a wrong column fails before the model loads
    corpus = read_text_rows(args.corpus, args.corpus_col)[1] if args.corpus is not None else None
    say(f"read {len(dataset)} pairs from {args.data}" + (f" and {len(corpus)} corpus texts" if corpus else ""))

    from textcl.model import SentenceEncoder
    from textcl.search.mining import mine_hard_negatives_with_stats

    model = SentenceEncoder.from_pretrained(model_name, device=args.device, **hub_kwargs(args))
    mined, stats = mine_hard_negatives_with_stats(model, dataset, anchor_column_name=args.anchor_column,
                                                  positive_column_name=args.positive_column, corpus=corpus,
                                                  verbose=not args.quiet, **options)
    summary = stats.summary(args.num_negatives, args.output_format)
    if len(mined) == 0:
        raise ValueError(f"no {args.output_format} row was mined ({summary}): "
                         "loosen --max-score / margins, lower --range-min or --num-negatives, or raise --range-max")
    _write(mined, args.output, kind, inputs, args.overwrite)
    print(f"wrote {args.output}: {summary}")
    return 0


def _model_name(args: argparse.Namespace) -> str:
    """MODEL, given as the positional argument or ``--model`` (not two different ones)."""
    if args.model is None and args.model_flag is None:
        raise ValueError("name the model: textcl mine MODEL --data FILE --output OUT")
    if args.model is not None and args.model_flag is not None and args.model != args.model_flag:
        raise ValueError(f"two models given ({args.model} and --model {args.model_flag}): pass one")
    return args.model if args.model is not None else args.model_flag


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The mining keywords the flags set."""
    names = ("num_negatives", "range_min", "range_max", "max_score", "min_score", "absolute_margin",
             "relative_margin", "sampling_strategy", "output_format", "output_scores", "include_positives",
             "use_faiss", "seed", "batch_size")
    return {name: getattr(args, name) for name in names}


def _output_kind(path: str) -> str:
    """``.jsonl`` / ``.csv`` / ``.parquet`` for a file, ``folder`` for a save_to_disk folder."""
    ext = os.path.splitext(path.rstrip("/" + os.sep))[1].lower()
    if ext in OUTPUT_FILES:
        return ext
    if ext == "" or os.path.isdir(path):
        return "folder"
    raise ValueError(f"--output {path}: unknown output format {ext!r}; write {', '.join(OUTPUT_FILES)} or a "
                     "folder name without extension (save_to_disk)")


def _write(dataset: Any, output: str, kind: str, inputs: dict[str, str | None], overwrite: bool) -> None:
    """Write through the output guard: one writer, never an input, atomically (file or folder)."""
    import datasets

    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # the summary line says what was written
    try:
        _write_guarded(dataset, output, kind, inputs, overwrite)
    finally:
        if bars:
            datasets.enable_progress_bars()


def _write_guarded(dataset: Any, output: str, kind: str, inputs: dict[str, str | None], overwrite: bool) -> None:
    """:func:`_write`'s body: the guard, then an atomic file or folder."""
    from textcl.storage import atomic_folder, atomic_output_file, check_output_file, guard_output

    with guard_output(output, inputs, what="textcl mine"):
        if kind == "folder":
            with atomic_folder(output, overwrite=overwrite, kind="dataset", manifest=False) as tmp:
                dataset.save_to_disk(tmp)
            return
        check_output_file(output, overwrite=overwrite)  # again under the lock: another writer may have been first
        with atomic_output_file(output) as tmp:
            if kind == ".jsonl":
                dataset.to_json(tmp, lines=True, force_ascii=False)
            elif kind == ".csv":
                dataset.to_csv(tmp, index=False)
            else:
                dataset.to_parquet(tmp)
