"""Corpus jobs: encode a text file or dataset column into one ``.npy``, streamed, resumable and sharded.

:func:`encode_file` is what ``textcl encode`` runs; under ``torchrun`` it shares
the rows out across ranks. :mod:`textcl.backends.multiprocess` is the in-Python
counterpart for a list of texts held in memory.
"""

from textcl.corpus.encode_file import compute_dtype_kwargs, encode_file, model_fingerprint
from textcl.corpus.progress import line_numbers_path, partial_path, progress_path, read_progress
from textcl.data.corpus import CorpusSource, DatasetSource, TextFileSource
from textcl.quantization import OUTPUT_PRECISIONS, OutputFormat, load_ranges

__all__ = [
    "encode_file", "model_fingerprint", "compute_dtype_kwargs",
    "OutputFormat", "OUTPUT_PRECISIONS", "load_ranges",
    "partial_path", "progress_path", "line_numbers_path", "read_progress",
    "CorpusSource", "TextFileSource", "DatasetSource",
]
