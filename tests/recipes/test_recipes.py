"""Helpers of recipes/recipes.py: the check sets, the scores, the seed summaries and the results files."""

import importlib.util
import json
import os
import sys
import tempfile
import threading

import numpy as np
import pytest

from tiny_models import REPO_ROOT

sys.path.insert(0, os.path.join(REPO_ROOT, "recipes"))
import recipes  # noqa: E402  (recipes/recipes.py)
from recipe_runs import common  # noqa: E402  (recipes/recipe_runs/common.py)
from recipe_runs import results_file  # noqa: E402  (recipes/recipe_runs/results_file.py)

_spec = importlib.util.spec_from_file_location("test_pairwise_recipe_helpers",
                                               os.path.join(REPO_ROOT, "tests", "recipes", "test_pairwise_recipe.py"))
tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny)


def test_checks_hold_stsb_dev_test_and_sick_train_plus_trial(tmp_path):
    tiny._tiny_senteval(tmp_path, n=7)
    checks = common.load_checks(str(tmp_path))
    assert {k: len(v) for k, v in checks.items()} == {"stsb_dev": 7, "stsb_test": 7, "sickr": 14}


def test_score_is_spearman_of_the_chosen_similarity(tmp_path):
    tiny._tiny_senteval(tmp_path, n=9)
    checks = common.load_checks(str(tmp_path))
    rng = np.random.default_rng(0)
    table = {}

    def encode(texts):
        return np.stack([table.setdefault(t, rng.normal(size=4)) for t in texts])

    scores = common.score(encode, checks, ("cosine", "euclidean"))
    assert set(scores) == {"stsb_dev", "stsb_test", "sickr", "stsb_dev_euclidean", "stsb_test_euclidean",
                           "sickr_euclidean"}
    from scipy.stats import spearmanr

    d = checks["stsb_test"]
    e1, e2 = encode(d.sentences1), encode(d.sentences2)
    cos = (e1 * e2).sum(1) / np.linalg.norm(e1, axis=1) / np.linalg.norm(e2, axis=1)
    assert scores["stsb_test"] == round(spearmanr(cos, d.scores)[0] * 100, 2)
    assert scores["stsb_test_euclidean"] == round(spearmanr(-np.linalg.norm(e1 - e2, axis=1), d.scores)[0] * 100, 2)


def test_mean_std():
    s = common.mean_std([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["std"] == 1.0 and s["values"] == [1.0, 2.0, 3.0]
    assert common.mean_std([5.0])["std"] == 0.0


def test_entry_names_follow_stage_and_tag():
    assert results_file.entry_name("select") == "select"
    assert results_file.entry_name("select", "_8ep_round4") == "select_8ep_round4"
    assert results_file.entry_name("summary", "_8ep") == "summary_8ep"
    assert results_file.entry_name("seeds", "_seeds") == "seeds"  # the tag names the stage: not twice
    assert results_file.entry_name("seeds", "_t003_seeds_s43") == "t003_seeds_s43"


def test_an_entry_replaces_its_own_and_keeps_the_others(tmp_path):
    path = tmp_path / "sel" / "r.json"
    first = results_file.ResultsEntry(str(path), "select", argv=["recipes/recipes.py", "unsup"])
    first.add("runs", [{"stsb_test": 1.0}])
    other = results_file.ResultsEntry(str(path), "seeds", argv=["recipes/recipes.py", "unsup", "--stage", "seeds"])
    other.add("summary", {"stsb_test": {"mean": np.float64(2.5)}})  # numpy scalars are written as numbers
    again = results_file.ResultsEntry(str(path), "select", argv=["recipes/recipes.py", "unsup"])
    again.add("runs", [{"stsb_test": 3.0}])
    data = json.loads(path.read_text())
    assert list(data) == ["select", "seeds"]
    assert data["select"]["runs"] == [{"stsb_test": 3.0}]
    assert data["select"]["command"] == "python recipes/recipes.py unsup"
    assert data["seeds"]["summary"] == {"stsb_test": {"mean": 2.5}}
    assert oct(path.stat().st_mode & 0o777) == "0o644" and not [p for p in path.parent.iterdir() if p != path]


def test_entries_written_at_once_from_threads_are_all_kept(tmp_path):
    path = str(tmp_path / "r.json")

    def run(i):
        res = results_file.ResultsEntry(path, f"e{i}", argv=["x.py"])
        for step in range(5):
            res.add("step", step)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    data = json.loads(open(path).read())
    assert sorted(data) == [f"e{i}" for i in range(6)] and all(e["step"] == 4 for e in data.values())


def test_absolute_paths_are_never_stored(tmp_path):
    repo = results_file.REPO
    tmp = tempfile.gettempdir()
    argv = ["/x/y/recipes/recipes.py", "--data", os.path.join(os.path.dirname(repo), "shared", "data"),
            "--output", os.path.join(tmp, "rq"), f"--plots={os.path.join(repo, 'out', 'p')}", "--tag", "_a"]
    # a checkout directly in the temporary folder names its neighbours relative to itself
    output = "../rq" if os.path.realpath(os.path.dirname(repo)) == os.path.realpath(tmp) else "$TMPDIR/rq"
    assert results_file.command_line(argv) == (f"python <abs>/recipes.py --data ../shared/data --output {output} "
                                               "--plots=out/p --tag _a")
    assert results_file.portable({"a": [os.path.join(repo, "results")], "n": 3}) == {"a": ["results"], "n": 3}


def test_summary_pools_entries_by_seed(tmp_path, capsys):
    def run(seed, dev, candidate="c"):
        return {"candidate": candidate, "seed": seed, "epochs": 8, "stsb_dev": dev, "stsb_test": dev - 10,
                "sickr": dev - 20}

    path = tmp_path / "quickstart.json"
    path.write_text(json.dumps({
        "select_x": {"runs": [run(42, 70.0), run(42, 71.0, candidate="other")]},
        "seeds_x": {"textcl_runs": [run(43, 72.0), run(44, 74.0)], "st_runs": [run(42, 60.0), run(43, 62.0)]},
        "unrelated": {"runs": []}}))
    rc = recipes.main(["summary", "--candidate", "c", "--inputs", "select_x,seeds_x", "--results", str(path),
                       "--tag", "_x"])
    assert rc == 0
    data = json.loads(path.read_text())
    assert list(data) == ["select_x", "seeds_x", "unrelated", "summary_x"]  # the inputs are untouched
    summary = data["summary_x"]
    assert summary["inputs"] == ["select_x", "seeds_x"] and summary["chosen_on_dev"] == "other"
    assert summary["textcl BiLSTM (c)"]["seeds"] == [42, 43, 44]
    assert summary["textcl BiLSTM (c)"]["stsb_dev"] == {"mean": 72.0, "std": 2.0, "values": [70.0, 72.0, 74.0]}
    assert summary["sentence-transformers frozen-GloVe BiLSTM, MNRL"]["stsb_dev"]["mean"] == 61.0
    assert "| other | 8 | 71.0 | 61.0 | 51.0 | select_x |" in capsys.readouterr().out


def test_summary_names_a_missing_entry(tmp_path):
    path = tmp_path / "quickstart.json"
    path.write_text(json.dumps({"select_x": {"runs": []}}))
    with pytest.raises(ValueError, match="no entry nope"):
        recipes.main(["summary", "--inputs", "select_x,nope", "--results", str(path)])


def test_unknown_subcommand_is_refused():
    with pytest.raises(SystemExit):
        recipes.main(["nope"])


def test_minilm_mix_table_pools_seeds_verdict_and_matryoshka(tmp_path, capsys):
    def run(seed, dev, candidate="mix"):
        return {"candidate": candidate, "seed": seed, "stsb_dev": dev, "stsb_test": dev - 4, "sickr": dev - 8}

    def curve(seed, shift):
        return {"seed": seed, **{d: {"stsb_test": 80.0 + shift, "sickr": 70.0 + shift} for d in ("384", "256", "128",
                                                                                                   "64")}}

    before = {"stsb_dev": 80.0, "stsb_test": 76.0, "sickr": 72.0}
    path = tmp_path / "minilm.json"
    path.write_text(json.dumps({
        "mix_select": {"runs": [run(42, 88.0), run(42, 87.0, candidate="other")]},
        "mix_curve_s42": {"textcl_runs": [run(42, 88.0)], "textcl_matryoshka": [curve(42, 1.0)]},
        "mix_seeds_s43": {"before": before, "before_matryoshka": curve(0, 0.0), "textcl_runs": [run(43, 90.0)],
                          "textcl_matryoshka": [curve(43, 3.0)]},
        "mix_st_s42": {"st_runs": [run(42, 80.0)]}, "mix_st_s43": {"st_runs": [run(43, 81.0)]}}))
    inputs = "mix_select,mix_curve_s42,mix_seeds_s43,mix_st_s42,mix_st_s43"
    assert recipes.main(["minilm_mix", "--stage", "table", "--candidate", "mix", "--inputs", inputs,
                         "--results", str(path)]) == 0
    summary = json.loads(path.read_text())["mix_summary"]
    assert summary["summary"]["textcl"]["seeds"] == [42, 43]
    assert summary["summary"]["textcl"]["stsb_dev"] == {"mean": 89.0, "std": 1.41, "values": [88.0, 90.0]}
    assert summary["summary"]["verdict"] == {"stsb_test": "textcl wins", "sickr": "textcl wins"}
    assert summary["chosen_on_dev"] == "mix" and summary["matryoshka_seeds"] == [42, 43]
    out = capsys.readouterr().out
    assert "| all-MiniLM-L6-v2, untouched | 80.00 | 76.00 | 72.00 |" in out
    assert "| 64 | 80.0 | 82.00 ± 1.41 | 70.0 | 72.00 ± 1.41 |" in out
    with pytest.raises(ValueError, match="need runs of nope"):
        recipes.main(["minilm_mix", "--stage", "table", "--candidate", "nope", "--inputs", inputs,
                      "--results", str(path)])
