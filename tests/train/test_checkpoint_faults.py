"""Checkpoints under faults: damaged files, crashes mid-swap, fallback, metrics trimming, changed settings."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

from textcl.storage import MANIFEST_FILE, CorruptFolderError, OutputExistsError, aside_path, write_manifest
from textcl.train.checkpoint import (MODEL_FILE, STATE_FILE, compare_settings, is_checkpoint, load_checkpoint,
                                     resolve_checkpoint, rng_state, save_checkpoint, set_rng_state, trim_metrics)


def _net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))


def _state(step):
    return {"step": step, "epoch": 0, "batch_in_epoch": step, "rng": rng_state(), "config": {"lr": 1e-3}}


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


def test_round_trip_with_manifest(tmp_path):
    path = str(tmp_path / "checkpoint")
    net = _net(1)
    save_checkpoint(path, net, _state(3))
    assert sorted(os.listdir(path)) == [MODEL_FILE, MANIFEST_FILE, STATE_FILE]
    assert is_checkpoint(path) and os.listdir(tmp_path) == ["checkpoint"]
    other = _net(2)
    state = load_checkpoint(path, other)
    assert _same(net, other) and state["step"] == 3
    save_checkpoint(path, _net(3), _state(5))  # replaced whole
    assert load_checkpoint(path, other)["step"] == 5 and _same(other, _net(3))


def test_rng_state_round_trip():
    state = rng_state()
    a = (torch.rand(3), torch.randint(0, 100, (2,)))
    set_rng_state(state)
    b = (torch.rand(3), torch.randint(0, 100, (2,)))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


@pytest.mark.parametrize("name", [MODEL_FILE, STATE_FILE])
@pytest.mark.parametrize("fault", ["deleted", "truncated", "flipped"])
def test_damaged_file_is_named(tmp_path, name, fault):
    path = tmp_path / "checkpoint"
    save_checkpoint(str(path), _net(), _state(1))
    data = bytearray((path / name).read_bytes())
    if fault == "deleted":
        os.remove(path / name)
    elif fault == "truncated":
        (path / name).write_bytes(bytes(data[: len(data) // 2]))
    else:
        data[len(data) // 2] ^= 0x10
        (path / name).write_bytes(bytes(data))
    with pytest.raises(CorruptFolderError, match=name) as err:
        load_checkpoint(str(path), _net())
    assert err.value.file == str(path / name)
    with pytest.raises(ValueError, match=f"(?s)no usable checkpoint .*{name}.*Start without --resume"):
        resolve_checkpoint(str(path))


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a complete textcl checkpoint"):
        load_checkpoint(str(tmp_path), _net())
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "textcl_config.json").write_text("{}")
    write_manifest(str(model_dir), kind="model")
    with pytest.raises(ValueError, match="'model' folder, not a checkpoint"):
        load_checkpoint(str(model_dir), _net())
    with pytest.raises(OutputExistsError, match="already holds files"):
        save_checkpoint(str(model_dir), _net(), _state(1))  # never replaces a model by a checkpoint
    save_checkpoint(str(model_dir), _net(), _state(1), overwrite=True)
    assert is_checkpoint(str(model_dir))


def test_legacy_checkpoint_without_manifest_loads_with_warning(tmp_path):
    path = tmp_path / "checkpoint"
    save_checkpoint(str(path), _net(4), _state(2))
    os.remove(path / MANIFEST_FILE)
    net = _net()
    with pytest.warns(UserWarning, match="no manifest"):
        assert load_checkpoint(str(path), net)["step"] == 2
    assert _same(net, _net(4))


def test_crash_between_renames_falls_back_to_aside(tmp_path):
    path = tmp_path / "checkpoint"
    save_checkpoint(str(path), _net(1), _state(2))
    aside = f"{path}.old-999996-deadbeef"  # as a killed process leaves it
    os.rename(path, aside)  # killed after renaming the old checkpoint aside
    with pytest.raises(FileNotFoundError, match="checkpoint.old"):
        load_checkpoint(str(path), _net())  # names the leftover
    use, message = resolve_checkpoint(str(path))
    assert use == aside and "last complete checkpoint" in message
    net = _net()
    assert load_checkpoint(use, net)["step"] == 2 and _same(net, _net(1))
    save_checkpoint(str(path), net, _state(4))  # the resumed run's next save cleans up
    assert os.listdir(tmp_path) == ["checkpoint"]


def test_fallback_prefers_complete_newer_temp_over_aside(tmp_path):
    path = tmp_path / "checkpoint"
    save_checkpoint(str(path), _net(1), _state(2))
    aside = aside_path(str(path))
    os.rename(path, aside)
    newer = tmp_path / "checkpoint.tmp-999995-0badf00d"  # a finished save of a dead process
    save_checkpoint(str(newer), _net(2), _state(4))
    half = tmp_path / "checkpoint.tmp-999994-00000000"  # killed mid-write
    half.mkdir()
    (half / MODEL_FILE).write_bytes(b"partial")
    use, message = resolve_checkpoint(str(path))
    assert use == str(newer) and "does not exist" in message
    assert load_checkpoint(use, _net())["step"] == 4


def test_nothing_usable_lists_every_leftover(tmp_path):
    path = tmp_path / "checkpoint"
    half = tmp_path / "checkpoint.tmp-999994-00000000"
    half.mkdir()
    (half / MODEL_FILE).write_bytes(b"partial")
    with pytest.raises(FileNotFoundError) as err:
        resolve_checkpoint(str(path))
    assert "checkpoint.tmp-999994-00000000: " in str(err.value) and "has no textcl_manifest.json" in str(err.value)
    shutil.rmtree(half)
    with pytest.raises(FileNotFoundError, match="no leftovers"):
        resolve_checkpoint(str(path))


def test_resolve_keeps_a_good_checkpoint(tmp_path):
    path = tmp_path / "checkpoint"
    save_checkpoint(str(path), _net(), _state(1))
    assert resolve_checkpoint(str(path)) == (str(path), None)


def test_exception_during_save_keeps_previous(tmp_path):
    path = tmp_path / "checkpoint"
    save_checkpoint(str(path), _net(1), _state(2))

    class Unpicklable:
        pass

    with pytest.raises(Exception):
        save_checkpoint(str(path), _net(2), {"step": 3, "bad": Unpicklable, "gen": (i for i in [])})
    net = _net()
    assert load_checkpoint(str(path), net)["step"] == 2 and _same(net, _net(1))
    assert os.listdir(tmp_path) == ["checkpoint"]


def _metrics(path, lines):
    path.write_text("".join(lines))


def test_trim_metrics(tmp_path):
    m = tmp_path / "metrics.jsonl"
    recs = [{"step": s, "loss": 1.0 / s} for s in (1, 2, 3, 4)] + [{"step": 2, "eval_sts": 0.5}]
    _metrics(m, [json.dumps(r) + "\n" for r in recs] + ['{"step": 5, "lo'])  # killed mid-line
    assert trim_metrics(str(m), 2) == 3
    assert [json.loads(x) for x in m.read_text().splitlines()] == [recs[0], recs[1], recs[4]]
    assert trim_metrics(str(m), 2) == 0 and m.read_text().endswith("\n")
    assert trim_metrics(str(tmp_path / "none.jsonl"), 3) == 0 and not (tmp_path / "none.jsonl").exists()
    _metrics(m, ['{"step": 1}\n', '{"step": 2}'])  # last line whole but without its newline
    assert trim_metrics(str(m), 5) == 0 and m.read_text() == '{"step": 1}\n{"step": 2}\n'
    _metrics(m, ['{"step": 1}\n', "garbage\n", '{"step": 2}\n'])
    with pytest.raises(ValueError, match="metrics.jsonl line 2 is not a JSON record"):
        trim_metrics(str(m), 1)


def test_compare_settings():
    stored = {"lr": 3e-5, "batch_size": 64, "seed": 42, "extra": {"view": "dropout", "model": "bert"},
              "dims": [1, 2]}
    same = json.loads(json.dumps(stored))
    assert compare_settings(stored, same, ["lr", "batch_size", "seed", "extra.view", "dims"]) == []
    new = {**same, "lr": 1e-4, "seed": 1, "extra": {"view": "pair", "model": "bert"}, "dims": (1, 2)}
    assert compare_settings(stored, new, ["lr", "batch_size", "seed", "extra.view", "extra.model", "dims"]) == [
        "lr", "seed", "extra.view"]
    assert compare_settings(stored, {"lr": 3e-5}, ["lr", "batch_size", "loss"]) == ["batch_size"]


def test_fallback_skips_complete_sibling_of_another_kind(tmp_path):
    path = tmp_path / "checkpoint"
    save_checkpoint(str(path), _net(1), _state(2))
    aside = aside_path(str(path))
    os.rename(path, aside)
    stray = tmp_path / "checkpoint.tmp-999993-11111111"
    stray.mkdir()
    (stray / "textcl_config.json").write_text("{}")
    write_manifest(str(stray), kind="model")
    use, _ = resolve_checkpoint(str(path))
    assert use == aside
