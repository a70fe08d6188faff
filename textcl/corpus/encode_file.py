"""Encode a corpus into one ``.npy``: streamed, chunked, resumable, and sharded across ranks.

How a job runs (``W`` ranks, ``W = 1`` outside ``torchrun``):

1. Rank 0 plans: it reads the whole input once (checking every row) to count
   the rows ``n``, creates ``OUT.partial`` as a ``.npy`` of the final shape
   ``(n, width)`` (``numpy.lib.format.open_memmap``: header plus a sparse file)
   and writes ``OUT.partial.progress.json`` (:mod:`textcl.corpus.progress`).
   With ``resume`` it instead reads the record, refuses when the input, model
   or settings differ, and keeps the finished chunks.
2. Every rank streams the input and encodes the chunks of ``chunk_size`` rows
   it owns: the unfinished chunks, dealt round-robin (the ``i``-th unfinished
   chunk goes to rank ``i % W``). It writes their rows straight into the shared
   memory-mapped ``OUT.partial`` at the chunk's offset, flushes and fsyncs.
   No rank ever holds more than one chunk of text and vectors.
3. After each round (every rank one chunk) the ranks gather which chunks they
   finished and rank 0 rewrites the progress record atomically. A kill at any
   moment loses at most the chunks of the current round.
4. When every chunk is done, rank 0 renames ``OUT.partial`` to ``OUT`` and
   deletes the record.

Why one shared memmap rather than per-rank shard files merged at the end: the
rows land in their final place once (no merge pass re-reading the whole output),
resuming needs nothing but the record, and a resumed job may even use another
number of ranks, since a chunk's bytes do not depend on which rank encoded it.
It needs a file system every rank can write (one machine, or a shared mount
across nodes), which a multi-node job needs for its output anyway.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import sys
import time
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from textcl.corpus.progress import (
    PROGRESS_FORMAT,
    PROGRESS_VERSION,
    differing_keys,
    from_ranges,
    line_numbers_path,
    partial_path,
    progress_path,
    read_progress,
    write_progress,
)
from textcl.data.corpus import CorpusSource, DatasetSource, TextFileSource
from textcl.data.files import iter_chunks
from textcl.quantization import OutputFormat, load_ranges
from textcl.settings import check_int
from textcl.storage import check_not_an_input, fsync_dir, fsync_file, output_lock, replace_into_place
from textcl.threads import ThreadPlan, check_threads

__all__ = ["encode_file", "model_fingerprint", "compute_dtype_kwargs"]

_PASSED_ON_ERRORS = (ValueError, FileNotFoundError, FileExistsError, IsADirectoryError, KeyError, TypeError)


def encode_file(model: Any, input: str | CorpusSource | None, output: str, *, dataset: str | None = None,
                split: str = "train", column: str = "text", dataset_config: str | None = None,
                data_files: Any = None, text_col: str = "text", skip_empty: bool = False, batch_size: int = 64,
                chunk_size: int = 8192, normalize: bool | None = None, dtype: str = "auto",
                precision: str = "float32", ranges: str | np.ndarray | None = None, resume: bool = False,
                overwrite: bool = False, encode_kwargs: dict[str, Any] | None = None, model_id: str | None = None,
                rank: int | None = None, world_size: int | None = None, threads: int | None = None,
                show_progress: bool = False) -> dict[str, Any]:
    """Encode every row of a text file or dataset column into the ``.npy`` ``output``, in input order.

    Row ``i`` of the output is the ``i``-th kept row of the input. Under
    ``torchrun`` (an initialised process group) every rank calls this with the
    same arguments and the rows are shared out; see the module docstring.

    Args:
        model: a :class:`textcl.SentenceEncoder` (anything with ``encode`` and ``embedding_dim``).
        input: a ``.txt`` / ``.jsonl`` / ``.csv`` / ``.tsv`` path, or a :class:`CorpusSource`;
            ``None`` with ``dataset``.
        output: the ``.npy`` to write.
        dataset: a Hugging Face dataset instead of ``input``: hub id, builder
            (``"parquet"`` with ``data_files``), data folder, or ``save_to_disk`` folder.
        split: the dataset split.
        column: the dataset's text column.
        dataset_config: the dataset configuration name.
        data_files: ``data_files`` for ``datasets.load_dataset``.
        text_col: the text column of a jsonl / csv / tsv ``input``.
        skip_empty: drop empty rows instead of failing; ``OUT.lines.npy`` (int64) then
            records each output row's input line (file: 1-based line; dataset: 0-based row).
        batch_size: sentences per forward pass.
        chunk_size: rows read, encoded, written and recorded at a time.
        normalize: L2-normalise (default: the model's saved setting).
        dtype: compute dtype: ``auto``, ``float32``, ``bfloat16``, ``float16``.
        precision: output precision: ``float32``, ``int8``, ``uint8``, ``binary``, ``ubinary``
            (see :mod:`textcl.quantization`).
        ranges: ``(2, dim)`` calibration ranges (array or ``.npy`` path) for ``int8`` / ``uint8``;
            default: ``model.quantization_ranges`` when the model carries them.
        resume: continue ``OUT.partial`` (skipping finished chunks) if it exists.
        overwrite: discard an existing ``OUT.partial`` and replace an existing ``OUT``.
        encode_kwargs: further keyword arguments for ``model.encode`` (recorded and compared on resume).
        model_id: how to name the model in the progress record (default: its class name).
        rank: this process's rank (default: from ``torch.distributed``, else 0).
        world_size: number of ranks (default: from ``torch.distributed``, else 1).
        threads: intra-op threads for the whole job; default: chosen from the free cores at the start
            and re-decided when the rows per second drop (:class:`textcl.threads.ThreadPlan`).
        show_progress: show rows done, rows per second and the time left on stderr (rank 0's share).

    Returns:
        ``{"output", "rows", "dim", "precision", "dtype", "chunks", "skipped_chunks",
        "encoded_chunks", "world_size", "seconds", "rows_per_second"}`` (``encoded_chunks``
        counts every rank's; ``line_numbers`` with ``skip_empty``).

    Raises:
        ValueError: bad arguments or rows (naming the row), a resume whose input, model
            or settings differ (naming the keys), or an input that changed while encoding.
        FileExistsError: ``output`` or ``OUT.partial`` exists and neither ``resume`` nor
            ``overwrite`` says what to do with it.
    """
    rank, world_size = _rank_and_world(rank, world_size)
    output = os.path.abspath(os.fspath(output))
    check_int("batch_size", batch_size)
    check_int("chunk_size", chunk_size)
    if os.path.isdir(output):
        raise IsADirectoryError(f"--output {output} is a folder: give a .npy file name")
    source = _make_source(input, dataset, split, column, dataset_config, data_files, text_col, skip_empty)
    check_not_an_input(output, {"--input": getattr(source, "path", None), "--dataset": dataset,
                                "--ranges": ranges if isinstance(ranges, (str, os.PathLike)) else None})
    for sidecar in (partial_path(output), line_numbers_path(output), progress_path(output)):
        check_not_an_input(sidecar, {"--input": getattr(source, "path", None), "--dataset": dataset})
    with output_lock(output, "encode") if rank == 0 else contextlib.nullcontext():
        return _encode_locked(model, source, output, rank, world_size, batch_size, chunk_size, normalize, dtype,
                              precision, ranges, resume, overwrite, encode_kwargs, model_id, skip_empty,
                              check_threads(threads), show_progress)


def _encode_locked(model: Any, source: CorpusSource, output: str, rank: int, world_size: int, batch_size: int,
                   chunk_size: int, normalize: bool | None, dtype: str, precision: str, ranges: Any, resume: bool,
                   overwrite: bool, encode_kwargs: dict[str, Any] | None, model_id: str | None,
                   skip_empty: bool, threads: int | None = None, show_progress: bool = False) -> dict[str, Any]:
    """:func:`encode_file` once the output is checked and (on rank 0) locked."""
    if ranges is None:
        ranges = getattr(model, "quantization_ranges", None)
    out_format = OutputFormat(precision, model.embedding_dim, load_ranges(ranges, model.embedding_dim))
    encode_kwargs = dict(encode_kwargs or {})
    call_kwargs = {**compute_dtype_kwargs(model, dtype), **encode_kwargs}
    settings = _json_normal({
        "model": model_id or type(model).__name__, "model_fingerprint": model_fingerprint(model),
        "chunk_size": chunk_size, "batch_size": batch_size, "normalize": normalize, "dtype": dtype,
        **out_format.describe(), "encode_kwargs": encode_kwargs,
    })

    # 1. plan (rank 0), shared with the other ranks
    record_lines = bool(getattr(source, "skip_empty", skip_empty))
    plan_args = (source, output, out_format, settings, chunk_size, record_lines, resume, overwrite)
    record, error = None, None
    if rank == 0:
        try:
            record = _plan(*plan_args)
        except Exception as err:  # every rank must hear of it, or the others wait in the broadcast forever
            error = err
    record = _broadcast_plan(record, error, world_size)
    if rank != 0:
        _check_same_input(source, record)
    plan = record["plan"]
    n, num_chunks = plan["rows"], plan["num_chunks"]
    finished = from_ranges(record["finished_chunks"])
    skipped = len(finished)

    # 2. encode this rank's share of the unfinished chunks into the shared memmap
    remaining = [c for c in range(num_chunks) if c not in finished]
    mine = set(remaining[rank::world_size])
    rounds = -(-len(remaining) // world_size)
    out = np.lib.format.open_memmap(partial_path(output), mode="r+")
    lines = np.lib.format.open_memmap(partial_path(line_numbers_path(output)), mode="r+") if record_lines else None
    if out.shape != (n, out_format.width) or out.dtype != out_format.dtype:
        raise ValueError(f"{partial_path(output)} holds {out.shape} {out.dtype}, but its progress record plans "
                         f"({n}, {out_format.width}) {out_format.dtype}: pass --overwrite to start again")
    start_time = time.perf_counter()
    # the row counter behind the progress display is the one the thread plan re-decides from
    bar = tqdm(total=_rows_in(sorted(mine), n, chunk_size), desc="Encoding", unit="rows", file=sys.stderr,
               disable=not show_progress or rank != 0, mininterval=0.5, smoothing=0.1)
    with ThreadPlan(threads, on_rows=bar.update) as plan, contextlib.closing(bar):
        synced, seen = 0, 0
        for c, chunk in enumerate(iter_chunks(source.iter_rows(), chunk_size)):
            seen += len(chunk)
            if seen > n:
                raise ValueError(f"{source.description} changed since the job was planned (more than {n} rows)")
            if c not in mine:
                continue
            start = c * chunk_size
            before = plan.rows
            out[start:start + len(chunk)] = _encode_chunk(model, chunk, batch_size, normalize, call_kwargs,
                                                          out_format, source.description)
            plan.advance(len(chunk) - (plan.rows - before))  # rows a model without per-batch counting did
            out.flush()
            fsync_file(partial_path(output))
            if lines is not None:
                lines[start:start + len(chunk)] = [line for line, _ in chunk]
                lines.flush()
                fsync_file(partial_path(line_numbers_path(output)))
            finished |= _gather_finished(c, world_size)
            synced += 1
            if rank == 0:
                write_progress(output, record, finished)
        if seen != n:
            raise ValueError(f"{source.description} changed since the job was planned ({seen} rows, expected {n})")
        while synced < rounds:  # this rank had fewer chunks: keep answering the others' rounds
            finished |= _gather_finished(None, world_size)
            synced += 1
            if rank == 0:
                write_progress(output, record, finished)
    seconds = time.perf_counter() - start_time
    del out, lines  # unmap before the rename

    # 3. rank 0 moves the finished output into place
    if rank == 0:
        missing = sorted(set(range(num_chunks)) - finished)
        if missing:
            raise RuntimeError(f"chunks {missing[:10]} of {output} were never finished: rerun with --resume")
        if record_lines:
            replace_into_place(partial_path(line_numbers_path(output)), line_numbers_path(output))
        elif os.path.exists(line_numbers_path(output)):
            os.remove(line_numbers_path(output))  # an earlier --skip-empty encode's sidecar: not this output's
        replace_into_place(partial_path(output), output)
        os.remove(progress_path(output))
        fsync_dir(os.path.dirname(output))
    _barrier(world_size)
    summary = {"output": output, "rows": n, "dim": model.embedding_dim, "precision": out_format.precision,
               "dtype": str(out_format.dtype), "chunks": num_chunks, "skipped_chunks": skipped,
               "encoded_chunks": num_chunks - skipped, "world_size": world_size, "seconds": round(seconds, 3),
               "rows_per_second": round(_rows_in(remaining, n, chunk_size) / seconds, 1) if seconds > 0 else None}
    if record_lines:
        summary["line_numbers"] = line_numbers_path(output)
    return summary


# ---------------------------------------------------------------------- planning
def _plan(source: CorpusSource, output: str, out_format: OutputFormat, settings: dict[str, Any],
          chunk_size: int, record_lines: bool, resume: bool, overwrite: bool) -> dict[str, Any]:
    """Rank 0: read (``resume``) or create the progress record and ``OUT.partial``; return the record."""
    partial = partial_path(output)
    if os.path.exists(output) and not overwrite:
        raise FileExistsError(f"{output} already exists: pass --overwrite to replace it, or choose another --output")
    if os.path.exists(partial) and not overwrite:
        stored = read_progress(output)
        if not resume:
            done = "" if stored is None else \
                f" ({len(from_ranges(stored['finished_chunks']))} of {stored['plan']['num_chunks']} chunks done)"
            raise FileExistsError(f"{partial} is left from an interrupted encode{done}: pass --resume to continue "
                                  f"it, or --overwrite to start again (or delete {partial} and "
                                  f"{progress_path(output)})")
        if stored is not None:  # else it died before recording anything: start again
            current = {"input": source.identity(), "settings": settings}
            diff = differing_keys({"input": stored["input"], "settings": stored["settings"]}, current)
            diff = [k for k in diff if k != "settings.model"]  # a name; the fingerprint decides
            if diff:
                raise ValueError(f"cannot resume {partial}: {', '.join(diff)} differ from the interrupted run "
                                 f"(see {progress_path(output)}); rerun with the same input, model and settings, "
                                 "or pass --overwrite to start again")
            return stored
    identity = source.identity()
    n = source.count()  # checks every row before any compute
    if n == 0:
        raise ValueError(f"{source.description} has no text rows")
    num_chunks = -(-n // chunk_size)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    for path in (partial, partial_path(line_numbers_path(output)), progress_path(output)):
        if os.path.exists(path):
            os.remove(path)
    out = np.lib.format.open_memmap(partial, mode="w+", dtype=out_format.dtype, shape=(n, out_format.width))
    del out
    if record_lines:
        lines = np.lib.format.open_memmap(partial_path(line_numbers_path(output)), mode="w+", dtype=np.int64,
                                          shape=(n,))
        del lines
    record = {"format": PROGRESS_FORMAT, "version": PROGRESS_VERSION,
              "plan": {"rows": n, "chunk_size": chunk_size, "num_chunks": num_chunks, "dim": out_format.dim,
                       "width": out_format.width, "dtype": str(out_format.dtype), "line_numbers": record_lines},
              "input": identity, "settings": settings, "source": source.description,
              "finished_chunks": []}
    fsync_file(partial)
    write_progress(output, record, ())
    return record


def _make_source(input, dataset, split, column, dataset_config, data_files, text_col, skip_empty) -> CorpusSource:
    if (input is None) == (dataset is None):
        raise ValueError("give exactly one of an input file (--input) and a dataset (--dataset)")
    if dataset is not None:
        return DatasetSource(dataset, split=split, column=column, skip_empty=skip_empty, config=dataset_config,
                             data_files=data_files)
    if isinstance(input, (str, os.PathLike)):
        return TextFileSource(os.fspath(input), text_col=text_col, skip_empty=skip_empty)
    return input


def _check_same_input(source: CorpusSource, record: dict[str, Any]) -> None:
    """Ranks > 0 (possibly on other machines) must read what rank 0 planned for."""
    diff = differing_keys(record["input"], source.identity())
    if diff:
        raise ValueError(f"this rank reads a different input than rank 0 ({', '.join(diff)} differ): every rank "
                         f"must see the same {source.description}")


# ---------------------------------------------------------------------- encoding
def compute_dtype_kwargs(model: Any, dtype: str) -> dict[str, str]:
    """The keyword that sets ``model.encode``'s compute dtype: ``dtype=``; a model whose ``encode`` has no
    ``dtype`` (a sentence-transformers model) computes in its own dtype, so only float32 is accepted for it."""
    if "dtype" in inspect.signature(model.encode).parameters:
        return {"dtype": dtype}
    if dtype != "float32":
        raise ValueError(f"{type(model).__name__}.encode takes no dtype: encode with dtype float32, or load the "
                         "model with textcl (SentenceEncoder.from_pretrained) to choose one")
    return {}


def _encode_chunk(model: Any, chunk: list[tuple[int, str]], batch_size: int, normalize: bool | None,
                  call_kwargs: dict[str, Any], out_format: OutputFormat, where: str) -> np.ndarray:
    emb = model.encode([t for _, t in chunk], batch_size=batch_size, normalize=normalize, **call_kwargs)
    if isinstance(emb, torch.Tensor):
        emb = emb.detach().float().cpu().numpy()
    emb = np.asarray(emb, dtype=np.float32)  # (rows, dim)
    bad = np.flatnonzero(~np.isfinite(emb).all(axis=1))
    if bad.size:
        raise ValueError(f"{where}: the embedding of row at line {chunk[bad[0]][0]} is not finite (NaN or inf): "
                         "the model's weights or the compute dtype are at fault")
    return out_format.convert(emb)  # (rows, width)


def model_fingerprint(model: Any) -> str:
    """SHA-256 of a model's config and weights: a resumed job must use the very same model."""
    h = hashlib.sha256()
    get_config = getattr(model, "get_config", None)
    if get_config is not None:
        h.update(json.dumps(get_config(), sort_keys=True, default=repr).encode())
    state = model.state_dict() if hasattr(model, "state_dict") else {}
    for name, tensor in sorted(state.items()):
        h.update(name.encode())
        t = tensor.detach().cpu().contiguous().reshape(-1)
        h.update(str(t.dtype).encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _rows_in(chunks: list[int], n: int, chunk_size: int) -> int:
    return sum(min(chunk_size, n - c * chunk_size) for c in chunks)


def _json_normal(obj: Any) -> Any:
    return json.loads(json.dumps(obj, sort_keys=True, default=repr))


# ---------------------------------------------------------------------- ranks
def _rank_and_world(rank: int | None, world_size: int | None) -> tuple[int, int]:
    from textcl.train.distributed import get_rank, get_world_size

    rank = get_rank() if rank is None else rank
    world_size = get_world_size() if world_size is None else world_size
    if world_size > 1 and not torch.distributed.is_initialized():
        raise ValueError(f"world_size={world_size} needs a torch.distributed process group: launch with torchrun "
                         "(textcl.train.distributed.init_distributed)")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in [0, world_size={world_size})")
    return rank, world_size


def _broadcast_plan(record: dict[str, Any] | None, error: BaseException | None, world_size: int) -> dict[str, Any]:
    """Rank 0's plan (or its error, raised on every rank) to all ranks."""
    if world_size > 1:
        message = [record, None if error is None else (type(error).__name__, str(error))]
        torch.distributed.broadcast_object_list(message, src=0)
        record, failed = message
        if error is None and failed is not None:
            kinds = {cls.__name__: cls for cls in _PASSED_ON_ERRORS}
            raise kinds.get(failed[0], RuntimeError)(f"rank 0: {failed[1]}")
    if error is not None:
        raise error
    return record


def _gather_finished(chunk: int | None, world_size: int) -> set[int]:
    """Every rank's chunk finished this round (``None``: none)."""
    if world_size == 1:
        return set() if chunk is None else {chunk}
    done: list[int | None] = [None] * world_size
    torch.distributed.all_gather_object(done, chunk)
    return {c for c in done if c is not None}


def _barrier(world_size: int) -> None:
    if world_size > 1:
        torch.distributed.barrier()
