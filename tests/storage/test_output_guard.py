"""One output guard: every writer refuses to overwrite its inputs, holds its output's lock, deletes only its own."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from textcl.cli import main
from textcl.storage import output_lock
from textcl.quickstart import bundled_data_dir
from tiny_models import SENTENCES


@pytest.fixture
def files(tmp_path, tiny_bert_dir):
    model = tmp_path / "model"
    shutil.copytree(tiny_bert_dir, model)
    txt = tmp_path / "sentences.txt"
    txt.write_text("\n".join(SENTENCES) + "\n")
    labelled = tmp_path / "train.csv"
    labelled.write_text("text,label\n" + "".join(f"{s},{i % 2}\n" for i, s in enumerate(SENTENCES * 2)))
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("a,b\n" + "".join(f"{s},{s} too\n" for s in SENTENCES))
    from textcl.classify import SentenceClassifier
    from textcl.model import SentenceEncoder

    clf = tmp_path / "classifier"
    shutil.copytree(os.path.join(bundled_data_dir(), "senteval"), tmp_path / "senteval")
    SentenceClassifier(SentenceEncoder.from_pretrained(str(model), device="cpu"), ["0", "1"], freeze=True).save(
        str(clf))
    return {"model": str(model), "txt": str(txt), "labelled": str(labelled), "pairs": str(pairs), "tmp": tmp_path,
            "clf": str(clf), "senteval": str(tmp_path / "senteval"),
            "sts": str(tmp_path / "senteval" / "STS" / "STSBenchmark" / "sts-test.csv")}


def writers(f, out):
    """Every CLI writer, writing ``out``."""
    m = f["model"]
    return {
        "encode": ["encode", "--model", m, "--input", f["txt"], "--output", out],
        "classify": ["classify", "--model", m, "--train", f["labelled"], "--test", f["labelled"], "--epochs", "1",
                     "--freeze", "--output", out],
        "classify predict": ["classify", "predict", "--model", f["clf"], "--input", f["txt"], "--output", out],
        "train": ["train", "--model", m, "--data", f["pairs"], "--view", "pair", "--max-steps", "1",
                  "--batch-size", "4", "--output", out],
        "eval": ["eval", "--model", m, "--tasks", "stsb", "--data-dir", f["senteval"],
                 "--output", out],
    }


def snapshot(folder):
    return {os.path.join(r, n): open(os.path.join(r, n), "rb").read() for r, _, ns in os.walk(folder) for n in ns}


@pytest.mark.parametrize("writer", ["encode", "classify", "classify predict", "train", "eval"])
@pytest.mark.parametrize("where", ["the input file", "inside the model folder", "the model folder"])
def test_no_writer_overwrites_an_input(writer, where, files, capsys):
    model = files["clf"] if writer == "classify predict" else files["model"]
    out = {"the input file": {"train": files["pairs"], "eval": files["sts"]}.get(writer, files["txt"]),
           "inside the model folder": os.path.join(model, "out.jsonl" if writer == "classify predict" else "out.npy"),
           "the model folder": model}[where]
    if writer == "classify" and where == "the input file":
        out = files["labelled"]
    before = {**snapshot(files["model"]), **snapshot(files["clf"]), **{p: open(p, "rb").read() for p in (files["txt"], files["labelled"],
                                                                                files["pairs"], files["sts"])}}
    code = main(writers(files, out)[writer])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0, (writer, where)
    assert len(err) == 1 and ("would overwrite or delete that input" in err[0] or "unsupported type" in err[0]), err
    after = {**snapshot(files["model"]), **snapshot(files["clf"]), **{p: open(p, "rb").read() for p in (files["txt"], files["labelled"],
                                                                               files["pairs"], files["sts"])}}
    assert after == before


@pytest.mark.parametrize("writer", ["encode", "classify", "classify predict", "eval"])
def test_a_second_writer_of_the_same_output_is_refused(writer, files, capsys):
    out = str(files["tmp"] / ("out.npy" if writer == "encode" else "out.jsonl" if writer == "classify predict"
                              else "out.json" if writer == "eval" else "clf"))
    with output_lock(out, "a test holding the output"):
        code = main(writers(files, out)[writer])
    err = capsys.readouterr().err
    assert code != 0 and "writes to" in err and out in err, err
    assert not os.path.exists(out)


def test_a_training_run_holds_its_output_too(files, capsys):
    from textcl.storage import OutputLock

    out = files["tmp"] / "run"
    with OutputLock(str(out), what="a test run"):
        assert main(writers(files, str(out))["train"]) != 0
    assert "a test run" in capsys.readouterr().err


def test_save_over_the_loaded_folder_keeps_the_users_files(files):
    from textcl.model import SentenceEncoder

    folder = files["tmp"] / "mine"
    model = SentenceEncoder.from_pretrained(files["model"], device="cpu")
    model.save(str(folder))
    (folder / "README.md").write_text("my notes")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main")
    SentenceEncoder.from_pretrained(str(folder), device="cpu").save(str(folder))
    assert (folder / "README.md").read_text() == "my notes"
    assert (folder / ".git" / "HEAD").read_text() == "ref: refs/heads/main"
    SentenceEncoder.from_pretrained(str(folder), device="cpu")  # still loads


def test_the_first_save_never_deletes_a_users_old_folder(files):
    from textcl.model import SentenceEncoder

    mine = files["tmp"] / "p.old"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    model = SentenceEncoder.from_pretrained(files["model"], device="cpu")
    model.save(str(files["tmp"] / "p"))
    model.save(str(files["tmp"] / "p"))
    assert (mine / "keep.txt").read_text() == "mine"
    assert sorted(os.listdir(files["tmp"])) == sorted(["model", "classifier", "senteval", "sentences.txt", "train.csv", "pairs.csv",
                                                       "p", "p.old"])


def test_a_resave_over_a_folder_with_foreign_files_keeps_them(files):
    from textcl.model import SentenceEncoder

    folder = files["tmp"] / "p"
    model = SentenceEncoder.from_pretrained(files["model"], device="cpu")
    model.save(str(folder))
    (folder / "notes.csv").write_text("not textcl's")
    with pytest.warns(UserWarning, match="notes.csv"):
        model.save(str(folder))
    kept = [n for n in os.listdir(files["tmp"]) if n.startswith("p.replaced-")]
    assert len(kept) == 1 and (files["tmp"] / kept[0] / "notes.csv").read_text() == "not textcl's"


def test_encode_rewrites_or_removes_every_sidecar_it_owns(files):
    txt = files["tmp"] / "gaps.txt"
    txt.write_text("a man plays\n\na dog runs\n")
    out = str(files["tmp"] / "emb.npy")
    assert main(["encode", "--model", files["model"], "--input", str(txt), "--output", out, "--skip-empty"]) == 0
    assert os.path.exists(out[:-4] + ".lines.npy") or os.path.exists(out + ".lines.npy")
    assert main(["encode", "--model", files["model"], "--input", files["txt"], "--output", out, "--overwrite"]) == 0
    assert not any(n.endswith(".lines.npy") for n in os.listdir(files["tmp"]))
    assert np.load(out).shape[0] == len(SENTENCES)


def test_a_faiss_index_never_overwrites_its_embeddings(files):
    pytest.importorskip("faiss")
    from textcl.search.semantic import open_index

    emb = files["tmp"] / "emb.npy"
    np.save(emb, np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32))
    before = emb.read_bytes()
    with pytest.raises(ValueError, match="would overwrite or delete that input"):
        open_index("faiss", str(emb), index_path=str(emb))
    assert emb.read_bytes() == before


def test_search_refuses_a_line_number_sidecar_of_another_encode(files, capsys):
    out = files["tmp"] / "emb.npy"
    assert main(["encode", "--model", files["model"], "--input", files["txt"], "--output", str(out)]) == 0
    np.save(files["tmp"] / "emb.lines.npy", np.arange(1, 100))  # left by some other encode
    code = main(["search", "--model", files["model"], "--corpus-embeddings", str(out), "--query", "a dog"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and "belongs to another encode" in err[-1]
