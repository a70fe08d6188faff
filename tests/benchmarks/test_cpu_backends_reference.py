"""benchmarks/cpu_backends.py: its float32 reference really computes in float32, even on a CPU with native bf16."""

import importlib.util
import os

import pytest
import torch
from tiny_models import REPO_ROOT, SENTENCES

import textcl.dtype

pytestmark = pytest.mark.usefixtures("one_thread")


def _bench():
    path = os.path.join(REPO_ROOT, "benchmarks", "cpu_backends.py")
    spec = importlib.util.spec_from_file_location("benchmark_cpu_backends_ref", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _linear_output_dtypes(encode) -> set[torch.dtype]:
    """The dtypes every ``nn.Linear`` produced while ``encode`` ran."""
    seen: set[torch.dtype] = set()
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, args, out: seen.add(out.dtype) if isinstance(module, torch.nn.Linear) else None)
    try:
        encode(list(SENTENCES[:8]))
    finally:
        handle.remove()
    return seen


def test_the_reference_is_the_float32_contender():
    bench = _bench()
    assert bench.REFERENCE == "tc-float32"
    assert bench.TORCH_SETTINGS[bench.REFERENCE] == {"dtype": "float32"}
    assert "precision" not in bench.TORCH_SETTINGS[bench.REFERENCE]


@pytest.mark.parametrize("bf16_cpu", [False, True])
def test_the_reference_computes_in_float32_on_any_cpu(tiny_bert_dir, monkeypatch, bf16_cpu):
    """With ``cpu_has_fast_bf16`` faked True, ``dtype="auto"`` (what ``precision="float32"`` leaves the compute
    dtype at) would autocast to bf16: the reference must still run every matrix product in float32."""
    monkeypatch.setattr(textcl.dtype, "cpu_has_fast_bf16", lambda: bf16_cpu)
    bench = _bench()
    assert _linear_output_dtypes(bench._textcl_encoder(bench.REFERENCE, tiny_bert_dir)) == {torch.float32}
    # the check can fail: the default contender autocasts to bf16 on such a CPU
    default = _linear_output_dtypes(bench._textcl_encoder("tc-default", tiny_bert_dir))
    assert default == ({torch.bfloat16} if bf16_cpu else {torch.float32})


def test_kernels_are_reported(tiny_bert_dir):
    bench = _bench()
    info = bench.kernels_run(bench._textcl_encoder(bench.REFERENCE, tiny_bert_dir), list(SENTENCES[:4]))
    assert info["torch CPU capability"] == torch.backends.cpu.get_cpu_capability()
    assert {"oneDNN", "oneDNN ISA", "oneDNN primitives"} <= set(info)


def test_onnx_contenders_report_provider_and_quantisation(tiny_bert_dir):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    bench = _bench()
    kernels = bench._textcl_encoder("tc-onnx-int8", tiny_bert_dir).kernels
    assert "CPUExecutionProvider" in kernels["ORT providers"]
    assert kernels["graph"].startswith("int8 ")
    assert bench._textcl_encoder("tc-onnx", tiny_bert_dir).kernels["graph"].startswith("float32 ")
