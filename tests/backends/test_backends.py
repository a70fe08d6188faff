"""textcl.backends: embeddings match float32, pooling matches, the model is untouched, clear errors."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from textcl.backends import (BACKENDS, BackendUnavailableError, available_backends, cached_backend, prepare,
                             validate_backend)
from textcl.encoders.transformer import TransformerEncoder
from textcl.model import SentenceEncoder
from textcl.projection import ProjectionHead
from tiny_models import SENTENCES, make_tiny_bert

HAS_ORT = all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))
needs_ort = pytest.mark.skipif(not HAS_ORT, reason="onnxruntime / onnx not installed")

# float32 ONNX Runtime differs from PyTorch by summation order only; int8 on a random
# 32-wide model keeps every vector within a few degrees of the float32 one.
COSINE_FLOOR = {"onnx": 0.99999, "onnx-int8": 0.98}


@pytest.fixture(scope="module")
def bert_path(tmp_path_factory) -> str:
    return make_tiny_bert(str(tmp_path_factory.mktemp("tiny_bert")))


def _model(path: str, pooling: str = "mean", projection: bool = False) -> SentenceEncoder:
    torch.manual_seed(0)
    model = SentenceEncoder(TransformerEncoder.from_pretrained(path, pooling=pooling),
                            ProjectionHead(32) if projection else None)
    return model.cpu().eval()


def _embed(fn, model: SentenceEncoder, texts: list[str], batch_size: int = 5) -> torch.Tensor:
    """Embed in small batches of different lengths (padding, shapes unlike the traced one)."""
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch_size):
            out.append(fn(model.encoder.tokenize(texts[i:i + batch_size])).float())
    return torch.cat(out)  # (n, dim)


def _min_cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=-1).min())


def test_names_are_validated():
    assert validate_backend("onnx") == "onnx"
    with pytest.raises(ValueError, match="unknown backend 'tensorrt': choose one of torch, onnx, onnx-int8"):
        validate_backend("tensorrt")


def test_available_backends_lists_torch_and_ort_when_installed():
    names = available_backends()
    assert names[0] == "torch" and set(names) <= set(BACKENDS)
    assert ("onnx" in names) == HAS_ORT and ("onnx-int8" in names) == HAS_ORT


def test_torch_backend_is_the_float32_forward(bert_path):
    model = _model(bert_path)
    expected = _embed(model, model, SENTENCES)
    got = _embed(prepare(model, "torch"), model, SENTENCES)
    assert torch.equal(got, expected)


@needs_ort
@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_onnx_backends_match_float32(bert_path, backend):
    model = _model(bert_path)
    expected = _embed(model, model, SENTENCES)
    prepared = prepare(model, backend)
    got = _embed(prepared, model, SENTENCES)
    assert got.dtype == torch.float32 and got.shape == expected.shape == (len(SENTENCES), 32)
    assert _min_cosine(got, expected) > COSINE_FLOOR[backend]
    if backend == "onnx":
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
        assert prepared.fused_operators.get("Attention") == 2  # both layers fused
    else:  # int8 really is quantised, not the float graph
        assert not torch.allclose(got, expected, atol=1e-4)


@needs_ort
@pytest.mark.parametrize("pooling", ["cls", "cls_before_pooler", "mean", "max", "first_last_avg", "last2_avg"])
def test_onnx_pooling_matches_the_model(bert_path, pooling):
    model = _model(bert_path, pooling=pooling)
    expected = _embed(model, model, SENTENCES)
    got = _embed(prepare(model, "onnx"), model, SENTENCES)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@needs_ort
def test_onnx_keeps_the_projection_head_and_its_eval_behaviour(bert_path):
    model = _model(bert_path, projection=True)
    expected = _embed(model, model, SENTENCES)
    torch.testing.assert_close(_embed(prepare(model, "onnx"), model, SENTENCES), expected, atol=1e-4, rtol=1e-4)
    model.projection.mlp_only_train = True  # SimCSE unsup: no head at inference
    torch.testing.assert_close(_embed(prepare(model, "onnx"), model, SENTENCES),
                               _embed(model, model, SENTENCES), atol=1e-4, rtol=1e-4)


@needs_ort
def test_onnx_runs_a_batch_without_padding_and_a_single_sentence(bert_path):
    model = _model(bert_path)
    prepared = prepare(model, "onnx")
    for texts in (["a man plays the guitar .", "a dog runs in the park ."], ["a cat ."]):
        features = model.encoder.tokenize(texts)
        with torch.no_grad():
            torch.testing.assert_close(prepared(features), model(features), atol=1e-4, rtol=1e-4)


@needs_ort
@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_preparing_leaves_the_float32_model_unchanged(bert_path, backend):
    model = _model(bert_path, projection=True)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    attn = model.encoder.model.config._attn_implementation
    prepare(model, backend)
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) and after[k].dtype == before[k].dtype for k in before)
    assert model.training and model.encoder.model.config._attn_implementation == attn
    assert not any(isinstance(m, torch.nn.Module) and "quant" in type(m).__name__.lower() for m in model.modules())


@needs_ort
def test_cached_backend_is_reused_until_the_weights_change(bert_path):
    model = _model(bert_path)
    first = cached_backend(model, "onnx")
    assert cached_backend(model, "onnx") is first
    assert "_textcl_backends" not in dict(model.named_modules())  # not a submodule, never saved
    assert all("_textcl_backends" not in k for k in model.state_dict())
    with torch.no_grad():  # an optimiser step updates in place
        model.encoder.model.pooler.dense.bias.add_(1.0)
    second = cached_backend(model, "onnx")
    assert second is not first
    features = model.encoder.tokenize(SENTENCES[:3])
    with torch.no_grad():
        torch.testing.assert_close(second(features), model(features), atol=1e-4, rtol=1e-4)


def test_missing_onnxruntime_gives_a_clear_error(bert_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    assert available_backends() == ["torch"]
    with pytest.raises(BackendUnavailableError,
                       match=r"backend 'onnx-int8' is unavailable: onnxruntime is not installed; "
                             r"install with `pip install onnxruntime`"):
        prepare(_model(bert_path), "onnx-int8")


@needs_ort
def test_onnx_refuses_a_non_transformer_encoder():
    model = SimpleNamespace(encoder=SimpleNamespace(kind="rnn"), projection=None)
    with pytest.raises(ValueError, match="transformer encoders only.*'rnn'.*backend='torch'"):
        prepare(model, "onnx")
