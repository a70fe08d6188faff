"""Loaders of SentEval's downstream layout: formats, edge cases, errors."""

from __future__ import annotations

import numpy as np
import pytest

from textcl.data.senteval import (
    ALL_TASKS,
    available_tasks,
    check_task,
    load_binary,
    load_mrpc,
    load_sick,
    load_sst2,
    load_sts_year,
    load_stsb,
    load_task,
    load_trec,
    parse_tasks,
    resolve_data_dir,
)
from textcl.data.tables import load_table


def test_sts_year_pools_subsets_and_drops_blank_gold(downstream):
    data = load_sts_year(downstream, "sts12")
    # 5 subsets x 3 pairs, minus one blank gold line in MSRpar and in SMTeuroparl
    assert len(data) == 13
    assert data.subsets.count("MSRpar") == 2 and data.subsets.count("MSRvid") == 3
    msrpar = [s for s, sub in zip(data.sentences1, data.subsets) if sub == "MSRpar"]
    assert msrpar == ["MSRpar one 0", "MSRpar three 0"]  # the unscored 'two' pair is gone
    assert data.scores[:2].tolist() == [4.0, 1.5]
    assert data.sentences2[0] == "MSRpar uno 0"


def test_sts_year_gold_and_input_must_have_same_length(downstream):
    (downstream / "STS/STS12-en-test/STS.gs.MSRvid.txt").write_text("4.0\n")
    with pytest.raises(ValueError, match="STS.gs.MSRvid.txt has 1 lines"):
        load_sts_year(downstream, "sts12")


def test_stsb_takes_fields_5_to_7_despite_extra_columns_and_quotes(downstream):
    data = load_stsb(downstream, "test")
    assert len(data) == 5
    assert data.scores.tolist() == [2.5, 3.6, 5.0, 0.4, 4.2]
    assert data.sentences2[2] == "It really depends on the school."  # not the trailing URL columns
    assert data.sentences1[3] == '"Obama says no'  # a lone quote does not swallow the next field
    assert data.sentences2[3] == "Stocks fall in Asia"


def test_sick_skips_header_and_strips_crlf(downstream):
    data = load_sick(downstream, "test")
    assert len(data) == 3
    assert data.sentences1[0] == "A dog runs."
    assert data.scores.tolist() == [4.9, 1.2, 4.5]
    assert all("\r" not in s for s in data.texts())


def test_mrpc_bom_and_header(downstream):
    raw = (downstream / "MRPC/msr_paraphrase_train.txt").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    data = load_mrpc(downstream, "train")
    assert len(data) == 4
    assert data.scores.tolist() == [1, 0, 1, 0]
    assert data.sentences1[:2] == ["The cat sat .", "Stocks rose ."]
    assert not any("\ufeff" in s or "String" in s for s in data.texts())


def test_binary_keeps_every_line_and_fills_blank(downstream):
    data = load_binary(downstream, "mr")
    assert len(data) == 40
    assert data.labels.sum() == 20 and data.labels[:20].tolist() == [1] * 20
    assert data.sentences[-1] == "."  # SentEval's batchers encode an empty sentence as '.'


def test_sst2_and_whitespace_normalisation(downstream):
    data = load_sst2(downstream, "train")
    assert len(data) == 30
    assert data.sentences[:2] == ["bad train 0", "good train 1"]  # trailing space removed
    assert data.labels[:4].tolist() == [0, 1, 0, 1]


def test_trec_coarse_labels_and_latin1(downstream):
    train = load_trec(downstream, "train")
    assert train.labels.tolist() == [1, 3, 5, 4] * 2  # DESC, HUM, NUM, LOC
    assert train.sentences[1] == "Who was Caf\xe9 's owner ?"
    assert train.sentences[0] == "How did serfdom develop ?"  # the fine label is dropped
    assert len(load_trec(downstream, "test")) == 2


def test_load_task_default_splits(downstream):
    assert set(load_task("sst2", downstream)) == {"train", "dev", "test"}
    assert set(load_task("mrpc", downstream)) == {"train", "test"}
    assert set(load_task("stsb", downstream)) == {"test"}
    assert set(load_task("mr", downstream)) == {"all"}
    assert len(load_task("stsb", downstream, ("dev",))["dev"]) == 5


def test_available_tasks_and_all(downstream):
    present = ["sts12", "stsb", "sickr", "mr", "sst2", "trec", "mrpc"]
    assert available_tasks(downstream) == present
    assert parse_tasks("all", downstream) == present
    assert parse_tasks("MRPC, sts-b,stsb") == ["stsb", "mrpc"]


def test_resolve_data_dir_accepts_parent_folder(downstream):
    assert resolve_data_dir(downstream.parent) == downstream
    assert resolve_data_dir(downstream) == downstream


def test_missing_file_names_path_files_and_how_to_get(downstream):
    with pytest.raises(FileNotFoundError) as err:
        load_task("subj", downstream)
    msg = str(err.value)
    assert "SUBJ" in msg and "subj.subjective" in msg and "subj.objective" in msg
    assert "get_transfer_data.bash" in msg
    with pytest.raises(FileNotFoundError, match="STS16-en-test"):
        load_sts_year(downstream, "sts16")


def test_missing_data_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_task("stsb", tmp_path / "nope")


def test_unknown_task_and_split_list_the_known_ones(downstream):
    with pytest.raises(ValueError) as err:
        check_task("imdb")
    assert all(t in str(err.value) for t in ALL_TASKS)
    with pytest.raises(ValueError, match="splits: train, test"):
        load_task("trec", downstream, ("dev",))
    with pytest.raises(ValueError, match="no task given"):
        parse_tasks(" , ")


def test_bad_lines_raise_with_location(downstream):
    (downstream / "SST/binary/sentiment-dev").write_text("no label here\n")
    with pytest.raises(ValueError, match="sentiment-dev:1"):
        load_sst2(downstream, "dev")


def test_load_table_local_files(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("text,label\nfine,1\nawful,0\n")
    tsv = tmp_path / "d.tsv"
    tsv.write_text("text\tlabel\nfine\t1\n")
    assert load_table(csv)["train"]["text"] == ["fine", "awful"]
    assert load_table(tsv)["train"].column_names == ["text", "label"]
    with pytest.raises(FileNotFoundError):
        load_table(tmp_path / "missing.csv")
    bad = tmp_path / "d.xlsx"
    bad.write_text("x")
    with pytest.raises(ValueError, match="unsupported file type"):
        load_table(bad)


def test_real_data_counts(senteval_data):
    assert len(load_stsb(senteval_data, "test")) == 1379
    assert len(load_stsb(senteval_data, "dev")) == 1500
    assert len(load_sick(senteval_data, "train")) == 4500
    assert [len(load_mrpc(senteval_data, s)) for s in ("train", "test")] == [4076, 1725]
    assert [len(load_trec(senteval_data, s)) for s in ("train", "test")] == [5452, 500]
    assert len(load_binary(senteval_data, "cr")) == 3775
    assert np.bincount(load_binary(senteval_data, "mpqa").labels).tolist() == [7294, 3312]
    assert len(load_sst2(senteval_data, "test")) == 1821


def test_real_sample_sts_blank_gold(senteval_sample):
    # the STS15/16 samples hold unscored pairs; count the scored gold lines independently
    for year in ("sts15", "sts16"):
        folder = senteval_sample / f"STS/{year.upper()}-en-test"
        scored = sum(1 for f in folder.glob("STS.gs.*.txt")
                     for line in f.read_text().splitlines() if line.strip())
        data = load_sts_year(senteval_sample, year)
        assert len(data) == scored < 5 * 20
        assert np.all((data.scores >= 0) & (data.scores <= 5))
