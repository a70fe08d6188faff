"""Output precision of embeddings (sentence-transformers' ``precision``): float32, int8, uint8, binary, ubinary.

The arithmetic is sentence-transformers' own ``quantize_embeddings``. textcl adds one
rule: ``int8`` / ``uint8`` buckets come from *fixed* calibration ranges, never from the
batch being encoded, so that a corpus encoded in chunks, in shards or in one call gives
the same bytes. The ranges (shape ``(2, dim)``: per-dimension minimum and maximum) are
passed by the caller or saved with the model (:meth:`SentenceEncoder.calibrate_quantization`).
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

__all__ = ["OutputPrecision", "OUTPUT_PRECISIONS", "validate_output_precision", "calibration_ranges",
           "quantize", "output_dtype", "output_dim"]

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
                         "min and max), or call model.calibrate_quantization(sample_texts) once and save the model")
    ranges = np.asarray(ranges, dtype=np.float32)
    if ranges.shape != (2, dim):
        raise ValueError(f"quantization ranges must have shape (2, {dim}), got {ranges.shape}")
    if not np.all(ranges[1] >= ranges[0]):
        raise ValueError("quantization ranges: row 0 must hold minima and row 1 maxima (min <= max everywhere)")
    return ranges


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
