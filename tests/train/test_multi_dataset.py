"""Several datasets at once: batches never mix them, the order is seeded, resume and ranks are exact."""

import itertools
import json
import os

import datasets
import pytest
import torch
from tiny_models import SENTENCES

from textcl.data import load_data
from textcl.losses import InfoNCE, TripletLoss
from textcl.model import SentenceEncoder
from textcl.train.config import TrainConfig
from textcl.train.sampler import DatasetBatch, EpochBatches, batches_digest, dataset_seed
from textcl.train.trainer import Trainer
from textcl.views import PairView, TripletView

pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------- the sampler

def _epoch_batches(sizes, batch_size, seed, rank=0, world=1, mix="proportional"):
    own = {name: EpochBatches(n, batch_size, dataset_seed(seed, name), rank, world, False, list)
           for name, n in sizes.items()}
    return EpochBatches.of_datasets(own, seed, mix), own


GRID = list(itertools.product([{"a": 10, "b": 23}, {"a": 7, "b": 7, "c": 31}, {"x": 5, "y": 64}],
                              [2, 4], [1, 2], ["proportional", "round_robin"]))


@pytest.mark.parametrize("sizes, batch_size, world, mix", GRID)
def test_batches_never_mix_datasets_and_follow_the_mix(sizes, batch_size, world, mix):
    mixed, own = _epoch_batches(sizes, batch_size, seed=3, world=world, mix=mix)
    for epoch in (0, 1):
        batches = mixed.batches(epoch)
        assert all(isinstance(b, DatasetBatch) and b.dataset in sizes for b in batches)
        assert all(0 <= r < sizes[b.dataset] for b in batches for r in b)
        per = {name: [list(b) for b in batches if b.dataset == name] for name in sizes}
        if mix == "proportional":  # every batch of every dataset, each in its own order
            assert per == {name: own[name].batches(epoch) for name in sizes}
        else:  # one batch of each in turn, until the one with the fewest runs out
            rounds = min(len(own[name].batches(epoch)) for name in sizes)
            assert [b.dataset for b in batches] == list(sizes) * rounds
            assert per == {name: own[name].batches(epoch)[:rounds] for name in sizes}
        assert batches_digest(batches) == batches_digest(_epoch_batches(sizes, batch_size, 3, 0, world, mix)[0]
                                                         .batches(epoch))  # seeded: the same every time
    assert batches_digest(mixed.batches(0)) != batches_digest(mixed.batches(1))
    assert batches_digest(mixed.batches(0)) != batches_digest(_epoch_batches(sizes, batch_size, 4, 0, world,
                                                                             mix)[0].batches(0))


@pytest.mark.parametrize("sizes, batch_size, mix", itertools.product(
    [{"a": 16, "b": 24}, {"a": 8, "b": 40, "c": 16}], [2, 4], ["proportional", "round_robin"]))
def test_ranks_split_each_step_of_the_one_process_order(sizes, batch_size, mix):
    # W ranks with batch B see, step by step, the rows of one process with batch W * B, as for one dataset
    # (every dataset a multiple of W * B rows: one process keeps a short last batch, ranks cannot)
    whole = _epoch_batches(sizes, 2 * batch_size, seed=5, mix=mix)[0].batches(0)
    ranks = [_epoch_batches(sizes, batch_size, seed=5, rank=r, world=2, mix=mix)[0].batches(0) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == len(whole)
    assert [(a.dataset, list(a) + list(b)) for a, b in zip(*ranks)] == [(w.dataset, list(w)) for w in whole]
    assert [(a.dataset, b.dataset) for a, b in zip(*ranks)] == [(w.dataset, w.dataset) for w in whole]


def test_a_datasets_batches_do_not_depend_on_the_others():
    alone = _epoch_batches({"a": 12, "b": 9}, 3, seed=1)[1]["a"].batches(0)
    with_c = _epoch_batches({"a": 12, "b": 9, "c": 40}, 3, seed=1)[0].batches(0)
    assert [list(b) for b in with_c if b.dataset == "a"] == alone


def test_bad_mix_and_a_dataset_without_a_batch_are_named():
    with pytest.raises(ValueError, match="multi_dataset_batch_sampler.*'proportional', 'round_robin'"):
        _epoch_batches({"a": 4, "b": 4}, 2, 0, mix="random")
    with pytest.raises(ValueError, match="dataset 'b': the training data has 1 rows, fewer than the 2 processes"):
        _epoch_batches({"a": 8, "b": 1}, 4, 0, world=2)[0].batches(0)
    own = {n: EpochBatches(4, 4, 0, 0, 2, True, lambda: [("x", "x")] * 4) for n in ("a", "b")}  # one text: no batch
    with pytest.raises(ValueError, match="dataset 'a': no batch of 4 rows without a repeated text"):
        EpochBatches.of_datasets(own, 0).batches(0)
    with pytest.raises(ValueError, match="multi_dataset_batch_sampler"):
        TrainConfig(multi_dataset_batch_sampler="shuffled")


# ---------------------------------------------------------------- the trainer

def _pairs(n=24, shift=1):
    return load_data([(SENTENCES[i % 16], f"{SENTENCES[(i + shift) % 16]} {i}") for i in range(n)])


def _triplets(n=20):
    return load_data([(f"{SENTENCES[i % 16]} {i}", f"{SENTENCES[(i + 3) % 16]} +{i}", f"{SENTENCES[(i + 7) % 16]} -{i}")
                      for i in range(n)])


def _model(tiny_bert_dir):
    return SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu")


def _cfg(out, **kw):
    base = {"batch_size": 4, "lr": 1e-3, "output_dir": str(out), "log_steps": 1, "save_steps": 2, "seed": 11}
    base.update(kw)
    return TrainConfig(**base)


class Recording(torch.nn.Module):
    """A loss that records the shapes it was called with, then defers to ``inner``."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.calls = inner, []

    def forward(self, *views, **kw):
        self.calls.append(tuple(v.shape[0] for v in views))
        return self.inner(*views, **kw)


def _multi(tiny_bert_dir, out, losses=None, **cfg):
    losses = losses or {"nli": InfoNCE(), "para": InfoNCE()}
    data = datasets.DatasetDict({"nli": _triplets(), "para": _pairs()})
    return Trainer(_model(tiny_bert_dir), losses, {"nli": TripletView(), "para": PairView()}, data,
                   _cfg(out, **cfg), loss_weights={"para": 0.5})


def test_each_batch_goes_to_its_datasets_view_and_loss(tiny_bert_dir, tmp_path):
    nli, para = Recording(InfoNCE()), Recording(InfoNCE())
    trainer = _multi(tiny_bert_dir, tmp_path / "run", losses={"nli": nli, "para": para}, epochs=1)
    order = [b.dataset for b in trainer.epoch_batches.batches(0)]
    result = trainer.train()
    assert result.steps == len(order) and {"nli", "para"} == set(order)  # one epoch: every batch of both
    assert len(nli.calls) == order.count("nli") and len(para.calls) == order.count("para")
    assert nli.calls == [(4, 4, 4)] * 5 and para.calls == [(4, 4)] * 6  # triplets, pairs: never mixed
    record = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert record["train"]["multi_dataset_batch_sampler"] == "proportional"
    assert record["data"]["datasets"]["nli"]["rows"] == 20 and record["data"]["datasets"]["para"]["weight"] == 0.5
    assert set(record["view"]) == {"nli", "para"} and record["view"]["nli"]["name"] == "triplet"
    assert record["loss"]["para"]["weight"] == 0.5 and record["loss"]["nli"]["weight"] == 1.0


def test_a_dataset_weight_scales_its_loss(tiny_bert_dir, tmp_path):
    trainer = _multi(tiny_bert_dir, tmp_path / "run")
    emb = torch.randn(8, 32, generator=torch.Generator().manual_seed(0))
    trainer.loss.use("para")
    assert torch.equal(trainer.loss(emb[:4], emb[4:]), 0.5 * InfoNCE()(emb[:4], emb[4:]))
    trainer.loss.use("nli")
    assert torch.equal(trainer.loss(emb[:4], emb[4:]), InfoNCE()(emb[:4], emb[4:]))
    assert trainer.loss.mask_duplicates is False  # the current loss's attributes


@pytest.mark.parametrize("mix", ["proportional", "round_robin"])
def test_resume_mid_epoch_continues_identically(tiny_bert_dir, tmp_path, mix):
    settings = {"max_steps": 7, "mix": mix}

    def make(out, callbacks=()):
        trainer = _multi(tiny_bert_dir, out, multi_dataset_batch_sampler=settings["mix"],
                         max_steps=settings["max_steps"])
        trainer.callbacks.extend(callbacks)
        return trainer

    full = make(tmp_path / "a")
    full.train()

    def crash_at_step_5(state):
        if state.step == 5:
            raise KeyboardInterrupt  # killed after the step-4 checkpoint, in the middle of epoch 0

    from textcl.train.callbacks import TrainerCallback

    class Crash(TrainerCallback):
        def on_step_end(self, state):
            crash_at_step_5(state)

    with pytest.raises(KeyboardInterrupt):
        make(tmp_path / "b", [Crash()]).train()
    resumed = make(tmp_path / "b")
    result = resumed.train(resume_from=str(tmp_path / "b" / "checkpoint"))
    assert result.steps == 7
    for p_full, p_res in zip(full.model.parameters(), resumed.model.parameters()):
        assert torch.equal(p_full, p_res)
    losses = [[r["loss"] for r in map(json.loads, (tmp_path / d / "metrics.jsonl").read_text().splitlines())
               if "loss" in r] for d in ("a", "b")]
    assert losses[0] == losses[1] and len(losses[0]) == 7
    # the comparison has teeth: another mix gives other weights
    settings["mix"] = "round_robin" if mix == "proportional" else "proportional"
    other = make(tmp_path / "c")
    other.train()
    assert any(not torch.equal(a, b) for a, b in zip(full.model.parameters(), other.model.parameters()))


def test_resume_with_another_mix_is_refused(tiny_bert_dir, tmp_path):
    _multi(tiny_bert_dir, tmp_path, max_steps=3).train()
    trainer = _multi(tiny_bert_dir, tmp_path, max_steps=4, multi_dataset_batch_sampler="round_robin")
    with pytest.raises(ValueError, match="batches of epoch 0 differ"):
        trainer.train(resume_from=str(tmp_path / "checkpoint"), allow_changed_settings=True)


def test_bad_combinations_are_named(tiny_bert_dir, tmp_path):
    model, cfg = _model(tiny_bert_dir), _cfg(tmp_path)
    data = {"nli": _triplets(), "para": _pairs()}
    with pytest.raises(ValueError, match="each dataset's view has none for 'para'"):
        Trainer(model, InfoNCE(), {"nli": TripletView()}, data, cfg)
    with pytest.raises(ValueError, match="each dataset's loss names 'sts', which is not a dataset"):
        Trainer(model, {"nli": InfoNCE(), "para": InfoNCE(), "sts": InfoNCE()}, PairView(), data, cfg)
    with pytest.raises(ValueError, match="needs a dict of datasets"):
        Trainer(model, {"nli": InfoNCE()}, PairView(), _pairs(), cfg)
    with pytest.raises(ValueError, match="dataset 'nli' has 3"):  # columns by position, per dataset
        Trainer(model, InfoNCE(), PairView(), data, cfg)
    with pytest.raises(ValueError, match="queue_size=8 keeps one queue"):
        Trainer(model, InfoNCE(), {"nli": TripletView(), "para": PairView()}, data, _cfg(tmp_path, queue_size=8))
    with pytest.raises(ValueError, match="loss weight of 'para'.*> ?0|loss weight of 'para'.*\\(0"):
        Trainer(model, InfoNCE(), {"nli": TripletView(), "para": PairView()}, data, cfg, loss_weights={"para": 0})


def test_one_dataset_keeps_its_batches_and_record(tiny_bert_dir, tmp_path):
    trainer = Trainer(_model(tiny_bert_dir), InfoNCE(), PairView(), _pairs(), _cfg(tmp_path))
    plain = EpochBatches(24, 4, 11, 0, 1, True, lambda: list(zip(*[_pairs()[c] for c in ("text0", "text1")])))
    assert trainer.epoch_batches.batches(0) == plain.batches(0)
    assert not any(isinstance(b, DatasetBatch) for b in trainer.epoch_batches.batches(0))
    assert set(trainer.run_settings()["data"]) == {"rows", "columns", "fingerprint"}


def test_triplet_loss_and_infonce_train_side_by_side(tiny_bert_dir, tmp_path):
    result = _multi(tiny_bert_dir, tmp_path / "run", losses={"nli": TripletLoss(margin=0.5), "para": InfoNCE()},
                    max_steps=4, multi_dataset_batch_sampler="round_robin").train()
    assert result.steps == 4 and os.path.isfile(os.path.join(result.model_path, "model.safetensors"))
