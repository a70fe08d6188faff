"""``textcl eval``: argument contract and a run with a stand-in model (no weights loaded)."""

from __future__ import annotations

import argparse
import json
import sys
import types

import numpy as np
import pytest

from textcl.commands import eval as eval_command


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="textcl")
    eval_command.register(p.add_subparsers(dest="command"))
    return p


def test_register_sets_run_and_defaults(monkeypatch):
    monkeypatch.setenv("TEXTCL_DATA", "/data/downstream")
    args = parser().parse_args(["eval", "--model", "m"])
    assert args.func is eval_command.run
    assert (args.tasks, args.batch_size, args.pooling, args.device) == ("all", 64, None, None)
    assert args.data_dir == "/data/downstream"
    args = parser().parse_args(["eval", "--model", "m", "--tasks", "stsb,mr", "--data-dir", "d",
                                "--output", "r.json", "--plots", "p", "--batch-size", "8",
                                "--pooling", "cls", "--device", "cpu"])
    assert (args.tasks, args.data_dir, args.output, args.plots, args.batch_size, args.pooling,
            args.device) == ("stsb,mr", "d", "r.json", "p", 8, "cls", "cpu")


class FakeEncoder:
    """Stands in for textcl.model.SentenceEncoder: records how it was loaded and used."""

    loaded: dict = {}

    @classmethod
    def from_pretrained(cls, name_or_path, pooling=None, device=None):
        cls.loaded = {"name": name_or_path, "pooling": pooling, "device": device}
        return cls()

    def encode(self, texts, batch_size=64, dtype="auto"):
        FakeEncoder.loaded["batch_size"] = batch_size
        FakeEncoder.loaded["dtype"] = dtype
        rng = np.random.default_rng(len(texts))
        return rng.standard_normal((len(texts), 8)).astype(np.float32)


def test_run_prints_table_and_writes_json(downstream, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "textcl.model", types.SimpleNamespace(SentenceEncoder=FakeEncoder))
    out = tmp_path / "results.json"
    args = parser().parse_args(["eval", "--model", "some/model", "--tasks", "stsb,sickr",
                                "--data-dir", str(downstream), "--output", str(out),
                                "--batch-size", "16", "--pooling", "mean", "--device", "cpu"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "| STS-B | Spearman / Pearson |" in printed and "wall time:" in printed
    split = printed.split("time split")[1]
    assert "| Task | encode s | probe s | probe / encode |" in split
    assert "| STS-B |" in split and "| SICK-R |" in split and "| **total** |" in split
    assert FakeEncoder.loaded == {"name": "some/model", "pooling": "mean", "device": "cpu", "batch_size": 16,
                                  "dtype": "float32"}  # reference (float32) compute by default
    results = json.loads(out.read_text())
    assert results["sts_avg"]["tasks"] == ["stsb", "sickr"]


def test_run_without_data_dir_fails_before_loading(monkeypatch):
    monkeypatch.setitem(sys.modules, "textcl.model", types.SimpleNamespace(SentenceEncoder=FakeEncoder))
    FakeEncoder.loaded = {}
    monkeypatch.delenv("TEXTCL_DATA", raising=False)
    args = parser().parse_args(["eval", "--model", "m"])
    with pytest.raises(ValueError, match="TEXTCL_DATA"):
        args.func(args)
    assert FakeEncoder.loaded == {}


@pytest.mark.parametrize("tasks, error, message", [
    ("stsb,foo", ValueError, "unknown task 'foo'"),
    ("subj", FileNotFoundError, "subj data not found"),
])
def test_bad_tasks_fail_before_loading(downstream, monkeypatch, tasks, error, message):
    monkeypatch.setitem(sys.modules, "textcl.model", types.SimpleNamespace(SentenceEncoder=FakeEncoder))
    FakeEncoder.loaded = {}
    args = parser().parse_args(["eval", "--model", "m", "--tasks", tasks, "--data-dir", str(downstream)])
    with pytest.raises(error, match=message):
        args.func(args)
    assert FakeEncoder.loaded == {}


def test_jobs_must_be_positive_and_is_checked_before_loading(downstream, monkeypatch):
    monkeypatch.setitem(sys.modules, "textcl.model", types.SimpleNamespace(SentenceEncoder=FakeEncoder))
    FakeEncoder.loaded = {}
    args = parser().parse_args(["eval", "--model", "m", "--tasks", "stsb", "--data-dir", str(downstream),
                                "--jobs", "0"])
    with pytest.raises(ValueError, match=r"jobs \(--jobs\) must be an int >= 1"):
        args.func(args)
    assert FakeEncoder.loaded == {}
    assert parser().parse_args(["eval", "--model", "m", "--jobs", "2"]).jobs == 2
