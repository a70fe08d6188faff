"""``textcl encode`` and ``textcl search`` in-process: streamed .npy output, input formats, empty rows, search."""

import json
import os
import re

import numpy as np
import pytest

from textcl.cli import main
from textcl.corpus import compute_dtype_kwargs
from textcl.model import SentenceEncoder



pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model_dir(tiny_bert_dir):
    return tiny_bert_dir


@pytest.fixture(scope="module")
def model(model_dir):
    return SentenceEncoder.from_pretrained(model_dir, device="cpu")


def write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_encode_txt_in_chunks_equals_encode(model_dir, model, sentences, tmp_path, capsys):
    src = write(tmp_path / "s.txt", sentences)
    out = str(tmp_path / "emb.npy")
    assert main(["encode", "--model", model_dir, "--input", src, "--output", out, "--chunk-size", "5",
                 "--batch-size", "2", "--device", "cpu"]) == 0
    emb = np.load(out)
    assert emb.shape == (len(sentences), 32) and emb.dtype == np.float32
    np.testing.assert_allclose(emb, model.encode(sentences), atol=1e-5)
    summary = json.loads(capsys.readouterr().out)
    assert {k: summary[k] for k in ("output", "rows", "dim", "chunks", "skipped_chunks", "precision")} == {
        "output": out, "rows": len(sentences), "dim": 32, "chunks": 4, "skipped_chunks": 0, "precision": "float32"}
    assert not os.path.exists(out + ".partial") and not os.path.exists(out + ".partial.progress.json")


def test_encode_jsonl_and_csv_columns_with_normalize(model_dir, model, sentences, tmp_path):
    jsonl = write(tmp_path / "s.jsonl", [json.dumps({"id": i, "sentence": s}) for i, s in enumerate(sentences)])
    csv_path = tmp_path / "s.csv"
    csv_path.write_text("id,sentence\n" + "".join(f'{i},"{s}"\n' for i, s in enumerate(sentences)))
    for src in (jsonl, str(csv_path)):
        out = str(tmp_path / "emb.npy")
        assert main(["encode", "--model", model_dir, "--input", src, "--output", out, "--text-col", "sentence",
                     "--normalize", "--device", "cpu", "--overwrite"]) == 0
        np.testing.assert_allclose(np.load(out), model.encode(sentences, normalize=True), atol=1e-5)


def test_empty_line_is_an_error_naming_it(model_dir, tmp_path, capsys):
    src = write(tmp_path / "s.txt", ["a dog runs .", "a cat .", "   ", "a car ."])
    out = tmp_path / "emb.npy"
    assert main(["encode", "--model", model_dir, "--input", src, "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert "s.txt:3: empty text" in err and "--skip-empty" in err
    assert not out.exists()


def test_skip_empty_records_line_numbers(model_dir, model, tmp_path):
    src = write(tmp_path / "s.txt", ["a dog runs .", "", "a cat .", "a car ."])
    out = str(tmp_path / "emb.npy")
    assert main(["encode", "--model", model_dir, "--input", src, "--output", out, "--skip-empty",
                 "--device", "cpu"]) == 0
    np.testing.assert_allclose(np.load(out), model.encode(["a dog runs .", "a cat .", "a car ."]), atol=1e-5)
    assert np.load(tmp_path / "emb.lines.npy").tolist() == [1, 3, 4]


@pytest.mark.parametrize("name, content, msg", [
    ("s.jsonl", ['{"text": "a dog ."}', '{"sentence": "a cat ."}'],
     r"s.jsonl:2: no column 'text'; the row has: sentence"),
    ("s.jsonl", ['{"text": "a dog ."}', "{oops"], r"s.jsonl:2: not valid JSON"),
    ("s.jsonl", ['{"text": 3}'], r"s.jsonl:1: 'text' is int"),
    ("s.csv", ["id,sentence", "1,a dog ."], r"no column 'text'; the file has: id, sentence"),
    ("s.docx", ["a dog ."], r"unsupported file type '.docx'"),
])
def test_bad_inputs_are_explained(model_dir, tmp_path, capsys, name, content, msg):
    src = write(tmp_path / name, content)
    assert main(["encode", "--model", model_dir, "--input", src, "--output", str(tmp_path / "e.npy")]) == 1
    assert re.search(msg, capsys.readouterr().err)


def test_existing_output_or_partial_is_refused_without_a_flag(model_dir, sentences, tmp_path, capsys):
    src = write(tmp_path / "s.txt", sentences)
    out = tmp_path / "emb.npy"
    out.write_bytes(b"keep me")
    assert main(["encode", "--model", model_dir, "--input", src, "--output", str(out)]) == 1
    assert "already exists: pass --overwrite" in capsys.readouterr().err and out.read_bytes() == b"keep me"
    out.unlink()
    (tmp_path / "emb.npy.partial").write_bytes(b"half")
    assert main(["encode", "--model", model_dir, "--input", src, "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert "emb.npy.partial is left from an interrupted encode: pass --resume" in err and "--overwrite" in err
    assert main(["encode", "--model", model_dir, "--input", src, "--output", str(out), "--overwrite",
                 "--device", "cpu"]) == 0
    assert np.load(out).shape == (len(sentences), 32)


def test_dtype_and_output_precision_flags(model_dir, model, sentences, tmp_path, capsys):
    from sentence_transformers import quantize_embeddings

    src = write(tmp_path / "s.txt", sentences)
    full = model.encode(sentences, normalize=True, **compute_dtype_kwargs(model, "float32"))
    np.save(tmp_path / "ranges.npy", np.stack([full.min(0), full.max(0)]))
    base = ["encode", "--model", model_dir, "--input", src, "--dtype", "float32", "--normalize", "--chunk-size", "5",
            "--device", "cpu"]
    assert main(base + ["--output", str(tmp_path / "b.npy"), "--precision", "ubinary"]) == 0
    got = np.load(tmp_path / "b.npy")
    assert got.dtype == np.uint8 and got.shape == (len(sentences), 4)
    np.testing.assert_array_equal(got, np.packbits(full > 0, axis=-1))
    assert main(base + ["--output", str(tmp_path / "q.npy"), "--precision", "int8",
                        "--ranges", str(tmp_path / "ranges.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "q.npy"),
                                  quantize_embeddings(full, "int8", ranges=np.load(tmp_path / "ranges.npy")))
    capsys.readouterr()
    assert main(base + ["--output", str(tmp_path / "r.npy"), "--precision", "uint8"]) == 1
    assert "--precision uint8 needs --ranges" in capsys.readouterr().err


def test_encode_a_saved_dataset_column(model_dir, model, sentences, tmp_path):
    import datasets

    datasets.Dataset.from_dict({"sentence": sentences}).save_to_disk(str(tmp_path / "ds"))
    out = str(tmp_path / "emb.npy")
    assert main(["encode", "--model", model_dir, "--dataset", str(tmp_path / "ds"), "--split", "train",
                 "--column", "sentence", "--output", out, "--dtype", "float32", "--device", "cpu"]) == 0
    np.testing.assert_allclose(np.load(out), model.encode(sentences, **compute_dtype_kwargs(model, "float32")), atol=1e-6)


def test_search_text_corpus_and_precomputed_embeddings(model_dir, sentences, tmp_path, capsys):
    corpus = write(tmp_path / "corpus.txt", sentences)
    query = sentences[6]
    assert main(["search", "--model", model_dir, "--corpus", corpus, "--query", query, "--top-k", "3",
                 "--json", "--device", "cpu"]) == 0
    hits = json.loads(capsys.readouterr().out)[0]["hits"]
    assert hits[0]["text"] == query and hits[0]["line"] == 7 and hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert [h["rank"] for h in hits] == [1, 2, 3] and hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]

    emb = str(tmp_path / "emb.npy")
    assert main(["encode", "--model", model_dir, "--input", corpus, "--output", emb]) == 0
    capsys.readouterr()
    assert main(["search", "--model", model_dir, "--corpus", corpus, "--corpus-embeddings", emb, "--query", query,
                 "--top-k", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["hits"] == hits
    assert main(["search", "--model", model_dir, "--corpus-embeddings", emb, "--query", query, "--top-k", "1"]) == 0
    assert "row 6" in capsys.readouterr().out


def test_search_refuses_mismatched_corpus_and_embeddings(model_dir, sentences, tmp_path, capsys):
    emb = str(tmp_path / "emb.npy")
    np.save(emb, np.zeros((3, 32), dtype=np.float32))
    corpus = write(tmp_path / "corpus.txt", sentences)
    assert main(["search", "--model", model_dir, "--corpus", corpus, "--corpus-embeddings", emb,
                 "--query", "a dog ."]) == 1
    assert f"has {len(sentences)} rows but" in capsys.readouterr().err
    assert main(["search", "--model", model_dir, "--corpus", corpus]) == 1
    assert "--query" in capsys.readouterr().err
