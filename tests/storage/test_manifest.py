"""Manifests: every file deleted, truncated or with one byte flipped is named in the error."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from textcl.storage import (
    MANIFEST_FILE,
    CorruptFolderError,
    FormatVersionError,
    MissingManifestError,
    read_manifest,
    sha256_file,
    verify_manifest,
    write_manifest,
)

FILES = {"config.json": b'{"a": 1}', "model.safetensors": bytes(range(256)) * 40,
         "tokenizer/vocab.txt": b"the\nof\nand\n"}


def _folder(tmp_path, name="m"):
    folder = tmp_path / name
    for rel, data in FILES.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    write_manifest(str(folder), kind="test")
    return folder


def test_manifest_lists_every_file_but_itself(tmp_path):
    folder = _folder(tmp_path)
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    assert manifest["kind"] == "test" and manifest["manifest_version"] == 1
    assert sorted(manifest["files"]) == sorted(FILES)
    for rel, data in FILES.items():
        assert manifest["files"][rel] == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert verify_manifest(str(folder))["kind"] == "test"


def test_sha256_file_in_chunks_matches_hashlib(tmp_path):
    data = os.urandom(3 * (1 << 20) + 17)  # more than one chunk
    (tmp_path / "big").write_bytes(data)
    assert sha256_file(str(tmp_path / "big")) == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("rel", sorted(FILES))
def test_deleted_file_is_named(tmp_path, rel):
    folder = _folder(tmp_path)
    os.remove(folder / rel)
    with pytest.raises(CorruptFolderError, match="is missing") as err:
        verify_manifest(str(folder), verify=False)
    assert err.value.file == os.path.join(str(folder), *rel.split("/"))
    assert rel.split("/")[-1] in str(err.value) and "re-save the model" in str(err.value)


FIXES = ("re-save the folder", "verify=False (--no-verify)", "skip the size and hash checks")


def _hand_edit(path, same_size: bool) -> None:
    data = bytearray(path.read_bytes())
    if same_size:
        data[len(data) // 2] ^= 0x01  # one flipped byte: only the hash sees it
    else:
        data = data[:-3] + b"edited!"  # an edit that changes the size
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("rel", sorted(FILES))
@pytest.mark.parametrize("same_size", [False, True])
def test_hand_edited_file_is_refused_naming_it_and_both_fixes(tmp_path, rel, same_size):
    folder = _folder(tmp_path)
    _hand_edit(folder / rel, same_size)
    with pytest.raises(CorruptFolderError, match="is corrupt or was edited since the save") as err:
        verify_manifest(str(folder))
    message = str(err.value)
    assert err.value.file == os.path.join(str(folder), *rel.split("/")) and err.value.file in message
    assert "\n" not in message and all(fix in message for fix in FIXES), message
    assert ("SHA-256" in message) == same_size and ("bytes" in message) != same_size


@pytest.mark.parametrize("rel", sorted(FILES))
@pytest.mark.parametrize("same_size", [False, True])
def test_verify_false_skips_size_and_hash_checks_with_a_warning(tmp_path, rel, same_size):
    folder = _folder(tmp_path)
    _hand_edit(folder / rel, same_size)
    with pytest.warns(UserWarning, match=r"without checking its files' sizes and SHA-256.*--no-verify"):
        assert verify_manifest(str(folder), verify=False)["kind"] == "test"


def test_verify_false_still_refuses_missing_and_unexpected_files(tmp_path):
    folder = _folder(tmp_path)
    (folder / "stray.json").write_text("{}")
    with pytest.raises(CorruptFolderError, match="stray.json is not part of the saved folder"):
        verify_manifest(str(folder), verify=False)
    os.remove(folder / "stray.json")
    os.remove(folder / "config.json")
    with pytest.raises(CorruptFolderError, match="config.json is missing"):
        verify_manifest(str(folder), verify=False)


def test_an_intact_folder_gives_no_warning(tmp_path, recwarn):
    verify_manifest(str(_folder(tmp_path)))
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_extra_files(tmp_path):
    folder = _folder(tmp_path)
    (folder / "README.md").write_text("card written after the save")
    (folder / ".gitattributes").write_text("*.bin lfs")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref")
    (folder / "tokenizer" / ".cache").write_text("x")
    verify_manifest(str(folder))  # cannot change what loads
    (folder / "tokenizer.json").write_text("{}")  # a stale file that would change tokenization
    with pytest.raises(CorruptFolderError, match="tokenizer.json is not part of the saved folder"):
        verify_manifest(str(folder))
    verify_manifest(str(folder), ignore=("tokenizer.json",))


def test_missing_manifest(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(MissingManifestError, match="has no textcl_manifest.json"):
        verify_manifest(str(folder))
    assert verify_manifest(str(folder), allow_missing=True) is None
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        verify_manifest(str(tmp_path / "nope"))


@pytest.mark.parametrize("content, match", [
    ("{not json", "is corrupt"),
    ('{"manifest_version": 1}', "no 'files' table"),
    ('{"manifest_version": 0, "files": {}}', "manifest_version 0"),
    ('{"manifest_version": 1, "files": {"a": {"size": "1"}}}', "bad entry"),
    ('{"manifest_version": 1, "files": {"../x": {"size": 1, "sha256": "0"}}}', "outside the folder"),
    ('{"manifest_version": 1, "files": {"/etc/passwd": {"size": 1, "sha256": "0"}}}', "outside the folder"),
])
def test_bad_manifest_is_named(tmp_path, content, match):
    folder = _folder(tmp_path)
    (folder / MANIFEST_FILE).write_text(content)
    with pytest.raises(CorruptFolderError, match=match) as err:
        verify_manifest(str(folder))
    assert err.value.file.endswith(MANIFEST_FILE)


def test_newer_manifest_version_asks_for_upgrade(tmp_path):
    folder = _folder(tmp_path)
    (folder / MANIFEST_FILE).write_text('{"manifest_version": 99, "files": {}}')
    with pytest.raises(FormatVersionError, match="upgrade textcl"):
        read_manifest(str(folder))


def test_symlink_out_of_folder_is_refused(tmp_path):
    outside = tmp_path / "secret"
    outside.write_bytes(b"abc")
    folder = tmp_path / "m"
    folder.mkdir()
    os.symlink(outside, folder / "weights")
    write_manifest(str(folder))
    with pytest.raises(CorruptFolderError, match="links outside"):
        verify_manifest(str(folder))
