"""Distributed helpers in one process, and InfoNCE across 2 real gloo processes."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from launcher import free_port, transient_failure
import torch

from textcl.losses import InfoNCE
from textcl.train import distributed
from textcl.train.distributed import (
    cleanup,
    gather_with_grad,
    get_local_rank,
    get_rank,
    get_world_size,
    init_distributed,
    is_distributed,
)

WORKER = Path(__file__).with_name("_distributed_worker.py")
WORLD_SIZE = 2


def test_helpers_without_a_process_group(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert not is_distributed()
    assert (get_rank(), get_world_size(), get_local_rank()) == (0, 1, 0)
    t = torch.randn(3, 2, requires_grad=True)
    assert gather_with_grad(t) is t
    assert init_distributed() is False
    assert not is_distributed()
    cleanup()  # a no-op, must not raise


def test_init_distributed_rejects_bad_arguments(monkeypatch):
    with pytest.raises(ValueError, match=r"backend must be one of \('nccl', 'gloo'\)"):
        init_distributed(backend="mpi")
    monkeypatch.setenv("RANK", "zero")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="RANK='zero'"):
        init_distributed()
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match=r"RANK=2 is not in \[0, WORLD_SIZE=2\)"):
        init_distributed()
    assert not distributed.is_distributed()


@pytest.fixture(scope="module")
def two_rank_results(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("distributed")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # both ranks are local
    for attempt in range(3):  # retry only for a port race or gloo's rare abort (SIGABRT) in teardown
        command = [
            sys.executable, "-m", "torch.distributed.run",
            "--nnodes=1", f"--nproc_per_node={WORLD_SIZE}",
            "--master_addr=127.0.0.1", f"--master_port={free_port()}",
            str(WORKER), str(out_dir),
        ]  # fmt: skip
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
        output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        if done.returncode == 0 or not transient_failure(output):
            break
    assert done.returncode == 0, f"torchrun failed:\n{output}"
    return [json.loads((out_dir / f"rank{r}.json").read_text()) for r in range(WORLD_SIZE)]


@pytest.mark.parametrize(
    "config",
    ["one_hard_negative", "two_hard_negatives_alpha_symmetric", "no_negatives_symmetric"],
)
def test_two_ranks_match_one_process_on_the_global_batch(two_rank_results, config):
    for result in two_rank_results:
        assert result["world_size"] == WORLD_SIZE
        r = result[config]
        # 2 ranks x batch B give the loss and the DDP-averaged gradients of 1 process x 2B
        assert r["global_loss"] == pytest.approx(r["single_process_loss"], abs=1e-6)
        assert r["max_grad_diff"] < 1e-6
        assert r["grad_norm"] > 1e-3  # the gradients compared are not trivially zero
        # and the comparison has teeth: without the gather the loss differs
        assert abs(r["local_only_loss"] - r["single_process_loss"]) > 1e-2
    # the per-rank losses differ (they are means over different anchors) yet share the mean
    assert two_rank_results[0][config]["local_loss"] != two_rank_results[1][config]["local_loss"]


def test_label_offsets_per_rank(two_rank_results):
    for result in two_rank_results:
        assert result["label_offsets"]["loss"] < 1e-6, f"rank {result['rank']}"
        assert result["label_offsets"]["symmetric_loss"] < 1e-6, f"rank {result['rank']}"


def test_mask_duplicates_gathers_text_ids_across_ranks(two_rank_results):
    for result in two_rank_results:
        r = result["masked_duplicates"]
        # the ids travel with the embeddings: 2 ranks give one process's masked loss on the global batch
        assert r["global_loss"] == pytest.approx(r["single_process_loss"], abs=1e-9)
        assert abs(r["unmasked_loss"] - r["single_process_loss"]) > 1e-3  # the cross-rank duplicates mattered
        # the log-N example over 2 ranks: 2N positives + 2N hard negatives, all the same text
        n_candidates = 2 * (2 * 3)
        assert r["identical_unmasked"] == pytest.approx(math.log(n_candidates), abs=1e-9)
        assert r["identical_masked"] == pytest.approx(0.0, abs=1e-9)


def test_queue_is_the_rank_ordered_global_batch_on_every_rank(two_rank_results):
    q0, q1 = (result["queue_gather"] for result in two_rank_results)
    assert q0["embeddings"] == q1["embeddings"] and q0["ids"] == q1["ids"]  # the same queue on both ranks
    assert (q0["ptr"], q0["filled"]) == (2, 6)  # 8 rows through a queue of 6
    assert q0["max_diff_to_reference"] < 1e-6 and q0["ids_equal_reference"]
    assert sorted(q0["ids"]) == [2, 3, 100, 101, 102, 103]  # the oldest two rows (ids 0, 1) left


def test_unequal_shapes_across_ranks_raise_on_every_rank(two_rank_results):
    for result in two_rank_results:
        assert "rank 0: (2, 0, 4), rank 1: (3, 0, 4)" in result["unequal_batch_error"]
        assert "drop_last=True" in result["unequal_batch_error"]
        assert "rank 0: (2, 1, 4), rank 1: (2, 0, 4)" in result["unequal_negatives_error"]


def test_gather_flag_off_is_local_in_one_process():
    a, p = torch.randn(2, 4, 3).unbind(0)
    assert torch.equal(InfoNCE(gather_across_ranks=False)(a, p), InfoNCE()(a, p))
