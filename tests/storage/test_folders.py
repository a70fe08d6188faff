"""Atomic folder saves: whole swaps, refusals, crash windows and recovery."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from textcl.storage import (MANIFEST_FILE, OutputExistsError, aside_path, atomic_folder, complete_sibling,
                            find_siblings, read_manifest, recover_folder, verify_manifest, write_manifest)
from textcl.storage.folders import _install


def _write(folder, files):
    for name, text in files.items():
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)


def _is_test_kind(path):
    m = read_manifest(path)
    return m is not None and m["kind"] == "test"


def test_new_folder_gets_manifest(tmp_path):
    target = tmp_path / "a" / "model"
    with atomic_folder(str(target), kind="test") as tmp:
        assert os.path.dirname(tmp) == str(tmp_path / "a") and os.path.basename(tmp).startswith("model.tmp-")
        assert not target.exists()
        _write(tmp, {"config.json": "{}", "w.bin": "123"})
    assert sorted(os.listdir(target)) == ["config.json", MANIFEST_FILE, "w.bin"]
    assert verify_manifest(str(target))["kind"] == "test"
    assert os.listdir(tmp_path / "a") == ["model"]


def test_resave_replaces_whole_folder_no_stale_files(tmp_path):
    target = tmp_path / "model"
    with atomic_folder(str(target), kind="test") as tmp:
        _write(tmp, {"config.json": "old", "tokenizer.json": "stale"})
    with atomic_folder(str(target), kind="test", kind_check=_is_test_kind) as tmp:
        _write(tmp, {"config.json": "new"})
    assert sorted(os.listdir(target)) == ["config.json", MANIFEST_FILE]  # tokenizer.json did not survive
    assert (target / "config.json").read_text() == "new"
    assert os.listdir(tmp_path) == ["model"]  # neither .old nor a temporary folder is left


def test_exception_leaves_target_untouched(tmp_path):
    target = tmp_path / "model"
    with atomic_folder(str(target), kind="test") as tmp:
        _write(tmp, {"config.json": "old"})
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_folder(str(target), kind="test", kind_check=_is_test_kind) as tmp:
            _write(tmp, {"config.json": "half"})
            raise RuntimeError("killed")
    assert (target / "config.json").read_text() == "old"
    assert os.listdir(tmp_path) == ["model"]
    verify_manifest(str(target))


def test_refusals(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OutputExistsError, match="is a file, not a folder"):
        with atomic_folder(str(f), overwrite=True):
            pytest.fail("the block must not run")
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_text("meow")
    with pytest.raises(OutputExistsError, match="already holds files .* overwrite=True"):
        with atomic_folder(str(other), kind_check=_is_test_kind):
            pytest.fail("the block must not run")

    def broken_check(path):
        raise ValueError("manifest unreadable")

    with pytest.raises(OutputExistsError, match="could not be identified .*manifest unreadable"):
        with atomic_folder(str(other), kind_check=broken_check):
            pass
    assert (other / "cat.jpg").read_text() == "meow"
    with atomic_folder(str(other), overwrite=True, kind="test") as tmp:
        _write(tmp, {"a": "1"})
    assert sorted(os.listdir(other)) == ["a", MANIFEST_FILE]
    empty = tmp_path / "empty"
    empty.mkdir()
    with atomic_folder(str(empty)) as tmp:  # an empty folder is always fine
        _write(tmp, {"a": "1"})
    assert (empty / "a").read_text() == "1"


def test_symlinked_target_keeps_link(tmp_path):
    real = tmp_path / "real"
    with atomic_folder(str(real), kind="test") as tmp:
        _write(tmp, {"a": "1"})
    os.symlink(real, tmp_path / "link")
    with atomic_folder(str(tmp_path / "link"), kind="test", kind_check=_is_test_kind) as tmp:
        _write(tmp, {"a": "2"})
    assert os.path.islink(tmp_path / "link") and (tmp_path / "link" / "a").read_text() == "2"


def _complete_tmp(tmp_path, name, text, pid=None):
    """A temporary sibling as a save leaves it just before the renames."""
    folder = tmp_path / f"{name}.tmp-{pid or os.getpid()}-abcd1234"
    folder.mkdir()
    _write(str(folder), {"config.json": text})
    write_manifest(str(folder), kind="test")
    return folder


def test_crash_between_the_renames_is_recovered(tmp_path):
    target = tmp_path / "model"
    with atomic_folder(str(target), kind="test") as tmp:
        _write(tmp, {"config.json": "old"})
    new = _complete_tmp(tmp_path, "model", "new")
    aside = aside_path(str(target))
    aside = aside_path(str(target))
    os.rename(target, aside)  # step 2 done, killed before step 3
    assert not target.exists()
    assert find_siblings(str(target))[0] in (str(new), aside)
    message = recover_folder(str(target))
    assert message is not None and "model.tmp-" in message  # the newer, complete save wins
    assert (target / "config.json").read_text() == "new"
    assert recover_folder(str(target)) is None  # nothing to do now
    shutil.rmtree(target)
    message = recover_folder(str(target))  # only the aside is left
    assert message is not None and "model.old" in message and (target / "config.json").read_text() == "old"


def test_incomplete_siblings_are_not_recovered_but_listed(tmp_path):
    target = tmp_path / "model"
    half = tmp_path / "model.tmp-999999-00ff00ff"  # killed while writing: no manifest
    half.mkdir()
    _write(str(half), {"config.json": "half"})
    damaged = _complete_tmp(tmp_path, "model", "ok", pid=999998)
    (damaged / "config.json").write_text("truncat")
    assert recover_folder(str(target)) is None and not target.exists()
    assert set(find_siblings(str(target))) == {str(half), str(damaged)}
    sibling, refused = complete_sibling(str(target))
    assert sibling is None
    assert "has no textcl_manifest.json" in refused[str(half)] and "is corrupt" in refused[str(damaged)]


def test_live_writer_temp_is_neither_recovered_nor_removed(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = _complete_tmp(tmp_path, "model", "dead", pid=999997)
        busy = _complete_tmp(tmp_path, "model", "busy", pid=proc.pid)
        os.utime(dead, (1, 1))  # the live writer's folder is the newest: it must still be passed over
        sibling, refused = complete_sibling(str(tmp_path / "model"))
        assert sibling == str(dead) and "still writing" in refused[str(busy)]
        with atomic_folder(str(tmp_path / "model"), kind="test") as tmp:
            _write(tmp, {"config.json": "fresh"})
        assert busy.exists() and not dead.exists()  # the dead writer's leftover is cleaned up
    finally:
        proc.kill()
        proc.wait()


def test_failed_final_rename_puts_old_folder_back(tmp_path, monkeypatch):
    target = tmp_path / "model"
    with atomic_folder(str(target), kind="test") as tmp:
        _write(tmp, {"config.json": "old"})
    new = _complete_tmp(tmp_path, "model", "new")
    real_replace = os.replace

    def failing_replace(src, dst):
        if str(src) == str(new):
            raise OSError("I/O error")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OutputExistsError, match="could not move the new folder"):
        _install(str(new), str(target))
    assert (target / "config.json").read_text() == "old" and not any(".old-" in s for s in find_siblings(str(target)))


def test_check_folder_target_up_front(tmp_path):
    from textcl.storage import check_folder_target

    check_folder_target(str(tmp_path / "new"))
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputExistsError, match="is a file"):
        check_folder_target(str(tmp_path / "f"))
    with pytest.raises(OutputExistsError, match="already holds files"):
        check_folder_target(str(tmp_path))
    check_folder_target(str(tmp_path), overwrite=True)


def test_recovery_respects_accept(tmp_path):
    target = tmp_path / "model"
    other_kind = _complete_tmp(tmp_path, "model", "a checkpoint, say", pid=999993)
    assert recover_folder(str(target), accept=lambda p: read_manifest(p)["kind"] == "model") is None
    _, refused = complete_sibling(str(target), accept=lambda p: False)
    assert "not a folder of the expected kind" in refused[str(other_kind)]
    assert recover_folder(str(target), accept=_is_test_kind) is not None


WRITER = r"""
import sys
from textcl.storage import atomic_folder, read_manifest
path = sys.argv[1]
i = 0
print("started", flush=True)
while True:
    i += 1
    with atomic_folder(path, kind="test", kind_check=lambda p: read_manifest(p)["kind"] == "test") as tmp:
        for j in range(3):
            with open(f"{tmp}/part{j}.txt", "w") as f:
                f.write(f"{i}\n" * (j + 1))
"""


def test_kill_9_at_random_points_never_loses_the_folder(tmp_path):
    import random
    import signal
    import time

    rng = random.Random(0)
    target = tmp_path / "model"
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], cwd=repo, stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout.readline().strip() == "started"
        time.sleep(rng.uniform(0.05, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if not target.exists():
            assert recover_folder(str(target)) is not None, find_siblings(str(target))
        manifest = verify_manifest(str(target))  # complete, undamaged, one save's files only
        assert sorted(manifest["files"]) == ["part0.txt", "part1.txt", "part2.txt"]
        saves = {line for j in range(3) for line in (target / f"part{j}.txt").read_text().splitlines()}
        assert len(saves) == 1  # every file from the same save
