"""One validation layer: the API and every command refuse a bad number with the same message."""

from __future__ import annotations

import numpy as np
import pytest

from textcl.cli import main
from textcl.model import SentenceEncoder
from textcl.train.config import TrainConfig
from tiny_models import SENTENCES


def api_error(call):
    with pytest.raises(ValueError) as err:
        call()
    return str(err.value)


def cli_error(argv, capsys):
    code = main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and lines, argv
    return lines[-1].split(": error: ", 1)[-1]


@pytest.fixture
def files(tmp_path):
    txt = tmp_path / "s.txt"
    txt.write_text("\n".join(SENTENCES) + "\n")
    labelled = tmp_path / "l.csv"
    labelled.write_text("text,label\n" + "".join(f"{s},{i % 2}\n" for i, s in enumerate(SENTENCES)))
    return {"txt": str(txt), "labelled": str(labelled), "out": str(tmp_path / "out")}


CASES = {
    # name: (values, API call(model_dir, value), CLI argv(model_dir, files, value))
    "max_length": ([0, 1, 2, -1], lambda d, v: SentenceEncoder.from_pretrained(d, max_length=v, device="cpu"),
                   lambda d, f, v: ["encode", "--model", d, "--input", f["txt"], "--output", f["out"] + ".npy",
                                    "--max-length", str(v)]),
    "batch_size (encode)": ([0, -2], lambda d, v: SentenceEncoder.from_pretrained(d, device="cpu").encode(
        SENTENCES, batch_size=v), lambda d, f, v: ["encode", "--model", d, "--input", f["txt"], "--output",
                                                   f["out"] + ".npy", "--batch-size", str(v)]),
    "chunk_size": ([0], lambda d, v: __import__("textcl.corpus", fromlist=["encode_file"]).encode_file(
        SentenceEncoder.from_pretrained(d, device="cpu"), SENTENCES_FILE[0], SENTENCES_FILE[0] + ".npy",
        chunk_size=v), lambda d, f, v: ["encode", "--model", d, "--input", f["txt"], "--output",
                                        f["out"] + ".npy", "--chunk-size", str(v)]),
    "seed": ([-1, 2**32], lambda d, v: TrainConfig(seed=v),
             lambda d, f, v: ["train", "--model", d, "--data", f["txt"], "--output", f["out"], "--seed", str(v)]),
    "batch_size (train)": ([0], lambda d, v: TrainConfig(batch_size=v),
                           lambda d, f, v: ["train", "--model", d, "--data", f["txt"], "--output", f["out"],
                                            "--batch-size", str(v)]),
    "lr": ([0.0, -1.0], lambda d, v: TrainConfig(lr=v),
           lambda d, f, v: ["train", "--model", d, "--data", f["txt"], "--output", f["out"], "--lr", str(v)]),
    "batch_size (classify)": ([0], lambda d, v: _classifier(d).fit(SENTENCES, [i % 2 for i in range(len(SENTENCES))],
                                                                  batch_size=v),
                              lambda d, f, v: ["classify", "--model", d, "--train", f["labelled"], "--test",
                                               f["labelled"], "--output", f["out"], "--batch-size", str(v)]),
    "temperature": ([0.0, -0.5], lambda d, v: __import__("textcl.losses", fromlist=["InfoNCE"]).InfoNCE(temperature=v),
                    lambda d, f, v: ["train", "--model", d, "--data", f["txt"], "--output", f["out"],
                                     "--temperature", str(v)]),
    "margin": ([0.0], lambda d, v: __import__("textcl.losses", fromlist=["TripletLoss"]).TripletLoss(margin=v),
               lambda d, f, v: ["train", "--model", d, "--data", f["txt"], "--output", f["out"], "--loss",
                                "triplet", "--margin", str(v)]),
    "patience": ([0], lambda d, v: _classifier(d).fit(SENTENCES, [i % 2 for i in range(len(SENTENCES))],
                                                      SENTENCES, [i % 2 for i in range(len(SENTENCES))], patience=v),
                 lambda d, f, v: ["classify", "--model", d, "--train", f["labelled"], "--validation", f["labelled"],
                                  "--test", f["labelled"], "--output", f["out"], "--patience", str(v)]),
}
SENTENCES_FILE: list[str] = []


def _classifier(model_dir):
    from textcl.classify import SentenceClassifier

    return SentenceClassifier(SentenceEncoder.from_pretrained(model_dir, device="cpu"), freeze=True)


@pytest.mark.parametrize("case,value", [(c, v) for c, (values, _, _) in CASES.items() for v in values])
def test_api_and_cli_refuse_alike(case, value, tiny_bert_dir, files, capsys):
    SENTENCES_FILE[:] = [files["txt"]]
    _, api, cli = CASES[case]
    from_api = api_error(lambda: api(tiny_bert_dir, value))
    from_cli = cli_error(cli(tiny_bert_dir, files, value), capsys)
    assert from_api == from_cli
    assert case.split(" ")[0] in from_api and str(value) in from_api


def test_max_length_above_the_special_tokens_truncates(tiny_bert_dir):
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, max_length=3, device="cpu")
    long = model.encode([SENTENCES[0] + " " + SENTENCES[1]], dtype="float32")
    short = model.encode([SENTENCES[0].split()[0]], dtype="float32")
    assert long.shape == short.shape
    assert model.tokenize([SENTENCES[0]])["input_ids"].shape[1] == 3
    assert not np.allclose(model.encode(SENTENCES[:1]), SentenceEncoder.from_pretrained(
        tiny_bert_dir, device="cpu").encode(SENTENCES[:1]))
