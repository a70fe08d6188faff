"""The ``onnx`` and ``onnx-int8`` backends: a fused ONNX graph run by ONNX Runtime.

``onnx-int8`` quantises every weight-bearing operator dynamically (int8
weights per output channel, uint8 activations with one scale per tensor per
batch). ``onnx-int8-mixed`` keeps the operators of the roles in
:data:`MIXED_FLOAT32_ROLES` in float32. The roles are read from the fused
graph's structure (:func:`textcl.backends.onnx_export.matmul_roles`), never
from node names, so the rule holds for any BERT-like encoder. The rule,
"the FFN input products (fed by the attention's LayerNorm) stay float32",
comes from ``benchmarks/int8_frontier.py`` on all-MiniLM-L6-v2: of the five
roles, keeping that one in float32 raised the smallest cosine to float32 over
STS-B test the most (0.957 -> 0.978) and kept STS-B Spearman within 0.1 of
float32's. It does not reach min cosine 0.995: per-tensor activation scales
lose the most there, whichever products stay float32.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from typing import Any

import numpy as np
import torch

from textcl.backends.base import PreparedBackend, transformer_of
from textcl.backends.onnx_export import MATMUL_ROLES, export_onnx, fuse_transformer, matmul_roles
from textcl.threads import check_threads

__all__ = ["MIXED_FLOAT32_ROLES", "OnnxRuntimeBackend", "float32_nodes", "missing_requirements",
           "quantize_int8", "quantize_per_token"]

_REQUIREMENTS = ("onnxruntime", "onnx")
#: the matrix products ``onnx-int8-mixed`` keeps in float32 (see the module docstring)
MIXED_FLOAT32_ROLES: tuple[str, ...] = ("ffn_input",)


def missing_requirements() -> str | None:
    """None when ONNX Runtime and onnx import here, else what is missing and how to add it."""
    missing = [name for name in _REQUIREMENTS if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return (f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed; "
            f"install with `pip install {' '.join(missing)}`")


def quantize_int8(src: str, dst: str, per_channel: bool = True, reduce_range: bool = False,
                  exclude: tuple[str, ...] | list[str] = ()) -> None:
    """Dynamically quantise the MatMuls / fused Attentions of ``src`` to int8, all but ``exclude``.

    Weights are quantised once (signed int8, one scale per output channel when
    ``per_channel``); activations are quantised per batch at run time (uint8,
    scale from the batch's range), so no calibration data is needed.

    Args:
        src: a float32 ONNX graph (fused or not).
        dst: where to write the quantised graph.
        per_channel: one weight scale per output channel rather than per matrix.
        reduce_range: 7-bit weights, which keep the u8 x s8 products of CPUs without VNNI from
            saturating their 16-bit sums (ONNX Runtime's advice for AVX2).
        exclude: names of nodes left in float32.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # the fused graph holds com.microsoft operators that ONNX's shape inference cannot type:
    # their outputs are float32
    quantize_dynamic(src, dst, per_channel=per_channel, reduce_range=reduce_range, weight_type=QuantType.QInt8,
                     nodes_to_exclude=list(exclude), extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def quantize_per_token(src: str, dst: str, nodes: list[str], weight_bits: int = 8) -> None:
    """Rewrite the ``MatMul`` nodes ``nodes`` of ``src`` to int8 with one activation scale per token (row).

    ONNX Runtime's ``DynamicQuantizeLinear`` has one scale per tensor, which a
    few outlier channels stretch; here each row ``x`` of the input is scaled on
    its own: ``s = max|x| / 127``, ``q = round(x / s)`` as int8, then
    ``MatMulInteger(q, w)`` with symmetric int8 weights (one scale per output
    channel, ``weight_bits`` bits) and both scales multiplied back.

    Args:
        src: a float32 ONNX graph whose ``nodes`` are ``MatMul``s by a constant weight.
        dst: where to write the rewritten graph.
        nodes: names of the ``MatMul`` nodes to rewrite.
        weight_bits: 8, or 7 to keep the u8 x s8 pair sums of CPUs without VNNI from saturating.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = onnx.load(src)
    inits = {init.name: init for init in graph.graph.initializer}
    chosen = set(nodes)
    original = list(graph.graph.node)
    del graph.graph.node[:]
    top = float(2 ** (weight_bits - 1) - 1)
    for node in original:
        if node.name not in chosen:
            graph.graph.node.append(node)
            continue
        if node.op_type != "MatMul" or node.input[1] not in inits:
            raise ValueError(f"node {node.name!r} is not a MatMul by a constant weight: per-token int8 "
                             "rewrites those only")
        weight = numpy_helper.to_array(inits[node.input[1]])  # (in, out)
        w_scale = (np.maximum(np.abs(weight).max(axis=0), 1e-8) / top).astype(np.float32)  # (out,)
        p, x = node.name, node.input[0]
        graph.graph.initializer.extend([
            numpy_helper.from_array(np.round(weight / w_scale).astype(np.int8), f"{p}_wq"),
            numpy_helper.from_array(w_scale, f"{p}_wscale"),
            numpy_helper.from_array(np.array([1e-8 * 127], np.float32), f"{p}_eps"),
            numpy_helper.from_array(np.array([127.0], np.float32), f"{p}_127")])
        graph.graph.node.extend([
            helper.make_node("Abs", [x], [f"{p}_abs"]),
            helper.make_node("ReduceMax", [f"{p}_abs"], [f"{p}_amax"], axes=[-1], keepdims=1),  # (..., 1)
            helper.make_node("Max", [f"{p}_amax", f"{p}_eps"], [f"{p}_amax_eps"]),  # an all-zero row
            helper.make_node("Div", [f"{p}_amax_eps", f"{p}_127"], [f"{p}_xscale"]),
            helper.make_node("Div", [x, f"{p}_xscale"], [f"{p}_xs"]),
            helper.make_node("Round", [f"{p}_xs"], [f"{p}_xr"]),
            helper.make_node("Cast", [f"{p}_xr"], [f"{p}_xq"], to=TensorProto.INT8),
            helper.make_node("MatMulInteger", [f"{p}_xq", f"{p}_wq"], [f"{p}_y32"]),  # (..., out) int32
            helper.make_node("Cast", [f"{p}_y32"], [f"{p}_yf"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [f"{p}_yf", f"{p}_xscale"], [f"{p}_yx"]),
            helper.make_node("Mul", [f"{p}_yx", f"{p}_wscale"], list(node.output)),
        ])
    used = {name for node in graph.graph.node for name in node.input}
    kept = [init for init in graph.graph.initializer if init.name in used]  # without the float32 weights
    del graph.graph.initializer[:]
    graph.graph.initializer.extend(kept)
    onnx.save(graph, dst)


def float32_nodes(graph: str, roles: tuple[str, ...]) -> list[str]:
    """The nodes of the fused graph file ``graph`` whose role (see :func:`matmul_roles`) is one of ``roles``."""
    for role in roles:
        if role not in MATMUL_ROLES:
            raise ValueError(f"unknown matrix-product role {role!r}: choose from {', '.join(MATMUL_ROLES)}")
    return [name for name, role in matmul_roles(graph).items() if role in roles]


class OnnxRuntimeBackend(PreparedBackend):
    """A model exported to ONNX, fused, optionally int8-quantised, run by ONNX Runtime on the CPU.

    Building it exports a copy of the transformer (eager attention), its
    pooling and projection head to one graph; the model is not modified.

    Args:
        model: a :class:`textcl.SentenceEncoder` with a transformer encoder.
        quantize: dynamic int8 quantisation of the matrix products (``onnx-int8``).
        threads: intra-op threads; default ``torch.get_num_threads()`` at each call, so
            both engines use the count :class:`textcl.threads.ThreadPlan` chose (one
            session per thread count, made when first needed).
        spinning: let idle worker threads spin-wait. Faster on a quiet machine,
            far slower on one shared with other jobs (the default, off).
        per_channel: with ``quantize``, one weight scale per output channel.
        fuse: apply ONNX Runtime's transformer fusions (off only for debugging).
        float32_roles: with ``quantize``, the matrix products (roles of :data:`MATMUL_ROLES`)
            kept in float32; :data:`MIXED_FLOAT32_ROLES` makes ``onnx-int8-mixed``.
        reduce_range: with ``quantize``, 7-bit weights (see :func:`quantize_int8`).

    Attributes:
        fused_operators: fused operator counts, e.g. ``{"Attention": 6, ...}``.
        float32_nodes: with ``quantize``, the nodes left in float32.
        input_names: the graph's inputs.
    """

    def __init__(self, model: Any, quantize: bool = False, threads: int | None = None,
                 spinning: bool = False, per_channel: bool = True, fuse: bool = True,
                 float32_roles: tuple[str, ...] = (), reduce_range: bool = False) -> None:
        encoder = transformer_of(model)
        self.name = ("onnx-int8-mixed" if float32_roles else "onnx-int8") if quantize else "onnx"
        self.fused_operators: dict[str, int] = {}
        self.float32_nodes: list[str] = []
        with tempfile.TemporaryDirectory(prefix="textcl-onnx-") as tmp:
            path = os.path.join(tmp, "model.onnx")
            self.input_names = export_onnx(model, path)
            if fuse:
                fused = os.path.join(tmp, "fused.onnx")
                self.fused_operators = fuse_transformer(path, fused, encoder.model.config)
                path = fused
            if quantize:
                quantized = os.path.join(tmp, "int8.onnx")
                self.float32_nodes = float32_nodes(path, tuple(float32_roles))
                quantize_int8(path, quantized, per_channel=per_channel, reduce_range=reduce_range,
                              exclude=self.float32_nodes)
                path = quantized
            with open(path, "rb") as f:
                graph = f.read()
        self._start(graph, threads, spinning)

    @classmethod
    def from_graph(cls, graph: bytes, input_names: list[str], name: str, threads: int | None = None,
                   spinning: bool = False) -> OnnxRuntimeBackend:
        """A backend over an ONNX graph built elsewhere (serialized bytes) with the given input names."""
        backend = cls.__new__(cls)
        backend.name, backend.input_names = name, list(input_names)
        backend.fused_operators, backend.float32_nodes = {}, []
        backend._start(graph, threads, spinning)
        return backend

    def _start(self, graph: bytes, threads: int | None, spinning: bool) -> None:
        self.threads, self.spinning = check_threads(threads), spinning
        self._graph = graph
        self._sessions: dict[int, Any] = {}
        self.session  # noqa: B018 - the first session now: a broken graph fails here, not at the first call

    @property
    def session(self) -> Any:
        """The ONNX Runtime session for the current thread count (``threads``, else torch's)."""
        import onnxruntime as ort

        threads = self.threads or torch.get_num_threads()
        if threads not in self._sessions:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spinning else "0")
            self._sessions[threads] = ort.InferenceSession(self._graph, options, providers=["CPUExecutionProvider"])
        return self._sessions[threads]

    def __call__(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        missing = [k for k in self.input_names if k not in features]
        if missing:
            raise ValueError(f"features lack {missing}: pass the tokenizer's output "
                             f"(keys {self.input_names})")
        inputs = {k: np.ascontiguousarray(features[k].detach().cpu().numpy(), dtype=np.int64)
                  for k in self.input_names}
        (emb,) = self.session.run(["embedding"], inputs)  # (batch, dim)
        return torch.from_numpy(emb).float()
