"""``torchrun --nproc_per_node=2 -m textcl.cli train``: 2 ranks x batch B train like 1 process x batch 2B.

Two gloo processes on the CPU run the real command line for 2 steps of
supervised SimCSE (TripletView: anchor, positive, hard negative) on a tiny
random BERT with dropout off. InfoNCE gathers positives and hard negatives
across ranks and DistributedDataParallel averages the gradients, so the
parameters must equal those of one process trained with batch 2B on the same
rows in the same order; the trainer shards every global batch of 2B rows as
rank 0 = rows 0..B-1, rank 1 = rows B..2B-1.
"""

import json
import os
import random
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from textcl.cli import main as textcl_main
from tiny_models import WORDS, make_tiny_bert
from launcher import free_port, transient_failure

WORLD_SIZE, LOCAL_BATCH, STEPS = 2, 4, 2


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A dropout-free tiny BERT and 20 (anchor, positive, negative) rows (2 full global batches + 4 left over)."""
    root = tmp_path_factory.mktemp("ddp_trainer")
    model_dir = make_tiny_bert(str(root / "bert"))
    config_path = os.path.join(model_dir, "config.json")
    with open(config_path) as f:
        config = json.load(f)
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    with open(config_path, "w") as f:
        json.dump(config, f)
    rng = random.Random(0)
    words = [w for w in WORDS if w.isalpha()]
    data = root / "rows.jsonl"
    with open(data, "w") as f:
        for _ in range(WORLD_SIZE * LOCAL_BATCH * STEPS + 4):
            row = {c: " ".join(rng.choices(words, k=rng.randint(3, 9))) for c in ("anchor", "positive", "negative")}
            f.write(json.dumps(row) + "\n")
    return root, model_dir, str(data)


def _train_args(model_dir: str, data: str, batch_size: int, out: str) -> list[str]:
    return ["train", "--model", model_dir, "--pooling", "mean", "--data", data, "--view", "triplet",
            "--columns", "anchor,positive,negative", "--batch-size", str(batch_size), "--max-steps", str(STEPS),
            "--lr", "1e-3", "--dtype", "float32", "--seed", "7", "--output", out, "--device", "cpu"]


def _weights(out) -> dict[str, torch.Tensor]:
    return load_file(os.path.join(out, "model", "model.safetensors"))


def _max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def _torchrun(setup, out: str, *extra: str) -> dict[str, torch.Tensor]:
    root, model_dir, data = setup
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # both ranks are local
    for attempt in range(3):  # retry only for a port race or gloo's rare abort (SIGABRT) in teardown
        command = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1",
                   f"--nproc_per_node={WORLD_SIZE}", "--master_addr=127.0.0.1", f"--master_port={free_port()}",
                   "-m", "textcl.cli", *_train_args(model_dir, data, LOCAL_BATCH, str(root / out)), *extra]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
        output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        if done.returncode == 0 or not transient_failure(output):
            break
    assert done.returncode == 0, f"torchrun failed:\n{output}"
    assert json.loads(done.stdout[done.stdout.index("{"):])["steps"] == STEPS  # only rank 0 prints
    return _weights(root / out)


@pytest.fixture(scope="module")
def one_process_weights(setup):
    root, model_dir, data = setup
    assert textcl_main(_train_args(model_dir, data, WORLD_SIZE * LOCAL_BATCH, str(root / "one_process"))) == 0
    return _weights(root / "one_process")


@pytest.fixture(scope="module")
def two_rank_weights(setup):
    return _torchrun(setup, "two_ranks")


def test_two_ranks_train_like_one_process_with_the_global_batch(setup, two_rank_weights, one_process_weights):
    # Adam moves every weight by ~lr (1.5e-3 over 2 steps) whatever its gradient's size, so
    # float32 summation-order noise on tiny gradients shows up as a few 1e-6; other rows: 3e-3
    assert _max_diff(two_rank_weights, one_process_weights) < 2e-5
    initial = load_file(os.path.join(setup[1], "model.safetensors"))
    assert initial.keys() == one_process_weights.keys()
    assert _max_diff(one_process_weights, initial) > 1e-3  # the steps moved the weights


def test_two_ranks_with_gradcache_chunks_train_like_one_process(setup, one_process_weights):
    # each rank encodes its 4 rows in chunks of 2; the loss still sees all 8 rows' embeddings
    cached = _torchrun(setup, "two_ranks_gradcache", "--gradcache-chunk", "2")
    assert _max_diff(cached, one_process_weights) < 2e-5


def test_comparison_has_teeth_without_the_other_rank(setup, two_rank_weights):
    # one process on rank 0's rows alone (batch B): fewer negatives, another gradient, other weights
    root, model_dir, data = setup
    assert textcl_main(_train_args(model_dir, data, LOCAL_BATCH, str(root / "rank0_only"))) == 0
    assert _max_diff(two_rank_weights, _weights(root / "rank0_only")) > 1e-3
