"""GradCache at scale: an effective batch of 1024 built from chunks of 32 has the full-batch gradient."""

import random

import pytest
import torch

from textcl.data import load_data
from textcl.losses import InfoNCE
from textcl.model import SentenceEncoder
from textcl.train.config import TrainConfig
from textcl.train.gradcache import gradcache_backward
from textcl.train.trainer import Trainer
from textcl.views import PairView
from tiny_models import WORDS

BATCH, CHUNK = 1024, 32


def _random_sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words = [w for w in WORDS if w.isalpha()]
    return [" ".join(rng.choices(words, k=rng.randint(3, 12))) for _ in range(n)]


def _grads(model):
    return [p.grad.detach().clone() for p in model.parameters() if p.grad is not None]


def _rel_err(a, b):
    assert len(a) == len(b) > 0
    num = sum(((x - y) ** 2).sum() for x, y in zip(a, b)) ** 0.5
    return float(num / sum((y ** 2).sum() for y in b) ** 0.5)


@pytest.fixture
def model(tiny_bert_dir):
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu")
    model.eval()  # dropout off: the full-batch pass and the chunked replay must see the same network
    return model


def test_batch_1024_from_chunks_of_32_has_the_full_batch_gradient(model):
    anchors, positives = _random_sentences(BATCH, seed=0), _random_sentences(BATCH, seed=1)
    features = model.tokenize(anchors + positives)  # (2 * 1024, seq)
    infonce = InfoNCE(temperature=0.05)

    def loss_fn(reps):  # (2 * 1024, dim) -> scalar; 2047 negatives per anchor
        return infonce(*reps.split(BATCH))

    full_loss = loss_fn(model(features))
    full_loss.backward()
    full = _grads(model)
    model.zero_grad()
    cached_loss = gradcache_backward(model, features, CHUNK, loss_fn)  # 64 chunks of 32 rows
    torch.testing.assert_close(cached_loss, full_loss.detach(), rtol=1e-6, atol=1e-6)
    assert _rel_err(_grads(model), full) < 1e-5
    assert sum(float(g.norm()) for g in full) > 1e-3  # a real gradient, not zeros compared with zeros


def test_trainer_step_with_gradcache_chunk_matches_the_plain_step(model, tmp_path):
    rows = list(zip(_random_sentences(BATCH, seed=2), _random_sentences(BATCH, seed=3)))
    data = load_data(rows)
    grads = {}
    for chunk in (0, CHUNK):
        config = TrainConfig(batch_size=BATCH, gradcache_chunk=chunk, dtype="float32",
                             output_dir=str(tmp_path / f"chunk{chunk}"))
        trainer = Trainer(model, InfoNCE(temperature=0.05), PairView(), data, config)
        (batch,) = trainer._batches(0)
        run = trainer._start(None)  # the trainer's own network: length buckets on a CPU
        model.zero_grad()
        # each GradCache chunk is trimmed to its longest row
        trainer._forward_backward(run, trainer._view_batch(batch), sync=True)
        grads[chunk] = _grads(model)
    assert _rel_err(grads[CHUNK], grads[0]) < 1e-5
