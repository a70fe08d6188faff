"""Fixtures for the evaluation tests: a tiny SentEval ``downstream`` folder and toy encoders."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_SENTEVAL = REPO_ROOT.parent / "shared" / "data" / "senteval"
SHARED_SAMPLE = REPO_ROOT.parent / "shared" / "data" / "senteval-sample"

STS12_SUBSETS = ("MSRpar", "MSRvid", "SMTeuroparl", "surprise.OnWN", "surprise.SMTnews")


def _write(path: Path, text: str, encoding: str = "utf-8", newline: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding=encoding, newline=newline) as f:
        f.write(text)


def write_downstream(root: Path) -> Path:
    """Write a small SentEval ``data/downstream`` folder covering every loader's edge cases.

    * STS12: 5 subsets x 3 pairs; the second pair of MSRpar and SMTeuroparl
      has a blank gold line (13 scored pairs in all); MSRvid repeats STS-B sentences.
    * STS-B: one line with extra trailing columns, one with an unbalanced quote.
    * SICK: header line, CRLF line endings (train/trial/test).
    * MR: 20 "good" + 20 "bad" sentences, one blank line in the negative file.
    * SST-2, TREC (latin-1 byte in train; 2 questions per class), MRPC (UTF-8 BOM +
      header; 2 pairs per class).
    """
    sts = root / "STS" / "STS12-en-test"
    for k, name in enumerate(STS12_SUBSETS):
        pairs = [f"{name} one {k}\t{name} uno {k}", f"{name} two {k}\t{name} dos {k}",
                 f"{name} three {k}\t{name} tres {k}"]
        gold = ["4.0", "", "1.5"] if name in ("MSRpar", "SMTeuroparl") else ["4.0", "2.5", "1.5"]
        if name == "MSRvid":
            pairs[0] = "A girl is styling her hair.\tA girl is brushing her hair."
        _write(sts / f"STS.input.{name}.txt", "\n".join(pairs) + "\n")
        _write(sts / f"STS.gs.{name}.txt", "\n".join(gold) + "\n")

    stsb = root / "STS" / "STSBenchmark"
    rows = [
        "main-captions\tMSRvid\t2012test\t0001\t2.500\tA girl is styling her hair.\tA girl is brushing her hair.",
        "main-captions\tMSRvid\t2012test\t0002\t3.600\tA group of men play soccer.\tMen are playing soccer.",
        "main-forums\tanswer-answer\t2016\t0003\t5.000\tIt depends on the school.\t"
        "It really depends on the school.\tStackExchange: http://x\tStackExchange: http://y",
        'main-news\theadlines\t2014\t0004\t0.400\t"Obama says no\tStocks fall in Asia',
        "main-captions\tMSRvid\t2012test\t0005\t4.200\tA cat sits.\tA cat is sitting.",
    ]
    for split in ("train", "dev", "test"):
        _write(stsb / f"sts-{split}.csv", "\n".join(rows) + "\n")

    sick_rows = ["pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment",
                 "1\tA dog runs.\tA dog is running.\t4.9\tENTAILMENT",
                 "2\tA man sings.\tA woman cooks.\t1.2\tNEUTRAL",
                 "3\tKids play.\tChildren are playing.\t4.5\tENTAILMENT"]
    for name in ("SICK_train.txt", "SICK_trial.txt", "SICK_test_annotated.txt"):
        _write(root / "SICK" / name, "\r\n".join(sick_rows) + "\r\n", newline="")

    pos = [f"a good film number {i} ." for i in range(20)]
    neg = [f"a bad film number {i} ." for i in range(19)] + [""]
    _write(root / "MR" / "rt-polarity.pos", "\n".join(pos) + "\n", "latin-1")
    _write(root / "MR" / "rt-polarity.neg", "\n".join(neg) + "\n", "latin-1")

    for split, n in (("train", 30), ("dev", 10), ("test", 10)):
        lines = [f"good {split} {i} \t1" if i % 2 else f"bad {split} {i} \t0" for i in range(n)]
        _write(root / "SST" / "binary" / f"sentiment-{split}", "\n".join(lines) + "\n")

    trec_train = ["DESC:manner How did serfdom develop ?", "HUM:ind Who was Caf\xe9 's owner ?",
                  "NUM:date When did it happen ?", "LOC:city Where is Paris ?",
                  "DESC:def What is a dog ?", "HUM:gr Who won ?", "NUM:count How many dogs ?",
                  "LOC:country Where is Peru ?"]
    _write(root / "TREC" / "train_5500.label", "\n".join(trec_train) + "\n", "latin-1")
    _write(root / "TREC" / "TREC_10.label", "LOC:other Where is the Nile ?\nNUM:count How many ?\n", "latin-1")

    header = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String"
    for split in ("train", "test"):
        lines = [header, "1\t11\t12\tThe cat sat .\tA cat sat down .",
                 "0\t13\t14\tStocks rose .\tIt rained in Paris .",
                 f"1\t15\t16\tA {split} dog ran .\tThe {split} dog was running .",
                 f"0\t17\t18\tA {split} bird sang .\tTaxes went up ."]
        _write(root / "MRPC" / f"msr_paraphrase_{split}.txt", "\n".join(lines) + "\n", "utf-8-sig")
    return root


@pytest.fixture
def downstream(tmp_path: Path) -> Path:
    """A tiny SentEval downstream folder (see :func:`write_downstream`)."""
    return write_downstream(tmp_path / "downstream")


def hashed_vector(text: str, dim: int = 16) -> np.ndarray:
    """A deterministic pseudo-random unit vector per sentence (a toy encoder)."""
    rng = np.random.default_rng(zlib.crc32(text.encode("utf-8")))
    v = rng.standard_normal(dim)
    return (v / np.linalg.norm(v)).astype(np.float32)


class CountingEncoder:
    """A toy ``encode`` that records every sentence it is asked to embed."""

    def __init__(self, dim: int = 16) -> None:
        self.dim = dim
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.stack([hashed_vector(t, self.dim) for t in texts])

    @property
    def seen(self) -> list[str]:
        return [t for call in self.calls for t in call]


@pytest.fixture
def counting_encoder() -> CountingEncoder:
    """A fresh :class:`CountingEncoder` (16-d hashed vectors)."""
    return CountingEncoder()


@pytest.fixture
def toy_vector():
    """The toy encoder's per-sentence function, ``text -> unit vector``."""
    return hashed_vector


@pytest.fixture
def senteval_data() -> Path:
    """The team's real SentEval folder; skips when ``../shared/data`` is absent."""
    if not SHARED_SENTEVAL.is_dir():
        pytest.skip(f"real SentEval data not found at {SHARED_SENTEVAL} "
                    "(../shared/data exists only on the team's machines)")
    return SHARED_SENTEVAL


@pytest.fixture
def senteval_sample() -> Path:
    """The team's STS12-16 / SICK-test format samples; skips when absent."""
    if not SHARED_SAMPLE.is_dir():
        pytest.skip(f"SentEval format samples not found at {SHARED_SAMPLE}")
    return SHARED_SAMPLE

