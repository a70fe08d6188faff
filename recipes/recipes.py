"""Recipes selected honestly (issue 11): every setting chosen on STS-B dev, STS-B test and SICK-R as checks.

Each run writes one named entry of its recipe's results file as it goes (a cut-short run keeps its figures):
``results/selection/{quickstart,cnn,unsup}.json`` hold every selection round and seeds run, entry
``<stage><tag>`` (``select_8ep_round4``; the tag alone when it names the stage, ``t003_seeds_s43``);
``results/minilm.json`` holds the MiniLM comparison (entry ``vs_sentence_transformers<tag>``).

Subcommands:

* ``quickstart``: the quickstart BiLSTM over GloVe-50d on the 6,339 SNLI triplets. ``--stage select``
  trains each candidate of :data:`QUICKSTART_CANDIDATES` with one seed and ranks them on STS-B dev;
  ``--stage seeds`` runs the chosen one (``--candidate``) with three seeds next to the
  sentence-transformers frozen-GloVe recipe (BiLSTM-max over frozen GloVe-50d,
  ``MultipleNegativesRankingLoss``, 10 epochs, same triplets), and prints mean +- std.
* ``cnn``: the Kim CNN over GloVe-50d on the same triplets, its STS figures and its encode speed
  measured side by side with the BiLSTM in one process.
* ``unsup``: the BiLSTM on the WordNet sentences with dropout views, augmentations and the momentum
  queue (one seed per variant, chosen on dev), then the chosen variant with three seeds.
* ``minilm``: all-MiniLM-L6-v2 fine-tuned on the triplets with textcl (InfoNCE) and with
  sentence-transformers (MultipleNegativesRankingLoss) at the same batch size, epochs and data.
* ``minilm_mix``: all-MiniLM-L6-v2 on the triplets (InfoNCE) and STS-B train (CoSENT) at once, optionally
  Matryoshka; ``--stage select`` ranks the candidates on STS-B dev, ``--stage seeds`` runs the chosen one with
  three seeds and its Matryoshka curve, ``--stage st`` runs sentence-transformers' equivalent
  (``recipe_runs/minilm_mix.py``).
* ``summary``: pools the quickstart runs of several entries (``--inputs select_8ep,seeds_st_10ep``) into one
  table by seed (entry ``summary<tag>``).

``--epochs N`` shortens every schedule (both sides alike) when the machine cannot afford the full one;
the results file records the epochs of every run.

SICK-R here is ``SICK_train.txt`` + ``SICK_trial.txt`` (5,000 pairs): no recipe ever saw it.

Usage::

    python recipes/recipes.py quickstart --stage select --data ../shared/data --tag _8ep
    python recipes/recipes.py quickstart --stage seeds --candidate current_t003 --data ../shared/data
    python recipes/recipes.py cnn --candidate current_t003 --data ../shared/data
    python recipes/recipes.py summary --candidate current_t003 --inputs select_8ep,seeds_st_10ep --tag _8ep
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recipe_runs.cnn import cnn  # noqa: E402
from recipe_runs.common import DEFAULT_DATA  # noqa: E402
from recipe_runs.minilm import minilm  # noqa: E402
from recipe_runs.minilm_mix import minilm_mix  # noqa: E402
from recipe_runs.quickstart import quickstart, summary  # noqa: E402
from recipe_runs.unsup import unsup  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("which", choices=("quickstart", "cnn", "unsup", "minilm", "minilm_mix", "summary"))
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--output", default=os.path.join(tempfile.gettempdir(), "textcl_recipes"))
    p.add_argument("--stage", choices=("select", "seeds", "st", "curve", "table"), default="select")
    p.add_argument("--candidates", default="", help="comma-separated subset of the candidates (select stage)")
    p.add_argument("--candidate", default="current",
                   help="the candidate chosen on dev (seeds stage); for cnn: the quickstart recipe it trains with")
    p.add_argument("--side", choices=("both", "textcl", "st"), default="both")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--seed-list", default="", help="comma-separated seeds (overrides --seeds)")
    p.add_argument("--st-epochs", type=int, default=10)
    p.add_argument("--epochs", type=int, default=None,
                   help="override every recipe's epochs (a shortened schedule, for a loaded machine); both sides")
    p.add_argument("--st-lr", type=float, default=1e-3)
    p.add_argument("--eval-steps", type=int, default=100)
    p.add_argument("--max-rows", type=int, default=None, help="first N triplets only (smoke runs)")
    p.add_argument("--inputs", default="", help="summary: comma-separated entries of the results file to pool")
    p.add_argument("--rounds", type=int, default=3, help="encode-speed rounds (cnn)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tag", default="", help="suffix of the results entry's name")
    p.add_argument("--results", default=None, help="results file (default: the recipe's own file under results/)")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    {"quickstart": quickstart, "cnn": cnn, "unsup": unsup, "minilm": minilm, "minilm_mix": minilm_mix,
     "summary": summary}[args.which](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
