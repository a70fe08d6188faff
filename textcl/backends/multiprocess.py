"""Encode one list of texts with several processes, each holding the model on its own device.

The Python-API counterpart of ``torchrun ... textcl encode`` (which streams a
file): the texts are cut into chunks, the chunks go through a queue to worker
processes (``torch.multiprocessing``, ``spawn``), each of which holds a copy of
the model on one device, and the results are put back in input order. This is
the scheme of sentence-transformers' ``start_multi_process_pool``.

A CPU model is handed to the workers through shared memory (no copy of the
weights per worker); a model on a GPU is copied to the CPU once for the hand-over.

Example:
    >>> pool = start_pool("all-MiniLM-L6-v2", ["cuda:0", "cuda:1"], loader=SentenceEncoder.from_pretrained)
    >>> emb = encode_with_pool(pool, sentences, batch_size=128)   # (len(sentences), 384)
    >>> stop_pool(pool)
    >>> emb = encode_multi_process(model, sentences, ["cpu", "cpu"])  # start, encode, stop
"""

from __future__ import annotations

import copy
import inspect
import itertools
import os
import queue
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
import torch.multiprocessing as mp

from textcl.threads import split_threads

__all__ = ["EncodePool", "start_pool", "encode_with_pool", "stop_pool", "encode_multi_process"]

_POLL_SECONDS = 1.0
_RERAISED = {cls.__name__: cls for cls in (ValueError, TypeError, KeyError, FileNotFoundError)}


@dataclass
class EncodePool:
    """Worker processes started by :func:`start_pool`; pass it to :func:`encode_with_pool` and :func:`stop_pool`."""

    devices: list[str]
    processes: list[Any]
    inputs: Any
    outputs: Any
    _jobs: Any = field(default_factory=itertools.count)


def start_pool(model_or_path: Any, devices: Sequence[str], *, threads_per_worker: int | None = None,
               model_kwargs: dict[str, Any] | None = None, loader: Any = None) -> EncodePool:
    """Start one worker process per entry of ``devices``.

    Args:
        model_or_path: a :class:`textcl.SentenceEncoder`, or a name / folder each worker
            loads with ``loader`` (then no weights cross processes).
        devices: one device per worker, e.g. ``["cuda:0", "cuda:1"]`` or ``["cpu", "cpu"]``.
        threads_per_worker: threads of each CPU worker (default: the count
            :class:`textcl.threads.ThreadPlan` chooses from the free cores, divided among
            the CPU workers, at least 1); each worker's encodes are pinned to it.
        model_kwargs: keyword arguments for ``loader`` (with a name or folder).
        loader: with a name or folder, the function each worker loads it with, e.g.
            ``SentenceEncoder.from_pretrained`` (passed in, so that this module, which the model
            itself uses, never imports the model).

    Returns:
        The pool. Stop it with :func:`stop_pool` (or use :func:`encode_multi_process`).

    Raises:
        ValueError: no devices, or an unknown device string.
    """
    devices = [str(torch.device(d)) for d in devices]
    if not devices:
        raise ValueError("devices is empty: give at least one device, e.g. ['cpu', 'cpu'] or ['cuda:0', 'cuda:1']")
    n_cpu = sum(d == "cpu" for d in devices)
    threads = split_threads(n_cpu, threads_per_worker)
    if isinstance(model_or_path, (str, os.PathLike)):
        if loader is None:
            raise ValueError("with a name or folder, pass loader=SentenceEncoder.from_pretrained (or pass the loaded "
                             "model)")
        payload: Any = (os.fspath(model_or_path), loader)
    else:
        # spawn pickles the model once per worker; CPU tensors travel as shared memory
        payload = model_or_path if _device_of(model_or_path).type == "cpu" else copy.deepcopy(model_or_path).cpu()
    ctx = mp.get_context("spawn")
    inputs, outputs = ctx.Queue(), ctx.Queue()
    processes = []
    for device in devices:
        p = ctx.Process(target=_worker, args=(device, payload, dict(model_kwargs or {}), threads, inputs, outputs),
                        daemon=True)
        p.start()
        processes.append(p)
    return EncodePool(devices, processes, inputs, outputs)


def encode_with_pool(pool: EncodePool, texts: Sequence[str], batch_size: int = 64, chunk_size: int | None = None,
                     **encode_kwargs: Any) -> np.ndarray:
    """Encode ``texts`` with the pool's workers; row ``i`` of the result embeds ``texts[i]``.

    Args:
        pool: from :func:`start_pool`.
        texts: the sentences.
        batch_size: sentences per forward pass in each worker.
        chunk_size: sentences per chunk sent to a worker (default: enough for about
            four chunks per worker, at most 5000).
        **encode_kwargs: passed unchanged to each worker's ``model.encode``.

    Returns:
        ``(len(texts), dim)`` array, the concatenation of the workers' outputs in input order.

    Raises:
        ValueError / TypeError: as ``encode`` raised it in a worker (the message names the device).
        RuntimeError: a worker died.
    """
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty: give at least one sentence")
    if chunk_size is None:
        chunk_size = max(1, min(5000, -(-len(texts) // (4 * len(pool.processes)))))
    elif chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    job = next(pool._jobs)  # results of an earlier, failed call are told apart and dropped
    starts = range(0, len(texts), chunk_size)
    for i, start in enumerate(starts):
        pool.inputs.put((job, i, texts[start:start + chunk_size], dict(encode_kwargs, batch_size=batch_size)))
    results: dict[int, np.ndarray] = {}
    while len(results) < len(starts):
        try:
            got_job, i, emb, error = pool.outputs.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            _check_alive(pool)
            continue
        if error is not None:
            kind, message = error
            raise _RERAISED.get(kind, RuntimeError)(message)
        if got_job == job:
            results[i] = emb
    return np.concatenate([results[i] for i in range(len(starts))])  # (len(texts), dim)


def stop_pool(pool: EncodePool, timeout: float = 30.0) -> None:
    """Ask every worker to finish, wait for them (terminating stragglers), close the queues."""
    for _ in pool.processes:
        pool.inputs.put(None)
    for p in pool.processes:
        p.join(timeout)
        if p.is_alive():
            p.terminate()
            p.join()
    pool.inputs.close()
    pool.outputs.close()


def encode_multi_process(model: Any, texts: Sequence[str], devices: Sequence[str], *,
                         threads_per_worker: int | None = None, chunk_size: int | None = None,
                         **encode_kwargs: Any) -> np.ndarray:
    """Start a pool on ``devices``, encode ``texts`` with it, stop it. See :func:`encode_with_pool`."""
    pool = start_pool(model, devices, threads_per_worker=threads_per_worker)
    try:
        return encode_with_pool(pool, texts, chunk_size=chunk_size, **encode_kwargs)
    finally:
        stop_pool(pool)


def _device_of(model: Any) -> torch.device:
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def _check_alive(pool: EncodePool) -> None:
    for device, p in zip(pool.devices, pool.processes):
        if not p.is_alive():
            raise RuntimeError(f"the encode worker on {device} died (exit code {p.exitcode}); stop_pool() and "
                               "start a new pool")


def _worker(device: str, payload: Any, model_kwargs: dict[str, Any], threads: int, inputs: Any, outputs: Any) -> None:
    """Worker process: load the model on ``device``, then encode chunks until it gets ``None``."""
    if device == "cpu":
        torch.set_num_threads(threads)
    try:
        if isinstance(payload, tuple):
            path, loader = payload
            model = loader(path, device=device, **model_kwargs)
        else:
            model = payload.to(device)
    except Exception as err:  # reported to the caller, which is waiting on the queue
        outputs.put((None, None, None, (type(err).__name__, f"worker on {device} could not load the model: {err}")))
        return
    pin = device == "cpu" and "threads" in inspect.signature(model.encode).parameters
    while (item := inputs.get()) is not None:
        job, i, texts, kwargs = item
        if pin:
            kwargs = {"threads": threads, **kwargs}  # the pool decided: no worker measures the others' load
        try:
            emb = model.encode(texts, **kwargs)
            if isinstance(emb, torch.Tensor):
                emb = emb.detach().cpu().numpy()
            outputs.put((job, i, np.asarray(emb), None))
        except Exception as err:
            outputs.put((job, i, None, (type(err).__name__, f"worker on {device}: {err}")))
