"""Each new loss with its view, trained for a few steps through the one training loop on a tiny BERT."""

import json
import os
from pathlib import Path

import pytest
import torch
from tiny_models import SENTENCES, make_tiny_bert

from textcl.cli import main
from textcl.data import load_data
from textcl.data.teacher import add_teacher_embeddings
from textcl.losses import (
    AnglELoss,
    CoSENTLoss,
    CosineSimilarityLoss,
    GISTEmbedLoss,
    InfoNCE,
    MatryoshkaLoss,
    MSELoss,
    OnlineContrastiveLoss,
)
from textcl.model import SentenceEncoder
from textcl.train.config import TrainConfig
from textcl.train.trainer import Trainer
from textcl.views import DistillationView, LabeledPairView, PairView, ScoredPairView

pytestmark = pytest.mark.usefixtures("one_thread")

DIM = 32  # the tiny BERT's width


def _json(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _model(path):
    return SentenceEncoder.from_pretrained(path, pooling="mean", device="cpu")


@pytest.fixture(scope="module")
def other_bert_dir(tmp_path_factory):
    """A second tiny BERT (other random weights): a teacher or a guide."""
    return make_tiny_bert(str(tmp_path_factory.mktemp("other_bert")), seed=7)


def _scored():
    rows = [{"sentence1": SENTENCES[i], "sentence2": SENTENCES[(i + k) % 16], "score": float(5 - k)}
            for i in range(16) for k in (0, 1, 5)]
    return load_data(rows)


def _labeled():
    # hard pairs: the similar pairs are other sentences, the dissimilar ones near copies
    return load_data([(SENTENCES[i], SENTENCES[(i + 1) % 16] if k else f"{SENTENCES[i]} not", k)
                      for i in range(16) for k in (0, 1)])


def _pairs():
    return load_data([(s, f"{s} indeed") for s in SENTENCES])


def _objective(model, loss, view, data, **kw):
    """The loss over all the data's rows, with the model in eval mode (no dropout): what training lowers."""
    vb = view({name: data[col] for name, col in zip(view.columns, data.column_names)})
    with torch.no_grad():
        emb = [model.encode(t, convert_to_tensor=True, normalize_embeddings=False) for t in vb.texts]
        args = emb + ([vb.labels] if vb.labels is not None else [])
        return loss(*[a.float() for a in args], **({"texts": vb.sources} if kw.get("texts") else {})).item()


def _train(model, loss, view, data, out, steps=24, **cfg):
    config = TrainConfig(batch_size=8, lr=5e-4, max_steps=steps, output_dir=str(out), log_steps=1,
                         save_steps=1000, seed=3, **cfg)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = Trainer(model, loss, view, data, config).train()
    losses = [r["loss"] for r in result.history if "loss" in r]
    assert len(losses) == steps and all(torch.isfinite(torch.tensor(losses)))
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())  # weights moved
    return result


@pytest.mark.parametrize("loss, view, data", [
    (CoSENTLoss(), ScoredPairView(), _scored),
    (AnglELoss(), ScoredPairView(), _scored),
    (CosineSimilarityLoss(), ScoredPairView(score_range=(0, 5)), _scored),
    (OnlineContrastiveLoss(margin=0.5), LabeledPairView(), _labeled),
    (MatryoshkaLoss(CoSENTLoss(), [DIM, 16, 8]), ScoredPairView(), _scored),
], ids=["cosent", "angle", "cosine_similarity", "online_contrastive", "matryoshka_cosent"])
def test_training_lowers_the_objective(tiny_bert_dir, tmp_path, loss, view, data):
    data, model = data(), _model(tiny_bert_dir)
    start = _objective(model, loss, view, data)
    _train(model, loss, view, data, tmp_path / "run")
    assert _objective(model, loss, view, data) < start


def test_distillation_from_a_teacher_model_and_from_its_npy(tiny_bert_dir, other_bert_dir, tmp_path):
    import numpy as np

    teacher = _model(other_bert_dir)
    texts = load_data(list(SENTENCES))
    data = add_teacher_embeddings(texts, teacher)
    np.save(tmp_path / "teacher.npy", teacher.encode(list(SENTENCES)))
    from_npy = add_teacher_embeddings(texts, embeddings=tmp_path / "teacher.npy")
    assert data.column_names == ["text", "label"] and from_npy["label"] == data["label"]
    model, view = _model(tiny_bert_dir), DistillationView()
    start = _objective(model, MSELoss(), view, data)
    _train(model, MSELoss(), view, data, tmp_path / "run", steps=20)
    assert _objective(model, MSELoss(), view, data) < start  # the student moved toward the teacher


def test_gist_embed_trains_with_a_frozen_guide(tiny_bert_dir, other_bert_dir, tmp_path):
    guide = _model(other_bert_dir)
    frozen = {k: v.clone() for k, v in guide.state_dict().items()}
    loss = GISTEmbedLoss(guide, temperature=0.05)
    model, data = _model(tiny_bert_dir), _pairs()
    start = _objective(model, loss, PairView(), data, texts=True)
    result = _train(model, loss, PairView(), data, tmp_path / "run")
    assert _objective(model, loss, PairView(), data, texts=True) < start
    assert all(torch.equal(frozen[k], v) for k, v in guide.state_dict().items())  # the guide is not trained
    record = _json(os.path.join(tmp_path / "run", "train_config.json"))
    assert record["loss"]["name"] == "gist_embed" and result.steps == 24


def test_matryoshka_infonce_trains_every_size_and_the_card_records_them(tiny_bert_dir, tmp_path):
    dims = [DIM, 16, 8, 4]
    model, data = _model(tiny_bert_dir), _pairs()
    per_size = {d: MatryoshkaLoss(InfoNCE(), [d]) for d in dims}
    start = {d: _objective(model, loss, PairView(), data) for d, loss in per_size.items()}
    result = _train(model, MatryoshkaLoss(InfoNCE(), dims), PairView(), data, tmp_path / "run")
    after = {d: _objective(model, loss, PairView(), data) for d, loss in per_size.items()}
    assert all(after[d] < start[d] for d in dims), (start, after)
    card = Path(result.model_path, "README.md").read_text(encoding="utf-8")
    assert "| matryoshka_dims | [32, 16, 8, 4] |" in card
    record = _json(os.path.join(tmp_path / "run", "train_config.json"))
    assert record["loss"] == {"name": "matryoshka", "dims": dims, "weights": [1.0] * 4,
                              "loss": InfoNCE().get_config()}
    saved = SentenceEncoder.from_pretrained(result.model_path, device="cpu")
    full = saved.encode(list(SENTENCES))
    for d in dims:
        small = saved.encode(list(SENTENCES), truncate_dim=d)
        assert small.shape == (16, d)
        assert small == pytest.approx(full[:, :d], abs=1e-6)


def test_cli_trains_cosent_with_matryoshka_and_the_record_repeats_it(tiny_bert_dir, tmp_path, capsys):
    path = tmp_path / "sts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _scored().to_list()))
    common = ["--model", tiny_bert_dir, "--pooling", "mean", "--batch-size", "8", "--max-steps", "2",
              "--device", "cpu", "--lr", "1e-3"]
    assert main(["train", *common, "--data", str(path), "--view", "scored_pair", "--loss", "cosent",
                 "--scale", "10", "--matryoshka-dims", "32,16", "--output", str(tmp_path / "a")]) == 0
    record = _json(tmp_path / "a" / "train_config.json")
    assert record["loss"] == {"name": "matryoshka", "dims": [32, 16], "weights": [1.0, 1.0],
                              "loss": {"name": "cosent", "scale": 10.0}}
    assert main(["train", "--config", str(tmp_path / "a" / "train_config.json"), "--output",
                 str(tmp_path / "b")]) == 0
    again = _json(tmp_path / "b" / "train_config.json")
    assert again["loss"] == record["loss"] and again["view"] == record["view"]


@pytest.mark.parametrize("loss, view, columns", [
    ("angle", "scored_pair", None), ("cosine_similarity", "scored_pair", None),
    ("online_contrastive", "labeled_pair", None), ("mse", "distillation", None),
])
def test_cli_loss_names(tiny_bert_dir, tmp_path, loss, view, columns, capsys):
    if view == "distillation":
        rows = [{"text": s, "label": [float(i % 3)] * DIM} for i, s in enumerate(SENTENCES)]
    elif view == "labeled_pair":
        rows = _labeled().to_list()
    else:
        rows = [{**r, "score": r["score"] / 5} for r in _scored().to_list()]
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["train", "--model", tiny_bert_dir, "--pooling", "mean", "--data", str(path), "--view", view,
                 "--loss", loss, "--batch-size", "8", "--max-steps", "2", "--device", "cpu",
                 "--output", str(tmp_path / "run")]) == 0
    assert _json(tmp_path / "run" / "train_config.json")["loss"]["name"] == loss


def test_cli_gist_embed_needs_a_guide(tiny_bert_dir, other_bert_dir, tmp_path, capsys):
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps({"anchor": s, "positive": f"{s} indeed"}) + "\n" for s in SENTENCES))
    common = ["train", "--model", tiny_bert_dir, "--pooling", "mean", "--data", str(path), "--view", "pair",
              "--loss", "gist_embed", "--batch-size", "8", "--max-steps", "2", "--device", "cpu"]
    assert main([*common, "--output", str(tmp_path / "none")]) != 0
    assert "--loss gist_embed needs --guide" in capsys.readouterr().err
    assert main([*common, "--guide", other_bert_dir, "--output", str(tmp_path / "run")]) == 0
    record = _json(tmp_path / "run" / "train_config.json")
    assert record["loss"]["name"] == "gist_embed" and record["command"]["guide"] == other_bert_dir
