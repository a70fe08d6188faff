"""``textcl eval``: score a model on STS and SentEval transfer tasks, or on the user's own table.

Example:
    textcl eval --model out/run --tasks stsb,sickr,mr --data-dir ../shared/data/senteval \\
        --output results.json --plots plots/
    textcl eval --model out/run --user-data pairs.csv --kind sts
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

from textcl.commands.flags import add_threads_option, removed_flag
from textcl.commands.hub_options import add_hub_options, hub_kwargs
from textcl.settings import check_int

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``eval`` subcommand to an argparse subparsers object."""
    p = subparsers.add_parser(
        "eval", help="evaluate a sentence encoder on STS and transfer tasks",
        description="Task by task, encode the task's distinct sentences, then score STS "
                    "(cosine vs gold, Spearman/Pearson x100) or the linear probe (accuracy x100). "
                    "Prints a markdown table of scores and one of the time split (encoding vs "
                    "probes/metrics).")
    p.add_argument("--model", required=True,
                   help="textcl or sentence-transformers folder, or a Hugging Face model name")
    p.add_argument("--tasks", default="all",
                   help="comma-separated: sts12,sts13,sts14,sts15,sts16,stsb,sickr,mr,cr,subj,mpqa,"
                        "sst2,trec,mrpc; 'all' = every task whose data is present (default)")
    p.add_argument("--data-dir", default=os.environ.get("TEXTCL_DATA"),
                   help="SentEval's data/downstream folder (default: $TEXTCL_DATA)")
    p.add_argument("--output", default=None, help="write the results as JSON to this file")
    p.add_argument("--plots", default=None, help="write PNG plots into this folder")
    p.add_argument("--batch-size", type=int, default=64, help="sentences per forward pass (default: 64)")
    p.add_argument("--pooling", default=None,
                   help="pooling mode (default: the model's saved setting, else mean)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16", "auto"),
                   help="compute dtype of encoding (default: float32, so scores match published figures exactly; "
                        "'auto' is about 2x faster on CPUs with bf16 and moves scores by a few hundredths)")
    p.add_argument("--precision", type=removed_flag("--precision", "--dtype"), help=argparse.SUPPRESS)
    p.add_argument("--jobs", type=int, default=None,
                   help="processes over the probes' cross-validation folds (default: 1)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars on stderr (encoding, and each probe's C-search folds)")
    p.add_argument("--user-data", default=None,
                   help="score your own table instead of SentEval's tasks (csv/tsv/json/jsonl/parquet, a saved "
                        "dataset or a hub name); its columns depend on --kind")
    p.add_argument("--kind", default=None,
                   help="what --user-data holds: sts (columns sentence1, sentence2, score), triplet (anchor, "
                        "positive, negative) or retrieval (query, document: one row per relevant pair; the corpus "
                        "is every distinct document, a row with an empty query adds a document only)")
    p.add_argument("--split", default=None,
                   help="split of --user-data to score (default: test when there is one, else the only split)")
    add_hub_options(p)
    add_threads_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the model, evaluate, print the table, write JSON/plots; returns the exit code."""
    # heavy imports here, so `textcl --help` stays fast
    from textcl.evaluation import evaluate, format_markdown, write_json
    from textcl.evaluation.report import default_data_dir, format_time_split
    from textcl.model import SentenceEncoder
    from textcl.storage import (
        check_folder_target,
        check_not_an_input,
        check_output_file,
        check_parent_writable,
        output_lock,
    )

    start = time.perf_counter()
    if args.user_data is not None or args.kind is not None or args.split is not None:
        return run_user_data(args, start)
    from textcl.data.senteval import load_task, parse_tasks

    if args.jobs is not None:  # processes over the probes' CV folds
        check_int("jobs", args.jobs)
    data_dir = default_data_dir(args.data_dir)  # fails before the model is loaded
    for task in parse_tasks(args.tasks, data_dir):  # unknown names, missing or malformed files, before loading
        load_task(task, data_dir)  # raises the error naming the expected (or the bad) file
    inputs = {"--model": args.model, "--data-dir": data_dir}
    if args.output:
        check_not_an_input(args.output, inputs)
        check_output_file(args.output)  # a folder, or a parent that cannot be created: before any work
    if args.plots:
        check_not_an_input(args.plots, {**inputs, "--output": args.output}, "--plots")
        check_folder_target(args.plots, overwrite=True)  # a file where the plots folder should go
        check_parent_writable(os.path.join(args.plots, "plot.png"))
    with contextlib.ExitStack() as locks:  # one writer per output while the evaluation runs
        for path in (args.output, args.plots):
            if path:
                locks.enter_context(output_lock(path, "eval"))
        model = SentenceEncoder.from_pretrained(args.model, pooling=args.pooling, device=args.device,
                                                **hub_kwargs(args))

        def encode(texts: list[str]):
            return model.encode(texts, batch_size=args.batch_size, dtype=args.dtype)

        results = evaluate(encode, args.tasks, data_dir, plots_dir=args.plots, n_jobs=args.jobs,
                           show_progress=not args.quiet)
        print(format_markdown(results))
        print("\ntime split (probe: everything but encoding)\n" + format_time_split(results))
        print(f"\nwall time: {time.perf_counter() - start:.1f} s "
              f"({results['meta']['n_unique_sentences']} distinct sentences encoded, task by task)")
        if args.output:
            print(f"results written to {write_json(results, args.output)}")
        for path in results["meta"]["plots"]:
            print(f"plot: {path}")
    return 0


def run_user_data(args: argparse.Namespace, start: float) -> int:
    """``--user-data FILE --kind KIND``: score the user's table, print the metrics, write JSON; the exit code."""
    from textcl.evaluation.user_data import EVAL_KINDS, user_data_evaluator
    from textcl.model import SentenceEncoder
    from textcl.storage import atomic_write_json, check_not_an_input, check_output_file, output_lock

    if args.user_data is None:
        raise ValueError("--kind and --split describe --user-data: pass --user-data FILE too")
    if args.kind not in EVAL_KINDS:
        raise ValueError(f"--user-data needs --kind {' | '.join(EVAL_KINDS)}, got {args.kind!r}")
    others = [flag for flag, given in (("--tasks", args.tasks != "all"), ("--plots", args.plots),
                                       ("--jobs", args.jobs is not None)) if given]
    if others:
        raise ValueError(f"{', '.join(others)} apply to SentEval's tasks, not to --user-data: run them separately")
    check_int("batch_size", args.batch_size)
    evaluator = user_data_evaluator(args.user_data, args.kind, split=args.split, batch_size=args.batch_size,
                                    dtype=args.dtype)  # the table is checked before the model is loaded
    if args.output:
        check_not_an_input(args.output, {"--model": args.model, "--user-data": args.user_data})
        check_output_file(args.output)
    with contextlib.ExitStack() as locks:
        if args.output:
            locks.enter_context(output_lock(args.output, "eval"))
        model = SentenceEncoder.from_pretrained(args.model, pooling=args.pooling, device=args.device,
                                                **hub_kwargs(args))
        metrics = evaluator(model)
        print(f"| {args.kind} metric (x100) | value |\n|---|---|")
        for key, value in metrics.items():
            print(f"| {key}{' (primary)' if key == evaluator.primary_metric else ''} | {value:.2f} |")
        print(f"\nwall time: {time.perf_counter() - start:.1f} s")
        if args.output:
            atomic_write_json(args.output, {"model": args.model, "user_data": args.user_data, "kind": args.kind,
                                            "split": args.split, "primary_metric": evaluator.primary_metric,
                                            "metrics": metrics})
            print(f"results written to {args.output}")
    return 0
