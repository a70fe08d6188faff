"""Peak memory of ``textcl encode`` on 10k vs 100k sentences: it must stay flat.

``textcl encode --model M --input FILE --output emb.npy`` streams the file in
chunks into a memory-mapped ``.npy``. This script writes input files of each
size (the lines of wordnet_examples.txt, repeated), runs the command in a fresh
process per size and reports:

* peak RSS (``ru_maxrss`` of that child, from ``os.wait4``): everything resident,
  including the pages of the output ``.npy`` the process has written (file-backed
  page cache, which the kernel can drop at any time);
* peak anonymous RSS (``RssAnon`` sampled every 20 ms from ``/proc/PID/status``):
  the process's own heap, which is what "flat" is about.

With glibc's default, adaptive mmap threshold, large freed blocks stay in the
heap and the anonymous RSS creeps up by chunk (allocator retention, not live
data); ``--fixed-mmap-threshold`` runs the child with
``MALLOC_MMAP_THRESHOLD_=131072`` to tell the two apart.

Usage:
    python benchmarks/encode_memory.py [--model tiny|minilm|PATH] [--sizes 10000 100000]
                                          [--fixed-mmap-threshold]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ratio_table import ratio_table  # noqa: E402
from tiny_bert import model_path  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORDNET = os.path.join(ROOT, "..", "shared", "data", "unlabeled", "wordnet_examples.txt")


def write_input(path: str, source: str, n: int) -> None:
    with open(source, encoding="utf8") as f:
        lines = [line.strip() for line in f if line.strip()]
    with open(path, "w", encoding="utf8") as f:
        for i in range(n):
            f.write(lines[i % len(lines)] + "\n")


def run_encode(model: str, input_path: str, output: str, log: str, env: dict[str, str]) -> dict:
    """Run ``textcl encode`` in a child process; return its peak RSS, peak anonymous RSS and time."""
    command = [sys.executable, "-m", "textcl.cli", "encode", "--model", model, "--input", input_path,
               "--output", output, "--device", "cpu"]
    start = time.perf_counter()
    with open(log, "w") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    peak_anon, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                with open(f"/proc/{child.pid}/status") as f:
                    for line in f:
                        if line.startswith("RssAnon:"):
                            peak_anon[0] = max(peak_anon[0], int(line.split()[1]))
            except (OSError, ValueError):
                pass
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage: ru_maxrss is its peak RSS (KiB)
    child.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    sampler.join()
    with open(log) as f:
        printed = f.read()
    if child.returncode != 0:
        raise SystemExit(f"textcl encode failed:\n{printed[-3000:]}")
    return {"seconds": time.perf_counter() - start, "peak_anon_mib": peak_anon[0] / 1024,
            "peak_rss_mib": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="tiny (random test BERT), minilm, or a model folder")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--data", default=WORDNET)
    parser.add_argument("--fixed-mmap-threshold", action="store_true",
                        help="run the child with MALLOC_MMAP_THRESHOLD_=131072 (see above)")
    args = parser.parse_args()
    env = dict(os.environ, TQDM_DISABLE="1")
    if args.fixed_mmap_threshold:
        env["MALLOC_MMAP_THRESHOLD_"] = "131072"

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = model_path(args.model, tmp)
        for n in args.sizes:
            input_path, output = os.path.join(tmp, f"in{n}.txt"), os.path.join(tmp, f"emb{n}.npy")
            write_input(input_path, args.data, n)
            r = run_encode(model, input_path, output, os.path.join(tmp, f"log{n}.txt"), env)
            emb = np.load(output, mmap_mode="r")
            assert emb.shape[0] == n and np.isfinite(emb[-100:]).all(), emb.shape
            results[n] = r
            print(f"{n:>7d} sentences: {r['seconds']:7.1f} s, {n / r['seconds']:7.0f} sent/s, peak RSS "
                  f"{r['peak_rss_mib']:.0f} MiB, peak anonymous RSS {r['peak_anon_mib']:.0f} MiB, "
                  f"output {emb.shape} ({emb.nbytes / 2**20:.0f} MiB on disk)", flush=True)
            del emb
            os.remove(output)
    small, large = min(results), max(results)
    threshold = ", MALLOC_MMAP_THRESHOLD_=131072" if args.fixed_mmap_threshold else ""
    print(f"\nmodel {args.model}{threshold}: {large // 1000}k / {small // 1000}k sentences: peak anonymous RSS "
          f"{results[large]['peak_anon_mib'] / results[small]['peak_anon_mib']:.2f}x, peak RSS "
          f"{results[large]['peak_rss_mib'] / results[small]['peak_rss_mib']:.2f}x")
    for key, what in (("peak_rss_mib", "peak RSS, MiB"), ("peak_anon_mib", "peak anonymous RSS, MiB")):
        print("\n" + ratio_table({f"{n:,} sentences": results[n][key] for n in sorted(results)},
                                 f"{small:,} sentences", what, fmt=",.0f"))


if __name__ == "__main__":
    main()
