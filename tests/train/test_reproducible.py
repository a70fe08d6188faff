"""Bitwise reproducibility on CPU: the same seed gives the same weights, from the API and from the CLI."""

import os

import pytest
import torch
from safetensors.torch import load_file

from textcl.cli import main
from textcl.data import load_data
from textcl.losses import InfoNCE
from textcl.model import SentenceEncoder
from textcl.train.config import TrainConfig
from textcl.train.trainer import Trainer, seed_everything
from textcl.views import make_view
from tiny_models import SENTENCES

pytestmark = pytest.mark.usefixtures("one_thread")


def _word_vectors(tmp_path):
    words = sorted({w for s in SENTENCES for w in s.split()})
    path = tmp_path / "vectors.txt"
    gen = torch.Generator().manual_seed(0)
    path.write_text("".join(f"{w} " + " ".join(f"{x:.4f}" for x in torch.randn(8, generator=gen).tolist()) + "\n"
                            for w in words))
    return str(path)


def _model(kind, tiny_bert_dir, vectors):
    if kind == "transformer":
        return SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    from textcl.encoders.cnn import CNNEncoder
    from textcl.encoders.rnn import RNNEncoder

    if kind == "rnn":
        return SentenceEncoder(RNNEncoder.from_word_vectors(vectors, hidden_size=8, pooling="max"))
    return SentenceEncoder(CNNEncoder.from_word_vectors(vectors, kernel_sizes=(1, 2), num_filters=4))


def _train_api(kind, tiny_bert_dir, vectors, out, seed=3):
    seed_everything(seed)  # the initial weights of the word-vector encoders' layers
    model = _model(kind, tiny_bert_dir, vectors)
    cfg = TrainConfig(max_steps=3, batch_size=4, lr=1e-2, seed=seed, output_dir=str(out))
    Trainer(model, InfoNCE(), make_view("dropout+word_deletion", seed=seed), load_data(list(SENTENCES)), cfg).train()
    return load_file(os.path.join(out, "model", "model.safetensors"))


@pytest.mark.parametrize("kind", ["transformer", "rnn", "cnn"])
def test_same_seed_same_weights_twice(kind, tiny_bert_dir, tmp_path):
    vectors = _word_vectors(tmp_path)
    a = _train_api(kind, tiny_bert_dir, vectors, tmp_path / "a")
    b = _train_api(kind, tiny_bert_dir, vectors, tmp_path / "b")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    c = _train_api(kind, tiny_bert_dir, vectors, tmp_path / "c", seed=4)
    assert any(not torch.equal(a[k], c[k]) for k in a)  # the comparison has teeth


def test_api_and_cli_give_the_same_weights(tiny_bert_dir, tmp_path):
    data = tmp_path / "sentences.txt"
    data.write_text("\n".join(SENTENCES) + "\n")
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")
    cfg = TrainConfig(max_steps=3, batch_size=4, lr=1e-2, seed=5, output_dir=str(tmp_path / "api"),
                      dtype="float32")
    Trainer(model, InfoNCE(temperature=0.05), make_view("dropout", seed=5), load_data(str(data)), cfg).train()
    assert main(["train", "--model", tiny_bert_dir, "--data", str(data), "--view", "dropout", "--max-steps", "3",
                 "--batch-size", "4", "--lr", "1e-2", "--seed", "5", "--dtype", "float32", "--device", "cpu",
                 "--output", str(tmp_path / "cli")]) == 0
    api = load_file(str(tmp_path / "api" / "model" / "model.safetensors"))
    cli = load_file(str(tmp_path / "cli" / "model" / "model.safetensors"))
    assert api.keys() == cli.keys() and all(torch.equal(api[k], cli[k]) for k in api)


def _tensors(folder):
    out = {}
    for root, _, files in os.walk(folder):
        for name in sorted(files):
            if name.endswith(".safetensors"):
                for key, value in load_file(os.path.join(root, name)).items():
                    out[f"{os.path.relpath(os.path.join(root, name), folder)}:{key}"] = value
    return out


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


CLI_RUNS = {
    "transformer": lambda d, v: ["train", "--model", d],
    "rnn": lambda d, v: ["train", "--encoder", "rnn", "--word-vectors", v, "--hidden-size", "8"],
    "cnn": lambda d, v: ["train", "--encoder", "cnn", "--word-vectors", v, "--num-filters", "4"],
}


@pytest.mark.parametrize("kind", sorted(CLI_RUNS))
def test_the_same_cli_command_twice_gives_identical_weights(kind, tiny_bert_dir, tmp_path):
    """One seed: vocabulary, OOV vectors, initial weights, dropout, views and batches all follow --seed."""
    vectors = _word_vectors(tmp_path)
    data = tmp_path / "pairs.csv"
    data.write_text("a,b\n" + "".join(f"{s},{s} too\n" for s in SENTENCES))
    runs = []
    for name in ("one", "two"):
        torch.manual_seed(len(name) * 1000 + len(runs))  # a different global RNG state before each run
        argv = [*CLI_RUNS[kind](tiny_bert_dir, vectors), "--data", str(data), "--view", "pair+word_deletion",
                "--max-steps", "3", "--batch-size", "4", "--lr", "1e-2", "--seed", "7", "--dtype", "float32",
                "--device", "cpu", "--output", str(tmp_path / name)]
        assert main(argv) == 0
        runs.append(_tensors(tmp_path / name / "model"))
    assert runs[0] and _same(*runs)


@pytest.mark.parametrize("freeze", [True, False])
def test_the_same_classify_command_twice_gives_identical_weights(freeze, tiny_bert_dir, tmp_path):
    data = tmp_path / "train.csv"
    data.write_text("text,label\n" + "".join(f"{s},{i % 2}\n" for i, s in enumerate(SENTENCES * 2)))
    runs = []
    for name in ("one", "two"):
        torch.manual_seed(len(runs) + 11)
        argv = ["classify", "--model", tiny_bert_dir, "--train", str(data), "--test", str(data), "--epochs", "1",
                "--batch-size", "4", "--seed", "3", "--device", "cpu", "--output", str(tmp_path / name)]
        assert main(argv + (["--freeze"] if freeze else [])) == 0
        runs.append(_tensors(tmp_path / name))
    assert runs[0] and _same(*runs)
