"""Data loading: lists, local files, hub dataset names (load_dataset mocked), columns and the NLI triplet helper."""

import json

import datasets
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
    with pytest.raises(TypeError):
        load_senteval_snli(f"{shared_data}/senteval/SNLI")  # no default splits: never evaluation data by accident
    ds = load_senteval_snli(f"{shared_data}/senteval/SNLI", splits=("dev", "test"))
    assert len(ds) == 6339 and len(set(ds["premise"])) == 5863


# ---------------------------------------------------------------- hub dataset names

class RecordingLoadDataset:
    """Stands in for datasets.load_dataset at the hub boundary: records the call, returns NLI triplets."""

    def __init__(self):
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        rows = [(f"premise {i}", f"entailed {i}", f"contradicted {i}") for i in range(8)]
        return datasets.Dataset.from_dict({"anchor": [r[0] for r in rows], "positive": [r[1] for r in rows],
                                           "negative": [r[2] for r in rows], "id": list(range(8))})


@pytest.fixture
def fake_load_dataset(monkeypatch):
    fake = RecordingLoadDataset()
    monkeypatch.setattr(datasets, "load_dataset", fake)
    return fake


def test_hub_dataset_name_reaches_load_dataset_with_split_and_columns(fake_load_dataset):
    ds = load_data("sentence-transformers/all-nli", split="train", columns="anchor,positive,negative")
    assert fake_load_dataset.calls == [(("sentence-transformers/all-nli",), {"split": "train"})]
    assert ds.column_names == ["anchor", "positive", "negative"] and ds[0]["positive"] == "entailed 0"


def test_hub_dataset_revision_token_cache_and_column_mapping(fake_load_dataset, tmp_path):
    ds = load_data("org/nli", split="dev", columns={"negative": "hard", "anchor": "query"}, revision="v2",
                   token="hf_x", cache_folder=str(tmp_path), name="triplet")
    assert fake_load_dataset.calls == [(("org/nli",), {"split": "dev", "revision": "v2", "token": "hf_x",
                                                       "cache_dir": str(tmp_path), "name": "triplet"})]
    assert ds.column_names == ["hard", "query"] and ds[3] == {"hard": "contradicted 3", "query": "premise 3"}


def test_local_paths_never_reach_the_hub(fake_load_dataset, tmp_path):
    for name in ("./nli", "data/nli/train", "nli.csv", str(tmp_path / "x.jsonl")):
        with pytest.raises(FileNotFoundError, match="does not exist"):
            load_data(name)
    assert fake_load_dataset.calls == []


def test_unknown_hub_dataset_names_both_readings(monkeypatch):
    def missing(*args, **kwargs):
        raise datasets.exceptions.DatasetNotFoundError("Dataset 'org/nope' doesn't exist on the Hub")

    monkeypatch.setattr(datasets, "load_dataset", missing)
    with pytest.raises(OSError, match="As a local path: nothing exists at .*As a Hugging Face hub repo id: "
                                      "DatasetNotFoundError"):
        load_data("org/nope")


def test_train_cli_reads_a_hub_dataset(fake_load_dataset, tiny_bert_dir, tmp_path, capsys):
    from textcl.cli import main

    argv = ["train", "--model", tiny_bert_dir, "--data", "sentence-transformers/all-nli", "--split", "train",
            "--columns", "anchor,positive,negative", "--view", "triplet", "--max-steps", "1", "--batch-size", "4",
            "--output", str(tmp_path / "run"), "--device", "cpu", "--data-revision", "r1", "--token", "hf_t"]
    assert main(argv) == 0
    assert fake_load_dataset.calls == [(("sentence-transformers/all-nli",),
                                        {"split": "train", "revision": "r1", "token": "hf_t"})]
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{"):out.rindex("}") + 1])["steps"] == 1


# ---------------------------------------------------------------- hub dataset configs (a real datasets cache, offline)

ALL_NLI = {"pair": ["anchor", "positive"], "triplet": ["anchor", "positive", "negative"],
           "pair-score": ["sentence1", "sentence2", "score"]}


@pytest.fixture(scope="module")
def all_nli_cache(tmp_path_factory):
    """A ``datasets`` cache holding three configs of ``sentence-transformers/all-nli``, as an offline run finds it.

    Each config is prepared by the json builder from a tiny file, then moved to where ``load_dataset``
    looks for a hub dataset it cannot reach: ``CACHE/sentence-transformers___all-nli/CONFIG/VERSION/HASH``.
    """
    import shutil

    from datasets.data_files import DataFilesDict
    from datasets.packaged_modules.json.json import Json

    root = tmp_path_factory.mktemp("hf_datasets")
    cache = root / "cache"
    for config, cols in ALL_NLI.items():
        src = root / f"{config}.jsonl"
        src.write_text("".join(json.dumps({c: (i / 5 if c == "score" else f"{config} {c} {i}") for c in cols}) + "\n"
                               for i in range(6)))
        builder = Json(cache_dir=str(cache / "build"), dataset_name="all-nli", config_name=config, hash="0123abcd",
                       data_files=DataFilesDict.from_patterns({"train": [str(src)]}))
        builder.download_and_prepare()
        shutil.move(builder.cache_dir, cache / "sentence-transformers___all-nli" / config / "0.0.0" / "0123abcd")
    shutil.rmtree(cache / "build")
    return str(cache)


@pytest.mark.parametrize("config", sorted(ALL_NLI))
def test_a_config_name_selects_the_config(all_nli_cache, config):
    ds = load_data("sentence-transformers/all-nli", name=config, cache_folder=all_nli_cache)
    assert ds.column_names == ALL_NLI[config] and len(ds) == 6
    assert ds[2][ALL_NLI[config][0]] == f"{config} {ALL_NLI[config][0]} 2"


def test_a_missing_or_unknown_config_is_one_line_listing_them(all_nli_cache):
    with pytest.raises(ValueError) as err:
        load_data("sentence-transformers/all-nli", cache_folder=all_nli_cache)
    assert "\n" not in str(err.value)
    assert "has 3 configs: pair, pair-score, triplet; choose one with --data-config NAME" in str(err.value)
    with pytest.raises(ValueError, match="has no config 'pairs'; it has: pair, pair-score, triplet") as err:
        load_data("sentence-transformers/all-nli", name="pairs", cache_folder=all_nli_cache)
    assert "\n" not in str(err.value)


def test_a_config_name_for_local_data_is_refused(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("a,b\nx,y\n")
    for source in (str(path), ["x", "y"]):
        with pytest.raises(ValueError, match="selects a config of a hub dataset"):
            load_data(source, name="pair")


def test_train_cli_takes_data_config(all_nli_cache, tiny_bert_dir, tmp_path, capsys):
    from textcl.cli import main

    argv = ["train", "--model", tiny_bert_dir, "--data", "sentence-transformers/all-nli", "--view", "triplet",
            "--max-steps", "1", "--batch-size", "3", "--device", "cpu", "--cache-folder", all_nli_cache]
    assert main([*argv, "--output", str(tmp_path / "a"), "--data-config", "triplet"]) == 0
    record = json.loads((tmp_path / "a" / "train_config.json").read_text())
    assert record["data"]["data_config"] == "triplet"
    capsys.readouterr()
    assert main([*argv, "--output", str(tmp_path / "b")]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "choose one with --data-config" in err, err
