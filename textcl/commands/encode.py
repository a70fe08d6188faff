"""``textcl encode``: embed a text file into a .npy matrix, streamed.

The input is read twice: a first pass counts (and checks) the rows, so the
output ``.npy`` can be created at its final shape with
``numpy.lib.format.open_memmap``; the second pass encodes chunks of
``--chunk-size`` rows into it. Memory stays flat for any file size.

Rows are read by :mod:`textcl.text_files`; with ``--skip-empty``,
``OUTPUT.lines.npy`` records each output row's input line.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from textcl.text_files import count_text_rows, iter_chunks, iter_text_rows

__all__ = ["register", "run", "line_numbers_path", "add_input_options"]

def line_numbers_path(output: str) -> str:
    """Where ``--skip-empty`` records the input line of each output row: ``emb.npy`` -> ``emb.lines.npy``."""
    root, _ = os.path.splitext(output)
    return root + ".lines.npy"


def add_input_options(p: argparse.ArgumentParser, what: str = "input",
                      skip_help: str = "skip empty rows instead of failing; OUTPUT.lines.npy then records the "
                                       "input line number of every output row") -> None:
    """``--text-col`` and ``--skip-empty``, shared with ``textcl search``."""
    p.add_argument("--text-col", default="text", help=f"column holding the text in a .jsonl/.csv/.tsv {what} "
                                                      "(default: text)")
    p.add_argument("--skip-empty", action="store_true", help=skip_help)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``encode`` subcommand."""
    p = subparsers.add_parser("encode", help="embed a text file into a .npy matrix (streamed)",
                              description="Embed every row of a .txt (one sentence per line), .jsonl, .csv or .tsv "
                                          "file into a float32 .npy of shape (rows, dim), reading and writing in "
                                          "chunks. Row i of the output is row i of the input (its i-th non-empty "
                                          "row with --skip-empty).")
    p.add_argument("--model", required=True, help="textcl or sentence-transformers folder, or a Hugging Face name")
    p.add_argument("--input", required=True, help="sentences: .txt, .jsonl, .csv or .tsv")
    p.add_argument("--output", required=True, help="output .npy file")
    add_input_options(p)
    p.add_argument("--batch-size", type=int, default=64, help="sentences per forward pass (default: 64)")
    p.add_argument("--chunk-size", type=int, default=8192, help="rows read and written at a time (default: 8192)")
    p.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                   help="L2-normalise the embeddings (default: the model's saved setting)")
    p.add_argument("--pooling", default=None, help="override the model's pooling")
    p.add_argument("--max-length", type=int, default=None, help="override tokens kept per sentence")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Count, then encode chunk by chunk into a memory-mapped .npy."""
    from numpy.lib.format import open_memmap
    from tqdm.auto import tqdm

    from textcl.model import SentenceEncoder

    if args.batch_size < 1 or args.chunk_size < 1:
        raise ValueError("--batch-size and --chunk-size must be >= 1")
    n = count_text_rows(args.input, args.text_col, args.skip_empty)  # checks the whole file before any work
    if n == 0:
        raise ValueError(f"{args.input} has no text rows")
    model = SentenceEncoder.from_pretrained(args.model, pooling=args.pooling, max_length=args.max_length,
                                            device=args.device)
    partial = args.output + ".partial"  # renamed on success: a crash never leaves a plausible-looking .npy
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    out = open_memmap(partial, mode="w+", dtype=np.float32, shape=(n, model.embedding_dim))
    lines = np.empty(n, dtype=np.int64) if args.skip_empty else None
    row = 0
    try:
        with tqdm(total=n, desc="Encoding", unit="sent", disable=None) as bar:
            for chunk in iter_chunks(iter_text_rows(args.input, args.text_col, args.skip_empty), args.chunk_size):
                if row + len(chunk) > n:
                    raise ValueError(f"{args.input} changed while encoding (more than {n} rows)")
                out[row:row + len(chunk)] = model.encode([t for _, t in chunk], batch_size=args.batch_size,
                                                         normalize=args.normalize)
                if lines is not None:
                    lines[row:row + len(chunk)] = [line for line, _ in chunk]
                row += len(chunk)
                bar.update(len(chunk))
        if row != n:
            raise ValueError(f"{args.input} changed while encoding ({row} rows, expected {n})")
        out.flush()
        del out
        os.replace(partial, args.output)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    summary = {"output": args.output, "rows": n, "dim": model.embedding_dim}
    if lines is not None:
        np.save(line_numbers_path(args.output), lines)
        summary["line_numbers"] = line_numbers_path(args.output)
    print(json.dumps(summary))
    return 0
