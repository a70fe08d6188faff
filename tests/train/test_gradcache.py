"""GradCache: chunked gradients equal the full-batch gradient; dropout masks are replayed."""

import torch

from textcl.losses import InfoNCE
from textcl.model import SentenceEncoder
from textcl.train.gradcache import gradcache_backward


def _grads(model):
    return [p.grad.detach().clone() for p in model.parameters() if p.grad is not None]


def _rel_err(a, b):
    num = sum(((x - y) ** 2).sum() for x, y in zip(a, b)) ** 0.5
    return float(num / sum((y ** 2).sum() for y in b) ** 0.5)


def _setup(tiny_bert_dir, sentences):
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu")
    texts = (sentences * 4)[:32]
    feats = model.tokenize(texts + texts)  # dropout view: (2 * 32, seq)
    loss = InfoNCE(temperature=0.05)
    return model, feats, lambda reps: loss(*reps.split(32))


def test_matches_full_batch_gradient_without_dropout(tiny_bert_dir, sentences):
    model, feats, loss_fn = _setup(tiny_bert_dir, sentences)
    model.eval()  # no dropout: chunking must not change anything
    loss_fn(model(feats)).backward()
    full = _grads(model)
    model.zero_grad()
    gradcache_backward(model, feats, 8, loss_fn)
    assert _rel_err(_grads(model), full) < 1e-5


def test_replays_dropout_masks(tiny_bert_dir, sentences):
    model, feats, loss_fn = _setup(tiny_bert_dir, sentences)
    model.train()
    torch.manual_seed(0)
    # reference: the same chunks, same order of random draws, one graph
    parts = [model({k: v[i:i + 8] for k, v in feats.items()}) for i in range(0, 64, 8)]
    ref_loss = loss_fn(torch.cat(parts))
    ref_loss.backward()
    ref = _grads(model)
    model.zero_grad()
    torch.manual_seed(0)
    loss = gradcache_backward(model, feats, 8, loss_fn)
    torch.testing.assert_close(loss, ref_loss.detach())
    assert _rel_err(_grads(model), ref) < 1e-5
