"""LengthBuckets: rows encoded in length-sorted, trimmed buckets give the plain model's embeddings and gradients."""

import pytest
import torch

from textcl.model import SentenceEncoder
from textcl.train.length_buckets import LengthBuckets

TEXTS = ["a dog .", "a man plays the guitar and a woman plays the piano in the park .", "someone is sleeping .",
         "two people eat food on the beach in the sun .", "a cat .", "the girl swims in the water ."]


@pytest.fixture
def model(tiny_bert_dir):
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu")
    model.eval()  # dropout off: the bucketed and the plain pass must see the same network
    return model


@pytest.mark.parametrize("rows", [1, 2, 4, 100])
def test_same_embeddings_in_the_input_order(model, rows):
    features = model.tokenize(TEXTS)  # (6, seq) padded to the longest sentence
    with torch.no_grad():
        torch.testing.assert_close(LengthBuckets(model, rows)(features), model(features), rtol=1e-5, atol=1e-6)


def test_buckets_are_trimmed_to_their_longest_row(model):
    seen = []
    handle = model.register_forward_pre_hook(lambda mod, args: seen.append(tuple(args[0]["input_ids"].shape)))
    features = model.tokenize(TEXTS)
    LengthBuckets(model, 2)(features)
    handle.remove()
    lengths = sorted(features["attention_mask"].sum(1).tolist(), reverse=True)
    assert seen == [(2, lengths[0]), (2, lengths[2]), (2, lengths[4])]


def test_same_gradients(model):
    features = model.tokenize(TEXTS)
    weights = torch.randn(len(TEXTS), model.embedding_dim, generator=torch.Generator().manual_seed(0))
    grads = []
    for net in (model, LengthBuckets(model, 2)):
        model.zero_grad()
        (net(features) * weights).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    assert float((grads[0] - grads[1]).norm() / grads[0].norm()) < 1e-5


def test_rows_none_calls_the_model_unchanged(model):
    features = model.tokenize(TEXTS)
    with torch.no_grad():
        assert torch.equal(LengthBuckets(model, None)(features), model(features))
