"""recipes/pairwise.py runs end to end on a tiny SentEval-layout folder and prints its table."""

import importlib.util
import json
import os
import random

import pytest

from tiny_models import REPO_ROOT

_spec = importlib.util.spec_from_file_location("pairwise_recipe", os.path.join(REPO_ROOT, "recipes", "pairwise.py"))
pairwise_recipe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pairwise_recipe)

WORDS = ("man woman dog cat child plays runs sleeps eats guitar ball food park house street red small old "
         "happy sad").split()


def _sentence(rng):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 7))) + " ."


def _tiny_senteval(root, n=12, seed=0):
    """STS-B dev/test, SICK train/trial and SNLI dev/test files, a few rows each, in SentEval's layout."""
    rng = random.Random(seed)
    sts = root / "STS" / "STSBenchmark"
    sts.mkdir(parents=True)
    for split in ("dev", "test"):
        lines = [f"main-captions\tMSRvid\t2012test\t{i:04d}\t{rng.uniform(0, 5):.2f}\t{_sentence(rng)}\t"
                 f"{_sentence(rng)}" for i in range(n)]
        (sts / f"sts-{split}.csv").write_text("\n".join(lines) + "\n")
    sick = root / "SICK"
    sick.mkdir()
    for name in ("SICK_train.txt", "SICK_trial.txt"):
        lines = ["pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment"]
        lines += [f"{i}\t{_sentence(rng)}\t{_sentence(rng)}\t{rng.uniform(1, 5):.1f}\tNEUTRAL" for i in range(n)]
        (sick / name).write_text("\n".join(lines) + "\n")
    snli = root / "SNLI"
    snli.mkdir()
    for split in ("dev", "test"):
        s1, s2, labels = [], [], []
        for _ in range(n):
            premise = _sentence(rng)
            for label in ("entailment", "neutral", "contradiction"):
                s1.append(premise)
                s2.append(_sentence(rng))
                labels.append(label)
        for name, col in (("s1", s1), ("s2", s2), ("labels", labels)):
            (snli / f"{name}.{split}").write_text("\n".join(col) + "\n")


def test_labelled_pairs_keep_entailment_and_contradiction():
    pairs = pairwise_recipe.labelled_pairs(["p", "p", "p", "q"], ["e", "n", "c", "e2"],
                                           ["entailment", "neutral", "contradiction", "Entailment"])
    assert list(pairs["text1"]) == ["p", "p", "q"] and list(pairs["text2"]) == ["e", "c", "e2"]
    assert list(pairs["label"]) == [1, 0, 1]


def test_pairwise_recipe_runs_end_to_end(tmp_path, capsys):
    _tiny_senteval(tmp_path / "data" / "senteval")
    results = tmp_path / "pairwise.json"
    rc = pairwise_recipe.main(["--data", str(tmp_path / "data"), "--output", str(tmp_path / "out"),
                               "--results", str(results), "--batch-size", "8", "--hidden", "8", "--filters", "4",
                               "--vocab-size", "300", "--eval-steps", "2", "--epochs", "1"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "| encoder | training objective | own similarity |" in out
    saved = json.loads(results.read_text())["default"]  # the entry of a run without --tag
    runs = saved["runs"]
    # 2 encoders x (euclidean, cosine, infonce)
    assert [(r["encoder"], r["objective"]) for r in runs] == [
        (e, o) for e in ("cnn", "bilstm") for o in ("euclidean", "cosine", "infonce")]
    assert saved["data"] == {"snli_rows": 72, "labelled_pairs": 48, "positives": 24, "triplets": 24}
    for r in runs:
        own = "euclidean" if r["objective"] == "euclidean" else "cosine"
        assert r["similarity_fn_name"] == own  # saved with the model and read back
        for name in ("stsb_dev", "stsb_test", "sickr"):
            assert -100 <= r[name] <= 100 and -100 <= r[f"{name}_own"] <= 100
            # the own score is the cosine score exactly when the model's similarity is cosine
            assert (r[f"{name}_own"] == r[name]) if own == "cosine" else (r[f"{name}_own"] == r[f"{name}_euclidean"])
        assert r["steps"] >= 1
    assert saved["table"] in out


def test_unknown_encoder_is_refused(tmp_path):
    with pytest.raises(SystemExit):
        pairwise_recipe.main(["--data", str(tmp_path), "--encoders", "transformer"])
