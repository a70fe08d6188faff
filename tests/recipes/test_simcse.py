"""The SimCSE recipes run end to end on a tiny random model and a few local sentences."""

import importlib.util
import json
import os


from tiny_models import REPO_ROOT, SENTENCES
from textcl.model import SentenceEncoder
from textcl.quickstart import bundled_data_dir

_spec = importlib.util.spec_from_file_location("simcse_recipes", os.path.join(REPO_ROOT, "recipes", "simcse.py"))
recipes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recipes)


def test_unsupervised_recipe(tiny_bert_dir, tmp_path):
    data = tmp_path / "wiki.txt"
    data.write_text("\n".join(SENTENCES) + "\n")
    out = tmp_path / "unsup"
    rc = recipes.main(["unsup", "--model", tiny_bert_dir, "--data", str(data), "--batch-size", "8",
                       "--max-steps", "2", "--eval-steps", "1", "--dtype", "float32",
                       "--eval-sts", os.path.join(bundled_data_dir(), "senteval"), "--output", str(out)])
    assert rc == 0
    records = [json.loads(line) for line in open(out / "metrics.jsonl")]
    assert sum("eval_stsb_dev_spearman" in r for r in records) == 2
    model = SentenceEncoder.from_pretrained(str(out / "model"))
    # the recipe's forward-pass settings travel with the model
    assert model.encoder.pooling == "cls_before_pooler" and model.encoder.max_length == 32
    assert model.projection is not None and model.projection.mlp_only_train
    assert (out / "model" / "README.md").read_text().startswith("---\n")


def test_supervised_recipe(tiny_bert_dir, tmp_path):
    data = tmp_path / "nli.csv"
    rows = ["sent0,sent1,hard_neg"] + [f"{s},{s},{SENTENCES[-1 - i]}" for i, s in enumerate(SENTENCES)]
    data.write_text("\n".join(rows) + "\n")
    out = tmp_path / "sup"
    rc = recipes.main(["sup", "--model", tiny_bert_dir, "--data", str(data), "--batch-size", "8",
                       "--max-steps", "2", "--dtype", "float32", "--output", str(out)])
    assert rc == 0
    model = SentenceEncoder.from_pretrained(str(out / "model"))
    assert model.projection is not None and not model.projection.mlp_only_train


def test_recipe_needs_a_name(capsys):
    assert recipes.main(["wiki"]) == 2
