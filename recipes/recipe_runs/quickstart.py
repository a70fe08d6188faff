"""The quickstart BiLSTM over GloVe-50d and the sentence-transformers frozen-GloVe baseline."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from recipe_runs.common import (SEEDS, EncodeFn, corpus_of, fmt, load_checks, load_triplets, markdown_table,
                                pool_by_seed, score, summarize, textcl_encode, train_textcl)
from recipe_runs.results_file import SELECTION_DIR, ResultsEntry, entry_name, read_results

#: Every run of this recipe (select, seeds, summary) is an entry of this file.
RESULTS = os.path.join(SELECTION_DIR, "quickstart.json")

#: Candidates for the quickstart recipe (BiLSTM-max, batch 64, TripletView + InfoNCE, no-duplicates batches).
#: ``current`` is the recipe shipped before issue 11 (tuned on STS-B test); the others change one thing each.
QUICKSTART_CANDIDATES: dict[str, dict[str, Any]] = {
    "current": dict(freeze=False, temperature=0.1, lr=3e-3, epochs=8, hidden=256),
    "frozen": dict(freeze=True, temperature=0.1, lr=3e-3, epochs=8, hidden=256),
    "frozen_t005": dict(freeze=True, temperature=0.05, lr=3e-3, epochs=8, hidden=256),
    "frozen_lr1e-3_12ep": dict(freeze=True, temperature=0.1, lr=1e-3, epochs=12, hidden=256),
    "current_t005": dict(freeze=False, temperature=0.05, lr=3e-3, epochs=8, hidden=256),
    "frozen_h512": dict(freeze=True, temperature=0.1, lr=3e-3, epochs=8, hidden=512),
    # second round (full 8-epoch schedule): a wider BiLSTM and a symmetric loss on the fine-tuned recipe
    "current_h512": dict(freeze=False, temperature=0.1, lr=3e-3, epochs=8, hidden=512),
    "current_symmetric": dict(freeze=False, temperature=0.1, lr=3e-3, epochs=8, hidden=256, symmetric=True),
    # third round, after sentence-transformers' recipe (frozen GloVe, lr 1e-3, 10 epochs, scale 20, no dropout)
    # came out ahead on SICK-R: that recipe inside textcl (with dev selection), and its lr / epochs on the
    # fine-tuned recipe. (The h512 candidates were dropped: 3.7x the LSTM's compute breaks the quickstart's
    # 10-minute limit on 2 cores.)
    "frozen_t005_lr1e-3_10ep_nodropout": dict(freeze=True, temperature=0.05, lr=1e-3, epochs=10, hidden=256,
                                              dropout=0.0),
    "current_lr1e-3_10ep": dict(freeze=False, temperature=0.1, lr=1e-3, epochs=10, hidden=256),
    # fourth round, after temperature 0.05 won on dev: the symmetric loss and a lower temperature on top of it
    "current_t005_symmetric": dict(freeze=False, temperature=0.05, lr=3e-3, epochs=8, hidden=256, symmetric=True),
    "current_t003": dict(freeze=False, temperature=0.03, lr=3e-3, epochs=8, hidden=256),
}

#: Ablation modifiers, written ``<candidate>+<modifier>`` (e.g. ``current_t005+duplicates_allowed``): the
#: false-negative controls of issue 11 step 3, the default no-duplicates sampler off and logit masking on.
MODIFIERS: dict[str, dict[str, Any]] = {
    "duplicates_allowed": dict(no_duplicates=False),
    "mask_duplicates": dict(mask_duplicates=True),
}


def candidate_settings(name: str) -> dict[str, Any]:
    """The settings of ``name``: a candidate, optionally followed by ``+modifier`` parts."""
    base, *mods = name.split("+")
    if base not in QUICKSTART_CANDIDATES or any(m not in MODIFIERS for m in mods):
        raise ValueError(f"unknown quickstart candidate {name!r}: use one of {sorted(QUICKSTART_CANDIDATES)}, "
                         f"optionally followed by +{' / +'.join(MODIFIERS)}")
    c = dict(QUICKSTART_CANDIDATES[base])
    for m in mods:
        c.update(MODIFIERS[m])
    return c


def bilstm_over_glove(corpus: list[str], freeze: bool, hidden: int, dropout: float = 0.1):
    from textcl import RNNEncoder, SentenceEncoder

    return SentenceEncoder(RNNEncoder.from_glove(corpus=corpus, cell="lstm", bidirectional=True, hidden_size=hidden,
                                                 pooling="max", max_length=64, freeze_embeddings=freeze,
                                                 embedding_dropout=dropout, output_dropout=dropout))


def run_bilstm_candidate(name: str, seed: int, triplets, senteval: str, checks, out: str,
                         eval_steps: int = 100, epochs: int | None = None) -> dict[str, Any]:
    """Train one quickstart candidate with one seed (``epochs`` overrides its own); its checks and timing."""
    import torch

    from textcl import InfoNCE, TripletView

    c = candidate_settings(name)
    c["epochs"] = epochs or c["epochs"]
    torch.manual_seed(seed)  # the BiLSTM's initial weights
    model = bilstm_over_glove(corpus_of(triplets), c["freeze"], c["hidden"], c.get("dropout", 0.1))
    t0 = time.perf_counter()
    loss = InfoNCE(temperature=c["temperature"], symmetric=c.get("symmetric", False),
                   mask_duplicates=c.get("mask_duplicates", False))
    best, info = train_textcl(model, loss, TripletView(), triplets, senteval,
                              os.path.join(out, f"{name}_s{seed}"), epochs=c["epochs"], batch_size=64, lr=c["lr"],
                              seed=seed, eval_steps=eval_steps, no_duplicates=c.get("no_duplicates", True))
    info["wall_seconds"] = round(time.perf_counter() - t0, 1)
    return {"candidate": name, "seed": seed, "epochs": c["epochs"], **score(textcl_encode(best), checks), **info}


def st_frozen_glove_bilstm(triplets, seed: int, out: str, epochs: int = 10, lr: float = 1e-3, hidden: int = 256,
                           batch_size: int = 64):
    """sentence-transformers' recipe: WordEmbeddings (frozen GloVe-50d) -> LSTM -> max pooling, MNRL.

    The vocabulary and vectors are exactly the ones the textcl BiLSTM gets (same GloVe rows, same corpus words);
    the tokenizer is sentence-transformers' own ``WhitespaceTokenizer`` (lowercasing, no stop words removed).
    The last model is kept (the plain recipe has no dev selection).

    Returns:
        ``(SentenceTransformer, info)``.
    """
    import torch
    from sentence_transformers import (SentenceTransformer, SentenceTransformerTrainer,
                                       SentenceTransformerTrainingArguments)
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.modules import LSTM, Pooling, WordEmbeddings
    from sentence_transformers.sentence_transformer.modules.tokenizer import WhitespaceTokenizer

    from textcl.encoders.word_vectors import glove_embeddings

    tok, matrix = glove_embeddings(corpus=corpus_of(triplets))
    torch.manual_seed(seed)
    emb = WordEmbeddings(WhitespaceTokenizer(tok.vocab, stop_words=[],
                                             do_lower_case=True), matrix, update_embeddings=False)
    lstm = LSTM(emb.get_word_embedding_dimension(), hidden_dim=hidden, bidirectional=True)
    pool = Pooling(lstm.get_word_embedding_dimension(), "max")
    model = SentenceTransformer(modules=[emb, lstm, pool], device="cpu")
    train = triplets.rename_columns(dict(zip(triplets.column_names, ("anchor", "positive", "negative"))))
    args = SentenceTransformerTrainingArguments(
        output_dir=out, per_device_train_batch_size=batch_size, num_train_epochs=epochs, learning_rate=lr,
        warmup_ratio=0.0, save_strategy="no", report_to="none", logging_steps=10**9, disable_tqdm=True,
        use_cpu=True, seed=seed)
    t0 = time.perf_counter()
    SentenceTransformerTrainer(model=model, args=args, train_dataset=train,
                               loss=MultipleNegativesRankingLoss(model)).train()
    return model, {"train_seconds": round(time.perf_counter() - t0, 1), "lr": lr, "epochs": epochs,
                   "batch_size": batch_size, "hidden": hidden, "scale": 20.0}


def st_encode(model) -> EncodeFn:
    return lambda texts: model.encode(texts, batch_size=128, convert_to_numpy=True, show_progress_bar=False)


def quickstart(args) -> None:
    senteval = os.path.join(args.data, "senteval")
    triplets, checks = load_triplets(senteval, args.max_rows), load_checks(senteval)
    out = args.output
    if args.stage == "select":
        names = args.candidates.split(",") if args.candidates else list(QUICKSTART_CANDIDATES)
        res = ResultsEntry(args.results or RESULTS, entry_name("select", args.tag))
        rows = []
        for name in names:
            r = run_bilstm_candidate(name, SEEDS[0], triplets, senteval, checks, out, args.eval_steps, args.epochs)
            rows.append(r)
            res.add("runs", rows)
            print(json.dumps(r), flush=True)
        rows.sort(key=lambda r: -r["stsb_dev"])
        table = markdown_table(["candidate (seed 42)", "STS-B dev", "STS-B test", "SICK-R", "train s"],
                               [[r["candidate"], r["stsb_dev"], r["stsb_test"], r["sickr"], r["train_seconds"]]
                                for r in rows])
        res.add("table", table)
        res.add("chosen_on_dev", rows[0]["candidate"])
        print(table)
        return
    # --stage seeds: the chosen candidate and the sentence-transformers recipe, three seeds each, side by side
    res = ResultsEntry(args.results or RESULTS, entry_name("seeds", args.tag))
    if args.side != "st":
        res.add("candidate", {args.candidate: candidate_settings(args.candidate)})
    if args.side != "textcl":
        res.add("st_recipe", {"lr": args.st_lr, "epochs": args.epochs or args.st_epochs, "batch_size": 64,
                              "hidden": 256, "pooling": "max", "loss": "MultipleNegativesRankingLoss(scale=20)"})
    seeds = [int(x) for x in args.seed_list.split(",")] if args.seed_list else list(SEEDS[:args.seeds])
    ours, theirs = [], []
    for seed in seeds:
        if args.side in ("both", "textcl"):
            ours.append(run_bilstm_candidate(args.candidate, seed, triplets, senteval, checks, out, args.eval_steps,
                                             args.epochs))
            res.add("textcl_runs", ours)
            print(json.dumps(ours[-1]), flush=True)
        if args.side in ("both", "st"):
            model, info = st_frozen_glove_bilstm(triplets, seed, os.path.join(out, f"st_s{seed}"),
                                                 epochs=args.epochs or args.st_epochs, lr=args.st_lr)
            theirs.append({"seed": seed, **score(st_encode(model), checks), **info})
            res.add("st_runs", theirs)
            print(json.dumps(theirs[-1]), flush=True)
    keys = ("stsb_dev", "stsb_test", "sickr")
    rows = []
    if ours:
        s = summarize(ours, keys)
        res.add("textcl_summary", s)
        rows.append([f"textcl BiLSTM ({args.candidate})"] + [fmt(s[k]) for k in keys])
    if theirs:
        s = summarize(theirs, keys)
        res.add("st_summary", s)
        rows.append(["sentence-transformers frozen-GloVe BiLSTM, MNRL"] + [fmt(s[k]) for k in keys])
    table = markdown_table([f"model ({len(seeds)} seeds)", "STS-B dev", "STS-B test", "SICK-R"], rows)
    res.add("table", table)
    print(table)


def summary(args) -> None:
    """Pool the quickstart runs of several entries (``--inputs``: select + seeds stages) into one 3-seed table.

    The inputs are entry names of ``results/selection/quickstart.json`` (``select_8ep,seeds_st_10ep``). Runs of
    ``--candidate`` and sentence-transformers runs (``st_runs``) are collected by seed. A seeds-stage run
    (``textcl_runs``) wins over a select-stage run (``runs``) of the same seed; a seed twice within one kind is an
    error (the entries overlap).
    """
    names = [n for n in args.inputs.split(",") if n]
    ours, theirs, selection = pool_by_seed(read_results(args.results or RESULTS), names, args.candidate)
    keys = ("stsb_dev", "stsb_test", "sickr")
    res = ResultsEntry(args.results or RESULTS, entry_name("summary", args.tag))
    res.add("inputs", names)
    rows = []
    for label, runs in ((f"textcl BiLSTM ({args.candidate})", ours),
                        ("sentence-transformers frozen-GloVe BiLSTM, MNRL", theirs)):
        if runs:
            s = summarize([runs[k] for k in sorted(runs)], keys)
            res.add(label, {"seeds": sorted(runs), **s})
            rows.append([f"{label}, seeds {','.join(map(str, sorted(runs)))}"] + [fmt(s[k]) for k in keys])
    table = markdown_table(["model", "STS-B dev", "STS-B test", "SICK-R"], rows)
    res.add("table", table)
    print(table)
    if selection:  # every candidate tried, best on dev first: the choice is visible next to what it beat
        ranked = sorted(selection.values(), key=lambda r: -r["stsb_dev"])
        res.add("chosen_on_dev", ranked[0]["candidate"])
        sel = markdown_table(["candidate (seed 42)", "epochs", "STS-B dev", "STS-B test", "SICK-R", "entry"],
                             [[r["candidate"], r["epochs"], r["stsb_dev"], r["stsb_test"], r["sickr"], r["entry"]]
                              for r in ranked])
        res.add("selection_table", sel)
        print(sel)
