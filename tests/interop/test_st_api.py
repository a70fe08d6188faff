"""Loading and using a SentenceEncoder the way a sentence-transformers user does."""

from __future__ import annotations

import numpy as np
import pytest

from textcl.model import SentenceEncoder
from tiny_models import SENTENCES


def test_the_constructor_takes_a_name_like_sentence_transformer(tiny_bert_dir):
    by_name = SentenceEncoder(tiny_bert_dir, device="cpu")
    loaded = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    np.testing.assert_array_equal(by_name.encode(SENTENCES, dtype="float32"), loaded.encode(SENTENCES, dtype="float32"))
    assert sum(p.numel() for p in by_name.parameters()) == sum(p.numel() for p in loaded.parameters())


def test_sentence_transformers_load_keywords_keep_their_meaning(tiny_bert_dir):
    model = SentenceEncoder(tiny_bert_dir, device="cpu", model_kwargs={"attn_implementation": "eager"},
                            processor_kwargs={"model_max_length": 16}, config_kwargs={"hidden_dropout_prob": 0.0},
                            truncate_dim=8, prompts={"query": "query: ", "document": "passage: "},
                            default_prompt_name="query", similarity_fn_name="dot", local_files_only=True)
    assert model.encoder.model.config.hidden_dropout_prob == 0.0 and model.tokenizer.model_max_length == 16
    assert model.truncate_dim == 8 and model.get_embedding_dimension() == 8
    assert model.get_sentence_embedding_dimension() == 8 and model.encode(SENTENCES[:2]).shape == (2, 8)
    assert model.similarity_fn_name == "dot" and model.default_prompt_name == "query"
    alias = SentenceEncoder(tiny_bert_dir, device="cpu", tokenizer_kwargs={"model_max_length": 12})
    assert alias.tokenizer.model_max_length == 12


def test_encode_query_and_document_use_the_named_prompts(tiny_bert_dir):
    model = SentenceEncoder(tiny_bert_dir, device="cpu", prompts={"query": "query: ", "document": "passage: "})
    np.testing.assert_array_equal(model.encode_query(SENTENCES[:2], dtype="float32"),
                                  model.encode(["query: " + s for s in SENTENCES[:2]], dtype="float32"))
    np.testing.assert_array_equal(model.encode_document(SENTENCES[:2], dtype="float32"),
                                  model.encode(["passage: " + s for s in SENTENCES[:2]], dtype="float32"))
    plain = SentenceEncoder(tiny_bert_dir, device="cpu")
    np.testing.assert_array_equal(plain.encode_query(SENTENCES[:2], dtype="float32"),
                                  plain.encode(SENTENCES[:2], dtype="float32"))


def test_max_seq_length_is_settable_and_checked(tiny_bert_dir):
    model = SentenceEncoder(tiny_bert_dir, device="cpu")
    model.max_seq_length = 4
    assert model.max_seq_length == 4 and model.tokenize([SENTENCES[0]])["input_ids"].shape[1] == 4
    with pytest.raises(ValueError, match=r"max_length \(--max-length\) must be an int >= 3"):
        model.max_seq_length = 2


def test_load_keywords_need_a_name(tiny_bert_dir):
    encoder = SentenceEncoder(tiny_bert_dir, device="cpu").encoder
    with pytest.raises(TypeError, match="model_kwargs: load keywords need a model name"):
        SentenceEncoder(encoder, model_kwargs={})


def test_sentence_transformers_evaluators_run_on_a_textcl_model(tiny_bert_dir):
    from sentence_transformers.evaluation import EmbeddingSimilarityEvaluator

    model = SentenceEncoder(tiny_bert_dir, device="cpu")
    scores = [float(i % 5) / 4 for i in range(len(SENTENCES) - 1)]
    evaluator = EmbeddingSimilarityEvaluator(SENTENCES[:-1], SENTENCES[1:], scores, name="tiny")
    result = evaluator(model)
    assert any(k.endswith("spearman_cosine") for k in result)
    assert model.model_card_data.eval_results  # the evaluator recorded its scores
