"""Helpers of scripts/recipes.py: the check sets, the scores and the seed summaries."""

import importlib.util
import json
import os
import sys

import numpy as np
import pytest

from tiny_models import REPO_ROOT


sys.path.insert(0, os.path.join(REPO_ROOT, "scripts"))
import recipes  # noqa: E402  (scripts/recipes.py)
from recipe_runs import common  # noqa: E402  (scripts/recipe_runs/common.py)

_spec = importlib.util.spec_from_file_location("test_pairwise_recipe_helpers",
                                               os.path.join(REPO_ROOT, "tests", "scripts", "test_pairwise_recipe.py"))
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


def test_mean_std_and_results_file(tmp_path):
    s = common.mean_std([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["std"] == 1.0 and s["values"] == [1.0, 2.0, 3.0]
    assert common.mean_std([5.0])["std"] == 0.0
    res = common.Results(str(tmp_path / "r.json"))
    res.add("runs", [{"stsb_test": 1.0}])
    assert json.loads((tmp_path / "r.json").read_text())["runs"] == [{"stsb_test": 1.0}]


def test_unknown_subcommand_is_refused():
    with pytest.raises(SystemExit):
        recipes.main(["nope"])
