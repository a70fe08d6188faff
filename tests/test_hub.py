"""Hub names: the local-path rule, and ``org/name`` loading offline from a fake hub cache in every layout,
through the API (``cache_folder=`` and, in a subprocess, ``HF_HUB_CACHE``) and the CLI (train, eval)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import huggingface_hub
import pytest
import torch
from safetensors.torch import load_file

from textcl.cli import main
from textcl.hub import is_local_path, local_or_hub_st_folder, resolve_model
from textcl.model import SentenceEncoder
from tiny_models import REPO_ROOT, SENTENCES, make_tiny_bert

pytestmark = pytest.mark.usefixtures("one_thread")

MAIN, V1 = "a" * 40, "b" * 40
BUNDLED_SENTEVAL = os.path.join(REPO_ROOT, "textcl", "data", "bundled", "senteval")


def put_in_cache(cache: str, repo_id: str, write, commit: str = MAIN, ref: str = "main") -> str:
    """Write a repo snapshot the way huggingface_hub lays out its cache; returns the snapshot folder."""
    repo = os.path.join(cache, "models--" + repo_id.replace("/", "--"))
    snapshot = os.path.join(repo, "snapshots", commit)
    write(snapshot)
    os.makedirs(os.path.join(repo, "refs"), exist_ok=True)
    with open(os.path.join(repo, "refs", ref), "w") as f:
        f.write(commit)
    return snapshot


def embed(model: SentenceEncoder, texts=SENTENCES[:4]) -> torch.Tensor:
    """Float32 forward pass (no normalisation), independent of encode()'s options."""
    model.eval()
    with torch.no_grad():
        return model(model.tokenize(list(texts)))


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory, tiny_bert_dir):
    """A hub cache with org/plain (transformers layout; branch v1 = other weights), org/st
    (sentence-transformers layout: max pooling, Normalize) and org/textcl (a pushed textcl folder)."""
    cache = str(tmp_path_factory.mktemp("hub_cache"))
    snaps = {"org/plain": put_in_cache(cache, "org/plain", make_tiny_bert),
             "org/plain@v1": put_in_cache(cache, "org/plain", lambda p: make_tiny_bert(p, seed=1), V1, "v1")}
    st = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="max", device="cpu")
    st.normalize_embeddings = True
    snaps["org/st"] = put_in_cache(cache, "org/st", lambda p: st.save(p, format="sentence-transformers"))
    torch.manual_seed(0)
    tc = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="cls_before_pooler", projection=True, device="cpu")
    snaps["org/textcl"] = put_in_cache(cache, "org/textcl", tc.save)
    return cache, snaps


# ---------------------------------------------------------------- the rule

@pytest.mark.parametrize("name, local", [
    ("org/name", False), ("bert-base-uncased", False), ("sentence-transformers/all-nli", False),
    ("Qwen/Qwen2.5-0.5B", False), ("/abs/model", True), ("./model", True), ("../model", True),
    ("~/model", True), ("runs/minilm/model", True), ("nli.csv", True), ("org/data.jsonl", True),
    ("corpus.txt", True), ("rows.parquet", True),
])
def test_local_path_rule(name, local):
    assert is_local_path(name) is local


def test_an_existing_name_is_local(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert not is_local_path("mymodel")
    (tmp_path / "org" / "mymodel").mkdir(parents=True)
    assert is_local_path("org/mymodel")  # a folder shadows the repo id of the same name


def test_typo_local_path_fails_at_once_without_the_hub(monkeypatch):
    def no_hub(*args, **kwargs):
        raise AssertionError("a local path must not reach the hub")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_hub)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_hub)
    with pytest.raises(FileNotFoundError, match=r"does not exist \(read as a local path because it starts with './'"):
        SentenceEncoder.from_pretrained("./no/such/model")
    with pytest.raises(FileNotFoundError, match="two or more path separators"):
        SentenceEncoder.from_pretrained("runs/no-such/model")


def test_unknown_repo_names_both_readings(hub_cache):
    cache, _ = hub_cache
    with pytest.raises(OSError) as err:
        SentenceEncoder.from_pretrained("org/missing", cache_folder=cache, device="cpu")
    message = str(err.value)
    assert "As a local path: nothing exists at" in message and "As a Hugging Face hub repo id:" in message
    assert "HF_HUB_OFFLINE" in message


# ---------------------------------------------------------------- the three layouts, through the API

def test_plain_transformers_repo_loads_from_the_cache(hub_cache):
    cache, snaps = hub_cache
    assert resolve_model("org/plain", cache_folder=cache).layout == "transformers"
    assert local_or_hub_st_folder("org/plain", cache_folder=cache) is None  # falls back: no modules.json
    model = SentenceEncoder.from_pretrained("org/plain", cache_folder=cache, device="cpu")
    direct = SentenceEncoder.from_pretrained(snaps["org/plain"], device="cpu")
    assert model.encoder.pooling == "mean"
    torch.testing.assert_close(embed(model), embed(direct), rtol=0, atol=0)


def test_revision_reaches_the_hub_and_transformers(hub_cache):
    cache, snaps = hub_cache
    v1 = SentenceEncoder.from_pretrained("org/plain", revision="v1", cache_folder=cache, device="cpu")
    main_ = SentenceEncoder.from_pretrained("org/plain", cache_folder=cache, device="cpu")
    direct = SentenceEncoder.from_pretrained(snaps["org/plain@v1"], device="cpu")
    torch.testing.assert_close(embed(v1), embed(direct), rtol=0, atol=0)
    assert not torch.allclose(embed(v1), embed(main_))


def test_sentence_transformers_repo_keeps_its_pipeline(hub_cache, tiny_bert_dir):
    cache, snaps = hub_cache
    assert local_or_hub_st_folder("org/st", cache_folder=cache) == snaps["org/st"]
    model = SentenceEncoder.from_pretrained("org/st", cache_folder=cache, device="cpu")
    assert model.encoder.pooling == "max" and model.normalize_embeddings
    reference = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="max", device="cpu")
    torch.testing.assert_close(embed(model), embed(reference), rtol=0, atol=0)


def test_pushed_textcl_repo_loads_whole(hub_cache):
    cache, snaps = hub_cache
    assert resolve_model("org/textcl", cache_folder=cache).layout == "textcl"
    model = SentenceEncoder.from_pretrained("org/textcl", cache_folder=cache, device="cpu")
    direct = SentenceEncoder.from_pretrained(snaps["org/textcl"], device="cpu")
    assert model.projection is not None and model.encoder.pooling == "cls_before_pooler"
    torch.testing.assert_close(embed(model), embed(direct), rtol=0, atol=0)


def test_hub_cache_env_in_a_subprocess(hub_cache):
    """HF_HUB_CACHE / HF_HUB_OFFLINE are read at import: a fresh interpreter sees them."""
    cache, snaps = hub_cache
    code = ("import json, torch\nfrom textcl import SentenceEncoder\nout = {}\n"
            "for repo in ('org/plain', 'org/st'):\n"
            "    m = SentenceEncoder.from_pretrained(repo, device='cpu').eval()\n"
            "    with torch.no_grad():\n"
            "        out[repo] = m(m.tokenize(['a man plays the guitar .'])).tolist()\n"
            "print(json.dumps(out))\n")
    env = dict(os.environ, HF_HUB_CACHE=cache, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    env.pop("HF_HOME", None)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    for repo in ("org/plain", "org/st"):
        expected = embed(SentenceEncoder.from_pretrained(snaps[repo], device="cpu"), ["a man plays the guitar ."])
        torch.testing.assert_close(torch.tensor(got[repo]), expected, rtol=0, atol=1e-6)


# ---------------------------------------------------------------- the CLI: train and eval --model org/name

@pytest.mark.parametrize("repo, pooling", [("org/plain", "mean"), ("org/st", "max")])
def test_train_cli_starts_from_the_cached_repo(hub_cache, tmp_path, capsys, repo, pooling):
    cache, snaps = hub_cache
    data = tmp_path / "sentences.txt"
    data.write_text("\n".join(SENTENCES) + "\n")
    argv = ["train", "--model", repo, "--cache-folder", cache, "--data", str(data), "--max-steps", "1",
            "--batch-size", "4", "--lr", "1e-12", "--output", str(tmp_path / "run"), "--device", "cpu"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    model_path = json.loads(out[out.index("{"):out.rindex("}") + 1])["model"]
    trained = SentenceEncoder.from_pretrained(model_path, device="cpu")
    assert trained.encoder.pooling == pooling
    start = load_file(os.path.join(snaps[repo], "model.safetensors"))
    after = load_file(os.path.join(model_path, "model.safetensors"))
    assert start.keys() == after.keys()
    for name in start:  # lr 1e-12: one step leaves the cached repo's weights in place
        torch.testing.assert_close(after[name], start[name], rtol=0, atol=1e-6)


@pytest.mark.parametrize("repo", ["org/plain", "org/st"])
def test_eval_cli_scores_the_cached_repo(hub_cache, tmp_path, capsys, repo):
    cache, snaps = hub_cache
    scores = {}
    for name, extra in (("hub", [repo, "--cache-folder", cache]), ("local", [snaps[repo]])):
        out = tmp_path / f"{name}.json"
        argv = ["eval", "--model", *extra, "--tasks", "stsb", "--data-dir", BUNDLED_SENTEVAL, "--device", "cpu",
                "--batch-size", "128", "--output", str(out)]
        assert main(argv) == 0
        stsb = json.loads(out.read_text())["stsb"]
        scores[name] = (stsb["spearman"], stsb["pearson"])
    capsys.readouterr()
    assert scores["hub"] == scores["local"]


def test_cli_hub_flags_everywhere():
    from textcl.cli import build_parser

    parser = build_parser()
    for command in (["train", "--data", "d"], ["eval"], ["encode", "--input", "i", "--output", "o"],
                    ["search"], ["classify"]):
        args = parser.parse_args([*command, "--model", "org/name", "--revision", "v1", "--token", "hf_x",
                                  "--cache-folder", "/c"])
        assert (args.revision, args.token, args.cache_folder) == ("v1", "hf_x", "/c")


# ---------------------------------------------------------------- the network guard itself

def test_network_guard_blocks_the_outside_and_keeps_loopback(network_attempts):
    before = len(network_attempts)
    with pytest.raises(RuntimeError, match="tests must not use the network: connect"):
        socket.create_connection(("198.51.100.7", 443), timeout=1)
    with pytest.raises(RuntimeError, match="tests must not use the network: name lookup of 'huggingface.co'"):
        socket.getaddrinfo("huggingface.co", 443)
    assert len(network_attempts) == before + 2
    del network_attempts[before:]  # expected here: do not fail this test for them
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
    assert os.environ["HF_HUB_OFFLINE"] == "1" and huggingface_hub.constants.HF_HUB_OFFLINE


@pytest.mark.parametrize("repo", ["org/plain", "org/st", "org/textcl"])
def test_local_files_only_reaches_the_hub_boundary(hub_cache, repo, monkeypatch):
    """SentenceEncoder(repo, local_files_only=True), as SentenceTransformer takes it: cache only, every layout."""
    import huggingface_hub

    cache, snaps = hub_cache
    seen = []
    real = huggingface_hub.hf_hub_download

    def spy(*args, **kwargs):
        seen.append(kwargs.get("local_files_only"))
        return real(*args, **kwargs)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", spy)
    model = SentenceEncoder(repo, cache_folder=cache, local_files_only=True, device="cpu")
    direct = SentenceEncoder.from_pretrained(snaps[repo], device="cpu")
    torch.testing.assert_close(embed(model), embed(direct), rtol=0, atol=0)
    assert seen and all(seen)
