"""One error path: a damaged file the user supplied is named in one line, never a traceback."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import torch

from textcl.cli import main
from textcl.model import SentenceEncoder
from tiny_models import SENTENCES

DEEP = "[" * 200000 + "]" * 200000


class NotATensor:  # a pickle torch.load(weights_only=True) refuses
    pass


DAMAGES = {
    "truncated JSON": lambda p: p.write_text(p.read_text()[:20]),
    "JSON nested too deeply": lambda p: p.write_text(DEEP),
    "not UTF-8": lambda p: p.write_bytes(b"\xff\xfe\x00{"),
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_bert_dir):
    folder = tmp_path_factory.mktemp("saved") / "model"
    SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu").save(str(folder))
    return folder


def commands(model, tmp):
    txt = tmp / "s.txt"
    txt.write_text("\n".join(SENTENCES) + "\n")
    return {"encode": ["encode", "--model", str(model), "--input", str(txt), "--output", str(tmp / "e.npy")],
            "train": ["train", "--model", str(model), "--data", str(txt), "--max-steps", "1", "--output",
                      str(tmp / "run")],
            "search": ["search", "--model", str(model), "--corpus", str(txt), "--query", "a dog"]}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
@pytest.mark.parametrize("name", ["textcl_config.json", "textcl_manifest.json", "encoder_config.json"])
def test_a_damaged_model_file_is_named_in_one_line(name, damage, saved, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(saved, model)
    target = next(p for p in model.rglob(name))
    DAMAGES[damage](target)
    for command, argv in commands(model, tmp_path).items():
        code = main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert code != 0 and len(err) == 1 and name in err[0] and "Traceback" not in err[0], (command, err)


@pytest.mark.parametrize("damage", ["a refused pickle", "truncated", "JSON nested too deeply"])
def test_a_damaged_checkpoint_is_named_in_one_line(damage, saved, tmp_path, capsys):
    txt = tmp_path / "s.txt"
    txt.write_text("\n".join(SENTENCES) + "\n")
    argv = ["train", "--model", str(saved), "--data", str(txt), "--max-steps", "1", "--batch-size", "4",
            "--output", str(tmp_path / "run")]
    assert main(argv) == 0
    state = tmp_path / "run" / "checkpoint" / "trainer_state.pt"
    if damage == "a refused pickle":
        torch.save({"step": NotATensor()}, state)
    elif damage == "truncated":
        state.write_bytes(state.read_bytes()[:50])
    else:
        state.write_text(DEEP)
    capsys.readouterr()
    code = main([*argv[:-2], "--output", str(tmp_path / "run"), "--resume", str(tmp_path / "run" / "checkpoint"),
                 "--max-steps", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and err and "trainer_state.pt" in err[-1] and "Traceback" not in "".join(err), err


@pytest.mark.parametrize("content", ["pickled objects", "not an array", "JSON nested too deeply"])
def test_a_damaged_ranges_or_config_file_is_named_in_one_line(content, saved, tmp_path, capsys):
    ranges = tmp_path / "ranges.npy"
    if content == "pickled objects":
        np.save(ranges, np.array([object(), 1], dtype=object), allow_pickle=True)
    elif content == "not an array":
        ranges.write_bytes(b"hello")
    else:
        ranges.write_text(DEEP)
    txt = tmp_path / "s.txt"
    txt.write_text("\n".join(SENTENCES) + "\n")
    code = main(["encode", "--model", str(saved), "--input", str(txt), "--output", str(tmp_path / "e.npy"),
                 "--precision", "int8", "--ranges", str(ranges)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "ranges.npy" in err[0], err
    config = tmp_path / "config.yaml"
    config.write_text(DEEP)
    code = main(["train", "--config", str(config), "--data", str(txt), "--output", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "config.yaml" in err[0], err
