"""Two ways to spend 2 CPU cores on ``textcl encode``: 2 processes x 1 thread (torchrun, gloo) vs 1 process x 2 threads.

Each configuration runs the real command line in a child process, alternating
A, B, A, B, ... so that load from other programs hits both alike, and the script
prints each run's encoding rate (rows / seconds of the chunk loop, as the
command reports it; model loading excluded) and the ratio of the medians.

    python benchmarks/encode_scaling.py --model minilm --rows 4000 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ratio_table import ratio_table  # noqa: E402
from tiny_bert import model_path  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STSB = os.path.join(os.path.dirname(ROOT), "shared", "data", "senteval", "STS", "STSBenchmark", "sts-test.csv")
WORDNET = os.path.join(os.path.dirname(ROOT), "shared", "data", "unlabeled", "wordnet_examples.txt")


def sentences() -> list[str]:
    """STS-B test sentences (fields 6 and 7), else the wordnet examples."""
    out = []
    if os.path.isfile(STSB):
        with open(STSB, encoding="utf-8") as f:
            for line in f:
                fields = line.rstrip("\n").split("\t")
                out += [s for s in fields[5:7] if s.strip()]
    elif os.path.isfile(WORDNET):
        with open(WORDNET, encoding="utf-8") as f:
            out = [line.strip() for line in f if line.strip()]
    if not out:
        raise SystemExit(f"no sentences found at {STSB} or {WORDNET}")
    return out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(config: str, model: str, corpus: str, out: str, args: argparse.Namespace) -> dict:
    encode = ["encode", "--model", model, "--input", corpus, "--output", out, "--overwrite", "--device", "cpu",
              "--chunk-size", str(args.chunk_size), "--batch-size", str(args.batch_size), "--dtype", args.dtype]
    env = dict(os.environ, TQDM_DISABLE="1")
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    if config == "2 proc x 1 thread":
        env.update(OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
        command = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
                   "--master_addr=127.0.0.1", f"--master_port={free_port()}", "-m", "textcl.cli", *encode]
    else:
        env.update(OMP_NUM_THREADS="2")
        command = [sys.executable, "-m", "textcl.cli", *encode]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.startswith('{"output"')]
    if not lines:
        raise SystemExit(f"{config} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    summary = json.loads(lines[-1])
    return {"rows_per_second": summary["rows_per_second"], "encode_seconds": summary["seconds"], "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="minilm", help="minilm (all-MiniLM-L6-v2, offline), tiny, or a folder")
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--dtype", default="float32", choices=("auto", "float32", "bfloat16"))
    args = parser.parse_args()

    pool = sentences()
    configs = ("2 proc x 1 thread", "1 proc x 2 threads")
    results: dict[str, list[dict]] = {c: [] for c in configs}
    with tempfile.TemporaryDirectory() as tmp:
        model = model_path(args.model, tmp)
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            f.writelines(pool[i % len(pool)] + "\n" for i in range(args.rows))
        for r in range(args.rounds):
            for config in (configs if r % 2 == 0 else configs[::-1]):
                res = run(config, model, corpus, os.path.join(tmp, "emb.npy"), args)
                results[config].append(res)
                print(f"round {r + 1} {config:>20}: {res['rows_per_second']:8.1f} rows/s "
                      f"(encode {res['encode_seconds']:.1f} s, wall with start-up {res['wall']:.1f} s)", flush=True)
    med = {c: statistics.median(r["rows_per_second"] for r in results[c]) for c in configs}
    print(f"\nmodel {args.model}, {args.rows} rows, chunk {args.chunk_size}, batch {args.batch_size}, "
          f"dtype {args.dtype}, {os.cpu_count()} CPUs visible; load average at the end: {os.getloadavg()[0]:.1f}")
    for c in configs:
        print(f"  {c:>20}: median {med[c]:8.1f} rows/s")
    print(f"  ratio (2 proc x 1 thread) / (1 proc x 2 threads): {med[configs[0]] / med[configs[1]]:.2f}")
    print("\n" + ratio_table({c: med[c] for c in configs[::-1]}, configs[1], "median rows/s"))


if __name__ == "__main__":
    main()
