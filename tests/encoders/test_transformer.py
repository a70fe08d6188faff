"""TransformerEncoder: each pooling against a hand computation, save -> load, errors."""

import numpy as np
import pytest
import torch

from textcl.encoders.pooling import POOLING_MODES, masked_max, masked_mean
from textcl.encoders.transformer import TransformerEncoder
from textcl.model import SentenceEncoder


def _hand_pooling(enc: TransformerEncoder, texts: list[str], mode: str) -> torch.Tensor:
    feats = enc.tokenize(texts)
    with torch.no_grad():
        out = enc.model(**feats, output_hidden_states=True)
    mask = feats["attention_mask"]
    hs = out.hidden_states
    rows = []
    for i in range(len(texts)):
        n = int(mask[i].sum())
        if mode == "cls":
            rows.append(out.pooler_output[i])
        elif mode == "cls_before_pooler":
            rows.append(hs[-1][i, 0])
        elif mode == "mean":
            rows.append(hs[-1][i, :n].mean(0))
        elif mode == "max":
            rows.append(hs[-1][i, :n].max(0).values)
        elif mode == "first_last_avg":
            rows.append(((hs[1][i, :n] + hs[-1][i, :n]) / 2).mean(0))
        elif mode == "last2_avg":
            rows.append(((hs[-2][i, :n] + hs[-1][i, :n]) / 2).mean(0))
    return torch.stack(rows)


@pytest.mark.parametrize("mode", POOLING_MODES)
def test_pooling_matches_hand_computation(tiny_bert_dir, sentences, mode):
    enc = TransformerEncoder.from_pretrained(tiny_bert_dir, pooling=mode).eval()
    texts = sentences[:5]  # different lengths: padding must not leak into the pooled vector
    with torch.no_grad():
        got = enc(enc.tokenize(texts))
    assert got.shape == (5, 32)
    torch.testing.assert_close(got, _hand_pooling(enc, texts, mode), atol=1e-5, rtol=1e-5)


def test_first_last_avg_uses_first_layer_not_embeddings(tiny_bert_dir, sentences):
    enc = TransformerEncoder.from_pretrained(tiny_bert_dir, pooling="first_last_avg").eval()
    feats = enc.tokenize(sentences[:2])
    with torch.no_grad():
        hs = enc.model(**feats, output_hidden_states=True).hidden_states
        got = enc(feats)
    simcse_bug = masked_mean((hs[0] + hs[-1]) / 2, feats["attention_mask"])
    assert not torch.allclose(got, simcse_bug, atol=1e-4)


def test_masked_helpers_ignore_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    torch.testing.assert_close(masked_mean(hidden, mask), torch.tensor([[2.0, 3.0]]))
    torch.testing.assert_close(masked_max(hidden, mask), torch.tensor([[3.0, 4.0]]))


def test_unknown_pooling_lists_modes(tiny_bert_dir):
    with pytest.raises(ValueError, match="first_last_avg"):
        TransformerEncoder.from_pretrained(tiny_bert_dir, pooling="avg")


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        TransformerEncoder.from_pretrained(str(tmp_path / "nope"))


@pytest.mark.parametrize("mode", ["mean", "cls", "last2_avg"])
def test_save_load_identical_embeddings(tiny_bert_dir, sentences, tmp_path, mode):
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling=mode, max_length=16, projection=True,
                                            device="cpu")
    before = model.encode(sentences)
    model.save(str(tmp_path / "m"))
    loaded = SentenceEncoder.from_pretrained(str(tmp_path / "m"))  # no extra arguments
    assert loaded.encoder.pooling == mode and loaded.encoder.max_length == 16
    assert loaded.projection is not None
    np.testing.assert_allclose(loaded.encode(sentences), before, atol=1e-6)


def test_max_length_truncates(tiny_bert_dir):
    enc = TransformerEncoder.from_pretrained(tiny_bert_dir, max_length=4)
    assert enc.tokenize(["a man plays the guitar on the beach ."])["input_ids"].shape[1] == 4
