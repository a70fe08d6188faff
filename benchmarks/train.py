"""Training speed: textcl's ``Trainer`` against sentence-transformers' ``SentenceTransformerTrainer``.

The same step on both sides, all-MiniLM-L6-v2, batch 64, float32, gradient clipping at 1.0,
linear decay without warm-up, seed 42. ``--task`` picks the step:

- ``simcse`` (default): unsupervised SimCSE, max length 32, lr 3e-5, on the sentences of
  ``wordnet_examples.txt``. textcl runs ``DropoutView`` + ``InfoNCE(temperature=0.05)``;
  sentence-transformers runs ``MultipleNegativesRankingLoss`` (scale 20 = 1 / 0.05) on (s, s)
  pairs, its documented way to do unsupervised SimCSE. 2 texts per row.
- ``triplets``: fine-tuning on the 6,339 SNLI (premise, entailment, contradiction) triplets of
  SentEval's dev + test files (``textcl.data.load_senteval_snli``), max length 256 (the model's
  own ``max_seq_length``; both sides truncate and pad to the batch's longest with the same
  tokenizer, checked before timing), lr 2e-5, batches without a repeated text on both sides.
  textcl runs ``TripletView`` + ``InfoNCE(temperature=0.05)`` with ``no_duplicates=True``;
  sentence-transformers runs ``MultipleNegativesRankingLoss(scale=20)`` with
  ``batch_sampler=BatchSamplers.NO_DUPLICATES``. 3 texts per row. Target: textcl >= 1.4x.

Both run in ONE process, alternating run by run (who goes first rotates), each
run on a fresh copy of the model. A callback timestamps every optimizer step,
so the first ``--warmup`` steps (allocator, oneDNN kernels) and everything
outside the loop (trainer set-up, batch planning, final save) are left out; the
steady-state time of the remaining ``--steps`` steps gives sentences/s (rows x
texts per row). A forward pre-hook records the intra-op thread count each side's
forward passes ran with. ``--threads N`` gives both sides N threads (textcl through
``TrainConfig(threads=N)``); without it each side keeps its default (textcl chooses
from the free cores, sentence-transformers keeps torch's count). The script prints
the RATIO per round, its median, and for a task with a target a PASS / MISS line.

Usage:
    python benchmarks/train.py [--task simcse|triplets] [--rounds 3] [--steps 20] [--warmup 3] [--threads N]
                               [--model minilm|tiny|PATH] [--max-length N] [--data PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import NamedTuple

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ratio_table import ratio_table
from tiny_bert import model_path

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data")
WORDNET = os.path.join(DATA, "unlabeled", "wordnet_examples.txt")
SENTEVAL = os.path.join(DATA, "senteval")
BATCH, TEMPERATURE = 64, 0.05
ST, TC = "sentence-transformers", "textcl"


class Task(NamedTuple):
    """One benchmarked training step: its settings and what ``--data`` defaults to."""

    max_length: int
    lr: float
    texts_per_row: int  # sentences encoded per data row (2 dropout views; anchor, positive, negative)
    data: str
    target: float | None = None  # the speed-up textcl must reach, if any


TASKS = {"simcse": Task(max_length=32, lr=3e-5, texts_per_row=2, data=WORDNET),
         "triplets": Task(max_length=256, lr=2e-5, texts_per_row=3, data=SENTEVAL, target=1.4)}


class StepLog(list):
    """End time (``perf_counter``) of every optimizer step; ``threads``: the counts the forward passes ran with."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()

    def step_ended(self) -> None:
        self.append(time.perf_counter())

    def forward_starts(self, _module, _args) -> None:  # a forward pre-hook
        self.threads.add(torch.get_num_threads())


def read_sentences(path: str) -> list[str]:
    with open(path, encoding="utf8") as f:
        return [line.strip() for line in f if line.strip()]


def load_task_data(task: str, path: str):
    """``simcse``: the file's sentences; ``triplets``: a (premise, entailment, contradiction) ``Dataset``."""
    if task == "simcse":
        return read_sentences(path)
    from textcl.data import load_senteval_snli

    return load_senteval_snli(os.path.join(path, "SNLI"), splits=("dev", "test"))


def task_texts(data) -> list[str]:
    """Every text the task trains on (all columns of a dataset)."""
    return list(data) if isinstance(data, list) else [t for c in data.column_names for t in data[c]]


def steady_seconds_per_step(stamps: list[float], warmup: int) -> float:
    """Mean time of the steps after the first ``warmup`` ones (stamps[i] = end of step i + 1)."""
    timed = stamps[warmup - 1:] if warmup > 0 else stamps
    return (timed[-1] - timed[0]) / (len(timed) - 1)


def verdict(ratio: float, target: float) -> str:
    """``PASS`` when the speed-up reaches the target, else ``MISS``."""
    return "PASS" if ratio >= target else "MISS"


def run_textcl(path: str, data, steps: int, out: str, task: str = "simcse", threads: int | None = None,
               max_length: int | None = None) -> StepLog:
    """One textcl run of ``steps`` optimizer steps; returns their end times (and the threads seen)."""
    from textcl import DropoutView, InfoNCE, SentenceEncoder, TrainConfig, Trainer, TripletView, load_data

    spec = TASKS[task]
    model = SentenceEncoder.from_pretrained(path, max_length=max_length or spec.max_length, device="cpu")
    view, train_data = (DropoutView(), load_data(data)) if task == "simcse" else (TripletView(), data)
    config = TrainConfig(batch_size=BATCH, max_steps=steps, lr=spec.lr, dtype="float32", max_grad_norm=1.0,
                         log_steps=1, save_steps=10**9, eval_steps=10**9, output_dir=out, seed=42,
                         no_duplicates=True if task == "triplets" else None, threads=threads)
    log = StepLog()
    model.register_forward_pre_hook(log.forward_starts)
    trainer = Trainer(model, InfoNCE(temperature=TEMPERATURE), view, train_data, config,
                      callbacks=[lambda record: log.step_ended() if "loss" in record else None])
    trainer.train()
    return log


def run_sentence_transformers(path: str, data, steps: int, out: str, task: str = "simcse",
                              threads: int | None = None, max_length: int | None = None) -> StepLog:
    """One sentence-transformers run (torch's thread count, set by ``main``); returns its step end times."""
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import TrainerCallback

    spec = TASKS[task]
    log = StepLog()

    class StepTimer(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            log.step_ended()

    model = SentenceTransformer(path, device="cpu")
    model.max_seq_length = max_length or spec.max_length
    model.register_forward_pre_hook(log.forward_starts)
    if task == "simcse":
        train_data, sampler = Dataset.from_dict({"anchor": data, "positive": data}), BatchSamplers.BATCH_SAMPLER
    else:
        train_data, sampler = data, BatchSamplers.NO_DUPLICATES
    args = SentenceTransformerTrainingArguments(
        output_dir=out, per_device_train_batch_size=BATCH, max_steps=steps, learning_rate=spec.lr, warmup_steps=0,
        max_grad_norm=1.0, save_strategy="no", report_to="none", logging_steps=10**9, disable_tqdm=True,
        use_cpu=True, seed=42, dataloader_drop_last=True, batch_sampler=sampler)
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=train_data,
        loss=MultipleNegativesRankingLoss(model, scale=1 / TEMPERATURE), callbacks=[StepTimer()])
    trainer.train()
    return log


def check_same_tokens(path: str, max_length: int, texts: list[str]) -> str:
    """Tokenize ``texts`` on both sides; raise unless ids and masks are equal; describe what was checked."""
    from sentence_transformers import SentenceTransformer

    from textcl import SentenceEncoder

    st = SentenceTransformer(path, device="cpu")
    st.max_seq_length = max_length
    tc = SentenceEncoder.from_pretrained(path, max_length=max_length, device="cpu")
    lengths = {ST: st.max_seq_length, TC: tc.encoder.max_length}
    if lengths[ST] != lengths[TC]:
        raise RuntimeError(f"max lengths differ: {lengths}")
    ours, theirs = tc.tokenize(texts), st.preprocess(texts)
    for key, value in ours.items():
        if key not in theirs or not torch.equal(value, theirs[key].to(value.device)):
            raise RuntimeError(f"the two sides tokenize differently ({key}): the comparison would not be fair")
    longest = int(ours["attention_mask"].sum(1).max())
    return (f"tokenisation: identical on {len(texts)} texts (max length {lengths[TC]} on both sides, "
            f"longest {longest} tokens, padded to {ours['input_ids'].shape[1]})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=sorted(TASKS), default="simcse")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps at the start of each run")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of both sides (default: each "
                        "side's own choice)")
    parser.add_argument("--data", default=None, help="simcse: a text file, one sentence a line; triplets: "
                        "SentEval's folder (holding SNLI/) (default: ../shared/data)")
    parser.add_argument("--model", default="minilm", help="tiny (a random 2-layer BERT, a smoke run), minilm "
                        "(the offline all-MiniLM-L6-v2) or a model folder")
    parser.add_argument("--max-length", type=int, default=None, help="tokens per text on both sides (default: "
                        "the task's)")
    parser.add_argument("--results", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.steps < 2 or args.warmup < 0:
        parser.error("need --rounds >= 1, --steps >= 2 and --warmup >= 0")
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    spec = TASKS[args.task]
    max_length = args.max_length or spec.max_length
    data = load_task_data(args.task, args.data or spec.data)
    texts = task_texts(data)
    total = args.warmup + args.steps
    if total > len(data) // BATCH:  # an epoch's ragged last batch (textcl keeps it, drop_last drops it) is no step
        parser.error(f"{total} steps need {total * BATCH} rows in one epoch; the data has {len(data)}: pass fewer "
                     "--steps / --warmup")
    print(f"task {args.task}: {len(data)} rows x {spec.texts_per_row} texts, batch {BATCH}, max length "
          f"{max_length}, lr {spec.lr:g}, float32, {total} steps per run ({args.warmup} untimed), "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads in the process")
    runners = {ST: run_sentence_transformers, TC: run_textcl}
    names = list(runners)
    per_step: dict[str, list[float]] = {n: [] for n in names}
    threads: dict[str, set[int]] = {n: set() for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        model = model_path(args.model, tmp)
        probe = texts[:BATCH] + sorted(texts, key=len)[-BATCH:]  # the longest show the truncation
        print(check_same_tokens(model, max_length, probe), flush=True)
        for r in range(args.rounds):
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                log = runners[name](model, data, total, os.path.join(tmp, f"{name}-{r}"), args.task, args.threads,
                                    max_length)
                assert len(log) == total, f"{name}: {len(log)} step stamps for {total} steps"
                per_step[name].append(steady_seconds_per_step(log, args.warmup))
                threads[name] |= log.threads
            ratio = per_step[ST][-1] / per_step[TC][-1]
            print(f"round {r + 1}: " + ", ".join(f"{n} {per_step[n][-1]:.3f} s/step" for n in names)
                  + f", ratio {ratio:.2f}x", flush=True)

    rows_per_step = spec.texts_per_row * BATCH
    for name in names:
        t = statistics.median(per_step[name])
        print(f"{name:22s} median {t:.3f} s/step = {rows_per_step / t:.1f} sentences/s (rows x texts), "
              f"threads used {sorted(threads[name])}")
    ratios = [a / b for a, b in zip(per_step[ST], per_step[TC])]
    median = statistics.median(ratios)
    print(f"speed-up textcl vs sentence-transformers: median of rounds {median:.2f}x "
          f"(rounds: {', '.join(f'{x:.2f}' for x in ratios)}; best vs best "
          f"{min(per_step[ST]) / min(per_step[TC]):.2f}x)")
    if threads[ST] != threads[TC]:
        print(f"note: the sides ran with different thread counts ({ST} {sorted(threads[ST])}, "
              f"{TC} {sorted(threads[TC])}); pass --threads N to compare like with like")
    print("\n" + ratio_table({n: rows_per_step / statistics.median(per_step[n]) for n in names},
                             ST, "median sentences/s (rows x texts)", ratios={TC: median},
                             notes={n: f"threads {sorted(threads[n])}" + (
                                 "; median of per-round ratios: " + ", ".join(f"{x:.2f}" for x in ratios)
                                 if n == TC else "") for n in names}))
    if spec.target is not None:
        print(f"\n{verdict(median, spec.target)} textcl / sentence-transformers, {args.task} training: "
              f"{median:.2f}x (target >= {spec.target:.1f}x)")
    if args.results:
        from textcl.storage.atomic import atomic_write_json

        atomic_write_json(args.results, {
            "command": "python benchmarks/train.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "task": args.task, "batch": BATCH, "max_length": max_length, "steps": args.steps, "warmup": args.warmup,
            "seconds_per_step": per_step, "threads": {n: sorted(t) for n, t in threads.items()},
            "sentences_per_s": {n: rows_per_step / statistics.median(per_step[n]) for n in names},
            "speedup_median_of_rounds": median, "speedup_rounds": ratios, "target": spec.target})
        print(f"\nwrote {args.results}")


if __name__ == "__main__":
    main()
