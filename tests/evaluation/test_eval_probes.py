"""Linear probes: separable toy problems, pair features, user data, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from textcl.evaluation.probes import (
    C_GRID,
    C_GRID_KFOLD,
    SEED,
    LogisticProbe,
    cv_probe,
    evaluate_probe,
    evaluate_probe_data,
    grid_search_c,
    kfold_test_probe,
    pair_features,
    probe_user_data,
    scale_by_norm,
    select_c,
    split_probe,
)
from textcl.data.senteval import PairData


def blobs(n_per_class: int, n_classes: int = 2, dim: int = 8, gap: float = 6.0, seed: int = 0):
    """Gaussian blobs whose means are ``gap`` apart along separate axes: linearly separable."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_per_class * n_classes, dim))
    y = np.repeat(np.arange(n_classes), n_per_class)
    x[np.arange(len(y)), y] += gap
    return x.astype(np.float32), y


def sentiment_encoder(texts):
    """'good' -> +e0, anything else -> -e0, plus a little hashed noise."""
    rng = np.random.default_rng(0)
    out = rng.normal(0, 0.1, (len(texts), 4))
    out[:, 0] += [1.0 if "good" in t else -1.0 for t in texts]
    return out.astype(np.float32)


def test_grids_are_senteval_s():
    assert C_GRID == (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
    assert C_GRID_KFOLD == (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


def test_pair_features_by_hand():
    u, v = np.array([[1.0, 2.0]]), np.array([[3.0, 1.0]])
    assert pair_features(u, v).tolist() == [[1, 2, 3, 1, 2, 1, 3, 2]]
    assert pair_features(u, v, "senteval").tolist() == [[2, 1, 3, 2]]
    with pytest.raises(ValueError, match="pair mode"):
        pair_features(u, v, "concat")


def test_scale_by_norm():
    ref = np.array([[3.0, 4.0], [0.0, 10.0]])  # norms 5 and 10 -> scale 7.5
    (out,) = scale_by_norm(ref, ref)
    assert np.allclose(out, ref / 7.5)


def test_nested_cv_on_separable_blobs():
    x, y = blobs(30)
    out = cv_probe(x, y, n_folds=5, inner_folds=3)  # fewer folds: separable data makes lbfgs slow
    assert out["accuracy"] == pytest.approx(100.0)
    assert out["dev_accuracy"] == pytest.approx(100.0)
    assert np.array_equal(out["predictions"], y)


def test_nested_cv_on_noise_is_near_chance():
    x = np.random.default_rng(1).standard_normal((200, 5)).astype(np.float32)
    y = np.repeat([0, 1], 100)
    assert 30.0 < cv_probe(x, y, n_folds=5, inner_folds=3)["accuracy"] < 70.0


def test_split_and_kfold_probes_multiclass():
    x, y = blobs(20, n_classes=3, seed=2)
    x_dev, y_dev = blobs(5, n_classes=3, seed=3)
    x_te, y_te = blobs(10, n_classes=3, seed=4)
    out = split_probe((x, y), (x_dev, y_dev), (x_te, y_te))
    assert out["accuracy"] == pytest.approx(100.0) and out["C"] == C_GRID[0]  # ties -> strongest C
    out = kfold_test_probe((x, y), (x_te, y_te), n_folds=5, standardize=True)
    assert out["accuracy"] == pytest.approx(100.0) and out["C"] in C_GRID_KFOLD


def test_folds_are_capped_by_the_smallest_class():
    x, y = blobs(3)
    assert cv_probe(x, y, n_folds=10, inner_folds=5)["accuracy"] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="at least 2 training examples"):
        cv_probe(x[:4], np.array([0, 0, 0, 1]))
    with pytest.raises(ValueError, match="at least 2 classes"):
        cv_probe(x, np.zeros(len(x), dtype=int))


def test_senteval_tasks_on_fixture(downstream):
    mr = evaluate_probe(sentiment_encoder, "mr", downstream, n_folds=5, inner_folds=3)
    assert mr == pytest.approx({"accuracy": 100.0, "dev_accuracy": 100.0, "n": 40})
    sst = evaluate_probe(sentiment_encoder, "sst2", downstream)
    assert sst["accuracy"] == pytest.approx(100.0) and sst["n"] == 10
    with pytest.raises(ValueError, match="not a transfer task"):
        evaluate_probe(sentiment_encoder, "stsb", downstream)


def test_mrpc_accuracy_and_f1(toy_vector):
    def pairs(n: int, offset: int) -> PairData:
        # paraphrases are identical sentences (|u - v| = 0); others differ
        labels = np.arange(n) % 2
        s1 = [f"sentence {offset + i}" for i in range(n)]
        s2 = [s if lab else f"other {offset + i}" for i, (s, lab) in enumerate(zip(s1, labels))]
        return PairData(s1, s2, labels)

    def encode(texts):
        return np.stack([toy_vector(t) for t in texts])

    out = evaluate_probe_data(encode, "mrpc", {"train": pairs(40, 0), "test": pairs(20, 100)},
                              n_folds=5, pair_mode="senteval")
    assert out == pytest.approx({"accuracy": 100.0, "dev_accuracy": 100.0, "f1": 100.0, "n": 20})


def test_trec_on_synthetic_classes():
    names = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]

    def encode(texts):
        return np.stack([np.eye(6)[names.index(t.split()[0])] + 0.01 * i for i, t in enumerate(texts)])

    from textcl.data.senteval import TextData

    def split(n):
        texts = [f"{names[i % 6]} question {i}" for i in range(n)]
        return TextData(texts, np.arange(n) % 6)

    out = evaluate_probe_data(encode, "trec", {"train": split(60), "test": split(12)}, n_folds=5)
    assert out["accuracy"] == pytest.approx(100.0) and out["n"] == 12


def test_user_data_with_and_without_test_split(tmp_path):
    from datasets import Dataset, DatasetDict

    rows = {"review": [f"good movie {i}" if i % 2 else f"dull movie {i}" for i in range(30)],
            "stars": ["pos" if i % 2 else "neg" for i in range(30)]}
    csv = tmp_path / "reviews.csv"
    csv.write_text("review,stars\n" + "\n".join(f"{r},{s}" for r, s in zip(rows["review"], rows["stars"])))
    cv = probe_user_data(sentiment_encoder, csv, text_col="review", label_col="stars",
                         n_folds=5, inner_folds=3)
    assert cv == pytest.approx({"accuracy": 100.0, "macro_f1": 100.0, "n_train": 30, "n_test": 0})

    split = DatasetDict({"train": Dataset.from_dict(rows),
                         "test": Dataset.from_dict({k: v[:10] for k, v in rows.items()})})
    out = probe_user_data(sentiment_encoder, split, text_col="review", label_col="stars", n_folds=5)
    assert out == pytest.approx({"accuracy": 100.0, "macro_f1": 100.0, "n_train": 30, "n_test": 10})


def test_user_data_missing_column_lists_columns(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("sentence,label\nok,1\nbad,0\n")
    with pytest.raises(ValueError, match="columns: sentence, label"):
        probe_user_data(sentiment_encoder, csv)  # default text_col='text'
    with pytest.raises(ValueError, match="no split 'validation'"):
        probe_user_data(sentiment_encoder, csv, text_col="sentence", train_split="validation")


def test_select_c_takes_the_smallest_c_within_tolerance():
    assert select_c([80.0, 80.05, 79.9], tolerance=0.1) == 0
    assert select_c([80.0, 80.05, 79.9], tolerance=0.0) == 1  # SentEval: first maximum
    assert select_c([70.0, 80.0, 80.1], tolerance=0.1) == 1  # exactly at the tolerance counts
    assert select_c([70.0, 80.0, 80.2], tolerance=0.1) == 2
    assert select_c([75.0, 75.0]) == 0
    # a one-prediction change (0.01 points) near the best does not flip the choice
    assert select_c([80.0, 80.04]) == select_c([80.0, 80.05]) == 0
    with pytest.raises(ValueError, match="tolerance"):
        select_c([1.0], tolerance=-1)
    with pytest.raises(ValueError, match="non-empty"):
        select_c([])
    with pytest.raises(ValueError, match="finite"):
        select_c([np.nan, 1.0])


def test_grid_search_matches_one_fit_per_fold_and_c():
    x, y = blobs(40, dim=6, gap=1.0, seed=5)  # overlapping classes: accuracy varies with C
    grid = (0.01, 0.1, 1.0)
    folds = StratifiedKFold(n_splits=4, shuffle=True, random_state=SEED)
    expected = [100 * np.mean([LogisticRegression(C=c, max_iter=1000).fit(x[tr], y[tr]).score(x[te], y[te])
                               for tr, te in folds.split(x, y)]) for c in grid]
    assert grid_search_c(x, y, grid, folds) == pytest.approx(expected, abs=1e-9)
    with pytest.raises(ValueError, match="strictly ascending"):
        grid_search_c(x, y, (1.0, 0.5), folds)


def test_logistic_probe_is_a_sklearn_classifier():
    x, y = blobs(20, dim=6, gap=1.5, seed=6)
    probe = LogisticProbe(c_grid=(0.01, 0.1, 1.0), n_folds=4).fit(x, y)
    assert probe.C_ in (0.01, 0.1, 1.0)
    assert probe.cv_scores_.shape == (3,)
    assert probe.cv_accuracy_ == pytest.approx(probe.cv_scores_[select_c(probe.cv_scores_)])
    assert probe.predict(x).shape == (40,) and 0 <= probe.score(x, y) <= 1


def test_cv_probe_is_stable_under_float32_noise():
    x, y = blobs(60, dim=8, gap=1.2, seed=7)
    noisy = x + np.random.default_rng(8).normal(0, 1e-6, x.shape).astype(np.float32)
    a, b = cv_probe(x, y, n_folds=5, inner_folds=3), cv_probe(noisy, y, n_folds=5, inner_folds=3)
    assert a["C"] == b["C"] and len(a["C"]) == 5
    assert a["accuracy"] == pytest.approx(b["accuracy"], abs=1.0)


def test_n_jobs_gives_the_same_result():
    x, y = blobs(30, dim=6, gap=1.5, seed=9)
    one = cv_probe(x, y, n_folds=3, inner_folds=3)
    two = cv_probe(x, y, n_folds=3, inner_folds=3, n_jobs=2)
    assert one["accuracy"] == two["accuracy"] and one["C"] == two["C"]
    assert np.array_equal(one["predictions"], two["predictions"])
