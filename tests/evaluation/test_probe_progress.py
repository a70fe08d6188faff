"""The probes show a bar of their C-search folds on stderr; it never changes a score; ``--quiet`` silences it."""

from __future__ import annotations

import argparse
import re
import sys
import types

import numpy as np
import pytest

from textcl.commands import eval as eval_command
from textcl.data.senteval import load_task
from textcl.evaluation.logistic import cv_probe, kfold_test_probe, probe_progress, split_probe
from textcl.evaluation.probes import evaluate_probe_data


def _data(n: int = 60, classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(size=(n, 8)).astype(np.float32)
    x[:, 0] += y
    return x, y


def _final_count(err: str, desc: str) -> tuple[int, int]:
    """``(done, total)`` of the last state the bar labelled ``desc`` drew."""
    states = re.findall(rf"{re.escape(desc)}: .*?(\d+)/(\d+) ", err)
    assert states, err
    return tuple(int(v) for v in states[-1])


def _protocols(x, y):
    return {"cv": lambda jobs: cv_probe(x, y, n_folds=4, inner_folds=3, n_jobs=jobs),
            "kfold": lambda jobs: kfold_test_probe((x[:45], y[:45]), (x[45:], y[45:]), n_folds=5, n_jobs=jobs),
            "split": lambda jobs: split_probe((x[:30], y[:30]), (x[30:45], y[30:45]), (x[45:], y[45:]))}


@pytest.mark.parametrize("protocol, folds", [("cv", 4 * 3), ("kfold", 5), ("split", 1)])
@pytest.mark.parametrize("jobs", [None, 2])
def test_the_bar_counts_every_c_search_fold(protocol, folds, jobs, capsys):
    x, y = _data()
    with probe_progress("probe toy"):
        shown = _protocols(x, y)[protocol](jobs)
    assert _final_count(capsys.readouterr().err, "probe toy") == (folds, folds)
    quiet = _protocols(x, y)[protocol](jobs)  # no bar: same numbers
    assert (shown["accuracy"], shown["dev_accuracy"], shown["C"]) == (quiet["accuracy"], quiet["dev_accuracy"],
                                                                       quiet["C"])
    assert np.array_equal(shown["predictions"], quiet["predictions"])


def test_a_disabled_bar_prints_nothing(capsys):
    x, y = _data()
    with probe_progress("probe toy", enabled=False):
        cv_probe(x, y, n_folds=3, inner_folds=2)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("task, folds", [("mr", 10 * 5), ("sst2", 1), ("trec", 2), ("mrpc", 2)])
def test_each_task_gets_its_bar(downstream, counting_encoder, capsys, task, folds):
    data = load_task(task, downstream)
    shown = evaluate_probe_data(counting_encoder, task, data)
    assert _final_count(capsys.readouterr().err, f"probe {task}") == (folds, folds)
    assert evaluate_probe_data(counting_encoder, task, data, show_progress=False) == shown
    assert capsys.readouterr().err == ""


class _Encoder:
    """Stands in for SentenceEncoder in ``textcl eval`` (no weights)."""

    @classmethod
    def from_pretrained(cls, name_or_path, **kwargs):
        return cls()

    def encode(self, texts, batch_size=64, dtype="float32"):
        rng = np.random.default_rng(len(texts))
        return rng.standard_normal((len(texts), 8)).astype(np.float32)


@pytest.mark.parametrize("quiet", [False, True])
def test_eval_quiet_silences_the_bars(downstream, monkeypatch, capsys, quiet):
    monkeypatch.setitem(sys.modules, "textcl.model", types.SimpleNamespace(SentenceEncoder=_Encoder))
    parser = argparse.ArgumentParser(prog="textcl")
    eval_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["eval", "--model", "m", "--tasks", "stsb,mr", "--data-dir", str(downstream),
                              "--device", "cpu", *(["--quiet"] if quiet else [])])
    assert args.func(args) == 0
    captured = capsys.readouterr()
    assert "| MR | Acc |" in captured.out  # the results are printed either way
    if quiet:
        assert captured.err == ""
    else:
        assert _final_count(captured.err, "probe mr") == (50, 50)
        assert "encoding" in captured.err
