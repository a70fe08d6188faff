"""``textcl quickstart``: the offline demo of contrastive learning (see textcl/quickstart.py)."""

from __future__ import annotations

import argparse
import os

from textcl.commands.flags import add_threads_option

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``quickstart`` subcommand."""
    p = subparsers.add_parser(
        "quickstart", help="train a BiLSTM over GloVe on bundled NLI triplets and show STS before/after",
        description="Offline, a few minutes on 2 CPU cores: averaged GloVe baseline, BiLSTM before and after "
                    "TripletView + InfoNCE training on bundled SNLI triplets, scored on bundled STS-B dev/test "
                    "and the CR sentiment probe. --model fine-tunes a transformer instead.")
    p.add_argument("--output", default="out/quickstart", help="output folder (default: out/quickstart)")
    p.add_argument("--model", default=None, help="transformer to fine-tune instead (hub name or folder)")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--temperature", type=float, default=None,
                   help="InfoNCE temperature (default: 0.03 for the BiLSTM, chosen on STS-B dev; 0.05 with --model)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--eval-steps", type=int, default=50)
    p.add_argument("--max-rows", type=int, default=None, help="train on the first N triplets only (smoke run)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--overwrite", action="store_true", help="replace an earlier quickstart run in --output")
    add_threads_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the quickstart and print the before/after table and where everything went."""
    from textcl.quickstart import QuickstartSettings, run_quickstart

    settings = QuickstartSettings(output=args.output, model=args.model, epochs=args.epochs,
                                  batch_size=args.batch_size, lr=args.lr, eval_steps=args.eval_steps,
                                  max_rows=args.max_rows, seed=args.seed, temperature=args.temperature,
                                  overwrite=args.overwrite)
    res = run_quickstart(settings)
    out = os.path.abspath(args.output)
    print("\n" + res["table"] + "\n")
    print(f"Spearman / accuracy x100. Training: {res['steps']} steps in {res['train_seconds'] / 60:.1f} min "
          f"({res['sentences_per_second']:.0f} sentences/s); whole run {res['total_seconds'] / 60:.1f} min.\n")
    print("Written:")
    print(f"  model        {res['model_path']}  (model card: README.md inside)")
    print(f"  results      {os.path.join(out, 'results.json')}")
    print(f"  plots        {os.path.join(out, 'plots')}")
    print(f"  metrics      {os.path.join(out, 'run', 'metrics.jsonl')}")
    print(f"\nUse it:  textcl encode --model {res['model_path']} --input sentences.txt --output emb.npy")
    return 0
