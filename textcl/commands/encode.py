"""``textcl encode``: embed a text file or dataset column into a .npy matrix.

Argument parsing only: the job itself (streamed, chunked, resumable, sharded
across ``torchrun`` ranks) is :func:`textcl.corpus.encode_file`.

    textcl encode --model M --input corpus.txt --output emb.npy
    torchrun --nproc_per_node=4 -m textcl.cli encode --model M --input corpus.txt --output emb.npy
    textcl encode --model M --input corpus.txt --output emb.npy --resume   # after a crash
"""

from __future__ import annotations

import argparse
import json
import sys

from textcl.commands.data_options import add_data_config_option
from textcl.commands.flags import add_threads_option
from textcl.commands.hub_options import add_hub_options, hub_kwargs
from textcl.corpus.progress import line_numbers_path
from textcl.data.files import iter_text_rows
from textcl.quantization import OUTPUT_PRECISIONS
from textcl.settings import check_int

__all__ = ["COMPUTE_DTYPES", "add_input_options", "line_numbers_path", "register", "run"]

COMPUTE_DTYPES = ("auto", "float32", "bfloat16", "float16")


def add_input_options(p: argparse.ArgumentParser, what: str = "input",
                      skip_help: str = "skip empty rows instead of failing; OUTPUT.lines.npy then records the "
                                       "input line number of every output row") -> None:
    """``--text-col`` and ``--skip-empty``, shared with ``textcl search``."""
    p.add_argument("--text-col", default="text", help=f"column holding the text in a .jsonl/.csv/.tsv {what} "
                                                      "(default: text)")
    p.add_argument("--skip-empty", action="store_true", help=skip_help)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``encode`` subcommand."""
    p = subparsers.add_parser(
        "encode", help="embed a text file or dataset into a .npy matrix (streamed, resumable, torchrun-sharded)",
        description="Embed every row of a .txt (one sentence per line), .jsonl, .csv or .tsv file, or a column of "
                    "a Hugging Face dataset, into a .npy of shape (rows, dim). Row i of the output is row i of the "
                    "input (its i-th non-empty row with --skip-empty). The output is written as OUTPUT.partial "
                    "with a progress record (OUTPUT.partial.progress.json) and renamed when complete; after a "
                    "crash, --resume skips the finished chunks. Under torchrun the chunks are shared out across "
                    "ranks (gloo on CPU, NCCL on GPU) into the same output.")
    src = p.add_argument_group("input (one of)")
    src.add_argument("--input", default=None, help="sentences: .txt, .jsonl, .csv or .tsv")
    src.add_argument("--dataset", default=None,
                     help="a Hugging Face dataset: hub id, builder name (e.g. parquet with --data-files), local "
                          "data folder or a save_to_disk folder")
    src.add_argument("--split", default="train", help="dataset split (default: train)")
    add_data_config_option(src)
    src.add_argument("--data-files", nargs="+", default=None, help="data files for the --dataset builder")
    add_input_options(src)
    src.add_argument("--column", dest="text_col", default=argparse.SUPPRESS,
                     help="the text column (same as --text-col; for --dataset)")
    p.add_argument("--model", required=True, help="textcl or sentence-transformers folder, or a Hugging Face name")
    p.add_argument("--output", required=True, help="output .npy file")
    p.add_argument("--batch-size", type=int, default=64, help="sentences per forward pass (default: 64)")
    p.add_argument("--chunk-size", type=int, default=8192,
                   help="rows read, encoded, written and recorded at a time (default: 8192)")
    p.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                   help="L2-normalise the embeddings (default: the model's saved setting)")
    p.add_argument("--dtype", choices=COMPUTE_DTYPES, default="auto",
                   help="compute dtype (default: auto = bf16 where the hardware is fast at it, else float32)")
    p.add_argument("--precision", choices=OUTPUT_PRECISIONS, default="float32",
                   help="output precision, as sentence-transformers' quantize_embeddings: float32 (default), "
                        "int8 / uint8 (need --ranges), binary (packed bits, int8) or ubinary (packed bits, uint8)")
    p.add_argument("--ranges", default=None,
                   help="int8/uint8 calibration ranges: a (2, dim) .npy of per-dimension minimum and maximum")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted encode of OUTPUT (same input, model and settings)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing OUTPUT and discard an interrupted OUTPUT.partial")
    p.add_argument("--pooling", default=None, help="override the model's pooling")
    p.add_argument("--max-length", type=int, default=None, help="override tokens kept per sentence")
    p.add_argument("--device", default=None,
                   help="cpu, cuda, ... (default: cuda if available; under torchrun, GPU LOCAL_RANK)")
    add_hub_options(p)
    p.add_argument("--quiet", action="store_true",
                   help="no progress display (by default rows done, rows/s and time left go to stderr)")
    add_threads_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check the input, join torchrun's process group if any, load the model, encode, print a summary."""
    from textcl.train.distributed import cleanup, init_distributed

    if (args.input is None) == (args.dataset is None):
        raise ValueError("pass --input (a text file) or --dataset (a Hugging Face dataset), not both")
    check_int("batch_size", args.batch_size)  # the API's own checks, before the model loads
    check_int("chunk_size", args.chunk_size)
    if args.ranges is not None:  # a bad ranges file fails before the model loads
        from textcl.storage.read import read_npy

        read_npy(args.ranges, fix="pass a (2, dim) .npy of per-dimension minimum and maximum")
    if args.precision in ("int8", "uint8") and args.ranges is None:
        raise ValueError(f"--precision {args.precision} needs --ranges FILE.npy (a (2, dim) array of per-dimension "
                         "min and max), so that every chunk and rank is scaled alike")
    if args.input is not None:
        next(iter_text_rows(args.input, args.text_col, args.skip_empty), None)  # type, header, first row
    from textcl.storage import check_not_an_input, check_output_file

    # the output, before the model loads: a folder, an existing file (unless replaced or resumed), no parent
    check_not_an_input(args.output, {"--input": args.input, "--model": args.model, "--ranges": args.ranges})
    check_output_file(args.output, overwrite=bool(args.overwrite or args.resume))
    distributed = init_distributed()
    try:
        return _encode(args, distributed)
    except (FileExistsError, IsADirectoryError) as err:  # not among the errors textcl.cli reports plainly
        print(f"textcl encode: error: {err}", file=sys.stderr)
        return 1
    finally:
        cleanup()


def _encode(args: argparse.Namespace, distributed: bool) -> int:
    """Load the model (on GPU ``LOCAL_RANK`` under torchrun with CUDA), run the job, print rank 0's summary."""
    from textcl.corpus import encode_file
    from textcl.model import SentenceEncoder
    from textcl.train.distributed import get_local_rank, get_rank

    device = args.device
    if distributed and (device == "cuda" or (device is None and _has_cuda())):
        device = f"cuda:{get_local_rank()}"
    model = SentenceEncoder.from_pretrained(args.model, pooling=args.pooling, max_length=args.max_length,
                                            device=device, **hub_kwargs(args))
    summary = encode_file(
        model, args.input, args.output, dataset=args.dataset, split=args.split, column=args.text_col,
        dataset_config=args.data_config, data_files=args.data_files, text_col=args.text_col,
        skip_empty=args.skip_empty, batch_size=args.batch_size, chunk_size=args.chunk_size,
        normalize=args.normalize, dtype=args.dtype, precision=args.precision, ranges=args.ranges,
        resume=args.resume, overwrite=args.overwrite, model_id=args.model, threads=args.threads,
        show_progress=not args.quiet)
    if get_rank() == 0:
        print(json.dumps(summary))
    return 0


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()
