"""The quickstart runs end to end offline on the bundled data (a small, fast configuration)."""

import json
import os

from textcl.cli import main
from textcl.model import SentenceEncoder


def test_quickstart_smoke_run(tmp_path, capsys):
    out = tmp_path / "qs"
    rc = main(["quickstart", "--output", str(out), "--max-rows", "256", "--epochs", "1", "--eval-steps", "2",
               "--batch-size", "32"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| averaged GloVe-50d |" in printed and "BiLSTM (after" in printed and "Written:" in printed
    results = json.loads((out / "results.json").read_text())
    names = [r["model"] for r in results["rows"]]
    assert len(names) == 3 and names[0] == "averaged GloVe-50d"
    glove = results["rows"][0]
    assert 35 < glove["stsb_test"] < 45  # averaged GloVe-50d on STS-B test: ~39.5 (sentence-transformers figure)
    assert 60 < glove["cr_accuracy"] < 85
    assert results["model_path"] == os.path.join("run", "model")  # relative to the results file: no machine path
    model_dir = str(out / results["model_path"])
    card = open(os.path.join(model_dir, "README.md")).read()
    assert card.startswith("---\n") and "model-index" in card and "InfoNCE" in card
    assert os.path.isfile(out / "plots" / "sts_stsb.png") and os.path.isfile(out / "plots" / "alignment_uniformity_all.png")
    model = SentenceEncoder.from_pretrained(model_dir)
    assert model.encode(["a man plays a guitar ."]).shape == (1, 512)
    assert "temperature=0.03" in card  # the BiLSTM's default, chosen on STS-B dev


def test_quickstart_refuses_an_earlier_run_before_any_work(tmp_path, monkeypatch):
    import pytest

    from textcl import quickstart
    from textcl.storage import OutputExistsError

    run = tmp_path / "qs" / "run"
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text('{"step": 1}\n')
    scored = []
    monkeypatch.setattr(quickstart, "_score", lambda *a, **k: scored.append(a) or {})
    with pytest.raises(OutputExistsError, match=r"already holds a training run \(metrics.jsonl\).*--overwrite"):
        quickstart.run_quickstart(quickstart.QuickstartSettings(output=str(tmp_path / "qs")))
    assert scored == [] and (run / "metrics.jsonl").read_text() == '{"step": 1}\n'  # nothing scored, nothing lost
