"""push_to_hub with the upload mocked at the huggingface_hub boundary: the exact files and card that would
be sent, the repo settings, unsaved models, and ``textcl train --push-to-hub``."""

from __future__ import annotations

import json
import os

import pytest
import torch
from huggingface_hub import HfApi
from huggingface_hub.utils import filter_repo_objects

from textcl.interop.push import push_to_hub
from textcl.model import SentenceEncoder
from textcl.interop.model_card import ModelCard, write_model_card
from tiny_models import SENTENCES

pytestmark = pytest.mark.usefixtures("one_thread")


class FakeHub:
    """Records create_repo / create_branch / upload_folder, and the bytes upload_folder would send."""

    def __init__(self):
        self.repos, self.branches, self.uploads = [], [], []

    def create_repo(self, api, repo_id, **kwargs):
        self.repos.append((repo_id, api.token, kwargs))
        return f"https://huggingface.co/{repo_id}"

    def create_branch(self, api, repo_id, **kwargs):
        self.branches.append((repo_id, kwargs))

    def upload_folder(self, api, *, repo_id, folder_path, ignore_patterns=None, **kwargs):
        found = sorted(os.path.relpath(os.path.join(root, n), folder_path).replace(os.sep, "/")
                       for root, _, names in os.walk(folder_path) for n in names)
        sent = {}
        for rel in filter_repo_objects(found, ignore_patterns=ignore_patterns):
            with open(os.path.join(folder_path, rel), "rb") as f:
                sent[rel] = f.read()
        self.uploads.append({"repo_id": repo_id, "files": sent, **kwargs})
        return type("CommitInfo", (), {"commit_url": f"https://huggingface.co/{repo_id}/commit/abc"})()


@pytest.fixture
def hub(monkeypatch):
    fake = FakeHub()
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: fake.create_repo(self, repo_id, **kw))
    monkeypatch.setattr(HfApi, "create_branch", lambda self, repo_id, **kw: fake.create_branch(self, repo_id, **kw))
    monkeypatch.setattr(HfApi, "upload_folder", lambda self, **kw: fake.upload_folder(self, **kw))
    return fake


def folder_files(folder: str) -> dict[str, bytes]:
    out = {}
    for root, _, names in os.walk(folder):
        for name in names:
            with open(os.path.join(root, name), "rb") as f:
                out[os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/")] = f.read()
    return out


@pytest.fixture
def saved(tiny_bert_dir, tmp_path):
    """A saved textcl folder with its card (as training leaves it) and a stray hidden lock file."""
    torch.manual_seed(0)
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", projection=True, device="cpu")
    folder = str(tmp_path / "run" / "model")
    model.save(folder)
    write_model_card(folder, ModelCard(name="tiny-simcse", base_model="tiny-bert", datasets=["toy"],
                                       loss="InfoNCE(temperature=0.05)", view="dropout"), model)
    (tmp_path / "run" / "model" / ".lock").write_text("123")
    return model, folder


def test_push_sends_the_folder_and_a_card_naming_the_repo(hub, saved):
    model, folder = saved
    before = folder_files(folder)
    url = push_to_hub(folder, "org/tiny-simcse", token="hf_secret", private=True, commit_message="first")
    assert url == "https://huggingface.co/org/tiny-simcse/commit/abc"
    assert hub.repos == [("org/tiny-simcse", "hf_secret", {"private": True, "exist_ok": True, "repo_type": "model"})]
    assert hub.branches == []
    (upload,) = hub.uploads
    assert (upload["repo_id"], upload["commit_message"], upload["revision"]) == ("org/tiny-simcse", "first", None)
    expected = {k: v for k, v in before.items() if not k.startswith(".")}
    assert set(upload["files"]) == set(expected) and ".lock" not in upload["files"]
    assert {"textcl_config.json", "model.safetensors", "projection.safetensors", "README.md"} <= set(expected)
    for name, data in expected.items():
        if name != "README.md":
            assert upload["files"][name] == data, name
    card = upload["files"]["README.md"].decode()
    assert card.startswith("---\n") and "# tiny-simcse" in card
    assert 'from_pretrained("org/tiny-simcse")' in card and folder not in card
    assert card == before["README.md"].decode().replace(f'"{folder}"', '"org/tiny-simcse"')
    assert folder_files(folder) == before  # the local folder is left as it was


def test_push_an_unsaved_model_saves_it_first_and_writes_a_card(hub, tiny_bert_dir, tmp_path):
    torch.manual_seed(0)
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="max", projection=True, device="cpu")
    url = model.push_to_hub("org/fresh", revision="dev")
    assert url.endswith("/commit/abc")
    assert hub.branches == [("org/fresh", {"branch": "dev", "exist_ok": True, "repo_type": "model"})]
    (upload,) = hub.uploads
    assert upload["revision"] == "dev"
    model.save(str(tmp_path / "reference"))
    assert set(upload["files"]) == set(folder_files(str(tmp_path / "reference"))) | {"README.md"}
    card = upload["files"]["README.md"].decode()
    assert "# fresh" in card and 'from_pretrained("org/fresh")' in card and "textcl-push-" not in card
    # what was sent loads back and encodes like the model
    back = tmp_path / "downloaded"
    for name, data in upload["files"].items():
        (back / name).parent.mkdir(parents=True, exist_ok=True)
        (back / name).write_bytes(data)
    loaded = SentenceEncoder.from_pretrained(str(back), device="cpu").eval()
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(loaded.tokenize(SENTENCES)), model(model.tokenize(SENTENCES)),
                                   rtol=0, atol=0)


def test_push_refuses_what_is_not_a_model_folder(hub, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        push_to_hub(str(tmp_path / "nope"), "org/x")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a model folder"):
        push_to_hub(str(tmp_path / "empty"), "org/x")
    with pytest.raises(ValueError):
        push_to_hub(str(tmp_path / "empty"), "org/bad name//x")
    assert hub.repos == [] and hub.uploads == []


def test_train_cli_pushes_the_selected_model(hub, tiny_bert_dir, tmp_path, capsys):
    from textcl.cli import main

    data = tmp_path / "sentences.txt"
    data.write_text("\n".join(SENTENCES) + "\n")
    argv = ["train", "--model", tiny_bert_dir, "--data", str(data), "--max-steps", "1", "--batch-size", "4",
            "--output", str(tmp_path / "run"), "--device", "cpu", "--push-to-hub", "me/simcse-tiny",
            "--private", "--token", "hf_t"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    model_path = json.loads(out[out.index("{"):out.index("}") + 1])["model"]
    assert "pushed" in out and "https://huggingface.co/me/simcse-tiny/commit/abc" in out
    assert hub.repos == [("me/simcse-tiny", "hf_t", {"private": True, "exist_ok": True, "repo_type": "model"})]
    (upload,) = hub.uploads
    local = {k: v for k, v in folder_files(model_path).items() if not k.startswith(".")}
    assert set(upload["files"]) == set(local)
    assert upload["files"]["model.safetensors"] == local["model.safetensors"]
    assert 'from_pretrained("me/simcse-tiny")' in upload["files"]["README.md"].decode()


def test_train_cli_rejects_a_bad_repo_before_training(hub, tmp_path, capsys):
    from textcl.cli import main

    # the data does not exist either: the repo id is checked first, before any loading or training
    assert main(["train", "--data", str(tmp_path / "missing.txt"), "--model", "x", "--push-to-hub", "a/b/c"]) == 1
    err = capsys.readouterr().err
    assert "Repo id" in err and "missing.txt" not in err
    assert hub.uploads == []
