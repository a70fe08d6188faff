"""Two processes saving a model to one folder at the same moment: the folder afterwards is exactly
one of the two saves (byte for byte, manifest verified), never a mix, and no leftover remains."""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest

from textcl.encoders.word_average import WordAverageEncoder
from textcl.encoders.word_tokenizer import WordTokenizer
from textcl.model import SentenceEncoder
from textcl.storage import MANIFEST_FILE, verify_manifest

VOCAB = ["<pad>", "<unk>"] + "the cat sat on mat a dog ran".split()


def _model(seed: int) -> SentenceEncoder:
    matrix = np.random.default_rng(seed).normal(size=(len(VOCAB), 8)).astype(np.float32)
    return SentenceEncoder(WordAverageEncoder(WordTokenizer(VOCAB), matrix)).to("cpu")


def _content(folder: str) -> dict[str, bytes]:
    out = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder)] = f.read()
    return out


def _save(seed: int, path: str, start, errors) -> None:
    model = _model(seed)
    start.wait()
    try:
        model.save(path)
    except Exception as err:  # noqa: BLE001 - the parent checks which errors are allowed
        errors.put(f"{type(err).__name__}: {err}")


@pytest.mark.parametrize("round_", range(4))
def test_two_concurrent_saves_leave_exactly_one_of_them(tmp_path, round_):
    refs = {}
    for seed in (1, 2):
        _model(seed).save(str(tmp_path / f"ref{seed}"))
        refs[seed] = {k: v for k, v in _content(str(tmp_path / f"ref{seed}")).items()}
    assert refs[1] != refs[2]
    target = str(tmp_path / "model")
    if round_ % 2:  # half the rounds replace an existing save
        _model(3).save(target)
    ctx = multiprocessing.get_context("fork")
    start, errors = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_save, args=(seed, target, start, errors)) for seed in (1, 2)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    while not errors.empty():  # a writer that lost the race may say so; it must not corrupt the folder
        message = errors.get()
        assert "at the same time" in message, message
    verify_manifest(target)
    got = _content(target)
    assert got in (refs[1], refs[2]), sorted(got)
    assert MANIFEST_FILE in got
    assert sorted(os.listdir(tmp_path)) == sorted(["model", "ref1", "ref2"])  # no .old or temporary left
