"""No-duplicates batches: never a text twice in a (global) batch, deterministic per (seed, epoch)."""

import random

import pytest
import torch

from textcl.data import load_data
from textcl.losses import InfoNCE
from textcl.model import SentenceEncoder
from textcl.train.config import TrainConfig
from textcl.train.sampler import NoDuplicatesSampler, batches_digest, text_id, text_ids
from textcl.train.trainer import Trainer
from textcl.views import DropoutView, PairView, TripletView


def _nli_like_rows(n=120, seed=0):
    """Triplets in which premises repeat (2-4 rows each) and negatives reuse other rows' premises."""
    rnd = random.Random(seed)
    premises = [f"premise {i}" for i in range(n // 3)]
    return [(p := rnd.choice(premises), f"entails {i}", rnd.choice(premises) if i % 4 == 0 else f"contra {i}")
            for i in range(n)]


def _texts_of(rows, batch):
    return [t for r in batch for t in set(rows[r])]


def test_no_text_twice_in_a_batch_and_no_row_twice_in_an_epoch():
    rows = _nli_like_rows()
    sampler = NoDuplicatesSampler(rows, batch_size=8, seed=1)
    for epoch in range(3):
        batches = sampler.batches(epoch)
        for b in batches:
            texts = _texts_of(rows, b)
            assert len(texts) == len(set(texts)) and len(b) >= 2
        used = [r for b in batches for r in b]
        assert len(used) == len(set(used)) and len(used) >= 0.9 * len(rows)
    # the plain permutation did repeat texts: the sampler is doing work
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(1)).tolist()
    plain = [order[i:i + 8] for i in range(0, len(order), 8)]
    assert any(len(_texts_of(rows, b)) != len(set(_texts_of(rows, b))) for b in plain)


def test_deterministic_per_seed_and_epoch_and_plain_order_without_duplicates():
    rows = _nli_like_rows()
    a, b = NoDuplicatesSampler(rows, 8, seed=3), NoDuplicatesSampler(rows, 8, seed=3)
    assert a.batches(0) == b.batches(0) and a.batches(0) != a.batches(1)
    assert batches_digest(a.batches(2)) == batches_digest(b.batches(2)) != batches_digest(a.batches(1))
    distinct = [(f"s{i}", f"t{i}") for i in range(20)]
    order = torch.randperm(20, generator=torch.Generator().manual_seed(5 + 2)).tolist()
    assert NoDuplicatesSampler(distinct, 8, seed=5).batches(2) == [order[:8], order[8:16], order[16:]]


def test_full_batches_only_and_identical_rows():
    rows = [("same", "same")] * 8 + [(f"x{i}", f"y{i}") for i in range(5)]
    batches = NoDuplicatesSampler(rows, 4, seed=0, full_batches_only=True).batches(0)
    assert all(len(b) == 4 for b in batches)
    assert all(sum(r < 8 for r in b) <= 1 for b in batches)  # at most one copy of "same" per batch


def test_text_ids_are_stable_and_equal_for_equal_texts():
    assert text_id("a dog") == text_id("a dog") != text_id("a dog ")
    ids = text_ids([["a", "b"], ["a", "c"]])
    assert ids.shape == (2, 2) and ids.dtype == torch.long and ids[0, 0] == ids[0, 1] and ids[1, 0] != ids[1, 1]


@pytest.fixture(scope="module")
def tiny_model(tiny_bert_dir):
    return SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu")


@pytest.mark.parametrize("world", [1, 2, 4])
def test_global_batch_has_no_duplicate_across_ranks(tiny_model, tmp_path, world):
    rows = _nli_like_rows(160, seed=2)
    trainer = Trainer(tiny_model, InfoNCE(), TripletView(), load_data(rows),
                      TrainConfig(batch_size=4, output_dir=str(tmp_path), seed=9))
    assert trainer.no_duplicates  # the triplet view's default
    per_rank = []
    for rank in range(world):  # every rank's slice, as each process would compute it
        batches = trainer.epoch_batches
        batches.rank, batches.world_size, batches._sampler = rank, world, None
        per_rank.append(trainer._batches(epoch=1))
    assert len({len(b) for b in per_rank}) == 1 and len(per_rank[0]) > 0  # same number of steps everywhere
    for step in zip(*per_rank):
        assert all(len(part) == 4 for part in step)  # equal local batches
        texts = [t for part in step for t in _texts_of(rows, part)]
        assert len(texts) == len(set(texts))  # global batch of world * 4 rows: no text twice
    glob = NoDuplicatesSampler(rows, 4 * world, seed=9, full_batches_only=world > 1).batches(1)
    assert [sum(step, []) for step in zip(*per_rank)] == glob[:len(per_rank[0])]


def test_default_on_for_pair_and_triplet_off_for_dropout_and_overridable(tiny_model, tmp_path):
    pairs = load_data([(f"a{i}", f"b{i}") for i in range(10)])
    cfg = TrainConfig(batch_size=4, output_dir=str(tmp_path))
    assert Trainer(tiny_model, InfoNCE(), PairView(), pairs, cfg).no_duplicates
    assert not Trainer(tiny_model, InfoNCE(), DropoutView(), load_data([(f"a{i}",) for i in range(10)]),
                       cfg).no_duplicates
    off = TrainConfig(batch_size=4, output_dir=str(tmp_path), no_duplicates=False)
    assert not Trainer(tiny_model, InfoNCE(), PairView(), pairs, off).no_duplicates
    with pytest.raises(ValueError, match="no_duplicates"):
        TrainConfig(no_duplicates="yes")


def test_data_that_cannot_form_a_batch_is_named(tiny_model, tmp_path):
    same = load_data([("same", "same")] * 6)
    trainer = Trainer(tiny_model, InfoNCE(), PairView(), same, TrainConfig(batch_size=4, output_dir=str(tmp_path)))
    with pytest.raises(ValueError, match="--allow-duplicates"):
        trainer._batches(0)
