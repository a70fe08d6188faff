"""Fuzz the data-file readers with random csv / tsv / jsonl / txt content: empty, header-only,
ragged, non-UTF-8, NUL bytes, unbalanced quotes, bad JSON.

``textcl.data.files`` (encode, search, classify predict) must return rows or raise
``ValueError`` / ``FileNotFoundError`` naming the file (and the line where one is at fault).
``textcl.data.load_data`` (train, classify) must do the same, never a raw
``DatasetGenerationError``."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textcl.data.files import read_text_rows

FUZZ = settings(derandomize=True, deadline=None, max_examples=60, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

CELL = st.one_of(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
                 st.sampled_from(["", " ", '"', '""', "a,b", "\t", "\n", "\r", "é", "😀", "\x00"]))
LINE = st.lists(CELL, min_size=0, max_size=4)
RAW = st.one_of(
    st.binary(max_size=80),
    st.lists(LINE, max_size=6).map(lambda rows: "\n".join(",".join(r) for r in rows).encode("utf-8")),
    st.lists(st.text(max_size=10), max_size=5).map(lambda lines: ("text\n" + "\n".join(lines)).encode("utf-8")),
    st.sampled_from([b"", b"text\n", b"text", b"\xef\xbb\xbftext\nok\n", b"text\nok\n\xe9t\xe9\n",
                     b'text\n"unclosed\n', b"text\nok\x00\n", b"a,b\n1,2,3\n4\n", b"\n\n\n",
                     b'{"text": "ok"}\n{"text": 3}\n', b'{"text": "ok"}\n{bad json\n', b'[1, 2]\n', b"\xff\xfe\x00t"]),
)
EXTS = [".txt", ".csv", ".tsv", ".jsonl"]


def _write(tmp_path, ext: str, data: bytes) -> str:
    path = str(tmp_path / f"input{ext}")
    with open(path, "wb") as f:
        f.write(data)
    return path


@pytest.mark.parametrize("ext", EXTS)
@FUZZ
@given(data=RAW)
def test_text_files_return_rows_or_name_the_file(tmp_path, ext, data):
    path = _write(tmp_path, ext, data)
    try:
        lines, texts = read_text_rows(path)
    except (ValueError, FileNotFoundError) as err:
        assert path in str(err), f"the error does not name the file: {err}"
        return
    assert len(lines) == len(texts) >= 1
    assert all(isinstance(t, str) and t.strip() for t in texts)
    assert lines == sorted(set(lines)) and lines[0] >= 1


@pytest.mark.parametrize("data, line", [(b"text\nok\n\xe9t\xe9\n", 3), (b"caf\xe9\n", 1), (b"ok\nfine\n\xff", 3)])
def test_non_utf8_names_the_line(tmp_path, data, line):
    ext = ".csv" if data.startswith(b"text") else ".txt"
    path = _write(tmp_path, ext, data)
    with pytest.raises(ValueError, match=rf"{path}:{line}: not UTF-8"):
        read_text_rows(path)


def test_missing_file_and_unknown_type(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_text_rows(str(tmp_path / "nope.txt"))
    with pytest.raises(ValueError, match="unsupported file type"):
        read_text_rows(_write(tmp_path, ".xlsx", b"text\n"))


_DATA_FIX = ("textcl/data/load.py load_data: datasets' builders raise DatasetGenerationError / ArrowInvalid / "
             "EmptyDatasetError for an empty, ragged or non-UTF-8 file; catch them around load_dataset (and check "
             "the file up front: UTF-8, a header, at least one row) and raise ValueError naming the file and the "
             "real cause (err.__cause__)")

LOAD_DATA_CASES = {
    "empty.csv": b"",
    "header_only.csv": b"anchor,positive\n",
    "ragged.csv": b"a,b\n1,2,3\n4\n",
    "latin1.csv": "a,b\ncaf\xe9,th\xe9\n".encode("latin-1"),
    "empty.jsonl": b"",
    "bad.jsonl": b'{"text": "ok"}\n{bad json\n',
    "latin1.txt": "caf\xe9\n".encode("latin-1"),
    "empty.txt": b"",
}


# load_data cases that fail today (xfail until textcl/data/load.py is fixed, see _DATA_FIX); measured:
# bad.jsonl, empty.csv, empty.txt, latin1.csv, latin1.txt -> raw DatasetGenerationError; empty.jsonl -> raw
# StopIteration; header_only.csv -> 'Instruction "train" corresponds to no data!' (no file name);
# ragged.csv -> loads silently (pandas shifts the 3-field row into an index)
KNOWN_BAD_LOAD_DATA: set[str] = set()  # all fixed: textcl.data.check_data_file names file and line


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=_DATA_FIX))
                                  if n in KNOWN_BAD_LOAD_DATA else n for n in sorted(LOAD_DATA_CASES)])
def test_load_data_names_the_file(tmp_path, name):
    from textcl.data import load_data

    path = _write(tmp_path, "", LOAD_DATA_CASES[name])
    os.rename(path, str(tmp_path / name))
    path = str(tmp_path / name)
    try:
        load_data(path)
    except (ValueError, FileNotFoundError) as err:
        assert name in str(err) or path in str(err), f"{type(err).__name__} does not name the file: {err}"
        return
    except Exception as err:  # noqa: BLE001 - what this test exists to catch
        raise AssertionError(f"raw {type(err).__name__} for {name}: {str(err)[:200]}") from err
    pytest.fail(f"{name} loaded without an error")

