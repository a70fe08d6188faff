"""SentenceClassifier: label handling, frozen (cached) and fine-tuned training, early stopping, save/load, CV."""

import json
import os

import numpy as np
import pytest
import torch

from textcl.classify.classifier import (CLASSIFIER_CONFIG, EarlyStopping, SentenceClassifier, check_texts,
                               classification_metrics, encode_labels, label_names)
from textcl.model import SentenceEncoder


ANIMALS = ("dog", "cat", "horse")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def word_bert_dir(tiny_bert_dir):
    return tiny_bert_dir


@pytest.fixture
def encoder(word_bert_dir):
    return SentenceEncoder.from_pretrained(word_bert_dir, pooling="mean", device="cpu")


@pytest.fixture
def data(sentences):
    labels = ["animal" if any(a in s for a in ANIMALS) else "other" for s in sentences]
    assert 4 <= labels.count("animal") <= 12
    return sentences, labels


# ----------------------------------------------------------------------------- labels and texts
def test_label_names_are_sorted_and_typed():
    assert label_names(["pos", "neg", "pos", "neutral"]) == ["neg", "neutral", "pos"]
    assert label_names([2, 0, np.int64(1), 1.0]) == [0, 1, 2]
    assert encode_labels(["pos", "neg"], ["neg", "pos"]).tolist() == [1, 0]
    assert encode_labels([np.int64(2), 0.0], [0, 1, 2]).tolist() == [2, 0]


@pytest.mark.parametrize("labels, msg", [
    (["a", 1], "mix strings and numbers"),
    (["a", "a"], "1 distinct value"),
    (["a", None, "b"], r"train row 1: label None"),
    ([0, float("nan")], r"train row 1: label nan"),
])
def test_bad_labels_are_named(labels, msg):
    with pytest.raises(ValueError, match=msg):
        label_names(labels)


def test_unseen_label_names_row_and_known_labels():
    with pytest.raises(ValueError, match=r"test row 2: label 'maybe' was not seen in training; "
                                         r"training labels: 'neg', 'pos'"):
        encode_labels(["pos", "neg", "maybe"], ["neg", "pos"], "test")


@pytest.mark.parametrize("texts, msg", [([], "has no rows"), (["ok", ""], "train row 1"),
                                        (["ok", "fine", None], "train row 2: text None"),
                                        (["ok", 3], "train row 1: text 3")])
def test_bad_texts_are_named(texts, msg):
    with pytest.raises(ValueError, match=msg):
        check_texts(texts)


def test_metrics_closed_form():
    m = classification_metrics(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]))
    assert m["accuracy"] == 75.0
    assert m["macro_f1"] == pytest.approx(100 * (2 / 3 + 0.8) / 2)  # class 0: F1 2/3, class 1: F1 0.8


def test_early_stopping_counts_evaluations_without_improvement():
    stop = EarlyStopping(patience=2)
    assert [stop.update(m) for m in (50, 60, 60, 58)] == [True, True, False, False]
    assert stop.should_stop and stop.best == 60
    with pytest.raises(ValueError, match=r"patience \(--patience\) must be an int >= 1"):
        EarlyStopping(0)


# ----------------------------------------------------------------------------- training
def test_frozen_fit_embeds_once_trains_head_only_and_stops_early(encoder, data, monkeypatch):
    texts, labels = data
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    calls = []
    original = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda t, **kw: calls.append(len(t)) or original(t, **kw))
    clf = SentenceClassifier(encoder, head="linear", freeze=True)
    result = clf.fit(texts, labels, texts, labels, epochs=300, batch_size=8, lr=0.2, warmup_ratio=0,
                     patience=30)
    assert calls == [len(set(texts))]  # validation = train texts: served from the cache
    assert result.best_val_accuracy == 100.0  # nothing beats 100: it stops exactly `patience` epochs later
    assert result.stopped_early and result.epochs == result.best_epoch + 30 < 300
    assert clf.evaluate(texts, labels)["accuracy"] == 100.0  # the kept weights are the best ones
    assert all(torch.equal(v, encoder.state_dict()[k]) for k, v in before.items())
    assert clf.labels == ["animal", "other"]


def test_fine_tuning_updates_the_encoder(encoder, data):
    texts, labels = data
    before = encoder.encoder.model.embeddings.word_embeddings.weight.clone()
    clf = SentenceClassifier(encoder, head="mlp", freeze=False)
    result = clf.fit(texts, [int(lab == "animal") for lab in labels], epochs=2, batch_size=8, lr=1e-3)
    assert result.steps == 4 and result.best_epoch is None  # no validation: all epochs run
    assert not torch.equal(before, encoder.encoder.model.embeddings.word_embeddings.weight)
    assert clf.labels == [0, 1] and set(clf.predict(texts)) <= {0, 1}
    assert not clf.training


def test_predict_before_fit_is_a_clear_error(encoder):
    with pytest.raises(RuntimeError, match="call fit"):
        SentenceClassifier(encoder).predict(["a dog ."])


def test_save_and_load_give_identical_predictions(encoder, data, tmp_path):
    texts, labels = data
    clf = SentenceClassifier(encoder, head="mlp", freeze=True, hidden_dim=7)
    clf.fit(texts, labels, epochs=3, lr=0.01)
    path = tmp_path / "clf"
    clf.save(path)
    with open(path / CLASSIFIER_CONFIG) as f:
        cfg = json.load(f)
    assert cfg["labels"] == ["animal", "other"] and cfg["freeze"] is True
    assert cfg["head"] == {"head": "mlp", "in_dim": 32, "num_labels": 2, "hidden_dim": 7, "dropout": 0.1}
    assert os.path.isfile(path / "encoder" / "textcl_config.json") and os.path.isfile(path / "head.safetensors")
    again = SentenceClassifier.from_pretrained(path, device="cpu")
    np.testing.assert_allclose(again.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    assert again.predict(texts) == clf.predict(texts)


def test_from_pretrained_on_a_non_classifier_folder(tiny_bert_dir):
    with pytest.raises(FileNotFoundError, match="not a textcl classifier folder"):
        SentenceClassifier.from_pretrained(tiny_bert_dir)


def test_cross_validation_restores_the_starting_weights(encoder, data):
    texts, labels = data
    clf = SentenceClassifier(encoder, labels=["other", "animal"], freeze=True)
    start = {k: v.clone() for k, v in clf.head.state_dict().items()}
    out = clf.cross_validate(texts, labels, n_folds=10, epochs=5, lr=0.05)
    assert out["n_folds"] == min(10, min(labels.count("animal"), labels.count("other")))
    assert 0 <= out["accuracy"] <= 100 and out["n"] == len(texts)
    assert all(torch.equal(v, clf.head.state_dict()[k]) for k, v in start.items())


def test_prediction_embeds_in_float32_like_training_even_where_bf16_is_the_default(encoder, sentences, monkeypatch):
    from textcl import dtype as precision_module

    monkeypatch.setattr(precision_module, "cpu_has_fast_bf16", lambda: True)  # encode()'s default becomes bf16
    clf = SentenceClassifier(encoder, head="linear", freeze=True)
    got = clf.embed(sentences[:4]).cpu()
    want = torch.from_numpy(encoder.encode(sentences[:4], dtype="float32"))
    assert torch.equal(got, want)
    assert not torch.equal(torch.from_numpy(encoder.encode(sentences[:4])), want)  # bf16 really is the default
