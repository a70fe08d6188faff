"""``textcl eval``: score a model on STS and SentEval transfer tasks.

Example:
    textcl eval --model out/run --tasks stsb,sickr,mr --data-dir ../shared/data/senteval \\
        --output results.json --plots plots/
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

from textcl.commands.flags import removed_flag
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
    add_hub_options(p)
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

        results = evaluate(encode, args.tasks, data_dir, plots_dir=args.plots, n_jobs=args.jobs)
        print(format_markdown(results))
        print("\ntime split (probe: everything but encoding)\n" + format_time_split(results))
        print(f"\nwall time: {time.perf_counter() - start:.1f} s "
              f"({results['meta']['n_unique_sentences']} distinct sentences encoded, task by task)")
        if args.output:
            print(f"results written to {write_json(results, args.output)}")
        for path in results["meta"]["plots"]:
            print(f"plot: {path}")
    return 0
