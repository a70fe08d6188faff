"""SentEval's tasks: names, splits, the files each reads, and the data folder that holds them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "ALL_TASKS",
    "STS_TASKS",
    "TRANSFER_TASKS",
    "STS_YEAR_SUBSETS",
    "EVAL_SPLITS",
    "TREC_CLASSES",
    "PairData",
    "TextData",
    "check_task",
    "parse_tasks",
    "resolve_data_dir",
    "task_files",
    "task_available",
    "available_tasks",
]

STS_TASKS: tuple[str, ...] = ("sts12", "sts13", "sts14", "sts15", "sts16", "stsb", "sickr")
TRANSFER_TASKS: tuple[str, ...] = ("mr", "cr", "subj", "mpqa", "sst2", "trec", "mrpc")
ALL_TASKS: tuple[str, ...] = STS_TASKS + TRANSFER_TASKS

#: The subsets SentEval pools for each STS year (STS13 without the licensed SMT set).
STS_YEAR_SUBSETS: dict[str, tuple[str, ...]] = {
    "sts12": ("MSRpar", "MSRvid", "SMTeuroparl", "surprise.OnWN", "surprise.SMTnews"),
    "sts13": ("FNWN", "headlines", "OnWN"),
    "sts14": ("deft-forum", "deft-news", "headlines", "images", "OnWN", "tweet-news"),
    "sts15": ("answers-forums", "answers-students", "belief", "headlines", "images"),
    "sts16": ("answer-answer", "headlines", "plagiarism", "postediting", "question-question"),
}

_BINARY_FILES: dict[str, tuple[str, str, str]] = {
    # task: (folder, positive file, negative file); label 1 = first file
    "mr": ("MR", "rt-polarity.pos", "rt-polarity.neg"),
    "cr": ("CR", "custrev.pos", "custrev.neg"),
    "subj": ("SUBJ", "subj.subjective", "subj.objective"),
    "mpqa": ("MPQA", "mpqa.pos", "mpqa.neg"),
}
_SPLIT_FILES: dict[str, dict[str, str]] = {
    "stsb": {"train": "STS/STSBenchmark/sts-train.csv", "dev": "STS/STSBenchmark/sts-dev.csv",
             "test": "STS/STSBenchmark/sts-test.csv"},
    "sickr": {"train": "SICK/SICK_train.txt", "dev": "SICK/SICK_trial.txt",
              "test": "SICK/SICK_test_annotated.txt"},
    "sst2": {"train": "SST/binary/sentiment-train", "dev": "SST/binary/sentiment-dev",
             "test": "SST/binary/sentiment-test"},
    "trec": {"train": "TREC/train_5500.label", "test": "TREC/TREC_10.label"},
    "mrpc": {"train": "MRPC/msr_paraphrase_train.txt", "test": "MRPC/msr_paraphrase_test.txt"},
}
#: The splits a full evaluation of each task reads.
EVAL_SPLITS: dict[str, tuple[str, ...]] = {
    **{t: ("test",) for t in STS_YEAR_SUBSETS},
    "stsb": ("test",), "sickr": ("test",),
    **{t: ("all",) for t in _BINARY_FILES},
    "sst2": ("train", "dev", "test"), "trec": ("train", "test"), "mrpc": ("train", "test"),
}
TREC_CLASSES: tuple[str, ...] = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")
_HOW_TO_GET = (
    "Get SentEval's data with `bash get_transfer_data.bash` inside SentEval's "
    "data/downstream/ folder (https://github.com/facebookresearch/SentEval) and pass "
    "that folder as the data directory (or set TEXTCL_DATA)."
)


@dataclass(frozen=True)
class PairData:
    """Sentence pairs with one score or label per pair (STS, SICK-R, MRPC).

    Attributes:
        sentences1: first sentence of each pair.
        sentences2: second sentence of each pair.
        scores: gold similarity (float) or paraphrase label (int), shape ``(n,)``.
        subsets: name of the file each pair came from (STS12-16 pool several).
    """

    sentences1: list[str]
    sentences2: list[str]
    scores: np.ndarray
    subsets: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sentences1)

    def texts(self) -> list[str]:
        """All sentences of the data set, in order (``sentences1 + sentences2``)."""
        return self.sentences1 + self.sentences2


@dataclass(frozen=True)
class TextData:
    """Single sentences with an integer class label each (MR, SST-2, TREC, ...).

    Attributes:
        sentences: the sentences.
        labels: integer labels, shape ``(n,)``.
    """

    sentences: list[str]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.sentences)

    def texts(self) -> list[str]:
        """All sentences of the data set, in order."""
        return list(self.sentences)


# --------------------------------------------------------------------------- tasks


def check_task(task: str) -> str:
    """Normalise a task name and check it is known.

    Args:
        task: a task name, any case (``"STSB"``, ``"sts-b"`` and ``"sst"`` are accepted).

    Returns:
        The canonical lower-case name (one of :data:`ALL_TASKS`).

    Raises:
        ValueError: if the task is unknown (the message lists the known tasks).
    """
    name = str(task).strip().lower().replace("-", "").replace("_", "")
    name = {"sst": "sst2", "sick": "sickr", "stsbenchmark": "stsb"}.get(name, name)
    if name not in ALL_TASKS:
        raise ValueError(f"unknown task {task!r}; known tasks: {', '.join(ALL_TASKS)}")
    return name


def parse_tasks(tasks: str | list[str] | tuple[str, ...], data_dir: str | os.PathLike | None = None
                ) -> list[str]:
    """Turn ``"sts12,stsb,mr"``, a list, or ``"all"`` into canonical task names.

    Args:
        tasks: comma-separated names, a sequence of names, or ``"all"`` (every
            task whose data is present in ``data_dir``).
        data_dir: needed for ``"all"``.

    Returns:
        Canonical names in :data:`ALL_TASKS` order, without duplicates.

    Raises:
        ValueError: for an unknown name, an empty list, or ``"all"`` without data_dir.
    """
    if isinstance(tasks, str):
        tasks = [t for t in tasks.split(",") if t.strip()]
    names = [t.strip().lower() for t in tasks]
    if not names:
        raise ValueError(f"no task given; known tasks: {', '.join(ALL_TASKS)} (or 'all')")
    if "all" in names:
        if data_dir is None:
            raise ValueError("tasks='all' needs a data directory to look for data in")
        return available_tasks(data_dir)
    wanted = {check_task(t) for t in names}
    return [t for t in ALL_TASKS if t in wanted]


def resolve_data_dir(data_dir: str | os.PathLike) -> Path:
    """Find SentEval's ``downstream`` folder from what the user passed.

    Accepts the downstream folder itself, or a folder holding it as ``senteval/``,
    ``downstream/`` or ``data/downstream/`` (so both ``../shared/data`` and
    ``../shared/data/senteval`` work).

    Args:
        data_dir: a folder path.

    Returns:
        The folder that holds ``STS/``, ``MR/``, ... (``data_dir`` itself when
        none of the candidates holds a task folder).

    Raises:
        FileNotFoundError: if ``data_dir`` does not exist.
    """
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"data directory {root} does not exist. {_HOW_TO_GET}")
    markers = ("STS", "SICK", "MR", "CR", "SUBJ", "MPQA", "SST", "TREC", "MRPC")
    for cand in (root, root / "senteval", root / "downstream", root / "data" / "downstream"):
        if any((cand / m).is_dir() for m in markers):
            return cand
    return root


def task_files(task: str, splits: tuple[str, ...] | None = None) -> list[str]:
    """Relative paths (under the downstream folder) that a task reads.

    Args:
        task: task name.
        splits: which splits; default the ones a full evaluation reads
            (:data:`EVAL_SPLITS`). Binary tasks have the single split ``"all"``.

    Returns:
        POSIX-style relative paths.
    """
    task = check_task(task)
    splits = splits or EVAL_SPLITS[task]
    if task in STS_YEAR_SUBSETS:
        folder = f"STS/{task.upper()}-en-test"
        return [f"{folder}/STS.{kind}.{s}.txt" for s in STS_YEAR_SUBSETS[task]
                for kind in ("input", "gs")]
    if task in _BINARY_FILES:
        folder, pos, neg = _BINARY_FILES[task]
        return [f"{folder}/{pos}", f"{folder}/{neg}"]
    return [_SPLIT_FILES[task][_check_split(task, s)] for s in splits]


def task_available(task: str, data_dir: str | os.PathLike, splits: tuple[str, ...] | None = None
                   ) -> bool:
    """Whether every file ``task`` needs (for ``splits``) exists under ``data_dir``."""
    root = resolve_data_dir(data_dir)
    return all((root / f).is_file() for f in task_files(task, splits))


def available_tasks(data_dir: str | os.PathLike) -> list[str]:
    """Tasks whose evaluation files are all present, in :data:`ALL_TASKS` order."""
    return [t for t in ALL_TASKS if task_available(t, data_dir)]


# ------------------------------------------------------------------- file access


def _check_split(task: str, split: str) -> str:
    known = tuple(_SPLIT_FILES.get(task, {"all": ""}))
    if split not in known:
        raise ValueError(f"task {task!r} has no split {split!r}; splits: {', '.join(known)}")
    return split


def _require(data_dir: str | os.PathLike, task: str, relpaths: list[str]) -> list[Path]:
    """Resolve files, raising one clear error that lists every missing one."""
    root = resolve_data_dir(data_dir)
    paths = [root / r for r in relpaths]
    missing = [r for r, p in zip(relpaths, paths) if not p.is_file()]
    if missing:
        folder = root / Path(missing[0]).parent
        names = ", ".join(Path(m).name for m in missing)
        raise FileNotFoundError(
            f"{task} data not found: expected {folder}{os.sep} with {names} "
            f"(under data directory {root}). {_HOW_TO_GET}"
        )
    return paths


def _lines(path: Path, encoding: str) -> list[str]:
    # splitlines() also drops the '\r' of CRLF files (SICK test has them)
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        return f.read().splitlines()


def _clean(text: str) -> str:
    return " ".join(text.split()) or "."


def _score(value: str, path: Path, lineno: int) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{path}:{lineno}: score {value!r} is not a number") from None
