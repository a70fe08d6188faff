"""One identity for resume: inputs by content, the checkpoint's own record, changes refused naming the keys."""

from __future__ import annotations

import pytest

from textcl.cli import main
from tiny_models import SENTENCES


def _train(model, data, out, *extra):
    return main(["train", "--model", model, "--data", str(data), "--view", "pair", "--max-steps", "2",
                 "--batch-size", "4", "--lr", "1e-3", "--dtype", "float32", "--device", "cpu", "--output", str(out),
                 *extra])


@pytest.fixture
def run(tmp_path, tiny_bert_dir):
    data = tmp_path / "pairs.csv"
    data.write_text("a,b\n" + "".join(f"{s},{s} too\n" for s in SENTENCES))
    assert _train(tiny_bert_dir, data, tmp_path / "run") == 0
    return tiny_bert_dir, data, tmp_path


def test_an_edited_data_file_of_the_same_length_is_refused(run, capsys):
    model, data, tmp = run
    data.write_text(data.read_text().replace("guitar", "violin"))
    assert _train(model, data, tmp / "run", "--resume", str(tmp / "run" / "checkpoint"), "--max-steps", "3") != 0
    err = capsys.readouterr().err
    assert "settings differ" in err and "sha256" in err, err
    assert _train(model, data, tmp / "run", "--resume", str(tmp / "run" / "checkpoint"), "--max-steps", "3",
                  "--allow-changed-settings") == 0


def test_another_runs_checkpoint_in_a_fresh_output_keeps_its_record(run, capsys):
    model, data, tmp = run
    code = _train(model, data, tmp / "fresh", "--resume", str(tmp / "run" / "checkpoint"), "--lr", "0.01",
                  "--max-steps", "3")
    err = capsys.readouterr().err
    assert code != 0 and "train.lr" in err and "0.001" in err and "0.01" in err, err
