"""The BiLSTM trained unsupervised on the WordNet sentences: views, augmentations, momentum queue."""

from __future__ import annotations

import json
import os
from typing import Any

from recipe_runs.common import (SEEDS, fmt, load_checks, markdown_table, score, summarize, textcl_encode,
                                train_textcl)
from recipe_runs.results_file import SELECTION_DIR, ResultsEntry, entry_name

#: Every run of this recipe (each select round, each seeds run) is an entry of this file.
RESULTS = os.path.join(SELECTION_DIR, "unsup.json")

#: Unsupervised variants on the WordNet sentences: (view spec, queue size[, encoder / loss overrides]).
#: Chosen on STS-B dev, one seed.
UNSUP_VARIANTS: dict[str, tuple] = {
    "dropout": ("dropout", 0),
    "dropout+word_repetition": ("dropout+word_repetition", 0),
    "dropout+word_deletion": ("dropout+word_deletion", 0),
    "dropout+token_shuffle": ("dropout+token_shuffle", 0),
    "dropout+feature_cutoff": ("dropout+feature_cutoff", 0),
    "dropout+queue256": ("dropout", 256),
    "dropout+word_repetition+queue256": ("dropout+word_repetition", 256),
    # second round, after token shuffle won the first on dev
    "dropout+token_shuffle+word_repetition": ("dropout+token_shuffle+word_repetition", 0),
    "dropout+token_shuffle+span_cutoff": ("dropout+token_shuffle+span_cutoff", 0),
    # third round: the loss fell below 0.01 within the first epoch (the views were too easy for a BiLSTM), so
    # stronger dropout inside the encoder, a softer temperature, mean pooling and a second epoch
    "dropout0.3+token_shuffle": ("dropout+token_shuffle", 0, dict(embedding_dropout=0.3, output_dropout=0.3)),
    "dropout+token_shuffle_t0.1": ("dropout+token_shuffle", 0, dict(temperature=0.1)),
    "dropout+token_shuffle_mean": ("dropout+token_shuffle", 0, dict(pooling="mean")),
    "dropout+token_shuffle_2ep": ("dropout+token_shuffle", 0, dict(epochs=2)),
    "dropout0.3+token_shuffle_t0.1": ("dropout+token_shuffle", 0,
                                      dict(embedding_dropout=0.3, output_dropout=0.3, temperature=0.1)),
    # fourth round: what moved the supervised recipe (a lower temperature, fine-tuned word vectors)
    "dropout+token_shuffle_t0.03": ("dropout+token_shuffle", 0, dict(temperature=0.03)),
    "dropout+token_shuffle_finetuned": ("dropout+token_shuffle", 0, dict(freeze_embeddings=False)),
}


def unsup(args) -> None:
    """BiLSTM on the WordNet sentences: each variant with one seed (ablation table), the best on dev with three."""
    import torch

    from textcl import InfoNCE, RNNEncoder, SentenceEncoder, load_data
    from textcl.views import make_view

    senteval = os.path.join(args.data, "senteval")
    sentences = load_data(os.path.join(args.data, "unlabeled", "wordnet_examples.txt"))
    if args.max_rows:
        sentences = sentences.select(range(min(args.max_rows, len(sentences))))
    checks = load_checks(senteval)

    def run(name: str, seed: int) -> dict[str, Any]:
        spec, queue, *rest = UNSUP_VARIANTS[name]
        o = dict(rest[0]) if rest else {}
        temperature, epochs = o.pop("temperature", 0.05), o.pop("epochs", 1)
        enc = {"hidden_size": 256, "pooling": "max", "max_length": 64, **o}
        torch.manual_seed(seed)
        model = SentenceEncoder(RNNEncoder.from_glove(corpus=sentences["text"], **enc))
        best, info = train_textcl(model, InfoNCE(temperature=temperature), make_view(spec, seed=seed), sentences,
                                  senteval, os.path.join(args.output, f"unsup_{name}_s{seed}"),
                                  epochs=args.epochs or epochs, batch_size=64, lr=1e-3, seed=seed,
                                  eval_steps=args.eval_steps, queue_size=queue)
        return {"variant": name, "view": spec, "queue_size": queue, "seed": seed, "temperature": temperature,
                **({"overrides": rest[0]} if rest else {}), **score(textcl_encode(best), checks), **info}

    res = ResultsEntry(args.results or RESULTS, entry_name(args.stage, args.tag))
    if args.stage == "select":
        names = args.candidates.split(",") if args.candidates else list(UNSUP_VARIANTS)
        runs = []
        for name in names:
            runs.append(run(name, SEEDS[0]))
            res.add("runs", runs)
            print(json.dumps(runs[-1]), flush=True)
        table = markdown_table(["variant (seed 42)", "STS-B dev", "STS-B test", "SICK-R", "train s"],
                               [[r["variant"], r["stsb_dev"], r["stsb_test"], r["sickr"], r["train_seconds"]]
                                for r in runs])
        res.add("table", table)
        res.add("chosen_on_dev", max(runs, key=lambda r: r["stsb_dev"])["variant"])
        print(table)
        return
    seeds = [int(x) for x in args.seed_list.split(",")] if args.seed_list else list(SEEDS[:args.seeds])
    runs = []
    for seed in seeds:
        runs.append(run(args.candidate, seed))
        res.add("runs", runs)
        print(json.dumps(runs[-1]), flush=True)
    s = summarize(runs, ("stsb_dev", "stsb_test", "sickr"))
    res.add("summary", s)
    table = markdown_table([f"unsupervised BiLSTM ({len(seeds)} seeds)", "STS-B dev", "STS-B test", "SICK-R"],
                           [[args.candidate] + [fmt(s[k]) for k in ("stsb_dev", "stsb_test", "sickr")]])
    res.add("table", table)
    print(table)
