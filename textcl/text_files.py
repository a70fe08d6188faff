"""Reading sentences from text files (txt, jsonl, csv, tsv) row by row, with line numbers.

Shared by ``textcl encode``, ``textcl search`` and ``textcl classify predict``:
row ``i`` of every output is the ``i``-th non-empty row of the input, and an
empty row is an error naming its line unless ``skip_empty`` is set.
"""

from __future__ import annotations

import csv
import json
import os
from itertools import islice
from typing import Iterator

__all__ = ["iter_text_rows", "count_text_rows", "iter_chunks", "read_text_rows", "TEXT_FILE_TYPES"]


TEXT_FILE_TYPES = {".txt": "one sentence per line", ".jsonl": "one JSON object per line",
                   ".csv": "header + rows", ".tsv": "header + TAB-separated rows"}


def _kind(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext not in TEXT_FILE_TYPES:
        raise ValueError(f"{path}: unsupported input type {ext or '(no extension)'!r}; use "
                         + ", ".join(f"{e} ({d})" for e, d in TEXT_FILE_TYPES.items()))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"input file {path} does not exist")
    return ext


def iter_text_rows(path: str, text_col: str = "text", skip_empty: bool = False) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each row of a .txt, .jsonl, .csv or .tsv file.

    Line numbers are 1-based (for csv, the line where the record starts).

    Raises:
        ValueError: an empty text (unless ``skip_empty``), a bad JSON line, a
            non-string value or a missing column, naming the line.
    """
    ext = _kind(path)
    with open(path, encoding="utf-8", newline="" if ext in (".csv", ".tsv") else None) as f:
        if ext == ".txt":
            rows = ((i, line.rstrip("\r\n")) for i, line in enumerate(f, start=1))
        elif ext == ".jsonl":
            rows = _jsonl_rows(path, f, text_col)
        else:
            rows = _csv_rows(path, f, text_col, "\t" if ext == ".tsv" else ",")
        try:
            for line, text in rows:
                if not text.strip():
                    if skip_empty:
                        continue
                    raise ValueError(f"{path}:{line}: empty text; remove empty rows or pass --skip-empty "
                                     "(the output then skips them and records the kept line numbers)")
                yield line, text
        except UnicodeDecodeError as err:
            raise ValueError(f"{path}:{_first_undecodable_line(path)}: not UTF-8 text ({err.reason}, byte "
                             f"{err.object[err.start:err.start + 1]!r}): re-save the file as UTF-8") from None


def _first_undecodable_line(path: str) -> int | str:
    """1-based number of the first line that is not valid UTF-8 (read again in binary, only on an error)."""
    with open(path, "rb") as f:
        for i, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return i
    return "?"


def _jsonl_rows(path: str, f, text_col: str) -> Iterator[tuple[int, str]]:
    for i, line in enumerate(f, start=1):
        if not line.strip():
            yield i, ""
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{i}: not valid JSON ({err.msg})") from None
        if not isinstance(obj, dict) or text_col not in obj:
            keys = ", ".join(obj) if isinstance(obj, dict) else type(obj).__name__
            raise ValueError(f"{path}:{i}: no column {text_col!r}; the row has: {keys}. Pick one with --text-col")
        value = obj[text_col]
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{path}:{i}: {text_col!r} is {type(value).__name__} ({value!r:.40}), not a string")
        yield i, value or ""


def _csv_rows(path: str, f, text_col: str, delimiter: str) -> Iterator[tuple[int, str]]:
    reader = csv.DictReader(f, delimiter=delimiter)
    try:
        fieldnames = reader.fieldnames
        if fieldnames is None or text_col not in fieldnames:
            present = ", ".join(fieldnames or []) or "(no header)"
            raise ValueError(f"{path}: no column {text_col!r}; the file has: {present}. Pick one with --text-col")
        start = reader.line_num + 1
        for row in reader:
            yield start, row[text_col] or ""
            start = reader.line_num + 1
    except csv.Error as err:  # a NUL byte, a quote left open at the end of the file, ...
        raise ValueError(f"{path}:{reader.line_num or 1}: not a valid {os.path.splitext(path)[1][1:]} row "
                         f"({err})") from None


def count_text_rows(path: str, text_col: str = "text", skip_empty: bool = False) -> int:
    """Number of rows :func:`iter_text_rows` yields (reads and checks the whole file)."""
    return sum(1 for _ in iter_text_rows(path, text_col, skip_empty))


def read_text_rows(path: str, text_col: str = "text", skip_empty: bool = False) -> tuple[list[int], list[str]]:
    """All rows of a file in memory: ``(line_numbers, texts)``."""
    lines, texts = [], []
    for line, text in iter_text_rows(path, text_col, skip_empty):
        lines.append(line)
        texts.append(text)
    if not texts:
        raise ValueError(f"{path} has no text rows")
    return lines, texts


def iter_chunks(rows: Iterator[tuple[int, str]], size: int) -> Iterator[list[tuple[int, str]]]:
    """Group rows into lists of at most ``size``."""
    rows = iter(rows)
    while chunk := list(islice(rows, size)):
        yield chunk
