"""RNNEncoder: pooling against hand computations, padding, dropout, save/load."""

import itertools
import json

import pytest
import torch

from textcl.encoders.rnn import RNNEncoder
from textcl.encoders.word_tokenizer import WordTokenizer
from textcl.encoders.word_vectors import transformer_input_embeddings

WORDS = "the cat sat on mat a dog ran fast . , is big small red blue and it".split()
VOCAB = ["<pad>", "<unk>"] + WORDS  # 20 tokens
TEXTS = ["the cat sat on the mat .", "a dog ran", "big red dog and a small blue cat , fast", "it"]
HIDDEN = 6


pytestmark = pytest.mark.usefixtures("one_thread")


def make_encoder(**kwargs):
    torch.manual_seed(0)
    matrix = torch.randn(len(VOCAB), 8)
    kwargs.setdefault("hidden_size", HIDDEN)
    return RNNEncoder(WordTokenizer(VOCAB), matrix, **kwargs)


def hand_pooling(encoder, text):
    """Run the raw nn.LSTM/GRU on one unpadded sentence and pool by hand."""
    ids = torch.tensor([encoder.tokenizer.encode(text)])  # (1, L)
    out, _ = encoder.rnn(encoder.embeddings(ids))  # (1, L, dirs * hidden)
    out = out[0]  # (L, dirs * hidden)
    if encoder.pooling == "mean":
        return out.mean(dim=0)
    if encoder.pooling == "max":
        return out.max(dim=0).values
    if encoder.bidirectional:  # forward at the last token, backward at the first
        return torch.cat([out[-1, :HIDDEN], out[0, HIDDEN:]])
    return out[-1]


@pytest.mark.parametrize(
    "cell,bidirectional,pooling,num_layers",
    list(itertools.product(["lstm", "gru"], [False, True], ["mean", "max", "last"], [1, 2])),
)
def test_shapes_and_pooling_match_hand_computation(cell, bidirectional, pooling, num_layers):
    enc = make_encoder(cell=cell, bidirectional=bidirectional, pooling=pooling, num_layers=num_layers).eval()
    assert enc.embedding_dim == HIDDEN * (2 if bidirectional else 1)
    with torch.no_grad():
        batch = enc.tokenize(TEXTS)
        assert batch["attention_mask"].sum(1).tolist() == [7, 3, 10, 1]  # really padded
        got = enc(batch)
        assert got.shape == (len(TEXTS), enc.embedding_dim)
        want = torch.stack([hand_pooling(enc, t) for t in TEXTS])
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pooling", ["mean", "max", "last"])
def test_a_sentence_alone_equals_it_in_a_padded_batch(pooling):
    enc = make_encoder(pooling=pooling).eval()
    with torch.no_grad():
        alone = enc(enc.tokenize(["a dog ran"]))
        batch = enc(enc.tokenize(["big red dog and a small blue cat , fast", "a dog ran"]))
    torch.testing.assert_close(alone[0], batch[1], rtol=1e-5, atol=1e-6)


def test_dropout_differs_in_train_mode_and_not_in_eval_mode():
    enc = make_encoder()
    batch = enc.tokenize(TEXTS)
    assert not torch.allclose(enc.train()(batch), enc(batch))
    enc.eval()
    torch.testing.assert_close(enc(batch), enc(batch), rtol=0, atol=0)


def test_frozen_embeddings_get_no_gradient_and_trainable_ones_do():
    enc = make_encoder()
    enc(enc.tokenize(TEXTS)).sum().backward()
    assert enc.embeddings.weight.grad is None
    assert all(p.grad is not None for p in enc.rnn.parameters())
    enc = make_encoder(freeze_embeddings=False)
    enc(enc.tokenize(TEXTS)).sum().backward()
    assert enc.embeddings.weight.grad.abs().sum() > 0


def test_max_length_cuts_sentences():
    enc = make_encoder(max_length=4)
    assert enc.tokenize(TEXTS)["input_ids"].shape == (4, 4)
    assert enc.token_lengths(TEXTS) == [4, 3, 4, 1]


def test_save_load_gives_identical_embeddings(tmp_path):
    enc = make_encoder(cell="gru", num_layers=2, rnn_dropout=0.2, pooling="max", bidirectional=False, max_length=5)
    enc.save(tmp_path / "enc")
    config = json.loads((tmp_path / "enc" / "encoder_config.json").read_text())
    assert config["kind"] == "rnn" and config["tokenizer"] == "word"
    again = RNNEncoder.load(tmp_path / "enc")
    assert again.get_config() == enc.get_config() and not again.training
    enc.eval()
    with torch.no_grad():
        torch.testing.assert_close(again(again.tokenize(TEXTS)), enc(enc.tokenize(TEXTS)), rtol=0, atol=0)


# --- Hugging Face tokenizer and input embeddings --------------------------------


@pytest.fixture
def tiny_bert(tmp_path):
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path / "bert"
    folder.mkdir()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizerFast.from_pretrained(str(folder)).save_pretrained(str(folder))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37
    )
    model = BertModel(config)
    model.save_pretrained(str(folder))
    return folder, model.get_input_embeddings().weight.detach()


def test_transformer_input_embeddings_returns_tokenizer_and_matrix(tiny_bert):
    folder, weight = tiny_bert
    tokenizer, matrix = transformer_input_embeddings(folder)
    assert matrix.shape == (len(WORDS) + 5, 32) and matrix.dtype == torch.float32
    torch.testing.assert_close(matrix, weight)
    assert tokenizer("the zebra", add_special_tokens=False)["input_ids"] == [5, 1]


def test_hf_tokenizer_variant_saves_and_loads_identically(tiny_bert, tmp_path):
    folder, _ = tiny_bert
    enc = RNNEncoder.from_transformer_embeddings(folder, hidden_size=HIDDEN, pooling="last").eval()
    batch = enc.tokenize(["The cat sat", "a zebra ran fast"])
    # no [CLS]/[SEP]: the RNN sees only the words
    assert batch["input_ids"].tolist() == [[5, 6, 7, 0], [10, 1, 12, 13]]
    enc.save(tmp_path / "enc")
    assert (tmp_path / "enc" / "tokenizer" / "tokenizer.json").is_file()
    again = RNNEncoder.load(tmp_path / "enc")
    assert again.get_config()["tokenizer"] == "huggingface"
    with torch.no_grad():
        torch.testing.assert_close(again(again.tokenize(TEXTS)), enc(enc.tokenize(TEXTS)), rtol=0, atol=0)


def test_from_glove_builds_a_50d_model():
    enc = RNNEncoder.from_glove(vocab_size=30, corpus=["zygote"], hidden_size=HIDDEN)
    assert enc.embeddings.weight.shape == (33, 50)  # pad, unk, 30 words, zygote
    assert enc(enc.tokenize(["The zygote"])).shape == (1, 2 * HIDDEN)


def test_from_word_vectors(tmp_path):
    path = tmp_path / "g.txt"
    path.write_text("The 1 2 3\ncat 4 5 6\n", encoding="utf-8")
    enc = RNNEncoder.from_word_vectors(path, lowercase=False, hidden_size=HIDDEN)
    assert enc.tokenize(["The cat the"])["input_ids"].tolist() == [[2, 3, 1]]


# --- clear errors -----------------------------------------------------------------


def test_bad_settings_fail_fast_naming_allowed_values():
    with pytest.raises(ValueError, match="unknown pooling 'cls'; expected one of 'mean', 'max', 'last'"):
        make_encoder(pooling="cls")
    with pytest.raises(ValueError, match="unknown cell 'rnn'; expected one of 'lstm', 'gru'"):
        make_encoder(cell="rnn")
    with pytest.raises(ValueError, match="output_dropout"):
        make_encoder(output_dropout=1.0)
    with pytest.raises(ValueError, match="num_layers > 1"):
        make_encoder(rnn_dropout=0.1)
    with pytest.raises(ValueError, match="tokenizer has 20 tokens but the embedding matrix only 5 rows"):
        RNNEncoder(WordTokenizer(VOCAB), torch.zeros(5, 8))
    with pytest.raises(TypeError, match="WordTokenizer or a Hugging Face tokenizer"):
        RNNEncoder(VOCAB, torch.zeros(20, 8))


def test_bad_texts_give_clear_errors():
    enc = make_encoder()
    with pytest.raises(ValueError, match=r"texts\[1\] is empty"):
        enc.tokenize(["the cat", ""])
    with pytest.raises(TypeError, match=r"texts\[0\] is int"):
        enc.tokenize([3])


def test_load_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        RNNEncoder.load(tmp_path / "nowhere")
    enc = make_encoder()
    enc.save(tmp_path / "enc")
    weights = tmp_path / "enc" / "model.safetensors"
    weights.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="could not read weights .*model.safetensors"):
        RNNEncoder.load(tmp_path / "enc")
    weights.unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors not found"):
        RNNEncoder.load(tmp_path / "enc")


# --- load overrides (issue 10: overrides on saved RNN folders) ----------------------


def test_load_overrides_pooling_and_max_length(tmp_path):
    from textcl.model import SentenceEncoder

    enc = make_encoder(pooling="max", max_length=64).eval()
    SentenceEncoder(enc).save(str(tmp_path / "m"))
    loaded = SentenceEncoder.from_pretrained(
        str(tmp_path / "m"), pooling="last", max_length=3, trust_remote_code=False, device="cpu"
    )
    assert loaded.encoder.pooling == "last" and loaded.encoder.max_length == 3
    want = make_encoder(pooling="last", max_length=3).eval()
    want.load_state_dict(enc.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(
            torch.from_numpy(loaded.encode(TEXTS, dtype="float32")), want(want.tokenize(TEXTS)),
            rtol=1e-5, atol=1e-6,
        )
    # without overrides the saved settings come back
    plain = RNNEncoder.load(tmp_path / "m", trust_remote_code=True, torch_dtype="float16")
    assert plain.get_config() == enc.get_config()


def test_bad_load_override_names_the_allowed_values(tmp_path):
    make_encoder().save(tmp_path / "enc")
    with pytest.raises(ValueError, match="unknown pooling for a 'rnn' encoder 'cls'; expected one of 'mean', 'max', 'last'"):
        RNNEncoder.load(tmp_path / "enc", pooling="cls")
    with pytest.raises(ValueError, match=r"max_length \(--max-length\) must be an int >= 1, got 0"):
        RNNEncoder.load(tmp_path / "enc", max_length=0)


def test_cli_encode_with_pooling_override_on_a_saved_rnn(tmp_path, capsys):
    import numpy as np

    from textcl.cli import main
    from textcl.model import SentenceEncoder

    SentenceEncoder(make_encoder(pooling="max")).save(str(tmp_path / "m"))
    src = tmp_path / "s.txt"
    src.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    out = tmp_path / "emb.npy"
    assert main(["encode", "--model", str(tmp_path / "m"), "--input", str(src), "--output", str(out),
                 "--pooling", "mean", "--max-length", "5", "--dtype", "float32", "--device", "cpu"]) == 0
    want = SentenceEncoder.from_pretrained(str(tmp_path / "m"), pooling="mean", max_length=5, device="cpu")
    np.testing.assert_allclose(np.load(out), want.encode(TEXTS, dtype="float32"), rtol=1e-5, atol=1e-6)
    assert main(["encode", "--model", str(tmp_path / "m"), "--input", str(src), "--output", str(tmp_path / "x.npy"),
                 "--pooling", "cls", "--device", "cpu"]) == 1
    assert "unknown pooling for a 'rnn' encoder 'cls'" in capsys.readouterr().err
