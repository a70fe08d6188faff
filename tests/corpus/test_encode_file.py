"""``textcl.corpus.encode_file`` in one process: chunking, resume, refusals, output precision, datasets."""

import functools
import json
import os

import numpy as np
import pytest

from textcl.corpus import (OutputFormat, compute_dtype_kwargs, encode_file, line_numbers_path, partial_path,
                           progress_path, read_progress)
from textcl.corpus.progress import from_ranges, to_ranges
from textcl.model import SentenceEncoder

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model(tiny_bert_dir):
    return SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")


@pytest.fixture
def corpus(sentences):
    return [f"{a} {b}" for a in sentences[:7] for b in sentences[7:10]]  # 21 rows: 5 chunks of 5 (last: 1)


def write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def reference(model, texts, **kwargs):
    return model.encode(texts, **compute_dtype_kwargs(model, "float32"), **kwargs)


class Interrupted(Exception):
    pass


def interrupt_after(model, monkeypatch, chunks):
    """Make ``model.encode`` raise on its ``chunks + 1``-th call, as a crash would stop the job."""
    original, calls = model.encode, []

    @functools.wraps(original)
    def encode(texts, **kwargs):
        calls.append(len(texts))
        if len(calls) > chunks:
            raise Interrupted
        return original(texts, **kwargs)

    monkeypatch.setattr(model, "encode", encode)
    return calls


def test_chunked_output_equals_one_encode_call(model, corpus, tmp_path):
    src = write(tmp_path / "c.txt", corpus)
    out = str(tmp_path / "emb.npy")
    summary = encode_file(model, src, out, chunk_size=5, batch_size=3, dtype="float32")
    emb = np.load(out)
    assert emb.shape == (21, 32) and emb.dtype == np.float32
    np.testing.assert_allclose(emb, reference(model, corpus), atol=1e-6)
    assert (summary["rows"], summary["chunks"], summary["skipped_chunks"], summary["encoded_chunks"]) == (21, 5, 0, 5)
    assert not any(os.path.exists(p) for p in (partial_path(out), progress_path(out)))


def test_resume_skips_finished_chunks_and_gives_identical_bytes(model, corpus, tmp_path, monkeypatch):
    src = write(tmp_path / "c.txt", corpus)
    whole = str(tmp_path / "whole.npy")
    encode_file(model, src, whole, chunk_size=5, dtype="float32")

    out = str(tmp_path / "emb.npy")
    calls = interrupt_after(model, monkeypatch, chunks=2)
    with pytest.raises(Interrupted):
        encode_file(model, src, out, chunk_size=5, dtype="float32")
    record = read_progress(out)
    assert from_ranges(record["finished_chunks"]) == {0, 1} and record["plan"]["rows"] == 21
    assert not os.path.exists(out) and os.path.exists(partial_path(out))

    with pytest.raises(FileExistsError, match=r"interrupted encode \(2 of 5 chunks done\).*--resume.*--overwrite"):
        encode_file(model, src, out, chunk_size=5, dtype="float32")
    monkeypatch.undo()
    calls.clear()
    summary = encode_file(model, src, out, chunk_size=5, dtype="float32", resume=True)
    assert (summary["skipped_chunks"], summary["encoded_chunks"]) == (2, 3)
    with open(out, "rb") as a, open(whole, "rb") as b:
        assert a.read() == b.read()
    assert not os.path.exists(progress_path(out))


def test_resume_with_other_settings_or_input_names_the_keys(model, corpus, tmp_path, monkeypatch):
    src = write(tmp_path / "c.txt", corpus)
    out = str(tmp_path / "emb.npy")
    interrupt_after(model, monkeypatch, chunks=1)
    with pytest.raises(Interrupted):
        encode_file(model, src, out, chunk_size=5, batch_size=4, dtype="float32")
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"settings\.batch_size, settings\.chunk_size differ"):
        encode_file(model, src, out, chunk_size=6, batch_size=8, dtype="float32", resume=True)
    with pytest.raises(ValueError, match=r"settings\.normalize differ"):
        encode_file(model, src, out, chunk_size=5, batch_size=4, dtype="float32", normalize=True, resume=True)
    write(tmp_path / "c.txt", corpus[:-1])
    with pytest.raises(ValueError, match=r"input\.sha256, input\.size differ"):
        encode_file(model, src, out, chunk_size=5, batch_size=4, dtype="float32", resume=True)
    other = SentenceEncoder.from_pretrained(_tiny_copy(tmp_path), device="cpu")  # same shapes, other weights
    write(tmp_path / "c.txt", corpus)
    with pytest.raises(ValueError, match=r"settings\.model_fingerprint differ"):
        encode_file(other, src, out, chunk_size=5, batch_size=4, dtype="float32", resume=True)
    summary = encode_file(model, src, out, chunk_size=5, batch_size=4, dtype="float32", overwrite=True)
    assert summary["skipped_chunks"] == 0 and np.load(out).shape == (21, 32)


def _tiny_copy(tmp_path):
    from tiny_models import make_tiny_bert

    return make_tiny_bert(str(tmp_path / "other_bert"), seed=1)


def test_existing_output_needs_overwrite(model, corpus, tmp_path):
    src = write(tmp_path / "c.txt", corpus)
    out = tmp_path / "emb.npy"
    out.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="already exists: pass --overwrite"):
        encode_file(model, src, str(out))
    assert out.read_bytes() == b"precious"
    with pytest.raises(IsADirectoryError, match="is a folder"):
        encode_file(model, src, str(tmp_path))


def test_skip_empty_line_numbers_across_chunks(model, tmp_path):
    rows = ["a dog runs .", "", "a cat .", "   ", "a car .", "the dog eats .", "", "a man ."]
    src = write(tmp_path / "c.txt", rows)
    out = str(tmp_path / "emb.npy")
    summary = encode_file(model, src, out, chunk_size=2, skip_empty=True, dtype="float32")
    kept = [r for r in rows if r.strip()]
    np.testing.assert_allclose(np.load(out), reference(model, kept), atol=1e-6)
    assert np.load(line_numbers_path(out)).tolist() == [1, 3, 5, 6, 8]
    assert summary["line_numbers"] == line_numbers_path(out)


def test_binary_and_int8_chunks_equal_one_quantize_call(model, corpus, tmp_path):
    from sentence_transformers import quantize_embeddings

    src = write(tmp_path / "c.txt", corpus)
    full = reference(model, corpus, normalize=True)  # (21, 32)
    ranges = np.stack([full[:4].min(0), full[:4].max(0)])  # calibrated on a sample: chunks see other ranges
    np.save(tmp_path / "ranges.npy", ranges)
    for precision, dtype, width in (("binary", np.int8, 4), ("ubinary", np.uint8, 4), ("int8", np.int8, 32),
                                    ("uint8", np.uint8, 32)):
        out = str(tmp_path / f"{precision}.npy")
        summary = encode_file(model, src, out, chunk_size=5, normalize=True, dtype="float32", precision=precision,
                              ranges=str(tmp_path / "ranges.npy"))
        got = np.load(out)
        assert got.dtype == dtype and got.shape == (21, width) and summary["dtype"] == np.dtype(dtype).name
        np.testing.assert_array_equal(got, quantize_embeddings(full, precision, ranges=ranges))
    # naive reference for the packed bits: bit j of byte k is dimension 8k + j, most significant first
    bits = (full > 0).reshape(21, 4, 8)
    naive = (bits * (1 << np.arange(7, -1, -1))).sum(-1).astype(np.uint8)
    np.testing.assert_array_equal(np.load(tmp_path / "ubinary.npy"), naive)


def test_int8_without_ranges_and_bad_ranges_are_refused(model, corpus, tmp_path):
    src = write(tmp_path / "c.txt", corpus)
    with pytest.raises(ValueError, match=r"precision='int8' needs calibration ranges.*--ranges"):
        encode_file(model, src, str(tmp_path / "e.npy"), precision="int8")
    with pytest.raises(ValueError, match=r"must have shape \(2, 32\)"):
        encode_file(model, src, str(tmp_path / "e.npy"), precision="uint8", ranges=np.zeros((2, 8)))
    with pytest.raises(ValueError, match="unknown output precision 'int4'"):
        OutputFormat("int4", 32)
    assert not os.path.exists(tmp_path / "e.npy.partial")


def test_dataset_saved_to_disk_and_parquet(model, corpus, tmp_path):
    import datasets

    texts = corpus[:9]
    ds = datasets.Dataset.from_dict({"id": list(range(9)), "sentence": texts})
    datasets.DatasetDict({"train": ds, "test": ds.select(range(3))}).save_to_disk(str(tmp_path / "saved"))
    ds.to_parquet(str(tmp_path / "data.parquet"))
    want = reference(model, texts)
    out = str(tmp_path / "a.npy")
    summary = encode_file(model, None, out, dataset=str(tmp_path / "saved"), split="train", column="sentence",
                          chunk_size=4, dtype="float32")
    np.testing.assert_allclose(np.load(out), want, atol=1e-6)
    assert summary["rows"] == 9
    out = str(tmp_path / "b.npy")
    encode_file(model, None, out, dataset="parquet", data_files=str(tmp_path / "data.parquet"), column="sentence",
                chunk_size=4, dtype="float32")
    np.testing.assert_allclose(np.load(out), want, atol=1e-6)
    with pytest.raises(ValueError, match=r"no column 'text'; the dataset has: id, sentence.*--column"):
        encode_file(model, None, str(tmp_path / "c.npy"), dataset=str(tmp_path / "saved"))
    with pytest.raises(ValueError, match=r"no split 'dev'; it has: train, test"):
        encode_file(model, None, str(tmp_path / "c.npy"), dataset=str(tmp_path / "saved"), split="dev",
                    column="sentence")


def test_dataset_empty_row_is_named(model, tmp_path):
    import datasets

    datasets.Dataset.from_dict({"text": ["a dog .", None, "a cat ."]}).save_to_disk(str(tmp_path / "d"))
    with pytest.raises(ValueError, match=r"row 1 is empty.*--skip-empty"):
        encode_file(model, None, str(tmp_path / "e.npy"), dataset=str(tmp_path / "d"))
    out = str(tmp_path / "e.npy")
    encode_file(model, None, out, dataset=str(tmp_path / "d"), skip_empty=True)
    assert np.load(line_numbers_path(out)).tolist() == [0, 2]


def test_progress_ranges_round_trip():
    assert to_ranges([5, 0, 1, 2, 7, 6]) == [[0, 3], [5, 8]]
    assert from_ranges(to_ranges({3, 9, 4})) == {3, 4, 9}
    assert json.loads(json.dumps(to_ranges([]))) == []
