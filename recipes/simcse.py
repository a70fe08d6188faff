"""SimCSE recipes (Gao et al., 2021) as textcl training runs.

Unsupervised: Wikipedia 1M sentences, BERT-base, [CLS] with an MLP used in
training only, batch 64, lr 3e-5, max length 32, temperature 0.05, one epoch,
STS-B dev every 125 steps. Paper: 76.25 average Spearman over STS12-16, STS-B, SICK-R.

Supervised: SNLI+MNLI triplets (premise, entailment, contradiction), BERT-base,
[CLS] with the MLP, batch 512, lr 5e-5, max length 32, three epochs. Paper: 81.57.

The full recipes need the hub (model and data) and a GPU::

    python recipes/simcse.py unsup --data wiki1m_for_simcse.txt --eval-sts SentEval/data/downstream
    python recipes/simcse.py sup --data nli_for_simcse.csv --eval-sts SentEval/data/downstream
    torchrun --nproc_per_node=4 recipes/simcse.py sup --batch-size 128 ...  # 4 GPUs x 128 = 512

Any flag of ``textcl train`` can be appended to override the recipe, e.g. a
tiny local model and a few sentences (the test suite does exactly that)::

    python recipes/simcse.py unsup --model tiny_bert/ --data sentences.txt --max-steps 2
"""

from __future__ import annotations

import sys

from textcl.cli import main as textcl_main

RECIPES = {
    "unsup": ["--model", "bert-base-uncased", "--pooling", "cls_before_pooler", "--projection", "--mlp-only-train",
              "--view", "dropout", "--loss", "infonce", "--temperature", "0.05", "--epochs", "1",
              "--batch-size", "64", "--lr", "3e-5", "--max-length", "32", "--eval-steps", "125",
              "--dtype", "auto", "--output", "out/unsup-simcse-bert-base"],
    "sup": ["--model", "bert-base-uncased", "--pooling", "cls_before_pooler", "--projection",
            "--view", "triplet", "--columns", "sent0,sent1,hard_neg", "--loss", "infonce", "--temperature", "0.05",
            "--epochs", "3", "--batch-size", "512", "--lr", "5e-5", "--max-length", "32", "--eval-steps", "125",
            "--dtype", "auto", "--output", "out/sup-simcse-bert-base"],
}


def main(argv: list[str] | None = None) -> int:
    """Run a recipe: ``unsup`` or ``sup``, then any ``textcl train`` flags (later flags win)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in RECIPES:
        print(__doc__)
        print(f"usage: simcse.py {{{','.join(RECIPES)}}} --data PATH [textcl train flags]", file=sys.stderr)
        return 2
    # with torchrun the per-process batch is the recipe's batch divided by the number of processes
    return textcl_main(["train", *RECIPES[argv[0]], *argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
