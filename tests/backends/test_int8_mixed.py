"""The ``onnx-int8-mixed`` backend: roles found from the graph, chosen products kept float32, saved with the model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from tiny_models import SENTENCES

from textcl.backends import BACKENDS, prepare, validate_backend
from textcl.backends.onnx_export import MATMUL_ROLES, matmul_roles
from textcl.backends.onnx_runtime import MIXED_FLOAT32_ROLES, float32_nodes
from textcl.encoders.transformer import TransformerEncoder
from textcl.model import SentenceEncoder

LAYERS = 2  # tiny_bert_dir's depth


@pytest.fixture(scope="module")
def model(tiny_bert_dir) -> SentenceEncoder:
    return SentenceEncoder(TransformerEncoder.from_pretrained(tiny_bert_dir, pooling="mean")).cpu().eval()


@pytest.fixture(scope="module")
def fused_graph(model, tmp_path_factory) -> str:
    """The fused float32 graph of the ``onnx`` backend, as a file."""
    path = str(tmp_path_factory.mktemp("graph") / "fused.onnx")
    with open(path, "wb") as f:
        f.write(prepare(model, "onnx")._graph)
    return path


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_name_is_a_backend_and_validated():
    assert "onnx-int8-mixed" in BACKENDS and validate_backend("onnx-int8-mixed") == "onnx-int8-mixed"
    with pytest.raises(ValueError, match="unknown backend 'onnx-int8-mix'"):
        validate_backend("onnx-int8-mix")


def test_every_layer_has_one_product_of_each_role(fused_graph):
    roles = matmul_roles(fused_graph)
    counts = {role: list(roles.values()).count(role) for role in MATMUL_ROLES}
    assert counts == {**dict.fromkeys(MATMUL_ROLES, LAYERS), "embedding": 1}
    # QKV is a fused Attention node, the embedding its fused lookup; the others are plain MatMuls
    graph = onnx.load(fused_graph)
    kinds = {node.name: node.op_type for node in graph.graph.node}
    want = {"attention_qkv": "Attention", "embedding": "EmbedLayerNormalization"}
    assert all(kinds[name] == want.get(role, "MatMul") for name, role in roles.items())


def _count(roles: tuple[str, ...]) -> int:
    """How many nodes of the tiny graph have these roles: one embedding, one of the others per layer."""
    return sum(1 if role == "embedding" else LAYERS for role in roles)


@pytest.mark.parametrize("roles", [(), ("ffn_output",), ("attention_qkv", "ffn_input"), ("embedding",),
                                   MIXED_FLOAT32_ROLES, MATMUL_ROLES])
def test_float32_nodes_are_exactly_the_chosen_roles(fused_graph, roles):
    got = float32_nodes(fused_graph, roles)
    assert len(got) == _count(roles)
    assert {matmul_roles(fused_graph)[name] for name in got} == set(roles)


def test_an_unknown_role_is_refused(fused_graph):
    with pytest.raises(ValueError, match="unknown matrix-product role .ffn.: choose from embedding, attention_qkv"):
        float32_nodes(fused_graph, ("ffn",))


def test_mixed_backend_keeps_its_float32_nodes_and_quantises_the_rest(model):
    backend = prepare(model, "onnx-int8-mixed")
    assert backend.name == "onnx-int8-mixed"
    graph = onnx.load_from_string(backend._graph)
    kinds = {node.name: node.op_type for node in graph.graph.node}
    assert len(backend.float32_nodes) == _count(MIXED_FLOAT32_ROLES)
    float_kinds = ("MatMul", "Attention", "EmbedLayerNormalization")
    assert all(kinds[name] in float_kinds for name in backend.float32_nodes)
    kept = [name for name, kind in kinds.items() if kind in float_kinds]
    assert sorted(kept) == sorted(backend.float32_nodes)  # every other operator is int8
    quantised = ("MatMulInteger", "QAttention", "QEmbedLayerNormalization")
    assert sum(kind in quantised for kind in kinds.values()) == _count(MATMUL_ROLES) - _count(MIXED_FLOAT32_ROLES)
    assert prepare(model, "onnx-int8").float32_nodes == []


def test_mixed_vectors_are_close_to_float32_torch(model):
    features = model.encoder.tokenize(list(SENTENCES))
    with torch.no_grad():
        want = model(features).numpy()
    got = prepare(model, "onnx-int8-mixed")(features).numpy()
    assert got.shape == want.shape and got.dtype == np.float32
    assert _cosines(got, want).min() > 0.98
    # keeping every product in float32 is the float32 graph
    exact = prepare(model, "onnx-int8-mixed", float32_roles=MATMUL_ROLES)(features).numpy()
    np.testing.assert_allclose(exact, want, atol=1e-4)


def test_mixed_backend_is_saved_and_reloaded_with_the_model(tiny_bert_dir, tmp_path):
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu", backend="onnx-int8-mixed")
    want = model.encode(list(SENTENCES), dtype="float32")
    model.save(str(tmp_path / "m"))
    back = SentenceEncoder.from_pretrained(str(tmp_path / "m"), device="cpu")
    assert back.default_backend == "onnx-int8-mixed"
    np.testing.assert_allclose(back.encode(list(SENTENCES), dtype="float32"), want, atol=1e-5)
    float32 = back.encode(list(SENTENCES), dtype="float32", backend="torch")
    assert _cosines(want, float32).min() > 0.98
