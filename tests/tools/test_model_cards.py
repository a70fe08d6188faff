"""model_cards/: every card is what tools/make_model_cards.py writes, and its figures equal its results JSON."""

from __future__ import annotations

import importlib.util
import json
import os
import sys

import pytest
from huggingface_hub import ModelCard as HFModelCard

from tiny_models import REPO_ROOT

_spec = importlib.util.spec_from_file_location("make_model_cards", os.path.join(REPO_ROOT, "tools",
                                                                                "make_model_cards.py"))
make_model_cards = importlib.util.module_from_spec(_spec)
sys.modules["make_model_cards"] = make_model_cards  # dataclasses look their module up there
_spec.loader.exec_module(make_model_cards)

SPECS = make_model_cards.load_specs()
WITH_RESULTS = [s for s in SPECS if os.path.isfile(os.path.join(REPO_ROOT, s.results_json))]


def model_index(card_text: str) -> dict[tuple[str, str, str], float]:
    """(dataset type, split, metric) -> value of the card's model-index."""
    data = HFModelCard(card_text).data
    return {(r.dataset_type, r.dataset_split, r.metric_type): r.metric_value for r in data.eval_results or []}


def check_card(text: str, spec, results: dict) -> None:
    """Held-out figures in the model-index and the body equal the JSON; selection figures only in the body."""
    index = model_index(text)
    body = text.split("\n---\n", 1)[1]
    for fig in spec.figures:
        value = float(make_model_cards.lookup(results, fig["key"]))
        key = (fig["task"], fig["split"], fig["metric"])
        row = f"| {fig['split']} | {fig['metric']} | {value:.2f} |"
        assert row in body, f"{spec.slug}: {row} missing from the card's tables"
        if fig["split"] in ("dev", "validation", "trial"):
            assert key not in index, f"{spec.slug}: selection score {key} must not be in the model-index"
        else:
            assert index[key] == round(value, 2), f"{spec.slug}: {key} is {index[key]}, JSON says {value}"
    assert spec.recipe in body
    assert len(index) == sum(f["split"] not in ("dev", "validation", "trial") for f in spec.figures)


def test_specs_cover_the_readme_models():
    slugs = {s.slug for s in SPECS}
    assert {"quickstart-bilstm-glove50d", "unsup-bilstm-glove50d", "minilm-l6-snli-triplets",
            "cnn-glove50d-snli-triplets"} <= slugs
    glove = next(s for s in SPECS if s.slug == "quickstart-bilstm-glove50d")
    assert glove.base_model is None  # built from word vectors: no hub base model


@pytest.mark.parametrize("spec", WITH_RESULTS, ids=[s.slug for s in WITH_RESULTS])
def test_committed_card_is_the_scripts_output_and_matches_its_json(spec):
    with open(os.path.join(REPO_ROOT, spec.results_json), encoding="utf-8") as f:
        results = json.load(f)
    path = os.path.join(make_model_cards.CARDS_DIR, f"{spec.slug}.md")
    assert os.path.isfile(path), f"run python tools/make_model_cards.py: {path} is missing"
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert text == str(make_model_cards.card_for(spec, results)), "card out of date: rerun the script"
    check_card(text, spec, results)


def test_index_lists_every_spec_and_says_which_are_not_yet_run():
    with open(os.path.join(make_model_cards.CARDS_DIR, "README.md"), encoding="utf-8") as f:
        index = f.read()
    assert index == make_model_cards.build(SPECS)["README.md"]
    for spec in SPECS:
        assert spec.name in index
        if spec not in WITH_RESULTS:
            assert f"not yet run (no `{spec.results_json}`)" in index


SPEC_YAML = """
- slug: toy
  name: toy model
  recipe: textcl train --data toy.tsv --view pair
  results_json: toy.json
  base_model: org/base
  datasets: [toy]
  license: mit
  loss: InfoNCE(temperature=0.05)
  view: pair
  train_seconds: run.seconds
  environment: run.env
  figures:
    - {task: stsb, split: test, metric: spearman, key: scores.1.test}
    - {task: stsb, split: dev, metric: spearman, key: scores.1.dev}
- slug: later
  name: later model
  recipe: python recipes/later.py
  results_json: later.json
  datasets: [x]
  loss: InfoNCE()
  view: dropout
  figures: [{task: stsb, split: test, metric: spearman, key: a}]
"""


def test_generator_reads_figures_from_json_and_keeps_dev_apart(tmp_path):
    (tmp_path / "specs.yaml").write_text(SPEC_YAML)
    results = {"scores": [{"test": 1.0, "dev": 2.0}, {"test": 71.2345, "dev": 80.5}],
               "run": {"seconds": 90.0, "env": {"textcl": "9.9", "torch": "1.0", "hardware": "toy GPU"}}}
    (tmp_path / "toy.json").write_text(json.dumps(results))
    specs = make_model_cards.load_specs(str(tmp_path / "specs.yaml"))
    files = make_model_cards.build(specs, root=str(tmp_path))
    assert set(files) == {"toy.md", "README.md"}
    check_card(files["toy.md"], specs[0], results)
    data = HFModelCard(files["toy.md"]).data
    assert data.base_model == "org/base" and data.license == "mit" and data.library_name == "textcl"
    assert model_index(files["toy.md"]) == {("stsb", "test", "spearman"): 71.23}
    assert "| hardware | toy GPU |" in files["toy.md"] and "| textcl version | 9.9 |" in files["toy.md"]
    assert "1.5 min" in files["toy.md"]
    assert "| later model | - | `python recipes/later.py` | - | not yet run (no `later.json`) |" in files["README.md"]
    out = tmp_path / "cards"
    out.mkdir()
    (out / "later.md").write_text("stale")
    make_model_cards.write(files, str(out), specs)
    assert sorted(os.listdir(out)) == ["README.md", "toy.md"]  # the stale card of a spec without JSON is gone


def test_a_missing_figure_names_the_key(tmp_path):
    (tmp_path / "specs.yaml").write_text(SPEC_YAML)
    (tmp_path / "toy.json").write_text(json.dumps({"scores": [{"test": 1.0}], "run": {"seconds": 1, "env": {}}}))
    specs = make_model_cards.load_specs(str(tmp_path / "specs.yaml"))
    with pytest.raises(KeyError, match=r"scores\.1\.test.*not an index of a list of 1"):
        make_model_cards.build(specs, root=str(tmp_path))


def test_a_spec_without_figures_is_refused(tmp_path):
    (tmp_path / "specs.yaml").write_text("- {slug: a, name: a, recipe: r, datasets: [], loss: l, view: v}\n")
    with pytest.raises(ValueError, match="lacks results_json, figures"):
        make_model_cards.load_specs(str(tmp_path / "specs.yaml"))
