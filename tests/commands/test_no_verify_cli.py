"""A hand-edited model folder: refused in one line naming the file and both fixes; loaded by ``verify=False``
and by ``--no-verify`` on every command that loads a model, with a warning."""

from __future__ import annotations

import itertools
import os
import warnings

import numpy as np
import pytest
import torch
from tiny_models import SENTENCES

from textcl.cli import main
from textcl.model import SentenceEncoder
from textcl.storage import CorruptFolderError

pytestmark = pytest.mark.usefixtures("one_thread")

FIXES = ("re-save the folder", "verify=False (--no-verify)")
EDITED = "textcl_config.json"


def hand_edit(folder: str, rel: str = EDITED) -> str:
    """Add a trailing newline to a JSON file: it still loads, but it is not the file the save wrote."""
    path = os.path.join(folder, rel)
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n")
    return path


@pytest.fixture(scope="module")
def edited_model(tiny_bert_dir, tmp_path_factory) -> str:
    torch.manual_seed(0)
    folder = str(tmp_path_factory.mktemp("edited") / "model")
    SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu").save(folder)
    hand_edit(folder)
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    tmp = tmp_path_factory.mktemp("data")
    (tmp / "sentences.txt").write_text("\n".join(SENTENCES) + "\n")
    pairs = list(itertools.pairwise(SENTENCES))
    (tmp / "pairs.csv").write_text("anchor,positive\n" + "".join(f"{a},{b}\n" for a, b in pairs))
    (tmp / "labelled.csv").write_text("text,label\n" + "".join(f"{s},{i % 2}\n" for i, s in enumerate(SENTENCES)))
    sts = tmp / "senteval" / "STS" / "STSBenchmark"
    sts.mkdir(parents=True)
    (sts / "sts-test.csv").write_text("".join(f"g\tt\t2012\t{i}\t{i % 5}.0\t{a}\t{b}\n"
                                              for i, (a, b) in enumerate(pairs)))
    return str(tmp)


def test_api_refuses_then_loads_with_verify_false(tiny_bert_dir, tmp_path):
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu")
    folder = str(tmp_path / "m")
    model.save(folder)
    path = hand_edit(folder)
    with pytest.raises(CorruptFolderError) as err:
        SentenceEncoder.from_pretrained(folder, device="cpu")
    message = str(err.value)
    assert err.value.file == path and path in message and "\n" not in message
    assert all(fix in message for fix in FIXES), message
    with pytest.warns(UserWarning, match="without checking its files' sizes and SHA-256"):
        loaded = SentenceEncoder.from_pretrained(folder, device="cpu", verify=False)
    np.testing.assert_allclose(loaded.encode(SENTENCES[:4]), model.encode(SENTENCES[:4]), atol=1e-6)
    with warnings.catch_warnings():  # an intact folder loads without the warning
        warnings.simplefilter("error")
        model.save(str(tmp_path / "intact"))
        SentenceEncoder.from_pretrained(str(tmp_path / "intact"), device="cpu")


def _commands(model: str, data: str, out: str) -> dict[str, list[str]]:
    return {
        "encode": ["encode", "--model", model, "--input", f"{data}/sentences.txt", "--output", f"{out}/e.npy",
                   "--device", "cpu"],
        "search": ["search", "--model", model, "--corpus", f"{data}/sentences.txt", "--query", "a dog",
                   "--device", "cpu"],
        "eval": ["eval", "--model", model, "--tasks", "stsb", "--data-dir", f"{data}/senteval", "--device", "cpu"],
        "train": ["train", "--model", model, "--data", f"{data}/pairs.csv", "--view", "pair", "--max-steps", "1",
                  "--batch-size", "4", "--output", f"{out}/run", "--device", "cpu"],
        "classify": ["classify", "--model", model, "--train", f"{data}/labelled.csv", "--output", f"{out}/clf",
                     "--freeze", "--epochs", "1", "--device", "cpu"],
        "mine": ["mine", model, "--data", f"{data}/pairs.csv", "--output", f"{out}/mined.jsonl", "--device", "cpu",
                 "--num-negatives", "1"],
    }


@pytest.mark.parametrize("command", ["encode", "search", "eval", "train", "classify", "mine"])
def test_every_model_loading_command_takes_no_verify(edited_model, data, tmp_path, capsys, command):
    argv = _commands(edited_model, data, str(tmp_path))[command]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    line = [e for e in err if "error:" in e]
    assert len(line) == 1 and os.path.join(edited_model, EDITED) in line[0], err
    assert all(fix in line[0] for fix in FIXES), line[0]
    with pytest.warns(UserWarning, match="without checking its files' sizes and SHA-256"):
        assert main([*argv, "--no-verify"]) == 0
    assert "error:" not in capsys.readouterr().err


def test_classify_predict_takes_no_verify(tiny_bert_dir, data, tmp_path, capsys):
    clf = str(tmp_path / "clf")
    assert main(["classify", "--model", tiny_bert_dir, "--train", f"{data}/labelled.csv", "--output", clf,
                 "--freeze", "--epochs", "1", "--device", "cpu"]) == 0
    edited = next(os.path.join(root, name) for root, _, names in os.walk(clf) for name in names
                  if name == "classifier_config.json" or name == EDITED)
    hand_edit(os.path.dirname(edited), os.path.basename(edited))
    argv = ["classify", "predict", "--model", clf, "--input", f"{data}/sentences.txt", "--device", "cpu"]
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert edited in err and all(fix in err for fix in FIXES), err
    with pytest.warns(UserWarning, match="without checking"):
        assert main([*argv, "--no-verify"]) == 0
