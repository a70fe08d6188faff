"""Encode speed: the CNN encoder against the quickstart BiLSTM (issue 11 target: CNN >= 3x).

Both encoders sit over the same GloVe 6B 50-d vectors (vocabulary: the 50,000
most frequent words plus those of the sentences) and embed the 2,758
sentences of STS-B test with ``SentenceEncoder.encode`` on the CPU, float32,
in the same batches (compute dtype float32):

- BiLSTM: the quickstart settings, hidden 256 per direction, max pooling,
  max_length 64 (512-d output);
- CNN: each ``--cnn WIDTHSxFILTERS`` given (default: Kim's ``3,4,5x100``, 300-d, and the
  recipe's dev-chosen ``1,2,3x300``, 900-d), max pooling, max_length 64.

Weights are random: speed does not depend on training. The two run in ONE
process, alternating (the order flips every round), and the script prints the
median sentences/s of each and their RATIO: on a shared machine absolute times
drift between minutes, a ratio of neighbouring runs much less.

Usage:
    python benchmarks/cnn_vs_bilstm_encode.py [--rounds 5] [--batch-size 64] [--threads N] \
        [--cnn 3,4,5x100 --cnn 1,2,3x300 ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

from textcl import CNNEncoder, RNNEncoder, SentenceEncoder

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ratio_table import ratio_table  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CANDIDATES = (
    os.path.join(ROOT, "..", "shared", "data", "senteval", "STS", "STSBenchmark", "sts-test.csv"),
    os.path.join(ROOT, "textcl", "data", "bundled", "senteval", "STS", "STSBenchmark", "sts-test.csv"),
)


def stsb_sentences(path: str | None) -> list[str]:
    """The 2 x 1,379 sentences of STS-B test (TAB-separated; fields 6 and 7 are the pair)."""
    paths = [path] if path else [p for p in CANDIDATES if os.path.isfile(p)]
    if not paths:
        raise SystemExit(f"STS-B test not found; pass --stsb (looked in {', '.join(CANDIDATES)})")
    with open(paths[0], encoding="utf8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    return [r[5] for r in rows] + [r[6] for r in rows]


def sentences_per_second(model: SentenceEncoder, texts: list[str], batch_size: int) -> float:
    start = time.perf_counter()
    model.encode(texts, batch_size=batch_size, dtype="float32")
    return len(texts) / (time.perf_counter() - start)


def parse_cnn(spec: str) -> tuple[tuple[int, ...], int]:
    """``"1,2,3x300"`` -> ``((1, 2, 3), 300)``."""
    try:
        widths, filters = spec.split("x")
        return tuple(int(w) for w in widths.split(",")), int(filters)
    except ValueError:
        raise SystemExit(f"--cnn {spec!r}: write widths and filters as WIDTHSxFILTERS, e.g. 3,4,5x100") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stsb", default=None, help="path of sts-test.csv (default: shared or bundled copy)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--cnn", action="append", default=None, help="CNN widths and filters, e.g. 1,2,3x300")
    args = parser.parse_args()
    cnns = [parse_cnn(c) for c in (args.cnn or ["3,4,5x100", "1,2,3x300"])]
    if args.threads:
        torch.set_num_threads(args.threads)

    texts = stsb_sentences(args.stsb)
    torch.manual_seed(0)
    models = {
        "bilstm": SentenceEncoder(RNNEncoder.from_glove(
            corpus=texts, cell="lstm", bidirectional=True, hidden_size=256, pooling="max", max_length=64,
            freeze_embeddings=False)).to("cpu").eval(),
    }
    for widths, filters in cnns:
        models[f"cnn {','.join(map(str, widths))}x{filters}"] = SentenceEncoder(CNNEncoder.from_glove(
            corpus=texts, kernel_sizes=widths, num_filters=filters, pooling="max", max_length=64,
            freeze_embeddings=False)).to("cpu").eval()
    print(f"{len(texts)} STS-B test sentences, batch {args.batch_size}, float32, "
          f"{torch.get_num_threads()} threads, {args.rounds} rounds (+1 warm-up)")
    for model in models.values():  # warm-up: allocator, kernels, tokenizer caches
        sentences_per_second(model, texts, args.batch_size)

    speeds: dict[str, list[float]] = {name: [] for name in models}
    ratios: dict[str, list[float]] = {name: [] for name in models if name != "bilstm"}
    for r in range(args.rounds):
        order = list(models) if r % 2 == 0 else list(reversed(models))
        for name in order:
            speeds[name].append(sentences_per_second(models[name], texts, args.batch_size))
        for name in ratios:
            ratios[name].append(speeds[name][-1] / speeds["bilstm"][-1])
        print(f"round {r + 1}: " + " | ".join(f"{n} {v[-1]:6.0f}/s" for n, v in speeds.items()))
    for name, values in speeds.items():
        dim = models[name].embedding_dim
        print(f"{name:14s} ({dim}-d): median {statistics.median(values):8.0f} sentences/s")
    for name, values in ratios.items():
        print(f"{name} / BiLSTM encode speed: median ratio {statistics.median(values):.2f}x "
              f"(min {min(values):.2f}, max {max(values):.2f}); target >= 3x")
    # ratio column: the median of per-round ratios (each round's contenders ran back to back)
    print("\n" + ratio_table({n: statistics.median(v) for n, v in speeds.items()}, "bilstm", "median sentences/s",
                             fmt=",.0f", ratios={n: statistics.median(v) for n, v in ratios.items()},
                             notes={n: f"rounds {min(v):.2f}-{max(v):.2f}x" for n, v in ratios.items()}))

if __name__ == "__main__":
    main()
