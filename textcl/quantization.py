"""Output precision of embeddings (sentence-transformers' ``precision``): float32, int8, uint8, binary, ubinary.

The arithmetic is sentence-transformers' own ``quantize_embeddings``. textcl adds one
rule: ``int8`` / ``uint8`` buckets come from *fixed* calibration ranges, never from the
batch being encoded, so that a corpus encoded in chunks, in shards or in one call gives
the same bytes. The ranges (shape ``(2, dim)``: per-dimension minimum and maximum) are
passed by the caller or saved with the model (:meth:`SentenceEncoder.calibrate_quantization`).

:class:`OutputFormat` is the same rule applied chunk by chunk to a corpus encode's ``.npy``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

__all__ = ["OutputPrecision", "OUTPUT_PRECISIONS", "validate_output_precision", "calibration_ranges",
           "quantize", "output_dtype", "output_dim", "OutputFormat", "load_ranges"]

OutputPrecision = Literal["float32", "int8", "uint8", "binary", "ubinary"]
OUTPUT_PRECISIONS: tuple[str, ...] = get_args(OutputPrecision)


def validate_output_precision(precision: str) -> str:
    """Return ``precision`` if it is an output precision, else raise naming the choices."""
    if precision not in OUTPUT_PRECISIONS:
        raise ValueError(f"unknown output precision {precision!r}: choose one of {', '.join(OUTPUT_PRECISIONS)} "
                         "(the compute dtype is dtype=, e.g. dtype='bfloat16')")
    return precision


def calibration_ranges(embeddings: np.ndarray) -> np.ndarray:
    """Per-dimension (min, max) of calibration embeddings.

    Shape:
        embeddings: (n, d) -> (2, d) float32
    """
    emb = np.asarray(embeddings, dtype=np.float32)
    if emb.ndim != 2 or len(emb) < 2:
        raise ValueError(f"calibration needs at least 2 embeddings as an (n, dim) matrix, got shape {emb.shape}")
    return np.stack([emb.min(0), emb.max(0)]).astype(np.float32)


def _check_ranges(ranges: np.ndarray | None, dim: int, precision: str) -> np.ndarray:
    if ranges is None:
        raise ValueError(f"precision={precision!r} needs calibration ranges so that every call (and every chunk "
                         "or shard) uses the same buckets: pass quantization_ranges= (shape (2, dim): per-dimension "
                         "min and max; --ranges FILE.npy on the command line), or call "
                         "model.calibrate_quantization(sample_texts) once and save the model")
    return load_ranges(ranges, dim)


def quantize(embeddings: np.ndarray, precision: str, ranges: np.ndarray | None = None) -> np.ndarray:
    """Quantise float32 embeddings to ``precision`` with sentence-transformers' ``quantize_embeddings``.

    Shape:
        embeddings: (n, d) -> (n, d) for float32/int8/uint8, (n, ceil(d / 8)) for binary/ubinary
    """
    validate_output_precision(precision)
    emb = np.asarray(embeddings, dtype=np.float32)
    if precision == "float32":
        return emb
    from sentence_transformers import quantize_embeddings

    if precision in ("int8", "uint8"):
        return quantize_embeddings(emb, precision, ranges=_check_ranges(ranges, emb.shape[-1], precision))
    return quantize_embeddings(emb, precision)


def output_dtype(precision: str) -> np.dtype:
    """The numpy dtype :func:`quantize` returns for ``precision``."""
    return np.dtype({"float32": np.float32, "int8": np.int8, "uint8": np.uint8, "binary": np.int8,
                     "ubinary": np.uint8}[validate_output_precision(precision)])


def output_dim(dim: int, precision: str) -> int:
    """Columns of the quantised output for ``dim``-dimensional embeddings (bits packed 8 a byte for binary)."""
    return -(-dim // 8) if validate_output_precision(precision) in ("binary", "ubinary") else dim


def load_ranges(ranges: str | np.ndarray | None, dim: int) -> np.ndarray | None:
    """Read and check calibration ranges: a ``(2, dim)`` float array (row 0 minimum, row 1 maximum).

    Args:
        ranges: an array, a ``.npy`` path, or ``None``.
        dim: the model's embedding size.

    Raises:
        ValueError: wrong shape, non-finite values, or a minimum above its maximum.
    """
    if ranges is None:
        return None
    where = ranges if isinstance(ranges, str) else "ranges"
    if isinstance(ranges, (str, os.PathLike)):
        from textcl.storage.read import read_npy

        ranges = read_npy(ranges, fix="pass a (2, dim) .npy of per-dimension minimum and maximum")
    ranges = np.asarray(ranges, dtype=np.float32)
    if ranges.shape != (2, dim):
        raise ValueError(f"{where}: calibration ranges must have shape (2, {dim}) (row 0 = per-dimension minimum, "
                         f"row 1 = maximum), got {ranges.shape}")
    if not np.isfinite(ranges).all() or (ranges[0] > ranges[1]).any():
        raise ValueError(f"{where}: calibration ranges must be finite with minimum <= maximum in every dimension")
    return ranges


@dataclass(frozen=True)
class OutputFormat:
    """The output ``.npy``'s precision, and how each float32 chunk becomes it.

    Args:
        precision: one of :data:`OUTPUT_PRECISIONS`.
        dim: the model's embedding size.
        ranges: ``(2, dim)`` calibration ranges; required for ``int8`` / ``uint8``.

    Raises:
        ValueError: an unknown precision, or ``int8`` / ``uint8`` without ranges.
    """

    precision: str
    dim: int
    ranges: np.ndarray | None = None

    def __post_init__(self) -> None:
        validate_output_precision(self.precision)
        if self.precision in ("int8", "uint8"):
            object.__setattr__(self, "ranges", _check_ranges(self.ranges, self.dim, self.precision))

    @property
    def dtype(self) -> np.dtype:
        """The output array's dtype."""
        return output_dtype(self.precision)

    @property
    def width(self) -> int:
        """Columns of the output: ``dim``, or ``ceil(dim / 8)`` packed bytes for the binary precisions."""
        return output_dim(self.dim, self.precision)

    def describe(self) -> dict[str, object]:
        """JSON-able settings, compared when a job resumes (ranges by SHA-256)."""
        ranges = None if self.ranges is None else hashlib.sha256(self.ranges.tobytes()).hexdigest()
        return {"precision": self.precision, "ranges_sha256": ranges}

    def convert(self, emb: np.ndarray) -> np.ndarray:
        """Turn one chunk of float32 embeddings ``(rows, dim)`` into the output ``(rows, width)``."""
        return quantize(emb, self.precision, self.ranges)
