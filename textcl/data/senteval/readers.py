"""Readers of SentEval's ``data/downstream/`` files, one per task.

Each loader reads one task exactly as SentEval (Conneau & Kiela, 2018) reads
it, so that scores are comparable with published numbers:

* sentences are whitespace-normalised (SentEval splits on whitespace and the
  SimCSE batcher joins the tokens back with single spaces);
* an empty line becomes ``"."`` (what SentEval's reference batchers encode for
  an empty sentence), which keeps SentEval's sample counts while giving every
  encoder a non-empty string;
* file encodings follow SentEval (latin-1 for MR/CR/SUBJ/MPQA/TREC, UTF-8
  elsewhere), with ``errors="replace"`` so a stray byte never aborts a run.

A missing file raises :class:`FileNotFoundError` naming the expected folder and
files; an unknown task name raises :class:`ValueError` listing the known ones.

Example:
    >>> data = load_task("stsb", "../shared/data/senteval")  # doctest: +SKIP
    >>> data["test"].sentences1[0]  # doctest: +SKIP
    'A girl is styling her hair.'
"""

from __future__ import annotations

import os

import numpy as np

from textcl.data.senteval.tasks import (
    _BINARY_FILES,
    EVAL_SPLITS,
    STS_YEAR_SUBSETS,
    TREC_CLASSES,
    PairData,
    TextData,
    _clean,
    _lines,
    _require,
    _score,
    check_task,
    task_files,
)

__all__ = ["load_task", "load_sts_year", "load_stsb", "load_sick", "load_binary", "load_sst2", "load_trec",
           "load_mrpc"]


def load_task(task: str, data_dir: str | os.PathLike, splits: tuple[str, ...] | None = None
              ) -> dict[str, PairData | TextData]:
    """Load the splits of one task.

    Args:
        task: task name (see :data:`ALL_TASKS`).
        data_dir: SentEval's downstream folder (or a parent, see :func:`resolve_data_dir`).
        splits: splits to load; default those a full evaluation reads
            (STS12-16: ``test``, pooled over the year's subsets; STS-B and SICK-R:
            ``test``; MR/CR/SUBJ/MPQA: ``all``; SST-2: ``train/dev/test``;
            TREC and MRPC: ``train/test``).

    Returns:
        ``{split: PairData | TextData}``.

    Raises:
        ValueError: unknown task or split.
        FileNotFoundError: missing data (names the expected folder and files).
    """
    task = check_task(task)
    splits = splits or EVAL_SPLITS[task]
    if task in STS_YEAR_SUBSETS:
        return {s: load_sts_year(data_dir, task) for s in splits}
    if task in _BINARY_FILES:
        return {s: load_binary(data_dir, task) for s in splits}
    loader = {"stsb": load_stsb, "sickr": load_sick, "sst2": load_sst2,
              "trec": load_trec, "mrpc": load_mrpc}[task]
    return {s: loader(data_dir, s) for s in splits}


# ----------------------------------------------------------------------- loaders


def load_sts_year(data_dir: str | os.PathLike, task: str) -> PairData:
    """Load STS12-16 in the "all" setting: every subset of the year, pooled.

    Pairs whose gold line is blank are unscored and dropped (as SentEval does).

    Args:
        data_dir: SentEval's downstream folder.
        task: ``"sts12"`` ... ``"sts16"``.

    Returns:
        The pooled pairs; ``subsets`` names each pair's file.
    """
    task = check_task(task)
    if task not in STS_YEAR_SUBSETS:
        raise ValueError(f"{task!r} is not an STS year; years: {', '.join(STS_YEAR_SUBSETS)}")
    paths = _require(data_dir, task, task_files(task))
    s1: list[str] = []
    s2: list[str] = []
    scores: list[float] = []
    subsets: list[str] = []
    for name, (inp, gs) in zip(STS_YEAR_SUBSETS[task], zip(paths[::2], paths[1::2])):
        pairs = _lines(inp, "utf-8")
        gold = _lines(gs, "utf-8")
        if len(gold) != len(pairs):
            raise ValueError(f"{gs} has {len(gold)} lines but {inp} has {len(pairs)}")
        for i, (pair, g) in enumerate(zip(pairs, gold), start=1):
            if not g.strip():
                continue
            fields = pair.split("\t")
            if len(fields) < 2:
                raise ValueError(f"{inp}:{i}: expected 's1<TAB>s2', got {pair[:80]!r}")
            s1.append(_clean(fields[0]))
            s2.append(_clean(fields[1]))
            scores.append(_score(g.strip(), gs, i))
            subsets.append(name)
    return PairData(s1, s2, np.asarray(scores, dtype=np.float64), subsets)


def load_stsb(data_dir: str | os.PathLike, split: str = "test") -> PairData:
    """Load one STS Benchmark split (fields 5-7 = score, s1, s2; extra columns ignored).

    Lines are split on TABs, never parsed as CSV: the sentences hold unbalanced
    double quotes that a CSV reader would swallow.
    """
    (path,) = _require(data_dir, "stsb", task_files("stsb", (split,)))
    s1, s2, scores = [], [], []
    for i, line in enumerate(_lines(path, "utf-8"), start=1):
        if not line.strip():
            continue
        fields = line.strip().split("\t")
        if len(fields) < 7:
            raise ValueError(f"{path}:{i}: expected at least 7 TAB-separated fields, got {len(fields)}")
        scores.append(_score(fields[4], path, i))
        s1.append(_clean(fields[5]))
        s2.append(_clean(fields[6]))
    return PairData(s1, s2, np.asarray(scores, dtype=np.float64), [split] * len(s1))


def load_sick(data_dir: str | os.PathLike, split: str = "test") -> PairData:
    """Load one SICK split for relatedness (header skipped; score = column 4)."""
    (path,) = _require(data_dir, "sickr", task_files("sickr", (split,)))
    s1, s2, scores = [], [], []
    for i, line in enumerate(_lines(path, "utf-8")[1:], start=2):
        if not line.strip():
            continue
        fields = line.strip().split("\t")
        if len(fields) < 4:
            raise ValueError(f"{path}:{i}: expected at least 4 TAB-separated fields, got {len(fields)}")
        s1.append(_clean(fields[1]))
        s2.append(_clean(fields[2]))
        scores.append(_score(fields[3], path, i))
    return PairData(s1, s2, np.asarray(scores, dtype=np.float64), [split] * len(s1))


def load_binary(data_dir: str | os.PathLike, task: str) -> TextData:
    """Load MR, CR, SUBJ or MPQA: positive file (label 1) then negative file (label 0).

    Every line is a sample, as in SentEval (an empty one becomes ``"."``).
    """
    task = check_task(task)
    if task not in _BINARY_FILES:
        raise ValueError(f"{task!r} is not a binary task; binary tasks: {', '.join(_BINARY_FILES)}")
    pos_path, neg_path = _require(data_dir, task, task_files(task))
    pos = [_clean(s) for s in _lines(pos_path, "latin-1")]
    neg = [_clean(s) for s in _lines(neg_path, "latin-1")]
    labels = np.asarray([1] * len(pos) + [0] * len(neg), dtype=np.int64)
    return TextData(pos + neg, labels)


def load_sst2(data_dir: str | os.PathLike, split: str = "test") -> TextData:
    """Load one split of binary SST (``sentence<TAB>label``)."""
    (path,) = _require(data_dir, "sst2", task_files("sst2", (split,)))
    texts, labels = [], []
    for i, line in enumerate(_lines(path, "utf-8"), start=1):
        if not line.strip():
            continue
        text, _, label = line.strip().rpartition("\t")
        try:
            labels.append(int(label))
        except ValueError:
            raise ValueError(f"{path}:{i}: expected 'sentence<TAB>label', got {line[:80]!r}") from None
        texts.append(_clean(text))
    return TextData(texts, np.asarray(labels, dtype=np.int64))


def load_trec(data_dir: str | os.PathLike, split: str = "test") -> TextData:
    """Load TREC (``COARSE:fine question``; latin-1), labelled with the 6 coarse classes.

    Labels index :data:`TREC_CLASSES` (ABBR, DESC, ENTY, HUM, LOC, NUM).
    """
    (path,) = _require(data_dir, "trec", task_files("trec", (split,)))
    texts, labels = [], []
    for i, line in enumerate(_lines(path, "latin-1"), start=1):
        if not line.strip():
            continue
        target, _, rest = line.strip().partition(":")
        if target not in TREC_CLASSES or " " not in rest:
            raise ValueError(f"{path}:{i}: expected 'COARSE:fine question', got {line[:80]!r}")
        labels.append(TREC_CLASSES.index(target))
        texts.append(_clean(rest.split(" ", 1)[1]))
    return TextData(texts, np.asarray(labels, dtype=np.int64))


def load_mrpc(data_dir: str | os.PathLike, split: str = "test") -> PairData:
    """Load MRPC (UTF-8 with BOM; header; ``Quality, #1 ID, #2 ID, #1 String, #2 String``)."""
    (path,) = _require(data_dir, "mrpc", task_files("mrpc", (split,)))
    s1, s2, labels = [], [], []
    for i, line in enumerate(_lines(path, "utf-8-sig")[1:], start=2):
        if not line.strip():
            continue
        fields = line.strip().split("\t")
        if len(fields) < 5 or fields[0] not in ("0", "1"):
            raise ValueError(f"{path}:{i}: expected 'label<TAB>id<TAB>id<TAB>s1<TAB>s2', "
                             f"got {line[:80]!r}")
        labels.append(int(fields[0]))
        s1.append(_clean(fields[3]))
        s2.append(_clean(fields[4]))
    return PairData(s1, s2, np.asarray(labels, dtype=np.int64), [split] * len(s1))


# -------------------------------------------------------------------- user data
