"""``SentenceClassifier``: a sentence encoder with a classification head on top.

Two ways to train, chosen by ``freeze``:

* ``freeze=True`` (a probe): the encoder is fixed, so every training and
  validation sentence is embedded once and cached; only the head trains, over
  the cached vectors, which makes each epoch take a fraction of a second.
* ``freeze=False`` (fine-tuning): encoder and head train end to end on
  tokenized batches.

Both use AdamW with linear warm-up and decay, and, given validation data, keep
the weights of the best validation accuracy and stop after ``patience``
evaluations without improvement.

A saved classifier is a folder: ``encoder/`` (a textcl model folder written by
:meth:`SentenceEncoder.save`), ``head.safetensors`` and ``classifier_config.json``
(label names, head settings, freeze flag), so it reloads with no extra argument.

Example:
    >>> encoder = SentenceEncoder.from_pretrained("sentence-transformers/all-MiniLM-L6-v2")
    >>> clf = SentenceClassifier(encoder, head="linear", freeze=True)
    >>> clf.fit(train_texts, train_labels, val_texts, val_labels)
    >>> clf.predict(["a gorgeous, witty film"])
    ['positive']
    >>> clf.save("out/sst2"); SentenceClassifier.from_pretrained("out/sst2")
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn
from tqdm.auto import tqdm

from textcl.classify.heads import build_head, validate_head
from textcl.classify.labels import (
    EarlyStopping,
    FitResult,
    Label,
    check_texts,
    classification_metrics,
    encode_labels,
    label_names,
)
from textcl.model import SentenceEncoder
from textcl.settings import check_int
from textcl.storage import atomic_folder, check_format_version, verify_manifest
from textcl.storage.read import read_json, read_safetensors
from textcl.train.optim import build_optimizer

__all__ = ["SentenceClassifier", "FitResult", "EarlyStopping", "label_names", "encode_labels", "check_texts",
           "classification_metrics", "CLASSIFIER_CONFIG"]

CLASSIFIER_CONFIG = "classifier_config.json"
HEAD_WEIGHTS = "head.safetensors"
ENCODER_DIR = "encoder"
FORMAT_VERSION = 2  # 2: the folder has a manifest (docs/format.md)



# ----------------------------------------------------------------------------- the model
class SentenceClassifier(nn.Module):
    """A :class:`SentenceEncoder` plus a linear or MLP head over its embedding.

    The head reads the encoder's output before L2 normalisation (what
    ``encoder(features)`` returns), identically in training and prediction.

    Args:
        encoder: the sentence encoder.
        labels: class names (strings or integers; stored sorted). Default:
            taken from the training labels by the first :meth:`fit`.
        head: ``"linear"`` or ``"mlp"``.
        freeze: train the head only, over cached embeddings (a probe).
        hidden_dim: MLP hidden size (default: the embedding size).
        dropout: head dropout (default 0 for linear, 0.1 for mlp).
    """

    def __init__(self, encoder: SentenceEncoder, labels: Sequence[Label] | None = None, head: str = "linear",
                 freeze: bool = True, hidden_dim: int | None = None, dropout: float | None = None) -> None:
        super().__init__()
        self.head_type = validate_head(head)
        self.encoder = encoder
        self.freeze = bool(freeze)
        self.hidden_dim, self.dropout = hidden_dim, dropout
        self.labels: list[Label] | None = None
        self.head: nn.Module | None = None
        if labels is not None:
            self._build_head(label_names(labels, "labels"))
        if self.freeze:
            self.encoder.requires_grad_(False)
        self._cache: dict[str, torch.Tensor] = {}  # frozen mode: text -> embedding (CPU)

    def _build_head(self, labels: list[Label]) -> None:
        self.labels = labels
        self.head = build_head(self.head_type, self.encoder.embedding_dim, len(labels), self.dropout,
                               self.hidden_dim).to(self.encoder.device)

    @property
    def device(self) -> torch.device:
        return self.encoder.device

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """Class logits for a tokenized batch.

        Shape:
            features["input_ids"]: (batch, seq) -> (batch, num_labels)
        """
        self._require_head()
        return self.head(self.encoder(features))

    def _require_head(self) -> None:
        if self.head is None:
            raise RuntimeError("the classifier has no labels yet: call fit() or pass labels=")

    # ------------------------------------------------------------------ embeddings
    def embed(self, texts: list[str], batch_size: int = 64, cache: bool = False,
              show_progress_bar: bool = False) -> torch.Tensor:
        """The head's input for ``texts`` (inference mode), on the model's device.

        With ``cache`` (frozen encoders only) each distinct text is embedded once
        per classifier and reused by later calls (e.g. across CV folds).

        Shape:
            (len(texts), embedding_dim)
        """
        if not (cache and self.freeze):
            return self.encoder.encode(texts, batch_size=batch_size, normalize=False, convert_to_numpy=False,
                                       dtype="float32", show_progress_bar=show_progress_bar).to(self.device)
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            emb = self.encoder.encode(missing, batch_size=batch_size, normalize=False, convert_to_numpy=False,
                                      dtype="float32", show_progress_bar=show_progress_bar)
            self._cache.update(zip(missing, emb))
        return torch.stack([self._cache[t] for t in texts]).to(self.device)

    def clear_cache(self) -> None:
        """Drop the cached embeddings of frozen mode."""
        self._cache.clear()

    # ------------------------------------------------------------------ training
    def fit(self, texts: Sequence[str], labels: Sequence[Any], val_texts: Sequence[str] | None = None,
            val_labels: Sequence[Any] | None = None, epochs: int | None = None, batch_size: int = 32,
            lr: float | None = None, weight_decay: float = 0.01, warmup_ratio: float = 0.1,
            max_grad_norm: float = 1.0, patience: int = 3, eval_steps: int | None = None, seed: int = 0,
            encode_batch_size: int = 64, show_progress_bar: bool = False, dtype: str = "float32",
            grad_accum_steps: int = 1, run_dir: str | None = None, resume: bool = False) -> FitResult:
        """Train the head (frozen) or encoder and head (fine-tuning).

        Args:
            texts, labels: training sentences and their labels.
            val_texts, val_labels: validation data for early stopping (optional).
            epochs: passes over the data (default 20 frozen, 3 fine-tuning).
            batch_size: sentences per optimizer step.
            lr: peak learning rate (default 1e-3 frozen, 2e-5 fine-tuning).
            weight_decay: AdamW weight decay.
            warmup_ratio: fraction of the steps spent warming up.
            max_grad_norm: gradient clipping.
            patience: evaluations without a better validation accuracy before stopping.
            eval_steps: also evaluate every this many steps (default: once per epoch).
            seed: shuffling, dropout and head initialisation seed.
            encode_batch_size: batch size when embedding for the cache / evaluation.
            show_progress_bar: show tqdm bars.
            dtype, grad_accum_steps: fine-tuning's compute dtype and gradient accumulation.
            run_dir: fine-tuning's run folder (checkpoints, ``metrics.jsonl``); temporary when None.
            resume: continue the fine-tuning run in ``run_dir`` from its checkpoint.

        Fine-tuning runs through :class:`~textcl.train.trainer.Trainer` (:mod:`textcl.classify.fine_tune`).

        Returns:
            A :class:`FitResult`; the model keeps the best validation weights.
        """
        start = time.perf_counter()
        texts = check_texts(texts, "train")
        if len(labels) != len(texts):
            raise ValueError(f"train has {len(texts)} texts but {len(labels)} labels")
        check_int("batch_size", batch_size)
        torch.manual_seed(seed)
        if self.head is None:
            self._build_head(label_names(labels, "train"))
        y = torch.as_tensor(encode_labels(labels, self.labels, "train"), device=self.device)
        validation = None
        if val_texts is not None:
            vx = check_texts(val_texts, "validation")
            if val_labels is None or len(val_labels) != len(vx):
                raise ValueError("validation needs one label per text (val_labels)")
            validation = (vx, encode_labels(val_labels, self.labels, "validation"))
        epochs = epochs if epochs is not None else (20 if self.freeze else 3)
        lr = lr if lr is not None else (1e-3 if self.freeze else 2e-5)
        if not self.freeze:
            from textcl.classify.fine_tune import fine_tune

            return fine_tune(self, texts, y.cpu().numpy(), validation, epochs=epochs, batch_size=batch_size, lr=lr,
                             weight_decay=weight_decay, warmup_ratio=warmup_ratio, max_grad_norm=max_grad_norm,
                             patience=patience, eval_steps=eval_steps, seed=seed, dtype=dtype,
                             grad_accum_steps=grad_accum_steps, run_dir=run_dir, resume=resume,
                             encode_batch_size=encode_batch_size)
        # frozen: embed every sentence once; the head then trains on cached vectors
        cached = self.embed(texts, encode_batch_size, cache=True, show_progress_bar=show_progress_bar) \
            if self.freeze else None

        params = [p for p in self.parameters() if p.requires_grad]
        steps_per_epoch = math.ceil(len(texts) / batch_size)
        total = epochs * steps_per_epoch
        optimizer, scheduler = build_optimizer(params, lr, weight_decay, self.device, total, int(warmup_ratio * total))
        generator = torch.Generator().manual_seed(seed)
        stopper = EarlyStopping(patience) if validation else None
        result = FitResult(0, 0, None, None, False, 0.0)
        best_state, losses = None, []

        def evaluate(epoch: int) -> None:
            nonlocal best_state
            entry = {"epoch": epoch, "step": result.steps, "train_loss": float(np.mean(losses)) if losses else 0.0}
            losses.clear()
            if validation:
                pred = self._predict_ids(validation[0], encode_batch_size, cache=True)
                entry["val_accuracy"] = float(100 * np.mean(pred == validation[1]))
                if stopper.update(entry["val_accuracy"]):
                    result.best_epoch, result.best_val_accuracy = epoch, entry["val_accuracy"]
                    best_state = {k: v.detach().clone() for k, v in self._trainable_state().items()}
            result.history.append(entry)
            self._train_mode()

        bar = tqdm(total=total, disable=not show_progress_bar, desc="Training", unit="step")
        self._train_mode()
        for epoch in range(1, epochs + 1):
            for idx in torch.randperm(len(texts), generator=generator).split(batch_size):
                if cached is not None:
                    logits = self.head(cached[idx.to(cached.device)])  # (batch, num_labels)
                else:
                    logits = self(self.encoder.tokenize([texts[i] for i in idx]))
                loss = F.cross_entropy(logits, y[idx.to(y.device)])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
                optimizer.step()
                scheduler.step()
                result.steps += 1
                losses.append(loss.item())
                bar.update()
                if eval_steps and result.steps % eval_steps == 0 and result.steps % steps_per_epoch:
                    evaluate(epoch)
                    if stopper and stopper.should_stop:
                        break
            result.epochs = epoch
            if not (stopper and stopper.should_stop):
                evaluate(epoch)
            if stopper and stopper.should_stop:
                result.stopped_early = epoch < epochs or result.steps < total
                break
        bar.close()
        if best_state is not None:
            self.load_state_dict(best_state, strict=False)
        self.eval()
        result.train_seconds = time.perf_counter() - start
        return result

    def _trainable_state(self) -> dict[str, torch.Tensor]:
        """What training changes: the head (frozen) or everything."""
        if self.freeze:
            return {f"head.{k}": v for k, v in self.head.state_dict().items()}
        return self.state_dict()

    def _train_mode(self) -> None:
        self.train()
        if self.freeze:
            self.encoder.eval()
        elif self.encoder.projection is not None and self.encoder.projection.mlp_only_train:
            # a train-only projection head is skipped at inference: the classifier must not see it in training
            self.encoder.projection.eval()

    # ------------------------------------------------------------------ inference
    def _predict_ids(self, texts: list[str], batch_size: int = 64, cache: bool = False) -> np.ndarray:
        return self.predict_proba(texts, batch_size, _cache=cache).argmax(axis=1)

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64, *, _cache: bool = False) -> np.ndarray:
        """Class probabilities, columns in the order of :attr:`labels`.

        Returns:
            (len(texts), num_labels) float32.
        """
        self._require_head()
        texts = check_texts(texts, "input")
        emb = self.embed(texts, batch_size, cache=_cache)
        was_training = self.head.training
        self.head.eval()
        with torch.inference_mode():
            probs = torch.softmax(self.head(emb).float(), dim=-1)
        self.head.train(was_training)
        return probs.cpu().numpy()

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> list[Label]:
        """The most likely label name of each text."""
        ids = self.predict_proba(texts, batch_size).argmax(axis=1)
        return [self.labels[i] for i in ids]

    def evaluate(self, texts: Sequence[str], labels: Sequence[Any], batch_size: int = 64,
                 where: str = "test") -> dict[str, float]:
        """Accuracy and macro-F1 (x100) on labelled texts.

        Raises:
            ValueError: a label not seen in training (names the row).
        """
        self._require_head()
        texts = check_texts(texts, where)
        y = encode_labels(labels, self.labels, where)
        if len(y) != len(texts):
            raise ValueError(f"{where} has {len(texts)} texts but {len(y)} labels")
        return {**classification_metrics(y, self._predict_ids(texts, batch_size)), "n": len(texts)}

    def cross_validate(self, texts: Sequence[str], labels: Sequence[Any], n_folds: int = 5, seed: int = 0,
                       **fit_kwargs: Any) -> dict[str, float]:
        """Stratified k-fold estimate: train on k-1 folds, predict the held-out one, pool the predictions.

        Every fold starts from the classifier's current weights, which are
        restored afterwards. Frozen mode embeds each sentence once for all folds;
        fine-tuning trains the encoder k times.

        Args:
            texts, labels: the labelled data.
            n_folds: folds (capped by the smallest class size, at least 2).
            seed: fold shuffling seed (also passed to :meth:`fit`).
            **fit_kwargs: passed to :meth:`fit` (no validation data: folds train a fixed number of epochs).

        Returns:
            ``{"accuracy", "macro_f1", "n_folds", "n"}`` (x100).
        """
        from sklearn.model_selection import StratifiedKFold

        texts = check_texts(texts, "train")
        if self.head is None:
            self._build_head(label_names(labels, "train"))
        y = encode_labels(labels, self.labels, "train")
        folds = min(n_folds, int(np.bincount(y, minlength=len(self.labels)).min()))
        if folds < 2:
            raise ValueError(f"cross-validation needs every class at least twice; counts: "
                             f"{dict(zip(self.labels, np.bincount(y, minlength=len(self.labels)).tolist()))}")
        initial = {k: v.detach().clone() for k, v in self._trainable_state().items()}
        pred = np.empty_like(y)
        for train_idx, held_idx in StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, y):
            self.load_state_dict(initial, strict=False)
            self.fit([texts[i] for i in train_idx], [self.labels[i] for i in y[train_idx]], seed=seed,
                     **fit_kwargs)
            pred[held_idx] = self._predict_ids([texts[i] for i in held_idx], cache=True)
        self.load_state_dict(initial, strict=False)
        return {**classification_metrics(y, pred), "n_folds": folds, "n": len(texts)}

    # ------------------------------------------------------------------ saving
    def get_config(self) -> dict[str, Any]:
        """The settings written to ``classifier_config.json``."""
        self._require_head()
        return {"format_version": FORMAT_VERSION, "labels": self.labels, "head": self.head.get_config(),
                "freeze": self.freeze, "encoder": ENCODER_DIR}

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write ``encoder/``, ``head.safetensors`` and ``classifier_config.json`` to folder ``path``, atomically.

        Args:
            path: output folder (swapped in whole, with a manifest; see ``docs/format.md``).
            overwrite: replace a non-empty ``path`` that is not a textcl classifier.
        """
        config = self.get_config()
        with atomic_folder(os.fspath(path), overwrite=overwrite, kind="classifier",
                           kind_check=lambda p: os.path.isfile(os.path.join(p, CLASSIFIER_CONFIG))) as tmp:
            self.encoder.save(os.path.join(tmp, ENCODER_DIR))
            save_file({k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()},
                      os.path.join(tmp, HEAD_WEIGHTS))
            with open(os.path.join(tmp, CLASSIFIER_CONFIG), "w", encoding="utf-8") as f:
                json.dump(config, f, indent=2)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, device: str | torch.device | None = None,
                        verify: bool = True) -> "SentenceClassifier":
        """Load a folder written by :meth:`save`, checked against its manifest (``verify=False`` skips the size and hash checks, with a warning)."""
        path = os.fspath(path)
        cfg_path = os.path.join(path, CLASSIFIER_CONFIG)
        if not os.path.isfile(cfg_path):
            raise FileNotFoundError(f"{cfg_path} is missing: {path!r} is not a textcl classifier folder "
                                    "(train one with `textcl classify` or SentenceClassifier.save)")
        try:
            cfg = read_json(cfg_path)
            head_cfg = dict(cfg["head"])
            labels = cfg["labels"]
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{cfg_path} is corrupt ({type(err).__name__}: {err}): re-save the classifier") from err
        version = check_format_version(cfg.get("format_version"), FORMAT_VERSION, cfg_path)
        # metrics.json: what `textcl classify` measured, written beside the saved classifier; it does not
        # change how the folder loads
        verify_manifest(path, verify=verify, allow_missing=version == 1, ignore=("metrics.json",))
        if cfg.get("encoder", ENCODER_DIR) != ENCODER_DIR:  # nothing is read from outside the folder
            raise ValueError(f"{cfg_path} names encoder folder {cfg.get('encoder')!r}; a classifier's encoder is "
                             f"always its {ENCODER_DIR}/ subfolder: re-save the classifier")
        encoder = SentenceEncoder.from_pretrained(os.path.join(path, ENCODER_DIR), device=device, verify=verify)
        head_type = head_cfg.pop("head")
        model = cls(encoder, head=head_type, freeze=cfg.get("freeze", True), hidden_dim=head_cfg.get("hidden_dim"),
                    dropout=head_cfg.get("dropout"))
        model.labels = list(labels)
        model.head = build_head(head_type, **head_cfg).to(encoder.device)
        model.head.load_state_dict(read_safetensors(os.path.join(path, HEAD_WEIGHTS)))
        return model.eval()
