"""The ``onnx`` and ``onnx-int8`` backends: a fused ONNX graph run by ONNX Runtime."""

from __future__ import annotations

import importlib.util
import os
import tempfile
from typing import Any

import numpy as np
import torch

from textcl.backends.base import PreparedBackend, transformer_of
from textcl.backends.onnx_export import export_onnx, fuse_transformer
from textcl.threads import check_threads

__all__ = ["OnnxRuntimeBackend", "missing_requirements", "quantize_int8"]

_REQUIREMENTS = ("onnxruntime", "onnx")


def missing_requirements() -> str | None:
    """None when ONNX Runtime and onnx import here, else what is missing and how to add it."""
    missing = [name for name in _REQUIREMENTS if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return (f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed; "
            f"install with `pip install {' '.join(missing)}`")


def quantize_int8(src: str, dst: str, per_channel: bool = True) -> None:
    """Dynamically quantise every MatMul / fused Attention of ``src`` to int8.

    Weights are quantised once (signed int8, one scale per output channel when
    ``per_channel``); activations are quantised per batch at run time (uint8,
    scale from the batch's range), so no calibration data is needed.

    Args:
        src: a float32 ONNX graph (fused or not).
        dst: where to write the quantised graph.
        per_channel: one weight scale per output channel rather than per matrix.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # the fused graph holds com.microsoft operators that ONNX's shape inference cannot type:
    # their outputs are float32
    quantize_dynamic(src, dst, per_channel=per_channel, reduce_range=False, weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


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

    Attributes:
        fused_operators: fused operator counts, e.g. ``{"Attention": 6, ...}``.
        input_names: the graph's inputs.
    """

    def __init__(self, model: Any, quantize: bool = False, threads: int | None = None,
                 spinning: bool = False, per_channel: bool = True, fuse: bool = True) -> None:
        encoder = transformer_of(model)
        self.name = "onnx-int8" if quantize else "onnx"
        self.fused_operators: dict[str, int] = {}
        with tempfile.TemporaryDirectory(prefix="textcl-onnx-") as tmp:
            path = os.path.join(tmp, "model.onnx")
            self.input_names = export_onnx(model, path)
            if fuse:
                fused = os.path.join(tmp, "fused.onnx")
                self.fused_operators = fuse_transformer(path, fused, encoder.model.config)
                path = fused
            if quantize:
                quantized = os.path.join(tmp, "int8.onnx")
                quantize_int8(path, quantized, per_channel=per_channel)
                path = quantized
            with open(path, "rb") as f:
                graph = f.read()
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
