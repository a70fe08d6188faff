"""CNNEncoder: convolutions against a hand computation, padding, dropout, save/load, overrides, CLI."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from textcl.encoders.cnn import CNNEncoder
from textcl.encoders.registry import encoder_class
from textcl.encoders.word_tokenizer import WordTokenizer
from textcl.losses import InfoNCE
from textcl.model import SentenceEncoder

WORDS = "the cat sat on mat a dog ran fast . , is big small red blue and it".split()
VOCAB = ["<pad>", "<unk>"] + WORDS  # 20 tokens
TEXTS = ["the cat sat on the mat .", "a dog ran", "big red dog and a small blue cat , fast", "it"]
FILTERS = 6

pytestmark = pytest.mark.usefixtures("one_thread")


def make_encoder(**kwargs):
    torch.manual_seed(0)
    matrix = torch.randn(len(VOCAB), 8)
    matrix[0] = 5.0  # a loud pad row: padding must never reach the output anyway
    kwargs.setdefault("num_filters", FILTERS)
    return CNNEncoder(WordTokenizer(VOCAB), matrix, **kwargs)


def write_vectors(path, dim=8, seed=0):
    """A tiny word2vec-style text file over VOCAB's words."""
    rng = np.random.default_rng(seed)
    lines = [w + " " + " ".join(f"{v:.4f}" for v in rng.normal(size=dim)) for w in WORDS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def hand_features(encoder, text):
    """Kim's model on one unpadded sentence, by hand: windows of k word vectors, ReLU, pooling."""
    ids = encoder.tokenizer.encode(text)
    x = encoder.embeddings.weight[ids]  # (L, word_dim)
    out = []
    for k, conv in zip(encoder.kernel_sizes, encoder.convs):
        if len(ids) < k:  # Kim: zero-pad a short sentence to the filter width
            x_k = torch.cat([x, torch.zeros(k - len(ids), x.shape[1])])
        else:
            x_k = x
        w = conv.weight  # (filters, word_dim, k)
        windows = [
            (x_k[t : t + k].T * w).sum(dim=(1, 2)) + conv.bias  # (filters,)
            for t in range(x_k.shape[0] - k + 1)
        ]
        h = F.relu(torch.stack(windows))  # (windows, filters)
        out.append(h.max(dim=0).values if encoder.pooling == "max" else h.mean(dim=0))
    return torch.cat(out)


@pytest.mark.parametrize("pooling", ["max", "mean"])
@pytest.mark.parametrize("kernel_sizes", [(3, 4, 5), (2,), (1, 6)])
def test_shapes_and_features_match_hand_computation(pooling, kernel_sizes):
    enc = make_encoder(pooling=pooling, kernel_sizes=kernel_sizes).eval()
    assert enc.embedding_dim == FILTERS * len(kernel_sizes)
    with torch.no_grad():
        batch = enc.tokenize(TEXTS)
        assert batch["attention_mask"].sum(1).tolist() == [7, 3, 10, 1]  # really padded
        got = enc(batch)
        assert got.shape == (len(TEXTS), FILTERS * len(kernel_sizes))
        want = torch.stack([hand_features(enc, t) for t in TEXTS])
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pooling", ["max", "mean"])
def test_padding_never_changes_a_sentence(pooling):
    enc = make_encoder(pooling=pooling).eval()
    long_text = " ".join(["big red dog and a small blue cat , fast"] * 4)  # 40 tokens
    with torch.no_grad():
        for text in ("a dog ran", "it", "the cat sat on the mat ."):  # 3, 1 and 7 tokens
            alone = enc(enc.tokenize([text]))
            in_batch = enc(enc.tokenize([long_text, text]))
            torch.testing.assert_close(alone[0], in_batch[1], rtol=1e-5, atol=1e-6)


def test_sentences_shorter_than_the_widest_kernel_work():
    enc = make_encoder(kernel_sizes=(3, 4, 5)).eval()
    with torch.no_grad():
        batch = enc.tokenize(["it", "a dog"])  # seq_len 2 < 5
        assert batch["input_ids"].shape == (2, 2)
        got = enc(batch)
        assert torch.isfinite(got).all() and got.shape == (2, 3 * FILTERS)
        torch.testing.assert_close(got[0], hand_features(enc, "it"), rtol=1e-5, atol=1e-6)


def test_dropout_views_differ_in_train_mode_and_agree_in_eval_mode():
    enc = make_encoder(embedding_dropout=0.1, output_dropout=0.1)
    batch = enc.tokenize(TEXTS)
    enc.train()
    assert not torch.allclose(enc(batch), enc(batch))
    enc.eval()
    torch.testing.assert_close(enc(batch), enc(batch), rtol=0, atol=0)


def test_frozen_embeddings_get_no_gradient_and_trainable_ones_do():
    enc = make_encoder()
    enc(enc.tokenize(TEXTS)).sum().backward()
    assert enc.embeddings.weight.grad is None
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in enc.convs.parameters())
    enc = make_encoder(freeze_embeddings=False)
    enc(enc.tokenize(TEXTS)).sum().backward()
    grad = enc.embeddings.weight.grad
    assert grad[2:].abs().sum() > 0
    assert grad[0].abs().sum() == 0  # the pad row never takes part


def test_one_infonce_step_lowers_the_loss():
    torch.manual_seed(0)
    model = SentenceEncoder(make_encoder(freeze_embeddings=False, num_filters=16))
    loss_fn = InfoNCE(temperature=0.1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = [p.detach().clone() for p in model.parameters()]
    batch = model.encoder.tokenize(TEXTS)

    def loss_value():
        model.eval()  # same views both times: the change comes from the step alone
        with torch.no_grad():
            emb = model(batch)
            return loss_fn(emb, emb + 0.0).item()

    start = loss_value()
    model.train()
    anchor, positive = model(batch), model(batch)  # two dropout views
    loss = loss_fn(anchor, positive)
    loss.backward()
    optimizer.step()
    assert all(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
    # aligning the views on a fixed batch: the eval-mode loss of identical views drops
    assert loss_value() < start


def test_max_length_cuts_sentences():
    enc = make_encoder(max_length=4)
    assert enc.tokenize(TEXTS)["input_ids"].shape == (4, 4)
    assert enc.token_lengths(TEXTS) == [4, 3, 4, 1]


def test_length_sorted_batches_equal_plain_batches():
    enc = make_encoder()
    model = SentenceEncoder(enc).to("cpu").eval()
    with torch.no_grad():
        want = torch.cat([enc(enc.tokenize([t])) for t in TEXTS]).numpy()
    got = model.encode(TEXTS, batch_size=3, dtype="float32")
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    batches = list(enc.length_sorted_batches(TEXTS, 3))
    assert [b[0].tolist() for b in batches] == [[2, 0, 1], [3]]  # longest first
    assert [tuple(b[1]["input_ids"].shape) for b in batches] == [(3, 10), (1, 1)]


# --- constructors -------------------------------------------------------------------


def test_from_word_vectors_and_glove(tmp_path):
    enc = CNNEncoder.from_word_vectors(write_vectors(tmp_path / "v.txt"), num_filters=FILTERS)
    assert enc.embeddings.weight.shape == (len(VOCAB), 8)
    assert enc.tokenize(["The cat zebra"])["input_ids"].tolist() == [[2, 3, 1]]
    assert enc(enc.tokenize(["The cat zebra"])).shape == (1, 3 * FILTERS)
    glove = CNNEncoder.from_glove(vocab_size=30, corpus=["zygote"], num_filters=FILTERS)
    assert glove.embeddings.weight.shape == (33, 50)  # pad, unk, 30 words, zygote


def test_from_transformer_embeddings(tiny_bert_dir):
    enc = CNNEncoder.from_transformer_embeddings(tiny_bert_dir, num_filters=FILTERS, kernel_sizes=(2, 3))
    batch = enc.tokenize(["a man plays the guitar ."])
    assert enc(batch).shape == (1, 2 * FILTERS)
    assert enc.get_config()["tokenizer"] == "huggingface"


# --- save / load ---------------------------------------------------------------------


def test_save_load_gives_identical_embeddings(tmp_path):
    enc = make_encoder(kernel_sizes=(2, 5), pooling="mean", max_length=6, output_dropout=0.3)
    SentenceEncoder(enc).save(str(tmp_path / "m"))
    config = json.loads((tmp_path / "m" / "encoder_config.json").read_text())
    assert config["kind"] == "cnn" and config["kernel_sizes"] == [2, 5] and config["pooling"] == "mean"
    again = SentenceEncoder.from_pretrained(str(tmp_path / "m"), device="cpu")
    assert isinstance(again.encoder, CNNEncoder)
    assert again.encoder.get_config() == enc.get_config()
    assert encoder_class("cnn") is CNNEncoder
    want = SentenceEncoder(enc.eval()).encode(TEXTS, dtype="float32")
    np.testing.assert_array_equal(again.encode(TEXTS, dtype="float32"), want)


def test_hf_tokenizer_variant_saves_and_loads_identically(tiny_bert_dir, tmp_path):
    enc = CNNEncoder.from_transformer_embeddings(tiny_bert_dir, num_filters=FILTERS).eval()
    enc.save(tmp_path / "enc")
    again = CNNEncoder.load(tmp_path / "enc")
    with torch.no_grad():
        torch.testing.assert_close(again(again.tokenize(TEXTS)), enc(enc.tokenize(TEXTS)), rtol=0, atol=0)


def test_load_overrides_pooling_and_max_length_and_ignores_transformer_options(tmp_path):
    enc = make_encoder(pooling="max", max_length=64).eval()
    SentenceEncoder(enc).save(str(tmp_path / "m"))
    loaded = SentenceEncoder.from_pretrained(
        str(tmp_path / "m"), pooling="mean", max_length=3, trust_remote_code=False, device="cpu"
    )
    assert loaded.encoder.pooling == "mean" and loaded.encoder.max_length == 3
    with torch.no_grad():
        want = make_encoder(pooling="mean", max_length=3).eval()
        want.load_state_dict(enc.state_dict())
        np.testing.assert_allclose(
            loaded.encode(TEXTS, dtype="float32"), want(want.tokenize(TEXTS)).numpy(), rtol=1e-6, atol=1e-6
        )
    direct = CNNEncoder.load(tmp_path / "m", pooling="mean", trust_remote_code=True, torch_dtype="float16")
    assert direct.pooling == "mean"


def test_bad_overrides_raise_naming_allowed_values(tmp_path):
    make_encoder().save(tmp_path / "enc")
    with pytest.raises(ValueError, match="unknown pooling for a 'cnn' encoder 'cls'; expected one of 'max', 'mean'"):
        CNNEncoder.load(tmp_path / "enc", pooling="cls")
    with pytest.raises(ValueError, match=r"max_length \(--max-length\) must be an int >= 1, got 0"):
        CNNEncoder.load(tmp_path / "enc", max_length=0)


def test_damaged_config_is_named(tmp_path):
    make_encoder().save(tmp_path / "enc")
    path = tmp_path / "enc" / "encoder_config.json"
    config = json.loads(path.read_text())
    del config["kernel_sizes"]
    path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="encoder_config.json lacks the setting.*'kernel_sizes'"):
        CNNEncoder.load(tmp_path / "enc")
    config["kernel_sizes"] = [3, 3]
    path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="encoder_config.json holds an invalid setting: kernel_sizes repeats"):
        CNNEncoder.load(tmp_path / "enc")
    config["kernel_sizes"], config["dilation"] = [3], 2
    path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="unknown setting.*'dilation'"):
        CNNEncoder.load(tmp_path / "enc")


# --- clear errors ------------------------------------------------------------------------


def test_bad_settings_fail_fast():
    with pytest.raises(ValueError, match="unknown pooling 'last'; expected one of 'max', 'mean'"):
        make_encoder(pooling="last")
    with pytest.raises(ValueError, match="kernel_sizes is empty"):
        make_encoder(kernel_sizes=())
    with pytest.raises(ValueError, match="each kernel size must be an int >= 1, got 0"):
        make_encoder(kernel_sizes=(0, 3))
    with pytest.raises(ValueError, match="kernel_sizes must be a sequence"):
        make_encoder(kernel_sizes="345")
    with pytest.raises(ValueError, match=r"num_filters \(--num-filters\) must be an int >= 1"):
        make_encoder(num_filters=0)
    with pytest.raises(ValueError, match=r"embedding_dropout \(--embedding-dropout\) must be a finite number in"):
        make_encoder(embedding_dropout=1.0)


def test_left_padded_or_empty_masks_are_refused():
    enc = make_encoder()
    batch = enc.tokenize(["a dog ran", "it"])
    with pytest.raises(ValueError, match="right-padded"):
        enc({"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"].flip(1)})
    with pytest.raises(ValueError, match="no tokens"):
        enc({"input_ids": batch["input_ids"], "attention_mask": torch.zeros_like(batch["attention_mask"])})


# --- command line ---------------------------------------------------------------------------


def test_cli_trains_a_cnn_that_reloads(tmp_path, capsys):
    from textcl.cli import main

    data = tmp_path / "sentences.txt"
    data.write_text(
        "\n".join(
            [
                "a man plays the guitar .", "a woman plays the piano .", "a dog runs in the park .",
                "a cat sleeps on the car .", "two people eat food .", "a child rides a horse .",
                "the girl swims in the water .", "three dogs play .",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "run"
    argv = ["train", "--encoder", "cnn", "--data", str(data), "--view", "dropout", "--max-steps", "2",
            "--batch-size", "4", "--output", str(out), "--vocab-size", "2000", "--kernel-sizes", "2,3",
            "--num-filters", "8", "--device", "cpu"]
    assert main(argv) == 0
    model_path = json.loads(capsys.readouterr().out)["model"]
    model = SentenceEncoder.from_pretrained(model_path, device="cpu")
    assert isinstance(model.encoder, CNNEncoder)
    assert model.encoder.kernel_sizes == (2, 3) and model.embedding_dim == 16
    emb = model.encode(["a dog plays ."], dtype="float32")
    assert emb.shape == (1, 16) and np.isfinite(emb).all()
    # the corpus words outside GloVe's 2,000 most frequent joined the vocabulary
    assert model.encoder.tokenizer.encode("guitar")[0] != model.encoder.tokenizer.unk_id


def test_cli_rejects_bad_kernel_sizes(tmp_path, capsys):
    from textcl.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--encoder", "cnn", "--data", str(tmp_path / "x.txt"), "--kernel-sizes", "3,x"])
    assert "comma-separated list of integers" in capsys.readouterr().err
