"""The training loop: batch -> views -> encoder -> loss -> backward -> clip -> step -> schedule -> callbacks."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import datasets
import torch
from tqdm.auto import tqdm

from textcl.dtype import autocast, resolve_dtype
from textcl.interop.model_card import ModelCard, write_run_card
from textcl.model import SentenceEncoder
from textcl.seeding import seed_everything
from textcl.threads import ThreadPlan
from textcl.train.callbacks import (PrintEvaluation, TrainerCallback, TrainerState, TrainingDivergedError,
                                    TrainResult, as_callbacks, check_finite_loss)
from textcl.train.checkpoint import load_checkpoint, quiet_saves, rng_state, save_checkpoint, set_rng_state
from textcl.train.config import TrainConfig
from textcl.train.evaluators import evaluator_config
from textcl.train.distributed import average_gradients, get_rank, get_world_size, is_distributed
from textcl.train.gradcache import gradcache_backward
from textcl.train.length_buckets import CPU_BUCKET_ROWS, LengthBuckets
from textcl.train.multi import DatasetLosses, DatasetViews, data_record, part_batches, training_parts
from textcl.train.optim import build_optimizer
from textcl.train.queue import MomentumQueue
from textcl.train.run_folder import (CHECKPOINT_DIR, METRICS_FILE, MODEL_DIR, RunFolder, recorded_threads,
                                     run_path)
from textcl.train.sampler import batches_digest, text_ids
from textcl.train.tracking import make_trackers
from textcl.views import View, ViewBatch
from textcl.views.embedding_hooks import masked_input_embeddings, strip_masks, tokenize_views

__all__ = ["Trainer", "TrainResult", "TrainingDivergedError", "LengthBuckets", "seed_everything"]  # LengthBuckets: re-exported

Evaluator = Callable[[SentenceEncoder], dict[str, float]]


@dataclass
class _Run:
    """The mutable pieces of one training run (built by :meth:`Trainer._start`)."""

    net: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    state: TrainerState
    start_epoch: int = 0
    skip: int = 0
    params: list = field(default_factory=list)


class Trainer:
    """Contrastive training of a :class:`SentenceEncoder`.

    Args:
        model: the encoder to train.
        loss: a loss taking embeddings (``InfoNCE``, ``TripletLoss``, ...),
            called as ``loss(*view_embeddings)`` or ``loss(*view_embeddings, labels)``;
            or a dict of them by dataset name (several datasets).
        view: a :class:`textcl.views.View`; the data's columns, in order, are
            matched to the view's ``columns``; or a dict of them by dataset name.
        data: a ``datasets.Dataset`` with as many columns as the view reads; or a dict
            (or ``DatasetDict``) of them: each batch then comes from one dataset, drawn by
            ``config.multi_dataset_batch_sampler`` (see :mod:`textcl.train.multi`).
        config: a :class:`TrainConfig`.
        evaluator: optional ``model -> {metric: value}`` run every ``eval_steps``;
            the model scoring best on ``metric_for_best`` is kept.
        metric_for_best: the evaluator's key to maximise (default: its ``primary_metric``).
        callbacks: :class:`~textcl.train.callbacks.TrainerCallback` objects (hooks after
            each step, evaluation, save and log line; any may stop training), or plain
            functions called with every metrics record.
        card: what the saved model's README.md model card says about its base model, data and loss.
        run_spec: ``model`` / ``data`` / ``view`` / ``loss`` sections for ``train_config.json`` (the
            CLI passes its settings so that ``textcl train --config train_config.json`` repeats the run).
        loss_weights: with several datasets, a factor on each dataset's loss by name (default 1).

    Outputs under ``config.output_dir``: ``model/`` (selected model),
    ``checkpoint/`` (resumable state), ``metrics.jsonl``, ``train_config.json``.
    """

    def __init__(self, model: SentenceEncoder, loss: torch.nn.Module, view: View, data: datasets.Dataset,
                 config: TrainConfig, evaluator: Evaluator | None = None, metric_for_best: str | None = None,
                 callbacks: Sequence[TrainerCallback | Callable[[dict[str, Any]], Any]] = (),
                 card: ModelCard | None = None, run_spec: dict[str, Any] | None = None,
                 loss_weights: dict[str, float] | None = None) -> None:
        # one TrainingPart per dataset: columns matched to its view by position, texts checked
        self.parts = training_parts(data, view, loss, config, get_world_size(), loss_weights)
        if evaluator is not None and metric_for_best is None:
            metric_for_best = getattr(evaluator, "primary_metric", None)
            if metric_for_best is None:
                raise ValueError("metric_for_best must name the evaluator's metric to maximise (this evaluator "
                                 "has no primary_metric)")
        if None not in self.parts:  # several datasets: their losses and views as one
            loss, view = DatasetLosses(self.parts), DatasetViews(self.parts)
        self.column_map = next(iter(self.parts.values())).column_map
        self.model, self.loss, self.view, self.data, self.config = model, loss, view, data, config
        self.evaluator, self.metric_for_best = evaluator, metric_for_best
        self.callbacks = as_callbacks(callbacks)
        self.card, self.run_spec = card, run_spec
        self.rank, self.world_size = get_rank(), get_world_size()
        self.is_main = self.rank == 0
        self.device = model.device
        self.precision = resolve_dtype(config.dtype, self.device)
        self.history: list[dict[str, Any]] = []
        self.threads = config.threads  # the run's count, once train() has chosen it
        self.state = TrainerState(log_history=self.history)
        # false negatives, embedding-level augmentations, momentum queue
        self.no_duplicates = (self.parts[None].no_duplicates if None in self.parts
                              else {name: p.no_duplicates for name, p in self.parts.items()})
        self.epoch_batches = part_batches(self.parts, config, self.rank, self.world_size)
        self._input_embeddings = model.encoder.input_embedding_module() if view.acts_on_embeddings else None
        self.queue: MomentumQueue | None = None
        if config.queue_size:
            if not hasattr(loss, "mask_duplicates"):  # InfoNCE: the only loss taking extra negatives
                raise ValueError(f"queue_size={config.queue_size} adds negatives to InfoNCE; the loss is {loss!r}: "
                                 "use InfoNCE or set queue_size=0")
            self.queue = MomentumQueue(model, config.queue_size, config.momentum,
                                       forward=lambda m: LengthBuckets(m, self._bucketed().rows))

    # ------------------------------------------------------------------ the loop
    def train(self, resume_from: str | None = None, overwrite: bool = False,
              allow_changed_settings: bool = False) -> TrainResult:
        """Run the training loop in ``config.output_dir`` (see :class:`~textcl.train.run_folder.RunFolder`).

        Args:
            resume_from: a checkpoint folder of an earlier run in the same output folder; the last
                complete checkpoint is used if a crash left it damaged.
            overwrite: replace an earlier run in the output folder (refused otherwise).
            allow_changed_settings: resume even if lr, batch size, seed, model, data, view or loss
                differ from the stored run's.
        """
        # one thread count for the whole run (recorded; a resumed run keeps it): it repeats bit for bit
        with ThreadPlan(self.config.threads or recorded_threads(self.config.output_dir, resume_from),
                        adapt=False) as plan:
            self.threads = plan.count
            return self._train_in_folder(resume_from, overwrite, allow_changed_settings)

    def _train_in_folder(self, resume_from: str | None, overwrite: bool, allow_changed_settings: bool) -> TrainResult:
        with RunFolder(self.config.output_dir, self.run_settings(), resume_from, overwrite,
                       allow_changed_settings, self.is_main) as folder:
            for message in folder.messages:
                print(f"textcl train: {message}", file=sys.stderr)
            trackers = make_trackers(self.config.report_to, self.config.output_dir,
                                     self.run_settings()) if self.is_main else []
            if self.is_main and self.evaluator is not None:  # each evaluation's scores on one line
                trackers.append(PrintEvaluation(self.metric_for_best))
            self.callbacks.extend(trackers)
            try:
                return self._train(folder.checkpoint)
            finally:
                for tracker in trackers:
                    self.callbacks.remove(tracker)

    def run_settings(self) -> dict[str, Any]:
        """What ``train_config.json`` records: the training settings and what the run was built from.

        ``view`` and ``loss`` come from the objects (``get_config()``); ``run_spec`` (the CLI's
        settings) fills ``model``, ``data`` and ``command`` when given, else they describe the objects.
        """
        spec = dict(self.run_spec or {})
        spec.setdefault("model", {"encoder_kind": self.model.encoder.kind, "encoder": self.model.encoder.get_config(),
                                  "projection": self.model.projection is not None})
        spec.setdefault("data", data_record(self.parts))
        if self.evaluator is not None:  # what selects the kept model (the CLI records how to rebuild its own)
            spec.setdefault("evaluator", evaluator_config(self.evaluator, self.metric_for_best))
        spec["view"] = self.view.get_config() if hasattr(self.view, "get_config") else {"repr": repr(self.view)}
        spec["loss"] = self.loss.get_config() if hasattr(self.loss, "get_config") else {"repr": repr(self.loss)}
        return {"train": {**self.config.to_dict(), "threads": self.threads}, **spec}

    def _train(self, resume_from: str | None) -> TrainResult:
        cfg = self.config
        seed_everything(cfg.seed)
        run = self._start(resume_from)
        state = run.state
        bar = tqdm(total=state.total_steps, initial=state.step, desc="Training", unit="step",
                   disable=not self.is_main)
        self.model.train()
        train_time, sentences, t0 = 0.0, 0, time.perf_counter()
        for epoch, micro, n_micro, indices in self._micro_batches(run):
            batch = self._view_batch(indices)                                    # batch -> views
            sync = micro % cfg.grad_accum_steps == 0 or micro == n_micro
            loss_t = self._forward_backward(run, batch, sync)                    # encoder -> loss -> backward
            sentences += sum(len(t) for t in batch.texts)
            if not sync:
                continue
            loss = loss_t.item()  # one host sync per optimizer step, not per micro-batch
            check_finite_loss(loss, state.step + 1, epoch, self._checkpoint_dir)
            self._optimizer_step(run)                                            # clip -> step -> schedule
            state.step, state.epoch, state.loss = state.step + 1, epoch, loss
            state.lr = run.scheduler.get_last_lr()[0]
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", epoch=epoch)
            last = state.step >= state.total_steps
            self._notify("on_step_end", state)                                   # callbacks
            last = last or state.should_stop
            if state.step % cfg.log_steps == 0 or last:
                self._record({"step": state.step, "epoch": epoch, "loss": loss, "lr": state.lr})
            if self.evaluator is not None and (state.step % cfg.eval_steps == 0 or last):
                train_time += time.perf_counter() - t0
                self._evaluate(state)
                t0 = time.perf_counter()
            if state.step % cfg.save_steps == 0 or last or state.should_stop:
                self._save_checkpoint(run, epoch, micro)
            if last or state.should_stop:
                break
        bar.close()
        train_time += time.perf_counter() - t0
        return self._finish(state, train_time, sentences)

    # ------------------------------------------------------------------ set-up
    def _start(self, resume_from: str | None) -> _Run:
        """Model wrapper, optimizer, schedule and scaler; restored from ``resume_from`` when given."""
        cfg = self.config
        net: torch.nn.Module = self._bucketed()
        if is_distributed():
            # find_unused_parameters: a BERT pooler is part of the model but, with any pooling
            # but "cls", of no loss; DDP would otherwise wait for its gradient and fail at step 2
            net = torch.nn.parallel.DistributedDataParallel(
                net, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=True)
        steps_per_epoch = math.ceil(len(self._batches(0)) / cfg.grad_accum_steps)
        total = cfg.max_steps or steps_per_epoch * cfg.epochs
        params = self._parameters()  # built once: the clip of every step reuses it
        optimizer, scheduler = build_optimizer(params, cfg.lr, cfg.weight_decay, self.device,
                                               total, int(cfg.warmup_ratio * total))
        scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "float16")
        self.state = TrainerState(total_steps=total, log_history=self.history)
        run = _Run(net, optimizer, scheduler, scaler, self.state, params=params)
        if resume_from:
            saved = load_checkpoint(resume_from, self.model)
            if "loss_state" in saved:  # a loss with weights (a classification head)
                self.loss.load_state_dict(saved["loss_state"])
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
            scaler.load_state_dict(saved["scaler"])
            run.state.step, run.start_epoch, run.skip = saved["step"], saved["epoch"], saved["batch_in_epoch"]
            run.state.best_metric, run.state.best_step = saved.get("best_metric"), saved.get("best_step")
            set_rng_state(saved["rng"])
            self._restore_view_and_queue(saved)
        return run

    def _restore_view_and_queue(self, saved: dict[str, Any]) -> None:
        """Restore the view's random state and the momentum queue; check the batch order is the stored run's."""
        self.view.load_state_dict(saved.get("view", {}))
        stored = saved.get("batches")
        if stored is not None and stored != self._batches_state(stored["epoch"]):
            raise ValueError(f"the batches of epoch {stored['epoch']} differ from the checkpoint's (no_duplicates "
                             f"{stored['no_duplicates']} then, {self.no_duplicates} now): the data, batch size, "
                             "seed, number of processes or duplicate setting changed; resume with the run's settings")
        if (self.queue is None) != ("queue" not in saved):
            raise ValueError(f"the checkpoint {'has' if 'queue' in saved else 'has no'} momentum queue and this run "
                             f"has queue_size={self.config.queue_size}: resume with the run's settings")
        if self.queue is not None:
            self.queue.load_state_dict(saved["queue"])

    # ------------------------------------------------------------------ data
    def _batches(self, epoch: int) -> list[list[int]]:
        """Row indices of each micro-batch of ``epoch`` for this rank (see :class:`EpochBatches`)."""
        return self.epoch_batches.batches(epoch)

    def _batches_state(self, epoch: int) -> dict[str, Any]:
        """What identifies the batches of ``epoch`` (checked on resume, so the batch order is the stored run's)."""
        return {"epoch": epoch, "no_duplicates": self.no_duplicates, "digest": batches_digest(self._batches(epoch))}

    def _micro_batches(self, run: _Run) -> Iterator[tuple[int, int, int, list[int]]]:
        """``(epoch, micro, micro-batches in the epoch, row indices)`` from where the run stands.

        ``micro`` counts from 1 within the epoch; a resumed run skips the micro-batches
        its checkpoint had already consumed.
        """
        cfg = self.config
        last_epoch = cfg.epochs if not cfg.max_steps else 10**9
        skip = run.skip
        for epoch in range(run.start_epoch, last_epoch):
            if run.state.step >= run.state.total_steps:
                return
            batches = self._batches(epoch)
            for b_idx in range(skip, len(batches)):
                yield epoch, b_idx + 1, len(batches), batches[b_idx]
            skip = 0

    def _view_batch(self, indices: list[int]) -> ViewBatch:
        """The view's texts for the rows ``indices`` (of one dataset), read column by column."""
        part = self.parts[getattr(indices, "dataset", None)]
        if part.name is not None:
            self.loss.use(part.name)  # the loss of this batch's dataset
        columns = part.data[indices]  # {data column: values}
        return part.view({name: columns[col] for name, col in part.column_map.items()})

    def _features(self, vb: ViewBatch) -> dict[str, torch.Tensor]:
        """Every view's tokens, each distinct list tokenized once, with its keep-masks (see :func:`tokenize_views`)."""
        return tokenize_views(self.model.tokenize, vb, lambda: self._input_embeddings.embedding_dim)

    def _bucketed(self) -> LengthBuckets:
        """The model behind length buckets: on a CPU (FLOPs follow padded tokens) for right-padded tokenizers."""
        right_padded = getattr(getattr(self.model.encoder, "tokenizer", None), "padding_side", "right") == "right"
        return LengthBuckets(self.model, CPU_BUCKET_ROWS if self.device.type == "cpu" and right_padded else None)

    # ------------------------------------------------------------------ step
    def _loss_from_embeddings(self, emb: torch.Tensor, vb: ViewBatch) -> torch.Tensor:
        views = emb.float().split(vb.batch_size)  # k x (batch, dim)
        if vb.labels is not None:
            return self.loss(*views, vb.labels.to(emb.device))
        extra: dict[str, torch.Tensor] = {}
        if getattr(self.loss, "mask_duplicates", False):
            extra["text_ids"] = text_ids(vb.sources).to(emb.device)  # (batch, k)
        if getattr(self.loss, "needs_texts", False):
            extra["texts"] = vb.sources  # a guide model embeds them (GISTEmbedLoss)
        if self.queue is not None and self.queue.filled:
            extra["extra_negatives"], extra["extra_negative_ids"] = self.queue.negatives()  # (filled, dim), (filled,)
        return self.loss(*views, **extra)

    def _forward_backward(self, run: _Run, vb: ViewBatch, sync: bool) -> torch.Tensor:
        """Encode every view, compute the loss, backpropagate; return the (detached) loss.

        Embedding-level augmentations are applied by hooks during the forward
        passes; with a momentum queue, the batch's positives are embedded by the
        momentum encoder and enqueued after the loss (they are negatives from the next batch on).
        """
        features = self._features(vb)
        hooks = (masked_input_embeddings(self.model, self._input_embeddings) if vb.embedding_augmentations
                 else contextlib.nullcontext())
        with hooks:
            loss = self._backward(run, vb, features, sync)
        if self.queue is not None:
            n = vb.batch_size
            positives = {k: v[n:2 * n] for k, v in strip_masks(features).items()}  # (batch, seq)
            with autocast(self.precision, self.device):
                keys = self.queue.keys(positives)  # (batch, dim)
            self.queue.enqueue(keys, text_ids([vb.sources[1]])[:, 0])
        return loss

    def _backward(self, run: _Run, vb: ViewBatch, features: dict[str, torch.Tensor], sync: bool) -> torch.Tensor:
        """Encode, compute the loss, backpropagate; return the loss, detached (no host sync here).

        Under DDP, gradients are all-reduced only on the micro-batch that ends an
        optimizer step (``sync``); with GradCache, only on that micro-batch's last chunk.
        """
        scale = 1.0 / self.config.grad_accum_steps
        no_sync = getattr(run.net, "no_sync", None)
        if self.config.gradcache_chunk:
            def loss_fn(reps: torch.Tensor) -> torch.Tensor:
                return run.scaler.scale(self._loss_from_embeddings(reps, vb) * scale)
            loss = gradcache_backward(run.net, features, self.config.gradcache_chunk, loss_fn, no_sync=no_sync,
                                      sync=sync, autocast_ctx=lambda: autocast(self.precision, self.device))
            return loss / scale / (run.scaler.get_scale() if run.scaler.is_enabled() else 1.0)
        ctx = no_sync() if (no_sync is not None and not sync) else contextlib.nullcontext()
        with ctx:
            with autocast(self.precision, self.device):
                emb = run.net(features)  # (k * batch, dim)
            loss = self._loss_from_embeddings(emb, vb)
            run.scaler.scale(loss * scale).backward()
        return loss.detach()

    def _optimizer_step(self, run: _Run) -> None:
        """Clip, step, update the scaler and the schedule, clear the gradients."""
        average_gradients(self.loss.parameters())  # DDP averages the model's; a loss's own weights are averaged here
        if self.config.max_grad_norm:
            run.scaler.unscale_(run.optimizer)
            torch.nn.utils.clip_grad_norm_(run.params, self.config.max_grad_norm)
        run.scaler.step(run.optimizer)
        if self.queue is not None:
            self.queue.update(self.model)  # the momentum encoder trails the stepped weights
        run.scaler.update()
        run.scheduler.step()
        run.optimizer.zero_grad(set_to_none=True)

    def _parameters(self) -> list[torch.nn.Parameter]:
        """What the optimizer steps: the model's weights and the loss's own (a classification head)."""
        return list(self.model.parameters()) + [p for p in self.loss.parameters() if p.requires_grad]

    # ------------------------------------------------------------------ outputs
    _model_dir = property(lambda self: run_path(self.config.output_dir, MODEL_DIR))
    _checkpoint_dir = property(lambda self: run_path(self.config.output_dir, CHECKPOINT_DIR))

    def _save_checkpoint(self, run: _Run, epoch: int, batch_in_epoch: int) -> None:
        if not self.is_main:
            return
        save_checkpoint(self._checkpoint_dir, self.model, {
            "optimizer": run.optimizer.state_dict(), "scheduler": run.scheduler.state_dict(),
            "scaler": run.scaler.state_dict(), "step": run.state.step, "epoch": epoch,
            "batch_in_epoch": batch_in_epoch, "rng": rng_state(), "config": self.config.to_dict(),
            "record": json.dumps(self.run_settings(), sort_keys=True, default=str),
            "best_metric": run.state.best_metric, "best_step": run.state.best_step,
            "view": self.view.state_dict(), "batches": self._batches_state(epoch),
            **({"queue": self.queue.state_dict()} if self.queue is not None else {}),
            **({"loss_state": self.loss.state_dict()} if list(self.loss.parameters()) else {})})
        self._notify("on_save", run.state, self._checkpoint_dir)

    def _save_model(self) -> None:
        """Write the selected model to ``model/``, transformers' save bars silenced (the training bar stays whole)."""
        with quiet_saves():
            self.model.save(self._model_dir)

    def _evaluate(self, state: TrainerState) -> None:
        if not self.is_main:
            return
        metrics = self.evaluator(self.model)
        self.model.train()
        if self.metric_for_best not in metrics:
            raise KeyError(f"the evaluator returned {sorted(metrics)}, not {self.metric_for_best!r}")
        score = metrics[self.metric_for_best]
        improved = state.best_metric is None or score > state.best_metric
        if improved:
            state.best_metric, state.best_step = score, state.step
            self._save_model()
        self._record({"step": state.step, **{f"eval_{k}": v for k, v in metrics.items()},
                      "best": state.best_metric, "saved": improved})
        self._notify("on_evaluate", state, metrics)
        if improved:
            self._notify("on_save", state, self._model_dir)

    def _finish(self, state: TrainerState, train_time: float, sentences: int) -> TrainResult:
        if self.evaluator is None and self.is_main:
            self._save_model()
            self._notify("on_save", state, self._model_dir)
        speed = sentences / max(train_time, 1e-9)
        self._record({"step": state.step, "train_seconds": train_time, "sentences_per_second": speed})
        self._write_card(self._model_dir, train_time, state.best_metric)
        for cb in self.callbacks:
            cb.on_train_end(state)
        return TrainResult(self._model_dir, state.step, train_time, speed, state.best_metric, list(self.history))

    def _write_card(self, model_dir: str, train_time: float, best: float | None) -> None:
        """Give the saved model a README.md model card (settings, time, dev score kept apart from test)."""
        if self.is_main and os.path.isdir(model_dir):
            write_run_card(model_dir, self.card, self.model, self.config.to_dict(), self.loss, self.view,
                           train_time, self.metric_for_best, best)

    def _record(self, record: dict[str, Any]) -> None:
        if not self.is_main:
            return
        self.history.append(record)
        with open(run_path(self.config.output_dir, METRICS_FILE), "a") as f:
            f.write(json.dumps(record) + "\n")
        self._notify("on_log", self.state, record)

    def _notify(self, hook: str, state: TrainerState, *args: Any) -> None:
        """Call ``hook`` on every callback; a True return (or setting ``state.should_stop``) stops training."""
        for cb in self.callbacks:
            if getattr(cb, hook)(state, *args):
                state.should_stop = True
