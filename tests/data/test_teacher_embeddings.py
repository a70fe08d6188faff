"""add_teacher_embeddings: a teacher model's vectors or a precomputed .npy as the label column, rows checked."""

import numpy as np
import pytest

from textcl.data import load_data
from textcl.data.teacher import add_teacher_embeddings

TEXTS = ["a man plays .", "a dog runs .", "a cat sleeps ."]


class Teacher:
    def __init__(self):
        self.calls = []

    def encode(self, texts):
        self.calls.append(list(texts))
        return np.array([[len(t), i] for i, t in enumerate(texts)], dtype=np.float64)


def test_teacher_model_callable_and_npy_give_the_same_column(tmp_path):
    data = load_data(TEXTS)
    teacher = Teacher()
    out = add_teacher_embeddings(data, teacher, batch_size=2)
    assert teacher.calls == [TEXTS[:2], TEXTS[2:]]  # batched
    assert out.column_names == ["text", "label"] and out["text"] == TEXTS
    assert np.asarray(out["label"]).tolist() == [[13, 0], [12, 1], [14, 0]]
    assert add_teacher_embeddings(data, lambda t: Teacher().encode(t), batch_size=2)["label"] == out["label"]
    np.save(tmp_path / "t.npy", np.asarray(out["label"], dtype=np.float32))
    assert add_teacher_embeddings(data, embeddings=tmp_path / "t.npy")["label"] == out["label"]


def test_text_column_is_chosen_by_name_among_several():
    data = load_data([{"id": i, "sentence": t} for i, t in enumerate(TEXTS)])
    with pytest.raises(ValueError, match="name the text one with text_column"):
        add_teacher_embeddings(data, Teacher())
    out = add_teacher_embeddings(data, Teacher(), text_column="sentence", label_column="teacher")
    assert out.column_names == ["sentence", "teacher"]


def test_mismatched_rows_and_bad_sources_are_one_line_errors(tmp_path):
    data = load_data(TEXTS)
    np.save(tmp_path / "short.npy", np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"short.npy gives embeddings of shape \(2, 4\), but the data has 3 rows"):
        add_teacher_embeddings(data, embeddings=tmp_path / "short.npy")
    with pytest.raises(ValueError, match="exactly one teacher source"):
        add_teacher_embeddings(data)
    with pytest.raises(ValueError, match="exactly one teacher source"):
        add_teacher_embeddings(data, Teacher(), embeddings=tmp_path / "short.npy")
    with pytest.raises(FileNotFoundError, match="missing.npy does not exist"):
        add_teacher_embeddings(data, embeddings=tmp_path / "missing.npy")
    with pytest.raises(ValueError, match="non-finite"):
        add_teacher_embeddings(data, lambda t: np.full((len(t), 2), np.nan))
