"""benchmarks/int8_frontier.py: its fidelity figures, its graph variants and SmoothQuant's exactness before int8."""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import pytest
from tiny_models import REPO_ROOT, SENTENCES

BENCHMARKS = os.path.join(REPO_ROOT, "benchmarks")


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, BENCHMARKS)
    spec = importlib.util.spec_from_file_location("benchmark_int8_frontier", os.path.join(BENCHMARKS,
                                                                                          "int8_frontier.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def model(tiny_bert_dir):
    from textcl import SentenceEncoder, TransformerEncoder

    return SentenceEncoder(TransformerEncoder.from_pretrained(tiny_bert_dir, pooling="mean")).cpu().eval()


def test_fidelity_of_the_reference_itself_is_perfect_and_noise_lowers_it(bench):
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(8, 16)).astype(np.float32)  # 4 pairs: first sides, then second sides
    scores = np.array([0.5, 4.0, 2.0, 3.0])
    same = bench.fidelity(reference, reference, scores)
    assert same["min_cos"] == pytest.approx(1.0) and same["mean_cos"] == pytest.approx(1.0)
    noisy = bench.fidelity(reference + rng.normal(scale=0.3, size=reference.shape), reference, scores)
    assert 0 < noisy["min_cos"] <= noisy["mean_cos"] < 1
    flipped = bench.fidelity(-reference, reference, scores)
    assert flipped["min_cos"] == pytest.approx(-1.0)
    assert flipped["spearman"] == pytest.approx(same["spearman"])  # a pair's cosine is unchanged by the flip


@pytest.mark.parametrize(("min_cos", "spearman", "ok"), [(0.995, 82.0, True), (0.9949, 82.0, False),
                                                        (0.999, 81.6, False), (0.999, 82.3, True)])
def test_the_bar(bench, min_cos, spearman, ok):
    assert bench.meets_bar({"min_cos": min_cos, "spearman": spearman}, 82.0) is ok


def test_variants_on_a_tiny_model(bench, model, tmp_path):
    pytest.importorskip("onnxruntime")
    pairs = len(SENTENCES) // 2
    texts, scores = list(SENTENCES)[:2 * pairs], np.linspace(0.0, 5.0, pairs)
    want = model.encode(texts, batch_size=64, dtype="float32")
    variants = bench.OnnxVariants(model, str(tmp_path), threads=1)
    assert sorted(set(variants.roles.values())) == sorted(
        ("embedding", "attention_qkv", "attention_output", "ffn_input", "ffn_output"))
    fused = variants.encoder(variants.fused, "onnx")(texts)
    np.testing.assert_allclose(fused, want, atol=1e-4)
    # SmoothQuant only moves scale from activations into weights: exact before quantisation
    smoothed = variants.encoder(variants.smoothed(texts, 0.5), "sq")(texts)
    np.testing.assert_allclose(smoothed, want, atol=1e-4)
    everything_float = variants.quantized(exclude=list(variants.roles))
    np.testing.assert_allclose(variants.encoder(everything_float, "none")(texts), want, atol=1e-4)
    row = bench.fidelity(variants.encoder(variants.quantized(), "onnx-int8")(texts), want, scores)
    assert 0.9 < row["min_cos"] <= row["mean_cos"] < 1.0 - 1e-7 and -100 <= row["spearman"] <= 100
