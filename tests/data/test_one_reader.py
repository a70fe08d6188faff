"""One reader: every entry point sees the same rows of a file, or gives the same error."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textcl.cli import main
from textcl.data import load_data
from textcl.data.corpus import DatasetSource, TextFileSource
from textcl.data.files import iter_text_rows, read_table
from textcl.data.tables import load_table

TEXT = st.text(alphabet=st.characters(categories=("L", "N", "P", "Zs"), exclude_characters="\x00"),
               min_size=1, max_size=12).filter(lambda t: t.strip() and t == t.strip())


def write(path, rows, fmt, bom, newline, header=("text", "label")):
    """A data file of ``rows`` (text, label) in ``fmt`` with a byte-order mark and line ending."""
    import csv
    import io
    import json

    buf = io.StringIO()
    if fmt in ("csv", "tsv"):
        writer = csv.writer(buf, delimiter="," if fmt == "csv" else "\t", lineterminator=newline)
        writer.writerow(header)
        writer.writerows(rows)
    elif fmt == "jsonl":
        buf.write("".join(json.dumps(dict(zip(header, r)), ensure_ascii=False) + newline for r in rows))
    else:
        buf.write("".join(r[0] + newline for r in rows))
    data = ("\ufeff" if bom else "") + buf.getvalue()
    path.write_bytes(data.encode("utf-8"))
    return str(path)


def entry_points(path, column="text"):
    """What each entry point reads from ``path``'s text column: a list of texts, or the error message."""
    readers = {
        "load_data": lambda: list(load_data(path)[column]),
        "read_table": lambda: list(read_table(path)[column]),
        "load_table": lambda: list(load_table(path)["train"][column]),
        "iter_text_rows (encode, search, classify predict)": lambda: [t for _, t in iter_text_rows(path, column)],
        "TextFileSource (encode --input)": lambda: [t for _, t in TextFileSource(path, column).iter_rows()],
        "DatasetSource (encode --dataset)": lambda: [t for _, t in DatasetSource(path, column=column).iter_rows()],
    }
    out = {}
    for name, read in readers.items():
        try:
            out[name] = [str(t) for t in read()]
        except (ValueError, FileNotFoundError) as err:
            out[name] = "error: " + str(err).replace(path, "<file>")
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(TEXT, st.sampled_from(["0", "1"])), min_size=1, max_size=5),
       fmt=st.sampled_from(["csv", "tsv", "jsonl", "txt"]), bom=st.booleans(),
       newline=st.sampled_from(["\n", "\r\n", "\r"]))
def test_every_entry_point_reads_the_same_rows(tmp_path_factory, rows, fmt, bom, newline):
    path = write(tmp_path_factory.mktemp("f") / f"data.{fmt}", rows, fmt, bom, newline)
    seen = entry_points(path)
    assert len({repr(v) for v in seen.values()}) == 1, seen
    if fmt != "txt" and not (fmt == "jsonl" and newline == "\r"):
        assert next(iter(seen.values())) == [r[0] for r in rows]  # BOM, CRLF and CR never reach the text


BAD_FILES = {
    "duplicate header": ("data.csv", "text,text\na,b\n", "appears twice"),
    "empty header name": ("data.csv", "text,\na,b\n", "empty name"),
    "tab-separated .csv": ("data.csv", "text\tlabel\na\t1\n", "TAB-separated"),
    "comma-separated .tsv": ("data.tsv", "text,label\na,1\n", "comma-separated"),
    "not UTF-8": ("data.csv", b"text,label\n\xff\xfe,1\n", "not UTF-8"),
    "short row": ("data.csv", "text,label\na\n", "1 fields"),
    "header only": ("data.csv", "text,label\n", "no rows"),
    "jsonl not an object": ("data.jsonl", '["a"]\n', "JSON object"),
    "jsonl duplicate key": ("data.jsonl", '{"text": "a", "text": "b"}\n', "appears twice"),
    "jsonl too deep": ("data.jsonl", "[" * 100000 + "]" * 100000 + "\n", "JSON"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_every_entry_point_refuses_a_bad_file_alike(case, tmp_path):
    name, content, expected = BAD_FILES[case]
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    seen = entry_points(str(path))
    messages = {repr(v) for v in seen.values()}
    assert len(messages) == 1, seen
    messages = {next(iter(seen.values()))}
    (message,) = messages
    assert isinstance(message, str) and message.startswith("error:") and expected in message, seen


@pytest.mark.parametrize("case", ["duplicate header", "tab-separated .csv", "not UTF-8"])
def test_every_command_refuses_a_bad_file_in_one_line(case, tmp_path, tiny_bert_dir, capsys):
    name, content, expected = BAD_FILES[case]
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    commands = {
        "train": ["train", "--model", tiny_bert_dir, "--data", str(path), "--output", str(tmp_path / "run")],
        "encode": ["encode", "--model", tiny_bert_dir, "--input", str(path), "--output", str(tmp_path / "e.npy")],
        "classify": ["classify", "--model", tiny_bert_dir, "--train", str(path), "--output", str(tmp_path / "c")],
        "search": ["search", "--model", tiny_bert_dir, "--corpus", str(path), "--query", "a"],
    }
    for command, argv in commands.items():
        code = main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert code != 0 and len(err) == 1 and expected in err[0] and str(path) in err[0], (command, err)
        assert not os.path.exists(tmp_path / "e.npy")


def test_a_saved_dataset_loads_wherever_data_is_accepted(tmp_path):
    import datasets

    ds = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a b", "c d"], "label": [0, 1]}),
                               "test": datasets.Dataset.from_dict({"text": ["e f"], "label": [1]})})
    ds.save_to_disk(str(tmp_path / "saved"))
    folder = str(tmp_path / "saved")
    assert list(load_data(folder)["text"]) == ["a b", "c d"]
    assert list(load_data(folder, split="test")["text"]) == ["e f"]
    assert list(load_table(folder)["test"]["text"]) == ["e f"]
    assert [t for _, t in DatasetSource(folder, split="test").iter_rows()] == ["e f"]


def test_an_edit_in_the_middle_of_a_large_file_changes_its_identity(tmp_path):
    path = tmp_path / "big.txt"
    line = "a man is playing a guitar on the stage tonight\n"
    path.write_text(line * (3 * (1 << 20) // len(line)))  # 3 MiB: the middle is far from both ends
    before = TextFileSource(str(path)).identity()
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 3] = b"cat" if data[middle:middle + 3] != b"cat" else b"dog"
    path.write_bytes(bytes(data))
    after = TextFileSource(str(path)).identity()
    assert before["size"] == after["size"] and before != after
