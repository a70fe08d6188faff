"""The one reader of local data files: every command and the Python API read a file through here.

Rules, the same for every entry point (``load_data``, ``textcl train --data``, ``encode --input``,
``classify --train/--validation/--test/--input``, ``search --corpus/--queries``, user tables):

* **Format** comes from the extension (:data:`FORMATS`); the content must agree. A ``.csv``
  whose header splits on TAB (or ``;``, ``|``) but not on commas is refused, as is a ``.tsv``
  that is really comma-separated.
* **Encoding**: UTF-8, an optional byte-order mark dropped; CRLF and a lone CR end a line like
  LF, inside quoted csv fields too. A byte that is not UTF-8 is refused naming file and line.
* **Header** (csv, tsv): required; a duplicate or empty column name is refused, as is a row
  of another width. jsonl/json objects follow the same name rules.
* **Types** (:func:`read_table`): a csv/tsv column whose every non-empty cell is an integer
  becomes int64, else float64 if every cell is a number, else text; an empty cell is None.
  A number is read as a number only when it is written as Python writes it, so a text column
  of numbers reads back the same (``str(value)``) wherever it is read as text.

:func:`iter_text_rows` streams ``(line, text)`` of one column with 1-based line numbers;
:func:`read_table` reads a whole file into a ``datasets.Dataset``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from itertools import islice
from typing import Any, Iterator

__all__ = ["FORMATS", "TEXT_FILE_TYPES", "file_format", "iter_records", "read_table", "iter_text_rows",
           "count_text_rows", "read_text_rows", "iter_chunks", "file_sha256", "content_sha256"]

#: extension -> (format, what the file holds)
FORMATS = {".txt": ("text", "one sentence per line"), ".csv": ("csv", "header + comma-separated rows"),
           ".tsv": ("tsv", "header + TAB-separated rows"), ".jsonl": ("jsonl", "one JSON object per line"),
           ".json": ("json", "a JSON array of objects, or one object per line"),
           ".parquet": ("parquet", "a Parquet table"), ".arrow": ("arrow", "an Arrow table")}
TEXT_FILE_TYPES = {ext: what for ext, (fmt, what) in FORMATS.items() if fmt in ("text", "csv", "tsv", "jsonl")}
_DELIMITERS = {"csv": ",", "tsv": "\t"}
_OTHER_DELIMITERS = {",": "comma", "\t": "TAB", ";": "semicolon", "|": "bar"}


def file_format(path: str, allowed: dict[str, Any] | None = None) -> str:
    """The format of ``path`` from its extension; an unknown one is refused listing the known ones."""
    allowed = FORMATS if allowed is None else allowed
    ext = os.path.splitext(path)[1].lower()
    if ext not in allowed:
        raise ValueError(f"{path}: unsupported file type {ext or '(no extension)'!r}; use "
                         + ", ".join(f"{e} ({FORMATS[e][1]})" for e in allowed))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"input file {path} does not exist")
    return FORMATS[ext][0]


def file_sha256(path: str, block: int = 1 << 20) -> str:
    """SHA-256 of a whole file, streamed (what identifies an input when a job resumes)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def content_sha256(path: str) -> str:
    """SHA-256 of a file, or of every file of a folder (relative names and contents, in sorted order)."""
    if os.path.isfile(path):
        return file_sha256(path)
    h = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(f for f in files if not f.startswith(".")):
            full = os.path.join(root, name)
            h.update(os.path.relpath(full, path).encode() + b"\0" + file_sha256(full).encode())
    return h.hexdigest()


# ----------------------------------------------------------------------------- records
def iter_records(path: str, delimiter: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line, record)`` for every row of a text-format file (txt, csv, tsv, jsonl, json).

    A ``.txt`` row is ``{"text": line}``. Line numbers are 1-based (csv: where the record starts).

    Raises:
        ValueError: naming the file (and line) of the first row that breaks the module's rules.
    """
    fmt = file_format(path)
    if fmt in ("parquet", "arrow"):
        raise ValueError(f"{path}: a {fmt} file is a table, not text rows; read it with read_table")
    count = 0
    for row in _records(path, fmt, delimiter):
        count += 1
        yield row
    if count == 0:
        raise ValueError(f"{path} holds no rows")


def _records(path: str, fmt: str, delimiter: str | None) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with open(path, encoding="utf-8-sig", newline="" if fmt in _DELIMITERS else None) as f:
            if fmt == "text":
                for i, line in enumerate(f, start=1):
                    yield i, {"text": line.rstrip("\n")}
            elif fmt in _DELIMITERS:
                yield from _csv_records(path, f, delimiter or _DELIMITERS[fmt], explicit=delimiter is not None)
            elif fmt == "json" and _starts_with(f, "["):
                yield from _json_array_records(path, f)
            else:
                yield from _jsonl_records(path, f)
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}:{_first_undecodable_line(path)}: not UTF-8 text ({err.reason}, byte "
                         f"{err.object[err.start:err.start + 1]!r}): re-save the file as UTF-8") from None


def _starts_with(f: io.TextIOBase, char: str) -> bool:
    while True:
        c = f.read(1)
        if not c or not c.isspace():
            f.seek(0)
            return c == char


def _first_undecodable_line(path: str) -> int | str:
    """1-based number of the first line that is not valid UTF-8 (read again in binary, only on an error)."""
    with open(path, "rb") as f:
        for i, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return i
    return "?"


def _check_names(path: str, names: list[str], where: str) -> None:
    empty = [i + 1 for i, n in enumerate(names) if not str(n).strip()]
    if empty:
        raise ValueError(f"{path}{where}: column {empty[0]} has an empty name ({', '.join(map(repr, names))}): "
                         "name every column")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{path}{where}: the column name {name!r} appears twice ({', '.join(map(repr, names))}):"
                             " give every column its own name")
        seen.add(name)


def _normalise(value: str) -> str:
    return value.replace("\r\n", "\n").replace("\r", "\n") if "\r" in value else value


def _csv_records(path: str, f: io.TextIOBase, delimiter: str, explicit: bool) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.reader(f, delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path} is empty: it holds no rows")
        header = [_normalise(h) for h in header]
        if not explicit and len(header) == 1:
            for other, name in _OTHER_DELIMITERS.items():
                if other != delimiter and len(next(csv.reader([header[0]], delimiter=other))) > 1:
                    ext = os.path.splitext(path)[1]
                    fix = ("rename it to .tsv" if other == "\t" else "rename it to .csv" if other == "," else
                           f"re-save it with {'commas' if delimiter == ',' else 'TABs'}")
                    raise ValueError(f"{path}: the header {header[0]!r} is {name}-separated but a {ext} file is "
                                     f"{_OTHER_DELIMITERS[delimiter]}-separated: {fix}")
        _check_names(path, header, ":1")
        width = len(header)
        start = reader.line_num + 1
        for row in reader:
            if not row:  # a blank line
                start = reader.line_num + 1
                continue
            if len(row) != width:
                raise ValueError(f"{path}:{start}: {len(row)} fields, but the header has {width} "
                                 f"({', '.join(header)}): quote fields that hold the delimiter")
            yield start, {h: _normalise(v) for h, v in zip(header, row)}
            start = reader.line_num + 1
    except csv.Error as err:  # a NUL byte, a quote left open at the end of the file, ...
        raise ValueError(f"{path}:{reader.line_num or 1}: not a valid {os.path.splitext(path)[1][1:]} row "
                         f"({err})") from None


def _object(path: str, where: str):
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        _check_names(path, [k for k, _ in pairs], where)
        return dict(pairs)
    return hook


def _jsonl_records(path: str, f: io.TextIOBase) -> Iterator[tuple[int, dict[str, Any]]]:
    for i, line in enumerate(f, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line, object_pairs_hook=_object(path, f":{i}"))
        except (json.JSONDecodeError, RecursionError) as err:
            reason = err.msg if isinstance(err, json.JSONDecodeError) else "nested too deeply"
            raise ValueError(f"{path}:{i}: not valid JSON ({reason})") from None
        if not isinstance(obj, dict):
            raise ValueError(f"{path}:{i}: a row must be a JSON object, got {type(obj).__name__}")
        yield i, obj


def _json_array_records(path: str, f: io.TextIOBase) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        rows = json.load(f, object_pairs_hook=_object(path, ""))
    except (json.JSONDecodeError, RecursionError) as err:
        where = f":{err.lineno}" if isinstance(err, json.JSONDecodeError) else ""
        reason = err.msg if isinstance(err, json.JSONDecodeError) else "nested too deeply"
        raise ValueError(f"{path}{where}: not valid JSON ({reason})") from None
    for i, obj in enumerate(rows):
        if not isinstance(obj, dict):
            raise ValueError(f"{path}: item {i} of the JSON array is {type(obj).__name__}, not an object")
        yield i + 1, obj


# ----------------------------------------------------------------------------- whole tables
def _typed(values: list[Any]) -> list[Any]:
    """csv cells as int, float or text (see the module rules); an empty cell is None.

    A column is numeric only when every cell is written exactly as Python writes the number
    (``7``, ``-2``, ``0.25``; not ``007``, ``1.50`` or ``1e3``), so ``str(value)`` gives the cell back.
    """
    cells = [None if v == "" else v for v in values]
    present = [v for v in cells if v is not None]
    for kind in (int, float):
        try:
            converted = [kind(v) for v in present]
        except ValueError:
            continue
        if not converted or any(repr(c) != v for c, v in zip(converted, present)):
            continue
        it = iter(converted)
        return [None if v is None else next(it) for v in cells]
    return cells


def read_table(path: str, delimiter: str | None = None):
    """The whole file as a ``datasets.Dataset`` (columns in the file's order).

    Raises:
        ValueError: naming the file of a format, encoding, header or row problem, or no rows.
    """
    import datasets

    fmt = file_format(path)
    if fmt in ("parquet", "arrow"):
        try:
            ds = datasets.load_dataset(fmt, data_files=path, split="train")
        except Exception as err:  # pyarrow raises several types for a damaged file
            raise ValueError(f"{path} could not be read as {fmt}: {type(err).__name__}: {err}") from err
        _check_names(path, ds.column_names, "")
    else:
        columns: dict[str, list[Any]] = {}
        n = 0
        for _, record in iter_records(path, delimiter):
            for key in record:
                if key not in columns:
                    columns[key] = [None] * n
            for key, values in columns.items():
                values.append(record.get(key))
            n += 1
        if fmt in _DELIMITERS:
            columns = {k: _typed(v) for k, v in columns.items()}
        try:
            ds = datasets.Dataset.from_dict(columns)
        except Exception as err:  # pyarrow: a column mixing types
            raise ValueError(f"{path}: the rows do not form a table ({type(err).__name__}: {err}): give each "
                             "column values of one type") from err
    if len(ds) == 0:
        raise ValueError(f"{path} holds no rows")
    return ds


# ----------------------------------------------------------------------------- one text column
def iter_text_rows(path: str, text_col: str = "text", skip_empty: bool = False) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each row of a .txt, .jsonl, .csv or .tsv file.

    Raises:
        ValueError: an empty text (unless ``skip_empty``), a non-string value or a missing column,
            naming the line; or any rule of the module.
    """
    fmt = file_format(path, TEXT_FILE_TYPES)
    for line, record in iter_records(path):
        if text_col not in record:
            where, holder = (path, "the file") if fmt in _DELIMITERS else (f"{path}:{line}", "the row")
            raise ValueError(f"{where}: no column {text_col!r}; {holder} has: {', '.join(record)}. "
                             "Pick one with --text-col")
        value = record[text_col]
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{path}:{line}: {text_col!r} is {type(value).__name__} ({value!r:.40}), not a string")
        if not value or not value.strip():
            if skip_empty:
                continue
            raise ValueError(f"{path}:{line}: empty text; remove empty rows or pass --skip-empty "
                             "(the output then skips them and records the kept line numbers)")
        yield line, value


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
