"""RNNEncoder's stepwise training LSTM is torch's packed CPU LSTM bit for bit, and runs only in training."""

import pytest
import torch

from textcl.encoders import rnn
from textcl.encoders.rnn import RNNEncoder
from textcl.encoders.word_tokenizer import WordTokenizer

WORDS = [f"w{i}" for i in range(60)]


def _encoder(cell, bidirectional, pooling, num_layers=1):
    torch.manual_seed(0)
    return RNNEncoder(WordTokenizer(["<pad>", "<unk>", *WORDS]), torch.randn(62, 8), cell=cell, hidden_size=6,
                      bidirectional=bidirectional, pooling=pooling, num_layers=num_layers, freeze_embeddings=False)


@pytest.mark.parametrize("pooling", ["max", "mean"])
@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("lengths", [(1, 5, 3, 9), (4, 4, 4), (12, 1), (7,), (2, 2, 9, 9, 5)])
def test_training_pass_is_bitwise_torchs_packed_lstm(pooling, bidirectional, lengths, monkeypatch):
    encoder = _encoder("lstm", bidirectional, pooling).train()
    texts = [" ".join(WORDS[(5 * i + j) % 60] for j in range(n)) for i, n in enumerate(lengths)]
    features = encoder.tokenize(texts)
    runs, calls = [], []
    stepwise_lstm = rnn._stepwise_lstm
    monkeypatch.setattr(rnn, "_stepwise_lstm", lambda *a: calls.append(1) or stepwise_lstm(*a))
    for stepwise in (False, True):
        monkeypatch.setattr(RNNEncoder, "_stepwise_path", lambda self, x, on=stepwise: on)
        encoder.zero_grad()
        torch.manual_seed(7)  # the same dropout masks
        out = encoder(features)
        (out * torch.linspace(-1, 1, out.shape[1])).sum().backward()
        runs.append((out.detach(), [p.grad.clone() for p in encoder.parameters()]))
    assert len(calls) == (len(set(lengths)) > 1)  # equal lengths stay with torch (its oneDNN kernel)
    assert torch.equal(runs[0][0], runs[1][0])
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


def test_the_stepwise_lstm_runs_in_training_only():
    x = torch.zeros(2, 3, 8)
    assert _encoder("lstm", True, "max")._stepwise_path(x)
    assert _encoder("lstm", False, "mean")._stepwise_path(x)
    assert not _encoder("gru", True, "max")._stepwise_path(x)
    assert not _encoder("lstm", True, "last")._stepwise_path(x)  # reads the final states
    assert not _encoder("lstm", True, "max", num_layers=2)._stepwise_path(x)
    with torch.no_grad():  # encoding: torch's own forward, nothing to save on
        assert not _encoder("lstm", True, "max")._stepwise_path(x)
