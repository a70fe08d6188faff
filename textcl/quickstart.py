"""The quickstart: contrastive learning turns word vectors into a sentence encoder, offline, in minutes.

Steps: averaged GloVe vectors as the baseline; a BiLSTM over GloVe before
training; the same BiLSTM after training with TripletView + InfoNCE on the NLI
triplets bundled with textcl. Each is scored on the bundled STS-B dev/test and
the CR sentiment probe. With ``model=`` a transformer is fine-tuned instead of
the BiLSTM.

The recipe (word vectors fine-tuned with the BiLSTM, InfoNCE temperature 0.03,
lr 3e-3, 8 epochs) was chosen on STS-B dev only; ``docs/results.md`` gives the
selection and the scores.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from textcl.data import load_data
from textcl.interop.model_card import CardResult, ModelCard, environment, infer_base_model, write_model_card
from textcl.losses import InfoNCE
from textcl.model import SentenceEncoder
from textcl.settings import check_int
from textcl.storage import atomic_write_json, check_folder_target, check_parent_writable
from textcl.train.config import TrainConfig
from textcl.train.evaluators import STSDevEvaluator
from textcl.train.run_folder import check_run_output
from textcl.train.trainer import Trainer, seed_everything
from textcl.views import TripletView

__all__ = ["QuickstartSettings", "bundled_data_dir", "run_quickstart"]

TASKS = ("stsb", "cr")


def bundled_data_dir() -> str:
    """Folder of the data shipped inside the package (see ``textcl/data/bundled/README.md``)."""
    return str(files("textcl").joinpath("data", "bundled"))


@dataclass
class QuickstartSettings:
    """Knobs of the quickstart (defaults: the documented ~5-minute CPU run).

    Attributes:
        output: folder for the model, results.json, plots and the model card.
        model: a transformer (hub name or folder) to fine-tune instead of the BiLSTM.
        epochs: passes over the 6,339 bundled triplets.
        freeze_embeddings: keep the GloVe vectors fixed (False: fine-tuned with the BiLSTM, chosen on STS-B dev).
        batch_size: triplets per batch (in-batch negatives: 2 x batch - 1 per anchor).
        lr: peak learning rate (default: 3e-3 for the BiLSTM, 2e-5 for a transformer).
        hidden_size: BiLSTM hidden size per direction.
        eval_steps: STS-B dev evaluation interval (best model kept).
        max_rows: use only the first N triplets (for a smoke run).
        seed: random seed.
        overwrite: replace an earlier quickstart run in ``output`` (otherwise it is refused before any work).
        temperature: InfoNCE temperature (default: 0.03 for the BiLSTM, chosen on STS-B dev among 0.1, 0.05
            and 0.03; SimCSE's 0.05 for a transformer).
    """

    output: str = "out/quickstart"
    model: str | None = None
    epochs: int = 8
    freeze_embeddings: bool = False
    temperature: float | None = None
    batch_size: int = 64
    lr: float | None = None
    hidden_size: int = 256
    eval_steps: int = 50
    max_rows: int | None = None
    seed: int = 42
    overwrite: bool = False


def _score(model: SentenceEncoder, name: str, data_dir: str, dev: STSDevEvaluator, plots: str | None,
           dev_score: float | None = None) -> dict[str, Any]:
    """One row of the table; ``dev_score``: the model's STS-B dev score when the trainer has already taken it."""
    from textcl.evaluation import evaluate

    def encode(texts):
        return model.encode(texts, batch_size=128, dtype="float32")

    res = evaluate(encode, list(TASKS), data_dir, plots_dir=plots, show_progress=False)
    stsb_dev = dev(model)[dev.metric] if dev_score is None else dev_score
    return {"model": name, "stsb_dev": stsb_dev, "stsb_test": res["stsb"]["spearman"],
            "cr_accuracy": res["cr"]["accuracy"], "alignment": res["alignment_uniformity"]["alignment"],
            "uniformity": res["alignment_uniformity"]["uniformity"]}


def _table(rows: list[dict[str, Any]]) -> str:
    lines = ["| model | STS-B dev | STS-B test | CR acc. | alignment | uniformity |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['stsb_dev']:.2f} | {r['stsb_test']:.2f} | {r['cr_accuracy']:.2f} | "
                     f"{r['alignment']:.3f} | {r['uniformity']:.3f} |")
    return "\n".join(lines)


def run_quickstart(settings: QuickstartSettings, log=print) -> dict[str, Any]:
    """Run the quickstart end to end and return its results (also written to ``results.json``).

    The output folder is guarded like every output: never the model it starts from, one writer at a time.
    """
    from textcl.storage import guard_output

    with guard_output(settings.output, {"--model": settings.model}, "quickstart"):
        return _run_quickstart(settings, log)


def _run_quickstart(settings: QuickstartSettings, log=print) -> dict[str, Any]:
    from textcl.encoders.rnn import RNNEncoder
    from textcl.encoders.word_average import WordAverageEncoder
    from textcl.encoders.word_vectors import glove_embeddings
    from textcl.evaluation.plots import plot_alignment_uniformity

    start = time.perf_counter()
    # everything that can be wrong is checked before anything is written
    if settings.max_rows is not None:  # None: all triplets
        check_int("max_rows", settings.max_rows)
    check_folder_target(settings.output, overwrite=True)  # a file where the output folder should go
    check_parent_writable(os.path.join(settings.output, "results.json"))
    check_run_output(os.path.join(settings.output, "run"), resume=False, overwrite=settings.overwrite)
    preloaded = SentenceEncoder.from_pretrained(settings.model) if settings.model is not None else None
    seed_everything(settings.seed)  # the BiLSTM's initial weights too, so runs repeat
    data_dir = os.path.join(bundled_data_dir(), "senteval")
    triplets = load_data(os.path.join(bundled_data_dir(), "nli", "snli_triplets.tsv"))
    if settings.max_rows:
        triplets = triplets.select(range(min(settings.max_rows, len(triplets))))
    out = os.path.abspath(settings.output)
    os.makedirs(out, exist_ok=True)
    dev = STSDevEvaluator(data_dir)
    corpus = [t for c in triplets.column_names for t in triplets[c]]
    rows: list[dict[str, Any]] = []

    transformer = settings.model is not None
    if transformer:
        log(f"[1/4] loading {settings.model}")
        model = preloaded
        name, base = "fine-tuned transformer", settings.model
        base_model = infer_base_model(model)
    else:
        log("[1/4] baseline: averaged GloVe 6B 50-d vectors")
        tokenizer, matrix = glove_embeddings(corpus=corpus)  # read once: the baseline and the BiLSTM start from it
        glove_avg = SentenceEncoder(WordAverageEncoder(tokenizer, matrix.copy()))
        rows.append(_score(glove_avg, "averaged GloVe-50d", data_dir, dev, None))
        model = SentenceEncoder(RNNEncoder(tokenizer, matrix, cell="lstm", bidirectional=True,
                                           hidden_size=settings.hidden_size, pooling="max", max_length=64,
                                           freeze_embeddings=settings.freeze_embeddings))
        vectors = "frozen" if settings.freeze_embeddings else "fine-tuned"
        name, base = "BiLSTM-max over GloVe-50d", f"GloVe 6B 50d ({vectors}) + BiLSTM"
        base_model = None
    log("[2/4] scoring the model before contrastive training")
    rows.append(_score(model, f"{name} (before)" if transformer else "BiLSTM (random init, before)",
                       data_dir, dev, None))

    lr = settings.lr or (2e-5 if transformer else 3e-3)
    temperature = settings.temperature if settings.temperature is not None else (0.05 if transformer else 0.03)
    log(f"[3/4] training on {len(triplets)} NLI triplets: TripletView + InfoNCE(temperature={temperature})")
    config = TrainConfig(epochs=settings.epochs, batch_size=settings.batch_size, lr=lr, seed=settings.seed,
                         eval_steps=settings.eval_steps, save_steps=10**9, log_steps=10,
                         output_dir=os.path.join(out, "run"), warmup_ratio=0.1 if transformer else 0.0)
    loss = InfoNCE(temperature=temperature)
    card = ModelCard(name=f"textcl quickstart: {name}", base_model=base_model, initialised_from=base,
                     datasets=["SNLI (SentEval dev+test, 6,339 triplets)"], loss=repr(loss), view="triplet")
    trainer = Trainer(model, loss, TripletView(), triplets, config, evaluator=dev, metric_for_best=dev.metric,
                      card=card)
    result = trainer.train(overwrite=settings.overwrite)
    best = SentenceEncoder.from_pretrained(result.model_path)

    log("[4/4] scoring the trained model")
    rows.append(_score(best, f"{name} (after)" if transformer else "BiLSTM (after, best on STS-B dev)",
                       data_dir, dev, os.path.join(out, "plots"), dev_score=result.best_metric))
    plot_alignment_uniformity({r["model"].split(" (")[0] + (" after" if "after" in r["model"] else
                                                             " before" if "before" in r["model"] else ""):
                               (r["alignment"], r["uniformity"]) for r in rows},
                              os.path.join(out, "plots", "alignment_uniformity_all.png"))
    after = rows[-1]
    card.results = [CardResult("stsb", "test", "spearman", after["stsb_test"]),
                    CardResult("cr", "test", "accuracy", after["cr_accuracy"]),
                    CardResult("stsb", "dev", "spearman", after["stsb_dev"])]
    card.train_seconds = result.train_seconds
    write_model_card(result.model_path, card, best)
    results = {"rows": rows, "train_seconds": result.train_seconds, "steps": result.steps,
               "sentences_per_second": result.sentences_per_second, "total_seconds": time.perf_counter() - start,
               "model_path": result.model_path, "table": _table(rows), "environment": environment()}
    # the file names the model relative to itself: a results file carries no path of this machine
    atomic_write_json(os.path.join(out, "results.json"),
                      {**results, "model_path": os.path.relpath(result.model_path, out)})
    return results
