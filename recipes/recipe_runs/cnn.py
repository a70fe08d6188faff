"""The Kim CNN over GloVe-50d on the quickstart data: STS figures and encode speed beside the BiLSTM."""

from __future__ import annotations

import json
import os
import statistics
import time
from typing import Any

from recipe_runs.common import (SEEDS, EncodeFn, corpus_of, load_checks, load_triplets, markdown_table, score,
                                textcl_encode, train_textcl)
from recipe_runs.quickstart import bilstm_over_glove, candidate_settings
from recipe_runs.results_file import SELECTION_DIR, ResultsEntry, entry_name

#: Every run of this recipe is an entry of this file (``select``, ``select<tag>``).
RESULTS = os.path.join(SELECTION_DIR, "cnn.json")

#: CNN candidates (Kim CNN over GloVe-50d, trained like the quickstart recipe), chosen on STS-B dev.
CNN_CANDIDATES: dict[str, dict[str, Any]] = {
    "kim_345x100": dict(kernel_sizes=(3, 4, 5), filters=100),
    "w123x300": dict(kernel_sizes=(1, 2, 3), filters=300),
    "w123x200": dict(kernel_sizes=(1, 2, 3), filters=200),
}


def encode_speed(models: dict[str, EncodeFn], texts: list[str], rounds: int = 3) -> dict[str, float]:
    """Median sentences/s of each encode function, run alternately in one process (the order flips per round)."""
    times: dict[str, list[float]] = {name: [] for name in models}
    names = list(models)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            t0 = time.perf_counter()
            models[name](texts)
            times[name].append(time.perf_counter() - t0)
    return {name: round(len(texts) / statistics.median(ts), 1) for name, ts in times.items()}


def cnn(args) -> None:
    """CNN candidates on the quickstart's data and recipe (one seed, chosen on dev), then speed vs the BiLSTM."""
    import torch

    from textcl import CNNEncoder, InfoNCE, SentenceEncoder, TripletView

    senteval = os.path.join(args.data, "senteval")
    triplets, checks = load_triplets(senteval, args.max_rows), load_checks(senteval)
    recipe = candidate_settings(args.candidate)
    recipe["epochs"] = args.epochs or recipe["epochs"]
    res = ResultsEntry(args.results or RESULTS, entry_name("select", args.tag))
    res.add("recipe", {"from_quickstart_candidate": args.candidate, **recipe})
    names = args.candidates.split(",") if args.candidates else list(CNN_CANDIDATES)
    runs, trained = [], {}
    for name in names:
        c = CNN_CANDIDATES[name]
        torch.manual_seed(SEEDS[0])
        model = SentenceEncoder(CNNEncoder.from_glove(corpus=corpus_of(triplets), kernel_sizes=c["kernel_sizes"],
                                                      num_filters=c["filters"], pooling="max", max_length=64,
                                                      freeze_embeddings=recipe["freeze"]))
        best, info = train_textcl(model, InfoNCE(temperature=recipe["temperature"]), TripletView(), triplets,
                                  senteval, os.path.join(args.output, f"cnn_{name}"), epochs=recipe["epochs"],
                                  batch_size=64, lr=recipe["lr"], seed=SEEDS[0], eval_steps=args.eval_steps)
        trained[name] = best
        runs.append({"candidate": name, **c, **score(textcl_encode(best), checks), **info})
        res.add("runs", runs)
        print(json.dumps(runs[-1]), flush=True)
    chosen = max(runs, key=lambda r: r["stsb_dev"])
    res.add("chosen_on_dev", chosen["candidate"])
    # encode speed side by side: the chosen CNN against the quickstart BiLSTM (random weights: speed only)
    bilstm = bilstm_over_glove(corpus_of(triplets), recipe["freeze"], recipe["hidden"]).eval()
    texts = checks["stsb_test"].texts()
    speed = encode_speed({"cnn": textcl_encode(trained[chosen["candidate"]]), "bilstm": textcl_encode(bilstm)},
                         texts, args.rounds)
    speed["ratio_cnn_over_bilstm"] = round(speed["cnn"] / speed["bilstm"], 2)
    res.add("encode_sentences_per_second", {"sentences": len(texts), "rounds": args.rounds, **speed})
    table = markdown_table(["CNN candidate (seed 42)", "STS-B dev", "STS-B test", "SICK-R", "train s"],
                           [[r["candidate"], r["stsb_dev"], r["stsb_test"], r["sickr"], r["train_seconds"]]
                            for r in runs])
    res.add("table", table)
    print(table)
    print(f"encode speed on {len(texts)} STS-B test sentences: CNN {speed['cnn']}/s, BiLSTM {speed['bilstm']}/s, "
          f"ratio {speed['ratio_cnn_over_bilstm']}x")
