"""Atomic file writes: complete new file or untouched old one, no temporary file left behind."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from textcl.storage import (atomic_output_file, atomic_write_bytes, atomic_write_json, atomic_write_text,
                            fsync_file, replace_into_place)
from textcl.storage.atomic import temp_sibling


def test_write_bytes_text_json_replace_old_content(tmp_path):
    target = tmp_path / "sub" / "f.bin"
    atomic_write_bytes(str(target), b"first")
    atomic_write_bytes(str(target), b"second")
    assert target.read_bytes() == b"second"
    atomic_write_text(str(tmp_path / "t.txt"), "héllo\n")
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "héllo\n"
    atomic_write_json(str(tmp_path / "c.json"), {"a": [1, 2], "b": "é"})
    assert json.loads((tmp_path / "c.json").read_text(encoding="utf-8")) == {"a": [1, 2], "b": "é"}
    assert sorted(os.listdir(tmp_path)) == ["c.json", "sub", "t.txt"]  # no temporary leftovers
    assert os.listdir(tmp_path / "sub") == ["f.bin"]


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "f.json"
    atomic_write_json(str(target), {"v": 1})
    with pytest.raises(TypeError):
        atomic_write_json(str(target), {"v": object()})  # not serialisable: nothing written
    with pytest.raises(ValueError):
        atomic_write_json(str(target), {"v": float("nan")})
    calls = []

    def failing_replace(src, dst):
        calls.append(src)
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(str(target), b"new")
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"v": 1}
    assert calls and not os.path.exists(calls[0])  # the temporary file was written, then removed
    assert os.listdir(tmp_path) == ["f.json"]


def test_folder_target_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder, not a file"):
        atomic_write_text(str(tmp_path), "x")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        with atomic_output_file(str(tmp_path)):
            pytest.fail("the block must not run")


def test_temp_sibling_is_hidden_unique_and_keeps_extension(tmp_path):
    a, b = temp_sibling(str(tmp_path / "emb.npy")), temp_sibling(str(tmp_path / "emb.npy"))
    assert a != b and os.path.dirname(a) == str(tmp_path)
    assert os.path.basename(a).startswith(".emb.npy.tmp-") and a.endswith(".npy")
    assert os.path.basename(temp_sibling(str(tmp_path / "model"), hidden=False)).startswith("model.tmp-")


def test_atomic_output_file_with_np_save_and_memmap(tmp_path):
    out = tmp_path / "emb.npy"
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    with atomic_output_file(str(out)) as tmp:
        np.save(tmp, data)  # np.save would add ".npy" to a name without it
        assert not out.exists()
    np.testing.assert_array_equal(np.load(out), data)
    with atomic_output_file(str(out)) as tmp:
        mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(2, 2))
        mm[:] = 7
        mm.flush()
        del mm
    np.testing.assert_array_equal(np.load(out), np.full((2, 2), 7, np.float32))
    assert os.listdir(tmp_path) == ["emb.npy"]


def test_atomic_output_file_error_keeps_old(tmp_path):
    out = tmp_path / "emb.npy"
    np.save(out, np.zeros(3))
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_output_file(str(out)) as tmp:
            np.save(tmp, np.ones(5))
            raise RuntimeError("boom")
    np.testing.assert_array_equal(np.load(out), np.zeros(3))
    assert os.listdir(tmp_path) == ["emb.npy"]
    with pytest.raises(FileNotFoundError, match="nothing was written"):
        with atomic_output_file(str(out)):
            pass
    np.testing.assert_array_equal(np.load(out), np.zeros(3))


def test_fsync_file_and_replace_into_place(tmp_path):
    partial = tmp_path / "out.npy.partial"
    partial.write_bytes(b"abc")
    fsync_file(str(partial))
    replace_into_place(str(partial), str(tmp_path / "out.npy"))
    assert (tmp_path / "out.npy").read_bytes() == b"abc" and not partial.exists()
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError):
        replace_into_place(str(tmp_path / "out.npy"), str(tmp_path / "d"))
