"""``textcl train --config run.yaml`` with a ``datasets:`` section: several local datasets, each its view and loss."""

import json

import pytest
import torch
from safetensors.torch import load_file
from tiny_models import SENTENCES

from textcl.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def files(tmp_path):
    """A CSV of (anchor, positive) pairs and a JSONL of (premise, entailment, contradiction, id) rows."""
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("a,b\n" + "".join(f"{s},{s} too {i}\n" for i, s in enumerate(SENTENCES)))
    nli = tmp_path / "nli.jsonl"
    nli.write_text("".join(json.dumps({"id": i, "premise": f"{s} {i}", "entailment": f"{s} indeed {i}",
                                       "contradiction": f"{SENTENCES[-1 - i]} not {i}"}) + "\n"
                           for i, s in enumerate(SENTENCES)))
    return pairs, nli


def _yaml(tmp_path, text, name="run.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _train(model, config, out, *extra):
    return main(["train", "--model", model, "--config", config, "--batch-size", "4", "--lr", "1e-3",
                 "--device", "cpu", "--output", str(out), *extra])


def _run_yaml(tmp_path, files, sampler="round_robin"):
    pairs, nli = files
    return _yaml(tmp_path, f"""
max_steps: 8
seed: 3
multi_dataset_batch_sampler: {sampler}
datasets:
  - data: {pairs}
    view: pair
  - name: nli
    data: {nli}
    columns: [premise, entailment, contradiction]
    view: triplet
    loss: {{name: triplet, margin: 0.3}}
    weight: 0.5
""")


def test_two_datasets_train_and_the_record_repeats_the_run(tiny_bert_dir, tmp_path, files, capsys):
    config = _run_yaml(tmp_path, files)
    assert _train(tiny_bert_dir, config, tmp_path / "run") == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{"):out.rindex("}") + 1])["steps"] == 8
    record = json.loads((tmp_path / "run" / "train_config.json").read_text())
    entries = record["data"]["datasets"]
    assert [e["name"] for e in entries] == ["pairs", "nli"] and [e["weight"] for e in entries] == [1.0, 0.5]
    assert all(len(e["sha256"]) == 64 for e in entries)  # local files identified by content
    assert record["train"]["multi_dataset_batch_sampler"] == "round_robin"
    assert record["view"]["pairs"]["name"] == "pair" and record["view"]["nli"]["name"] == "triplet"
    assert record["loss"]["nli"]["margin"] == 0.3 and record["loss"]["nli"]["weight"] == 0.5
    assert record["loss"]["pairs"]["temperature"] == 0.05  # the command line's --loss for an entry without one
    # --config train_config.json repeats the run: the same datasets, views, losses and weights
    assert _train(tiny_bert_dir, str(tmp_path / "run" / "train_config.json"), tmp_path / "again") == 0
    first = load_file(str(tmp_path / "run" / "model" / "model.safetensors"))
    again = load_file(str(tmp_path / "again" / "model" / "model.safetensors"))
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert json.loads((tmp_path / "again" / "train_config.json").read_text())["data"]["datasets"] == entries
    # the comparison has teeth: the other sampler gives other weights
    assert _train(tiny_bert_dir, _run_yaml(tmp_path, files, "proportional"), tmp_path / "other") == 0
    other = load_file(str(tmp_path / "other" / "model" / "model.safetensors"))
    assert any(not torch.equal(first[k], other[k]) for k in first)


def test_resume_of_a_two_dataset_run_checks_each_file(tiny_bert_dir, tmp_path, files, capsys):
    config = _run_yaml(tmp_path, files)
    assert _train(tiny_bert_dir, config, tmp_path / "run") == 0
    files[1].write_text(files[1].read_text().replace("indeed", "surely"))
    capsys.readouterr()
    assert _train(tiny_bert_dir, config, tmp_path / "run", "--resume", str(tmp_path / "run" / "checkpoint"),
                  "--max-steps", "9") != 0
    err = capsys.readouterr().err
    assert "settings differ" in err and "data" in err, err


@pytest.mark.parametrize("section, message", [
    ("datasets:\n  - data: {pairs}\n    view: pair\n    colour: red\n",
     "datasets entry 1: unknown key(s) colour; known: name, data, config, split, columns, view, loss, weight"),
    ("datasets:\n  - view: pair\n", "datasets entry 1 has no 'data'"),
    ("datasets:\n  - data: {pairs}\n  - data: {pairs}\n", "two datasets are named 'pairs'"),
    ("datasets:\n  - data: {pairs}\n    weight: -1\n", "weight must be a finite number in (0"),
    ("datasets: []\n", "'datasets' must be a non-empty list"),
    ("datasets:\n  a: {{data: {pairs}, view: pair, loss: cosent_typo}}\n", "datasets entry 'a': unknown loss 'cosent_typo'"),
    ("datasets:\n  a: {{data: {pairs}, view: pair, loss: {{name: infonce, temprature: 1}}}}\n",
     "unknown loss option 'temprature'"),
    ("datasets:\n  a: {{data: {pairs}, view: nope}}\n", "datasets entry 'a':"),
    ("datasets:\n  a: {{data: {missing}, view: pair}}\n", "missing.csv"),
    ("datasets:\n  a: {{data: {nli}, view: pair}}\n", "datasets entry 'a': the pair view reads 2 column(s)"),
    ("datasets:\n  a: {{data: {pairs}, view: pair, config: triplet}}\n", "selects a config of a hub dataset"),
])
def test_bad_entries_are_one_line_errors(tiny_bert_dir, tmp_path, files, capsys, section, message):
    pairs, nli = files
    config = _yaml(tmp_path, "max_steps: 1\n" + section.format(pairs=pairs, nli=nli, missing=tmp_path / "missing.csv"))
    capsys.readouterr()
    assert _train(tiny_bert_dir, config, tmp_path / "run") != 0
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_datasets_and_data_together_are_refused(tiny_bert_dir, tmp_path, files, capsys):
    config = _run_yaml(tmp_path, files)
    assert _train(tiny_bert_dir, config, tmp_path / "run", "--data", str(files[0])) != 0
    assert "leave out --data and --columns" in capsys.readouterr().err


def test_two_ranks_on_two_datasets_train_like_one_process(tmp_path):
    """``torchrun --nproc_per_node=2``, batch B each, equals one process with batch 2B, dataset by dataset."""
    import os
    import random
    import subprocess
    import sys

    from launcher import free_port, transient_failure
    from tiny_models import WORDS, make_tiny_bert

    model_dir = make_tiny_bert(str(tmp_path / "bert"))
    config_path = os.path.join(model_dir, "config.json")
    with open(config_path) as f:
        bert = json.load(f)
    bert.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    with open(config_path, "w") as f:
        json.dump(bert, f)
    rng, words = random.Random(0), [w for w in WORDS if w.isalpha()]
    for name, cols, n in (("triplets", ("anchor", "positive", "negative"), 16), ("pairs", ("query", "answer"), 24)):
        # a multiple of the global batch (8) of rows: ranks and one process see the same batches
        (tmp_path / f"{name}.jsonl").write_text("".join(
            json.dumps({c: " ".join(rng.choices(words, k=rng.randint(3, 9))) for c in cols}) + "\n" for _ in range(n)))
    config = _yaml(tmp_path, f"""max_steps: 3
seed: 7
datasets:
  triplets: {{data: {tmp_path / 'triplets.jsonl'}, view: triplet}}
  pairs: {{data: {tmp_path / 'pairs.jsonl'}, view: pair, weight: 2.0}}
""")

    def args(batch, out):
        return ["train", "--model", model_dir, "--pooling", "mean", "--config", config, "--batch-size", str(batch),
                "--lr", "1e-3", "--dtype", "float32", "--device", "cpu", "--output", str(tmp_path / out)]

    assert main(args(8, "one")) == 0
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    for _ in range(3):  # retry only a port race or gloo's rare abort in teardown
        done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
                               "--master_addr=127.0.0.1", f"--master_port={free_port()}", "-m", "textcl.cli",
                               *args(4, "two")], env=env, capture_output=True, text=True, timeout=240, check=False)
        output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        if done.returncode == 0 or not transient_failure(output):
            break
    assert done.returncode == 0, output
    one = load_file(str(tmp_path / "one" / "model" / "model.safetensors"))
    two = load_file(str(tmp_path / "two" / "model" / "model.safetensors"))
    initial = load_file(os.path.join(model_dir, "model.safetensors"))
    assert max(float((one[k] - two[k]).abs().max()) for k in one) < 2e-5  # as for one dataset
    assert max(float((one[k] - initial[k]).abs().max()) for k in one) > 1e-3  # the steps moved the weights


def test_data_config_is_one_option_everywhere_and_dataset_config_its_alias():
    from textcl.cli import build_parser

    parser = build_parser()
    for command in (["train"], ["encode", "--model", "m", "--output", "o.npy", "--dataset", "d"]):
        for flag in ("--data-config", "--dataset-config"):
            assert parser.parse_args([*command, flag, "triplet"]).data_config == "triplet"
