"""``textcl encode``'s progress display: rows, rows/s and time left on stderr; ``--quiet`` silences it;
the thread plan reads the same row counter."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import textcl.threads as threads_mod
from textcl.cli import main
from textcl.corpus import encode_file
from textcl.model import SentenceEncoder

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def corpus_file(tmp_path, sentences):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(f"{a} {b}" for a in sentences[:7] for b in sentences[7:10]) + "\n")  # 21 rows
    return str(path)


def _args(model_dir, src, out, *extra):
    return ["encode", "--model", model_dir, "--input", src, "--output", str(out), "--chunk-size", "8",
            "--batch-size", "4", "--device", "cpu", *extra]


def test_progress_shows_rows_rate_and_time_left(tiny_bert_dir, corpus_file, tmp_path, capsys):
    assert main(_args(tiny_bert_dir, corpus_file, tmp_path / "e.npy")) == 0
    captured = capsys.readouterr()
    assert re.search(r"21/21", captured.err), captured.err  # rows done / rows in all
    assert "rows/s" in captured.err and "<" in captured.err  # rate, and elapsed<remaining
    assert "rows/s" not in captured.out  # stdout keeps only the JSON summary
    assert np.load(tmp_path / "e.npy").shape[0] == 21


def test_quiet_silences_it(tiny_bert_dir, corpus_file, tmp_path, capsys):
    assert main(_args(tiny_bert_dir, corpus_file, tmp_path / "e.npy", "--quiet")) == 0
    captured = capsys.readouterr()
    assert "rows" not in captured.err and "Encoding" not in captured.err, captured.err


def test_quiet_in_a_real_process(tiny_bert_dir, corpus_file, tmp_path):
    """What a user sees: the bar on stderr without --quiet, nothing there with it."""
    runs = {}
    for flag in ((), ("--quiet",)):
        out = tmp_path / f"e{len(flag)}.npy"
        proc = subprocess.run([sys.executable, "-m", "textcl.cli", *_args(tiny_bert_dir, corpus_file, out, *flag)],
                              check=False, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert proc.returncode == 0, proc.stderr
        runs[flag] = proc.stderr
    assert "rows/s" in runs[()]
    assert "rows/s" not in runs[("--quiet",)]


def test_the_thread_plan_counts_the_rows_the_display_shows(tiny_bert_dir, corpus_file, tmp_path, monkeypatch):
    """Per-batch rows reach the outer plan's counter (the display's) through the model's own encode."""
    counted = []
    real = threads_mod.ThreadPlan.advance

    def spy(self, rows, govern=True):
        if self._parent is None:
            counted.append(rows)
        return real(self, rows, govern)

    monkeypatch.setattr(threads_mod.ThreadPlan, "advance", spy)
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    encode_file(model, corpus_file, str(tmp_path / "e.npy"), batch_size=4, chunk_size=8, dtype="float32")
    assert sum(counted) == 21
    assert max(counted) <= 4  # batch by batch, not chunk by chunk
