"""kill -9 during ``textcl train`` after the first checkpoint, then ``--resume``: the final weights
equal an uninterrupted run's, bit for bit. Also: two ``textcl train`` on one ``--output`` at once.

The 20-point loop and the two-runs test (real subprocess runs, slow to start) are marked
``fault`` (off by default: ``--run-fault`` or ``TEXTCL_FAULT=1``); the default suite runs one
point. The killed run is a subprocess; the reference and the resumes run in-process; all on
one thread, so that they compute alike.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from textcl.train.checkpoint import STATE_FILE, resolve_checkpoint
from tiny_models import SENTENCES

STEPS, SAVE_EVERY = 20, 2
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "pairs.csv"
    rows = ["anchor,positive"] + [f"{a},{b}" for a, b in zip(SENTENCES, SENTENCES[1:] + SENTENCES[:1])]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def _argv(model: str, data: str, out: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "textcl.cli", "train", "--model", model, "--data", data, "--view", "pair",
            "--batch-size", "4", "--max-steps", str(STEPS), "--save-steps", str(SAVE_EVERY), "--log-steps", "1",
            "--lr", "1e-3", "--seed", "3", "--output", out, "--device", "cpu", *extra]


def _weights(out: str) -> dict[str, torch.Tensor]:
    return load_file(os.path.join(out, "model", "model.safetensors"))


def _steps(out: str) -> list[int]:
    with open(os.path.join(out, "metrics.jsonl")) as f:
        return [r["step"] for r in map(json.loads, f) if "loss" in r]


def _in_process(argv: list[str]) -> int:
    """Run ``textcl`` in this process on one thread, as the subprocesses run (same arithmetic, bit for bit)."""
    from textcl.cli import main

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return main(argv[3:])  # drop "python -m textcl.cli"
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def reference(tiny_bert_dir, pairs_file, tmp_path_factory):
    """The uninterrupted run's final weights."""
    out = str(tmp_path_factory.mktemp("ref") / "run")
    assert _in_process(_argv(tiny_bert_dir, pairs_file, out)) == 0
    assert _steps(out) == list(range(1, STEPS + 1))
    return _weights(out)


def _logged(out: str) -> int:
    try:
        with open(os.path.join(out, "metrics.jsonl"), "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def kill_and_resume(model: str, data: str, out: str, after_step: int, delay: float) -> dict:
    """Start a run in a subprocess; once ``checkpoint/`` exists and ``after_step`` steps are logged, wait
    ``delay`` s, SIGKILL it, and resume in-process; return what happened."""
    proc = subprocess.Popen(_argv(model, data, out), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    while not (os.path.isdir(os.path.join(out, "checkpoint")) and _logged(out) >= after_step):
        if proc.poll() is not None:
            break  # finished (or failed) before the kill point: checked below
        time.sleep(0.002)
    time.sleep(delay)
    finished_first = proc.poll() is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not finished_first or proc.returncode == 0, proc.stderr.read()[-2000:]
    folder, note = resolve_checkpoint(os.path.join(out, "checkpoint"))
    resumed_from = int(torch.load(os.path.join(folder, STATE_FILE), weights_only=True)["step"])
    assert _in_process(_argv(model, data, out, "--resume", os.path.join(out, "checkpoint"))) == 0
    return {"after_step": after_step, "delay": delay, "finished_before_kill": finished_first,
            "resumed_from": resumed_from, "fallback": note is not None, "steps": _steps(out),
            "weights": _weights(out)}


def _check(result: dict, want: dict[str, torch.Tensor]) -> None:
    assert result["resumed_from"] >= SAVE_EVERY  # past step 0: the run resumed, it did not start over
    assert result["steps"] == list(range(1, STEPS + 1))  # no step lost or repeated in metrics.jsonl
    got = result["weights"]
    assert got.keys() == want.keys()
    diff = max(float((got[k].double() - want[k].double()).abs().max()) for k in want)
    assert diff == 0.0, (f"killed after step {result['after_step']} + {result['delay']:.3f}s, resumed from step "
                         f"{result['resumed_from']}: max weight difference {diff}")


def test_kill_9_once_then_resume_is_bitwise_identical(tiny_bert_dir, pairs_file, reference, tmp_path):
    result = kill_and_resume(tiny_bert_dir, pairs_file, str(tmp_path / "run"), after_step=7, delay=0.01)
    _check(result, reference)


@pytest.mark.fault
def test_kill_9_at_20_random_points_then_resume(tiny_bert_dir, pairs_file, reference, tmp_path):
    rng = random.Random(20)
    summary = []
    for i in range(20):
        result = kill_and_resume(tiny_bert_dir, pairs_file, str(tmp_path / f"run{i}"),
                                 after_step=rng.randint(SAVE_EVERY, STEPS - 1), delay=rng.uniform(0, 0.05))
        _check(result, reference)
        summary.append((result["after_step"], round(result["delay"], 3), result["resumed_from"],
                        result["finished_before_kill"], result["fallback"]))
    print("\nkill -9 points (after step, + delay s, resumed from step, finished first, fell back):")
    for row in summary:
        print("  ", row)
    assert len({row[2] for row in summary}) > 1  # the points spread over the run


@pytest.mark.fault
def test_two_train_runs_on_one_output(tiny_bert_dir, pairs_file, tmp_path, capsys):
    """A second ``textcl train`` on an --output a live run writes to is refused with the lock holder named."""
    from textcl.cli import main

    out = str(tmp_path / "run")
    argv = _argv(tiny_bert_dir, pairs_file, out)
    argv[argv.index("--max-steps") + 1] = "100000"  # long enough to still run during the second one
    first = subprocess.Popen(argv, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while not os.path.isfile(os.path.join(out, ".textcl.lock")):
            assert first.poll() is None, first.stderr.read()[-2000:]
            time.sleep(0.01)
        for extra in ([], ["--overwrite"]):
            assert main(argv[3:] + extra) == 1  # in-process: drop "python -m textcl.cli"
            err = capsys.readouterr().err
            assert f"pid {first.pid}" in err and "writes to" in err and "Traceback" not in err, err
        assert first.poll() is None  # the first run was not disturbed
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
