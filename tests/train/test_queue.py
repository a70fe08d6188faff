"""Momentum queue: against a plain-python reference, bit-exact resume, GradCache, validation."""

import math

import pytest
import torch
from torch import nn

from tiny_models import SENTENCES
from textcl.data import load_data
from textcl.losses import InfoNCE, TripletLoss
from textcl.model import SentenceEncoder
from textcl.train.config import TrainConfig
from textcl.train.queue import MomentumQueue
from textcl.train.trainer import Trainer
from textcl.views import PairView, TripletView, make_view


class _Toy(nn.Module):
    embedding_dim = 3

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, features):
        return self.lin(features["x"])


def _py_normalize(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def _py_loss(anchors, positives, queue, tau):
    """InfoNCE with the queue appended, loop by loop."""
    terms = []
    for i, a in enumerate(anchors):
        a = _py_normalize(a)
        cands = [_py_normalize(p) for p in positives] + queue
        logits = [sum(x * y for x, y in zip(a, c)) / tau for c in cands]
        terms.append(-(logits[i] - math.log(sum(math.exp(z) for z in logits))))
    return sum(terms) / len(terms)


def test_queue_and_loss_match_a_plain_python_reference():
    torch.manual_seed(0)
    model, size, m, tau = _Toy(), 5, 0.9, 0.1
    queue = MomentumQueue(model, size=size, momentum=m)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    ref_w = model.lin.weight.tolist()  # momentum encoder, plain python
    ref_b = model.lin.bias.tolist()
    ref_queue = []  # oldest first
    g = torch.Generator().manual_seed(1)
    for step in range(7):
        x_a, x_p = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
        ids = torch.arange(step * 3, step * 3 + 3)
        anchors, positives = model({"x": x_a}), model({"x": x_p})
        negs, _ = queue.negatives()
        loss = InfoNCE(temperature=tau)(anchors, positives, extra_negatives=negs)
        expected = _py_loss(anchors.tolist(), positives.tolist(), ref_queue, tau)
        assert loss.item() == pytest.approx(expected, abs=1e-6)
        opt.zero_grad()
        loss.backward()
        queue.enqueue(queue.keys({"x": x_p}), ids)
        for row in x_p.tolist():  # reference keys: the momentum encoder before this step's update
            ref_queue.append(_py_normalize([sum(w * x for w, x in zip(wr, row)) + b for wr, b in zip(ref_w, ref_b)]))
        ref_queue = ref_queue[-size:]
        opt.step()
        queue.update(model)
        w, b = model.lin.weight.tolist(), model.lin.bias.tolist()
        ref_w = [[m * rw + (1 - m) * x for rw, x in zip(rr, r)] for rr, r in zip(ref_w, w)]
        ref_b = [m * rb + (1 - m) * x for rb, x in zip(ref_b, b)]
    negs, nids = queue.negatives()
    assert queue.filled == size and queue.ptr == 21 % size
    oldest_first = torch.cat([negs[queue.ptr:], negs[:queue.ptr]])  # the ring buffer read from its pointer
    torch.testing.assert_close(oldest_first, torch.tensor(ref_queue), atol=1e-6, rtol=0)
    assert torch.cat([nids[queue.ptr:], nids[:queue.ptr]]).tolist() == list(range(16, 21))
    torch.testing.assert_close(queue.encoder.lin.weight, torch.tensor(ref_w), atol=1e-6, rtol=0)
    torch.testing.assert_close(queue.encoder.lin.bias, torch.tensor(ref_b), atol=1e-6, rtol=0)


def test_a_batch_larger_than_the_queue_keeps_its_newest_rows():
    queue = MomentumQueue(_Toy(), size=4, momentum=0.5)
    keys = torch.nn.functional.normalize(torch.randn(6, 3), dim=-1)
    queue.enqueue(keys, torch.arange(6))
    assert queue.filled == 4 and queue.ids.tolist() == [2, 3, 4, 5] and torch.equal(queue.embeddings, keys[2:])


@pytest.mark.parametrize("size, momentum", [(0, 0.9), (-1, 0.9), (4, 1.0), (4, -0.1), (4, float("nan"))])
def test_bad_settings_are_refused(size, momentum):
    with pytest.raises(ValueError, match="queue size|momentum"):
        MomentumQueue(_Toy(), size=size, momentum=momentum)


def test_train_config_validates_queue_settings():
    with pytest.raises(ValueError, match="queue_size"):
        TrainConfig(queue_size=-2)
    with pytest.raises(ValueError, match="momentum"):
        TrainConfig(momentum=1.0)


# ---------------------------------------------------------------- in the trainer

def _model(tiny_bert_dir, dropout=True):
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu")
    if not dropout:  # chunked and one-pass forwards draw different dropout masks
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.p = 0.0
    return model


def _run(tiny_bert_dir, out, view_spec, data, loss, resume=None, callbacks=(), dropout=True, **cfg):
    model = _model(tiny_bert_dir, dropout)
    config = TrainConfig(**{**dict(batch_size=8, lr=1e-3, max_steps=4, save_steps=2, log_steps=1, seed=3,
                                   queue_size=12, momentum=0.9, output_dir=str(out)), **cfg})
    trainer = Trainer(model, loss, make_view(view_spec, seed=config.seed), data, config, callbacks=callbacks)
    trainer.train(resume_from=resume)
    return model, trainer


def _crash_at_step_3(record):
    if record.get("step") == 3:
        raise KeyboardInterrupt  # killed after the step-2 checkpoint


@pytest.mark.parametrize("view_spec, rows, loss, extra", [
    ("dropout+word_repetition+feature_cutoff", [(s,) for s in SENTENCES], InfoNCE(), {}),
    ("pair+token_cutoff=0.2@both", [(s, SENTENCES[(i + 3) % 16]) for i, s in enumerate(SENTENCES)] * 2,
     InfoNCE(mask_duplicates=True), {"gradcache_chunk": 5}),
])
def test_resume_with_queue_is_bit_exact(tiny_bert_dir, tmp_path, view_spec, rows, loss, extra):
    data = load_data(rows)
    full, full_trainer = _run(tiny_bert_dir, tmp_path / "a", view_spec, data, loss, **extra)
    with pytest.raises(KeyboardInterrupt):
        _run(tiny_bert_dir, tmp_path / "b", view_spec, data, loss, callbacks=[_crash_at_step_3], **extra)
    resumed, res_trainer = _run(tiny_bert_dir, tmp_path / "b", view_spec, data, loss,
                                resume=str(tmp_path / "b" / "checkpoint"), **extra)
    assert full_trainer.queue.filled == 12
    for (name, p_full), p_res in zip(full.named_parameters(), resumed.parameters()):
        assert torch.equal(p_full, p_res), name
    a, b = full_trainer.queue.state_dict(), res_trainer.queue.state_dict()
    assert a["ptr"] == b["ptr"] and torch.equal(a["embeddings"], b["embeddings"]) and torch.equal(a["ids"], b["ids"])
    assert all(torch.equal(a["encoder"][k], b["encoder"][k]) for k in a["encoder"])
    assert full_trainer.view.state_dict()["augmentations"][0]["generator"].equal(
        res_trainer.view.state_dict()["augmentations"][0]["generator"])


def test_gradcache_with_queue_matches_one_pass(tiny_bert_dir, tmp_path):
    data = load_data([(s, SENTENCES[(i + 5) % 16]) for i, s in enumerate(SENTENCES)])
    plain, _ = _run(tiny_bert_dir, tmp_path / "p", "pair", data, InfoNCE(), max_steps=3, dropout=False)
    cached, _ = _run(tiny_bert_dir, tmp_path / "c", "pair", data, InfoNCE(), max_steps=3, dropout=False,
                     gradcache_chunk=3)
    for p, c in zip(plain.parameters(), cached.parameters()):
        torch.testing.assert_close(p, c, atol=2e-5, rtol=1e-4)


def test_resume_refuses_a_changed_queue_setting(tiny_bert_dir, tmp_path):
    data = load_data([(s, SENTENCES[(i + 3) % 16]) for i, s in enumerate(SENTENCES)])
    _run(tiny_bert_dir, tmp_path / "a", "pair", data, InfoNCE(), max_steps=2)
    with pytest.raises(ValueError, match="momentum queue"):
        _run(tiny_bert_dir, tmp_path / "b", "pair", data, InfoNCE(), max_steps=3, queue_size=0,
             resume=str(tmp_path / "a" / "checkpoint"))


def test_queue_needs_infonce(tiny_bert_dir, tmp_path):
    rows = load_data([(s, s, SENTENCES[-1 - i]) for i, s in enumerate(SENTENCES)])
    with pytest.raises(ValueError, match="use InfoNCE or set queue_size=0"):
        Trainer(_model(tiny_bert_dir), TripletLoss(), TripletView(), rows,
                TrainConfig(queue_size=8, output_dir=str(tmp_path)))
