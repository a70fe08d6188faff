"""Data loading: lists, local files, column selection and the NLI triplet helper."""

import json

import pytest

from textcl.data import check_text_columns, load_data, load_senteval_snli, nli_to_triplets


def test_lists_of_strings_tuples_dicts():
    assert load_data(["a", "b"]).column_names == ["text"]
    assert load_data([("a", "b"), ("c", "d")]).column_names == ["text0", "text1"]
    assert len(load_data([{"x": "a", "y": "b"}])) == 1
    with pytest.raises(ValueError, match="different lengths"):
        load_data([("a", "b"), ("c",)])


def test_local_files_and_column_order(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text("\n".join(json.dumps({"b": f"b{i}", "a": f"a{i}", "c": "z"}) for i in range(3)))
    ds = load_data(str(p), columns="a,b")
    assert ds.column_names == ["a", "b"] and ds[0] == {"a": "a0", "b": "b0"}
    ds = load_data(str(p), columns=["b", "a"])  # views read columns positionally: order must follow the request
    assert ds.column_names == ["b", "a"] and ds[0] == {"b": "b0", "a": "a0"}
    t = tmp_path / "s.txt"
    t.write_text("one sentence\nanother one\n")
    assert load_data(str(t))["text"] == ["one sentence", "another one"]


def test_missing_column_lists_what_exists(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("premise,hypothesis\nx,y\n")
    with pytest.raises(ValueError, match="'label'.*the data has: premise, hypothesis"):
        load_data(str(p), columns="premise,label")


def test_wrong_path_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_data(str(tmp_path / "missing.csv"))


def test_empty_and_non_string_rows_are_named():
    ds = load_data([{"t": "fine"}, {"t": "  "}])
    with pytest.raises(ValueError, match="row 1, column 't'"):
        check_text_columns(ds, ["t"])


def test_nli_to_triplets_pairs_entailment_with_first_contradiction():
    prem = ["p1", "p1", "p1", "p1", "p2", "p2"]
    hyp = ["e1", "c1", "e2", "c2", "e3", "n3"]
    lab = ["entailment", "contradiction", "entailment", "contradiction", 0, 1]
    ds = nli_to_triplets(prem, hyp, lab)
    assert [tuple(r.values()) for r in ds] == [("p1", "e1", "c1"), ("p1", "e2", "c1")]
    with pytest.raises(ValueError, match="differ in length"):
        nli_to_triplets(["p"], ["h", "h2"], ["entailment"])


def test_senteval_snli_gives_the_documented_triplet_count(shared_data):
    ds = load_senteval_snli(f"{shared_data}/senteval/SNLI")
    assert len(ds) == 6339 and len(set(ds["premise"])) == 5863
