"""The training loop: batch -> views -> encoder -> loss -> backward -> clip -> step -> schedule -> callbacks."""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import datasets
import numpy as np
import torch
from tqdm.auto import tqdm

from textcl.data import check_text_columns
from textcl.model import SentenceEncoder
from textcl.model_card import ModelCard, write_model_card
from textcl.precision import autocast, resolve_precision
from textcl.train.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from textcl.train.config import TrainConfig
from textcl.train.distributed import get_rank, get_world_size, is_distributed
from textcl.train.gradcache import gradcache_backward
from textcl.train.schedule import linear_warmup_decay
from textcl.views import View, ViewBatch

__all__ = ["Trainer", "TrainResult", "TrainingDivergedError", "LengthBuckets", "seed_everything"]

Evaluator = Callable[[SentenceEncoder], dict[str, float]]
CPU_BUCKET_ROWS = 32  # rows per forward on a CPU; see LengthBuckets


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is left untouched."""


@dataclass
class TrainResult:
    """What a finished run produced.

    Attributes:
        model_path: folder of the selected model (best on the dev metric, else the last).
        steps: optimizer steps taken.
        train_seconds: wall time of the loop (evaluation excluded).
        sentences_per_second: encoded sentences (all views) per second of training.
        best_metric: best dev score seen, if an evaluator ran.
        history: every metrics record written to ``metrics.jsonl``.
    """

    model_path: str
    steps: int
    train_seconds: float
    sentences_per_second: float
    best_metric: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class LengthBuckets(torch.nn.Module):
    """Run the model on buckets of rows of similar length, each padded only to its own longest row.

    A training batch is padded to its longest sentence, and SimCSE-style data is
    short and uneven: on wordnet_examples.txt with batch 64 and max length 32,
    2.2x more padded than real tokens. Sorting the rows by length and encoding
    ``rows`` of them at a time, each bucket cut to its longest row, gives the
    same embeddings (every row is computed on its own) for ~40% fewer FLOPs.
    It is one module call, so DistributedDataParallel still sees one forward
    per backward. Needs right-padded features with an ``attention_mask``; with
    ``rows=None`` it simply calls the model.

    Shape:
        features: each (n, seq) -> (n, dim), rows in the input order
    """

    def __init__(self, model: SentenceEncoder, rows: int | None) -> None:
        super().__init__()
        self.model, self.rows = model, rows

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.rows is None or "attention_mask" not in features:
            return self.model(features)
        lengths = features["attention_mask"].sum(1)  # (n,)
        order = lengths.argsort(descending=True, stable=True)  # (n,) longest first
        parts = [self.model({k: v[idx, :max(1, int(lengths[idx[0]]))] for k, v in features.items()})
                 for idx in order.split(self.rows)]  # buckets of (<= rows, own longest) -> (<= rows, dim)
        return torch.cat(parts)[order.argsort()]  # (n, dim), back in input order


class Trainer:
    """Contrastive training of a :class:`SentenceEncoder`.

    Args:
        model: the encoder to train.
        loss: a loss taking embeddings (``InfoNCE``, ``TripletLoss``, ...),
            called as ``loss(*view_embeddings)`` or ``loss(*view_embeddings, labels)``.
        view: a :class:`textcl.views.View` matching the data's columns.
        data: a ``datasets.Dataset`` whose columns, in order, the view reads.
        config: a :class:`TrainConfig`.
        evaluator: optional ``model -> {metric: value}`` run every ``eval_steps``;
            the model scoring best on ``metric_for_best`` is kept.
        metric_for_best: the evaluator's key to maximise.
        callbacks: functions called with every metrics record.
        card: what the saved model's README.md model card says about its base model, data and loss.

    Outputs under ``config.output_dir``: ``model/`` (selected model),
    ``checkpoint/`` (resumable state), ``metrics.jsonl``, ``train_config.json``.
    """

    def __init__(self, model: SentenceEncoder, loss: torch.nn.Module, view: View, data: datasets.Dataset,
                 config: TrainConfig, evaluator: Evaluator | None = None, metric_for_best: str | None = None,
                 callbacks: Sequence[Callable[[dict[str, Any]], None]] = (),
                 card: ModelCard | None = None) -> None:
        if len(data.column_names) != view.num_columns:
            raise ValueError(f"the {view.name} view reads {view.num_columns} column(s) but the data has "
                             f"{len(data.column_names)}: {', '.join(data.column_names)}; select columns "
                             "with --columns / load_data(columns=...)")
        text_cols = data.column_names[:2] if view.name == "labeled_pair" else data.column_names
        check_text_columns(data, text_cols)
        if evaluator is not None and metric_for_best is None:
            raise ValueError("metric_for_best must name the evaluator's metric to maximise")
        self.model, self.loss, self.view, self.data, self.config = model, loss, view, data, config
        self.evaluator, self.metric_for_best, self.callbacks = evaluator, metric_for_best, list(callbacks)
        self.card = card
        self.rank, self.world_size = get_rank(), get_world_size()
        self.is_main = self.rank == 0
        self.device = model.device
        self.precision = resolve_precision(config.precision, self.device)
        self.history: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ data
    def _batches(self, epoch: int) -> list[list[int]]:
        """Row indices of each micro-batch of ``epoch`` for this rank (same order on resume).

        With ``W`` processes each step takes the next ``W * batch_size`` rows of
        the epoch's permutation and rank ``r`` gets the ``r``-th slice of them,
        so ``W`` ranks with batch ``B`` see exactly the batches (and, after
        InfoNCE's all-gather, the row order) of one process with batch ``W * B``.
        Only full global batches are kept: the gathered labels need equal local batches.
        """
        g = torch.Generator().manual_seed(self.config.seed + epoch)
        order = torch.randperm(len(self.data), generator=g).tolist()
        bs = self.config.batch_size
        if self.world_size > 1:
            bs = min(bs, len(order) // self.world_size)  # tiny data: smaller, still equal, shards
            if bs == 0:
                raise ValueError(f"the training data has {len(order)} rows, fewer than the "
                                 f"{self.world_size} processes")
            step_rows = bs * self.world_size
            return [order[i + self.rank * bs:i + (self.rank + 1) * bs]
                    for i in range(0, len(order) - step_rows + 1, step_rows)]
        batches = [order[i:i + bs] for i in range(0, len(order), bs)]
        if len(batches) > 1 and len(batches[-1]) < 2:  # a lone row has no in-batch negative
            batches = batches[:-1]
        return batches

    def _rows(self, indices: list[int]) -> list[tuple]:
        cols = self.data[indices]  # columnar dict
        return list(zip(*(cols[c] for c in self.data.column_names)))

    def _features(self, vb: ViewBatch) -> dict[str, torch.Tensor]:
        """Tokenize every view once (a repeated view, as in DropoutView, is tokenized once).

        Shape: each value (k * batch, seq) for k views.
        """
        if all(t is vb.texts[0] for t in vb.texts):
            one = self.model.tokenize(vb.texts[0])
            return {k: v.repeat(len(vb.texts), 1) for k, v in one.items()}
        return self.model.tokenize([t for texts in vb.texts for t in texts])

    def _bucketed(self) -> LengthBuckets:
        """The model behind length buckets: on a CPU (FLOPs follow padded tokens) for right-padded tokenizers."""
        right_padded = getattr(getattr(self.model.encoder, "tokenizer", None), "padding_side", "right") == "right"
        return LengthBuckets(self.model, CPU_BUCKET_ROWS if self.device.type == "cpu" and right_padded else None)

    # ------------------------------------------------------------------ step
    def _loss_from_embeddings(self, emb: torch.Tensor, vb: ViewBatch) -> torch.Tensor:
        views = emb.float().split(len(vb.texts[0]))  # k x (batch, dim)
        if vb.labels is not None:
            return self.loss(*views, vb.labels.to(emb.device))
        return self.loss(*views)

    def _micro_step(self, net: torch.nn.Module, vb: ViewBatch, scaler: torch.amp.GradScaler,
                    sync: bool) -> torch.Tensor:
        features = self._features(vb)
        scale = 1.0 / self.config.grad_accum_steps
        no_sync = getattr(net, "no_sync", None)
        if self.config.gradcache_chunk:
            def loss_fn(reps: torch.Tensor) -> torch.Tensor:
                return scaler.scale(self._loss_from_embeddings(reps, vb) * scale)
            return gradcache_backward(net, features, self.config.gradcache_chunk, loss_fn,
                                      no_sync=None if sync else no_sync,
                                      autocast_ctx=lambda: autocast(self.precision, self.device)) / scale
        ctx = no_sync() if (no_sync is not None and not sync) else contextlib.nullcontext()
        with ctx:
            with autocast(self.precision, self.device):
                emb = net(features)  # (k * batch, dim)
            loss = self._loss_from_embeddings(emb, vb)
            scaler.scale(loss * scale).backward()
        return loss.detach()

    # ------------------------------------------------------------------ loop
    def train(self, resume_from: str | None = None) -> TrainResult:
        """Run the training loop; ``resume_from`` is a checkpoint folder of an earlier run."""
        cfg = self.config
        seed_everything(cfg.seed)
        out = cfg.output_dir
        ckpt_dir, model_dir = os.path.join(out, "checkpoint"), os.path.join(out, "model")
        net: torch.nn.Module = self._bucketed()
        if is_distributed():
            # find_unused_parameters: a BERT pooler is part of the model but, with any pooling
            # but "cls", of no loss; DDP would otherwise wait for its gradient and fail at step 2
            net = torch.nn.parallel.DistributedDataParallel(
                net, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=True)
        # fused: one kernel per parameter instead of ~10 (as transformers' default "adamw_torch_fused")
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                                      fused=self.device.type in ("cpu", "cuda"))
        steps_per_epoch = math.ceil(len(self._batches(0)) / cfg.grad_accum_steps)
        total = cfg.max_steps or steps_per_epoch * cfg.epochs
        warmup = int(cfg.warmup_ratio * total)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: linear_warmup_decay(s, total, warmup))
        scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "float16")
        step, start_epoch, skip, best = 0, 0, 0, None
        if resume_from:
            state = load_checkpoint(resume_from, self.model)
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            scaler.load_state_dict(state["scaler"])
            step, start_epoch, skip = state["step"], state["epoch"], state["batch_in_epoch"]
            best = state.get("best_metric")
            set_rng_state(state["rng"])
        if self.is_main:
            os.makedirs(out, exist_ok=True)
            with open(os.path.join(out, "train_config.json"), "w") as f:
                json.dump(cfg.to_dict(), f, indent=2)

        def save_state(epoch: int, batch_in_epoch: int) -> None:
            if self.is_main:
                save_checkpoint(ckpt_dir, self.model, {
                    "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "scaler": scaler.state_dict(), "step": step, "epoch": epoch,
                    "batch_in_epoch": batch_in_epoch, "rng": rng_state(), "config": cfg.to_dict(),
                    "best_metric": best})

        bar = tqdm(total=total, initial=step, desc="Training", unit="step", disable=not self.is_main)
        self.model.train()
        train_time, sentences, running, t0 = 0.0, 0, None, time.perf_counter()
        done = step >= total
        for epoch in range(start_epoch, cfg.epochs if not cfg.max_steps else 10**9):
            if done:
                break
            batches = self._batches(epoch)
            for b_idx in range(skip, len(batches)):
                vb = self.view(self._rows(batches[b_idx]))
                micro = b_idx + 1
                sync = micro % cfg.grad_accum_steps == 0 or micro == len(batches)
                loss = self._micro_step(net, vb, scaler, sync)
                sentences += sum(len(t) for t in vb.texts)
                if not sync:
                    continue
                loss_value = loss.item()
                if not math.isfinite(loss_value):
                    bar.close()
                    raise TrainingDivergedError(
                        f"loss is {loss_value} at step {step + 1} (epoch {epoch}); training stopped without "
                        f"saving. The last good checkpoint is {ckpt_dir!r} (if one was written). Lower the "
                        "learning rate, raise the temperature, use float32 or check the data for empty rows.")
                if cfg.max_grad_norm:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                running = loss_value if running is None else 0.98 * running + 0.02 * loss_value
                bar.update(1)
                bar.set_postfix(loss=f"{running:.4f}", epoch=epoch)
                last = step >= total
                if step % cfg.log_steps == 0 or last:
                    self._record({"step": step, "epoch": epoch, "loss": loss_value,
                                  "lr": scheduler.get_last_lr()[0]})
                if self.evaluator is not None and (step % cfg.eval_steps == 0 or last):
                    train_time += time.perf_counter() - t0
                    best = self._evaluate(step, best, model_dir)
                    t0 = time.perf_counter()
                if step % cfg.save_steps == 0 or last:
                    save_state(epoch, micro)
                if last:
                    done = True
                    break
            skip = 0
        bar.close()
        train_time += time.perf_counter() - t0
        if self.evaluator is None and self.is_main:
            self.model.save(model_dir)
        self._record({"step": step, "train_seconds": train_time,
                      "sentences_per_second": sentences / max(train_time, 1e-9)})
        self._write_card(model_dir, train_time, best)
        return TrainResult(model_dir, step, train_time, sentences / max(train_time, 1e-9), best,
                           list(self.history))

    def _evaluate(self, step: int, best: float | None, model_dir: str) -> float | None:
        if not self.is_main:
            return best
        metrics = self.evaluator(self.model)
        self.model.train()
        if self.metric_for_best not in metrics:
            raise KeyError(f"the evaluator returned {sorted(metrics)}, not {self.metric_for_best!r}")
        score = metrics[self.metric_for_best]
        improved = best is None or score > best
        if improved:
            best = score
            self.model.save(model_dir)
        self._record({"step": step, **{f"eval_{k}": v for k, v in metrics.items()}, "best": best,
                      "saved": improved})
        return best

    def _write_card(self, model_dir: str, train_time: float, best: float | None) -> None:
        """Give the saved model a README.md model card (training settings, time, dev score)."""
        if not self.is_main or not os.path.isdir(model_dir):
            return
        card = self.card or ModelCard(name=os.path.basename(os.path.abspath(self.config.output_dir)),
                                      base_model="unknown", datasets=["unknown"], loss=repr(self.loss),
                                      view=self.view.name)
        card.hyperparameters = {k: v for k, v in self.config.to_dict().items() if k not in ("extra", "output_dir")}
        card.train_seconds = train_time
        if best is not None:
            card.results = {**card.results, self.metric_for_best: {"spearman": best}}
        write_model_card(model_dir, card, self.model)

    def _record(self, record: dict[str, Any]) -> None:
        if not self.is_main:
            return
        self.history.append(record)
        with open(os.path.join(self.config.output_dir, "metrics.jsonl"), "a") as f:
            f.write(json.dumps(record) + "\n")
        for cb in self.callbacks:
            cb(record)

